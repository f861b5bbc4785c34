"""The byte stuffing in gateware (hw/stuffing.py) against the protocol's reference codec (hw/protocol.py)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.hw.protocol import MAX_RUN, cobs_encode, reverse_cobs_encode
from mamhw.hw.stuffing import CobsDecoder, Event, ReverseCobsEncoder
from tests.hw.uart_sim import run_testbenches

# Content with zeros, runs of exactly MAX_RUN non-zero bytes and longer ones, and the empty frame.
contents = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from([b"\x00", bytes(range(1, MAX_RUN + 1)), b"\x07" * 300, b"\x01\x02"]), max_size=4)
    .map(b"".join))


def _decode(line, timeout=1000, gap=0):
    """Feed `line` (bytes, or None for `timeout` + 2 idle cycles) to a CobsDecoder; the events it gives."""
    dec = CobsDecoder(timeout)
    events = []

    def take(ctx):
        if ctx.get(dec.o.valid):
            events.append((ctx.get(dec.o.payload.kind), ctx.get(dec.o.payload.data)))

    async def bench(ctx):
        for byte in line:
            if byte is None:
                for _ in range(timeout + 2):
                    await ctx.tick()
                    take(ctx)
                continue
            ctx.set(dec.i.valid, 1)
            ctx.set(dec.i.payload, byte)
            for _ in range(1 + gap):
                await ctx.tick()
                ctx.set(dec.i.valid, 0)
                take(ctx)
        for _ in range(4):
            await ctx.tick()
            take(ctx)

    run_testbenches(dec, bench)
    return events


def _frames(events):
    """(content, how it ended) of each frame in the events."""
    out, cur = [], bytearray()
    for kind, byte in events:
        if kind == Event.DATA:
            cur.append(byte)
        else:
            out.append((bytes(cur), kind))
            cur = bytearray()
    assert not cur
    return out


@settings(max_examples=25, deadline=None)
@given(st.lists(contents, min_size=1, max_size=3), st.sampled_from([0, 3]))
def test_decoder_gives_back_each_frames_content(frames, gap):
    line = b"".join(b"\x00" + cobs_encode(c) + b"\x00" for c in frames)
    assert _frames(_decode(line, gap=gap)) == [(c, Event.END) for c in frames]


def test_decoder_ignores_what_comes_before_the_first_delimiter_and_empty_frames():
    line = b"\x05\x11\x22" + b"\x00\x00\x00" + cobs_encode(b"\x33\x00") + b"\x00"
    assert _frames(_decode(line)) == [(b"\x33\x00", Event.END)]


def test_decoder_reports_broken_stuffing():
    # The run announced by 0x05 is cut by the delimiter after two bytes: the data so far, then BROKEN.
    line = b"\x00\x05\x11\x22\x00" + cobs_encode(b"\x44") + b"\x00"
    assert _frames(_decode(line)) == [(b"\x11\x22", Event.BROKEN), (b"\x44", Event.END)]


def test_decoder_times_out_a_stalled_frame_and_ignores_the_rest_of_it():
    body = cobs_encode(b"\x10\x20\x00\x30")
    line = list(b"\x00" + body[:3]) + [None] + list(body[3:] + b"\x00" + cobs_encode(b"\x66") + b"\x00")
    assert _frames(_decode(line, timeout=20)) == [(b"\x10\x20", Event.TIMEOUT), (b"\x66", Event.END)]


@settings(max_examples=20, deadline=None)
@given(st.lists(contents, min_size=1, max_size=3), st.integers(0, 3), st.integers(0, 2))
def test_encoder_sends_what_the_reference_encodes(frames, stall_in, stall_out):
    """Each frame as 00, reverse COBS, 00, byte for byte, whatever the stalls on either side."""
    enc = ReverseCobsEncoder()
    frames = [f if f else b"\x00" for f in frames]          # a reply always has content
    line = []
    n_out = sum(len(reverse_cobs_encode(f)) + 2 for f in frames)

    async def feed(ctx):
        for f in frames:
            for i, byte in enumerate(f):
                ctx.set(enc.i.payload.data, byte)
                ctx.set(enc.i.payload.last, i == len(f) - 1)
                ctx.set(enc.i.valid, 1)
                await ctx.tick().until(enc.i.ready)
                ctx.set(enc.i.valid, 0)
                for _ in range(stall_in):
                    await ctx.tick()

    async def take(ctx):
        cycle = 0
        while len(line) < n_out:
            ready = cycle % (stall_out + 1) == 0
            ctx.set(enc.o.ready, ready)
            if ready and ctx.get(enc.o.valid):
                line.append(ctx.get(enc.o.payload))
            await ctx.tick()
            cycle += 1

    run_testbenches(enc, feed, take)
    assert bytes(line) == b"".join(b"\x00" + reverse_cobs_encode(f) + b"\x00" for f in frames)
