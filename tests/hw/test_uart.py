# amaranth: UnusedElaboratable=no
# (test_divisor_below_four_is_refused builds components whose constructor raises; they are never elaborated.)
"""The 8N1 UART: the receiver against an independent line driver, the transmitter against exact bit timing, and
the two back to back."""

import pytest
from amaranth.hdl import Module
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.hw.uart import UartRx, UartTx
from tests.hw.uart_sim import run_testbenches, uart_bits


def _sender(tx, data):
    """A testbench that hands `data` to the transmitter's stream, one byte per handshake."""
    async def feed(ctx):
        for b in data:
            ctx.set(tx.i.payload, b)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
        ctx.set(tx.i.valid, 0)
    return feed


def _collector(rx, out, errors, overruns, cycles):
    async def collect(ctx):
        ctx.set(rx.o.ready, 1)
        for _ in range(cycles):
            await ctx.tick()
            if ctx.get(rx.o.valid):
                out.append(ctx.get(rx.o.payload))
            errors.append(ctx.get(rx.error))
            overruns.append(ctx.get(rx.overrun))
    return collect


def _driver(rx, levels_and_lengths):
    """Drive rx with (level, cycles) pairs, then idle."""
    async def drive(ctx):
        ctx.set(rx.rx, 1)
        await ctx.tick()
        for level, n in levels_and_lengths:
            ctx.set(rx.rx, level)
            for _ in range(n):
                await ctx.tick()
        ctx.set(rx.rx, 1)
    return drive


def _bytes_at(data, bit_cycles, stop=1, gap=0):
    """(level, cycles) pairs of bytes sent with a (possibly fractional) bit time, rounded edges."""
    levels = []
    for b in data:
        levels += uart_bits(b, stop) + [1] * gap
    out, t = [], 0.0
    for level in levels:
        start, t = round(t), t + bit_cycles
        out.append((level, round(t) - start))
    return out


def _total(pairs):
    return sum(n for _, n in pairs) + 40


def _receive(divisor, pairs):
    """A UartRx(divisor) driven with the (level, cycles) `pairs`: the bytes it gives, and its error and overrun
    flags, one per cycle."""
    rx = UartRx(divisor)
    out, errors, overruns = [], [], []
    run_testbenches(rx, _driver(rx, pairs), _collector(rx, out, errors, overruns, _total(pairs)))
    return out, errors, overruns


@settings(max_examples=12)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=12).map(lambda v: [0x00, 0xFF] + v),
       st.sampled_from([4, 5, 7, 16]))
def test_receiver_decodes_back_to_back_bytes(data, divisor):
    out, errors, overruns = _receive(divisor, _bytes_at(data, divisor))
    assert out == data
    assert not any(errors) and not any(overruns)


@pytest.mark.parametrize("skew", [-0.03, 0.03])
def test_receiver_tolerates_three_percent_baud_error(skew):
    data = [0x55, 0x00, 0xFF, 0xA5, 0x3C, 0x81]
    out, errors, _ = _receive(16, _bytes_at(data, 16 * (1 + skew)))
    assert out == data and not any(errors)


def test_bad_stop_bit_is_a_framing_error_and_the_byte_is_dropped():
    divisor = 4
    # A good byte, a byte whose stop bit is 0 followed by a short break, then a good byte.
    pairs = _bytes_at([0x12], divisor) + _bytes_at([0x34], divisor, stop=0) + [(0, 3 * divisor), (1, divisor)] \
        + _bytes_at([0x56], divisor)
    out, errors, _ = _receive(divisor, pairs)
    assert out == [0x12, 0x56]
    assert sum(errors) == 1                     # one pulse, and the break did not turn into 0x00 bytes


def test_short_glitch_is_not_a_start_bit():
    divisor = 8
    pairs = [(0, divisor // 2 - 2), (1, 3 * divisor)] + _bytes_at([0xC3], divisor)
    out, errors, _ = _receive(divisor, pairs)
    assert out == [0xC3] and not any(errors)


def test_unread_byte_is_replaced_and_overrun_pulses():
    divisor = 4
    pairs = _bytes_at([0x01, 0x02], divisor)
    rx = UartRx(divisor)
    overruns, seen = [], []

    async def late_reader(ctx):
        for _ in range(_total(pairs)):
            await ctx.tick()
            overruns.append(ctx.get(rx.overrun))
        seen.append((ctx.get(rx.o.valid), ctx.get(rx.o.payload)))

    run_testbenches(rx, _driver(rx, pairs), late_reader)
    assert sum(overruns) == 1 and seen == [(1, 0x02)]


@settings(max_examples=8)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=6).map(lambda v: [0xFF, 0x00] + v),
       st.sampled_from([4, 6, 9]))
def test_transmitter_bit_timing_is_exact(data, divisor):
    tx = UartTx(divisor)
    line = []
    n_cycles = 10 * divisor * len(data) + 8

    feed = _sender(tx, data)

    async def watch(ctx):
        for _ in range(n_cycles):
            line.append(ctx.get(tx.tx))
            await ctx.tick()

    run_testbenches(tx, feed, watch)
    start = line.index(0)
    assert all(line[:start])
    expected = [level for b in data for level in uart_bits(b) for _ in range(divisor)]
    assert line[start:start + len(expected)] == expected     # back to back, each bit exactly `divisor` cycles
    assert all(line[start + len(expected):])


@settings(max_examples=10)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 60)), min_size=1, max_size=6),
       st.sampled_from([4, 5, 9]))
def test_transmitter_with_gaps_keeps_every_frame_exact(bytes_and_gaps, divisor):
    """Bytes offered after random idle gaps: each frame keeps exact bit timing, in order, and starts exactly when
    both the frame before has ended and the byte has passed the holding register (two cycles after it is offered):
    a byte offered before the frame before ends goes out back to back with it."""
    tx = UartTx(divisor)
    frame = 10 * divisor
    offered, line = [], []

    async def feed(ctx):
        cycle = 0
        for b, gap in bytes_and_gaps:
            for _ in range(gap):
                await ctx.tick()
                cycle += 1
            offered.append(cycle)
            ctx.set(tx.i.payload, b)
            ctx.set(tx.i.valid, 1)
            while True:
                ready = ctx.get(tx.i.ready)
                await ctx.tick()
                cycle += 1
                if ready:
                    break
            ctx.set(tx.i.valid, 0)

    async def watch(ctx):
        for _ in range(sum(g for _, g in bytes_and_gaps) + (frame + 2) * (len(bytes_and_gaps) + 1)):
            line.append(ctx.get(tx.tx))
            await ctx.tick()

    run_testbenches(tx, feed, watch)
    t, starts = 0, []
    for b, _ in bytes_and_gaps:
        t = line.index(0, t)
        starts.append(t)
        assert line[t:t + frame] == [level for level in uart_bits(b) for _ in range(divisor)]
        t += frame
    assert all(line[t:])
    assert starts[0] == offered[0] + 2
    for k in range(1, len(starts)):
        assert starts[k] == max(starts[k - 1] + frame, offered[k] + 2)


@settings(max_examples=6)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=10).map(lambda v: [0x00, 0xFF] + v),
       st.sampled_from([4, 5, 8]))
def test_loopback(data, divisor):
    m = Module()
    m.submodules.tx = tx = UartTx(divisor)
    m.submodules.rx = rx = UartRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    out, errors = [], []

    feed = _sender(tx, data)

    async def collect(ctx):
        ctx.set(rx.o.ready, 1)
        for _ in range(10 * divisor * (len(data) + 1)):
            await ctx.tick()
            if ctx.get(rx.o.valid):
                out.append(ctx.get(rx.o.payload))
            errors.append(ctx.get(rx.error) | ctx.get(rx.overrun))

    run_testbenches(m, feed, collect)
    assert out == data and not any(errors)


def test_divisor_below_four_is_refused():
    with pytest.raises(ValueError, match="divisor"):
        UartRx(3)
    with pytest.raises(ValueError, match="divisor"):
        UartTx(2)
