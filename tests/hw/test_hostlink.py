"""The whole host path in simulation: the host driver (fpga/host.py) -> bytes -> UART bits on `rx` -> host link ->
network engine -> UART bits on `tx` -> decoded replies. Outputs are held to the golden model bit for bit and
cycles to the cycle model; broken frames are refused with the right status and never half-applied; requests that
come while the link is busy are answered after the one before, or as the protocol says."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.fpga.boards import build_link_top
from mamhw.fpga.design_id import design_id
from mamhw.fpga.host import Device, LinkError, encode_values, entry_words
from mamhw.golden import network_forward
from mamhw.golden.cycles import network_cycles, plan_network
from mamhw.hw.protocol import (INFO_FORMAT, PROTOCOL_VERSION, REPLY, WEIGHT_CHUNK, WEIGHT_HEADER, Command, Status,
                               decode_reply, encode_request)
from mamhw.golden.engines import cycle_model
from mamhw.hw.network import NetworkEngine
from mamhw.hw.weight_ram import spram_delta_bits
from mamhw.hw.ports import EngineHostPort
from tests.hw.uart_sim import SimTransport, uart_bits
from tests.strategies import make_network_and_inputs, networks_and_inputs

DIVISOR = 4
LINK_TIMEOUT = 300              # cycles without a byte that abandon a frame
CLK_HZ = 1_000_000              # simulated; only converts the host's timeouts (seconds) into cycles


def _layers(*specs, seed=7, batch=2, bits=8):
    base = dict(kind="mam", in_bits=bits, w_bits=8, out_bits=bits, n_empty=0, n_dense=0, sign_mode="any",
                relu=False, scale="fit", batch=1)
    layers = [dict(base, **s, seed=seed + k) for k, s in enumerate(specs)]
    return make_network_and_inputs(dict(layers=layers, x_mode="any", batch=batch, seed=seed))


def _device(network, pes, **options):
    top = build_link_top(network, pes, divisor=DIVISOR, timeout=LINK_TIMEOUT, **options)
    # Time runs only while the host reads: long enough for the longest frame (LOAD_WEIGHTS) to go out.
    link = SimTransport(top, DIVISOR, clk_hz=CLK_HZ, timeout=0.004 if "weight_ram" not in options else 0.012)
    # A resync pause longer than the link's timeout, in simulated time.
    return Device(link, name="sim", sleep=link.sleep, resync=2 * LINK_TIMEOUT / CLK_HZ), link


def _model(network, pes):
    return network_cycles(plan_network(network, pes), NetworkEngine.LATENCY)


def _status(reply, command, tag=None):
    code, got_tag, status, _ = reply
    assert code == command | REPLY and (tag is None or got_tag == tag)
    return Status(status)


def _damaged(frame, i):
    """`frame` with its byte `i` changed to another non-zero value (a 0x00 would cut it in two)."""
    out = bytearray(frame)
    out[i] ^= 0x10 if out[i] != 0x10 else 0x20
    return bytes(out)


def assert_batch_exact(network, x, pes, **options):
    dev, _ = _device(network, pes, **options)
    res = dev.run_batch(network, x)
    np.testing.assert_array_equal(res.outputs, network_forward(network, x))
    model = _model(network, pes)
    assert res.cycles.tolist() == [model.total] * x.shape[0]
    assert res.layer_cycles.tolist() == [model.per_layer.tolist()] * x.shape[0]
    return dev, res


def test_info_describes_the_design():
    network, _ = _layers(dict(n_in=10, n_out=6, density=0.5), dict(kind="mac", n_in=6, n_out=3, density=0.7))
    dev, _ = _device(network, 2)
    info = dev.info()
    assert (info.version, info.n_in, info.n_out, info.in_bits, info.out_bits, info.n_layers, info.pes) == \
        (PROTOCOL_VERSION, 10, 3, 8, 8, 2, 2)
    assert info.design_id == design_id(network, 2)


def test_mam_then_mac_network_bit_exact_and_cycle_exact():
    network, x = _layers(dict(n_in=16, n_out=8, density=0.3, relu=True), dict(kind="mac", n_in=8, n_out=4,
                                                                                 density=0.6), batch=3)
    assert_batch_exact(network, x, 2)


@pytest.mark.parametrize("widths", [(12, 16, 20), (16, 9, 32)])
def test_wide_values_take_several_bytes_little_endian(widths):
    # 2-byte inputs; 3- or 4-byte outputs, sign-extended.
    w_in, w_mid, w_out = widths
    base = dict(w_bits=8, n_empty=0, n_dense=1, sign_mode="extremes", relu=False, scale="saturating", batch=1)
    network, x = make_network_and_inputs(dict(
        layers=[dict(base, kind="mam", in_bits=w_in, out_bits=w_mid, n_in=6, n_out=5, density=0.7, seed=1),
                dict(base, kind="mac", in_bits=w_mid, out_bits=w_out, n_in=5, n_out=3, density=1.0, seed=2)],
        x_mode="extremes", batch=2, seed=4))
    _, res = assert_batch_exact(network, x, 1)
    assert np.any(res.outputs < -128) or np.any(res.outputs > 127)


@settings(max_examples=3, deadline=None)
@given(networks_and_inputs(max_layers=2, max_in=12, max_width=8, max_entries=60, bits=(4, 8, 9)),
       st.sampled_from([1, 2, 3]))
def test_random_networks(case, pes):
    assert_batch_exact(*case, pes)


def _loaded(pes=2):
    """A device with x0 loaded and run; x1 gives other outputs."""
    network, x = _layers(dict(n_in=8, n_out=5, density=0.6), batch=2, seed=11)
    golden = network_forward(network, x)
    assert not np.array_equal(golden[0], golden[1])
    dev, link = _device(network, pes)
    dev.write_inputs(x[0])
    dev.run()
    return network, x, golden, dev, link


def _still_x0(dev, golden, network, pes=2):
    assert dev.run() == _model(network, pes).total
    np.testing.assert_array_equal(dev.read_outputs(), golden[0])


def test_run_sent_again_runs_on_the_same_inputs():
    """Two layers: the outputs land in the inputs' buffer. A repeated RUN (the driver's retry) must not run on them."""
    network, x = _layers(dict(n_in=12, n_out=6, density=0.5), dict(n_in=6, n_out=4, density=0.7), seed=5)
    golden = network_forward(network, x)
    dev, _ = _device(network, 2)
    dev.write_inputs(x[0])
    for _ in range(2):
        assert dev.run() == _model(network, 2).total
        np.testing.assert_array_equal(dev.read_outputs(), golden[0])


def _inputs_refused(dev, golden):
    """A refused WRITE_INPUTS applied nothing: the last outputs are still there, and RUN is refused until whole
    inputs arrive (the staging memory holds the broken frame's bytes)."""
    np.testing.assert_array_equal(dev.read_outputs(), golden[0])
    with pytest.raises(LinkError, match="RUN refused: NO_INPUTS"):
        dev.run()


def _write_inputs(x, tag=0x31):
    return encode_request(Command.WRITE_INPUTS, tag, encode_values(x, 8))


def test_corrupted_payload_is_refused_and_not_applied():
    network, x, golden, dev, _ = _loaded()
    frame = _damaged(_write_inputs(x[1]), 6)             # a payload byte; the check no longer matches
    assert _status(dev.exchange(frame), Command.WRITE_INPUTS, 0x31) == Status.BAD_CHECKSUM
    _inputs_refused(dev, golden)
    dev.write_inputs(x[1])                               # and a good frame still goes through
    dev.run()
    np.testing.assert_array_equal(dev.read_outputs(), golden[1])


def test_broken_stuffing_is_refused():
    network, x, golden, dev, _ = _loaded()
    frame = bytearray(_write_inputs(x[1]))
    frame[1] = 0xFE                                      # the first run now reaches past the frame's end
    assert _status(dev.exchange(bytes(frame)), Command.WRITE_INPUTS, 0x31) == Status.BAD_CHECKSUM
    _inputs_refused(dev, golden)


def test_wrong_length_is_refused_and_not_applied():
    network, x, golden, dev, _ = _loaded()
    short = encode_request(Command.WRITE_INPUTS, 1, encode_values(x[1][:-1], 8))
    assert _status(dev.exchange(short), Command.WRITE_INPUTS) == Status.BAD_LENGTH
    # Longer than anything the design takes: counted no further, refused when the frame ends.
    huge = encode_request(Command.WRITE_INPUTS, 2, bytes(range(60)))
    assert _status(dev.exchange(huge), Command.WRITE_INPUTS) == Status.BAD_LENGTH
    # The length shows only at the frame's end, so the staging memory took the frames' first bytes: RUN is
    # refused until whole inputs arrive.
    _inputs_refused(dev, golden)
    assert _status(dev.exchange(encode_request(Command.RUN, 3, b"\x00")), Command.RUN) == Status.BAD_LENGTH
    # Too short to hold CODE, TAG and CHECK: damaged, whatever its bytes.
    assert dev.exchange(b"\x00\x03\x02\x07\x00") == (0x02 | REPLY, 0x07, Status.BAD_CHECKSUM, b"")
    assert dev.exchange(b"\x00\x01\x00") == (REPLY, 0, Status.BAD_CHECKSUM, b"")
    dev.write_inputs(x[0])
    _still_x0(dev, golden, network)


def test_unknown_and_reserved_commands():
    network, x, golden, dev, _ = _loaded()
    for code in (Command.LOAD_WEIGHTS, 0x00, 0x7F, 0x81):
        assert _status(dev.exchange(encode_request(code, 9, b"\x01\x02")), code, 9) == Status.UNKNOWN_COMMAND
    with pytest.raises(LinkError, match="LOAD_WEIGHTS refused: UNKNOWN_COMMAND"):
        dev.request(Command.LOAD_WEIGHTS)
    _still_x0(dev, golden, network)


def test_truncated_frame_times_out_and_the_rest_is_ignored():
    network, x, golden, dev, link = _loaded()
    frame = _write_inputs(x[1], tag=0x44)
    link.reset_input_buffer()
    link.write(frame[:7])
    # The link answers once its timeout has passed, then ignores the line up to the next 0x00: the rest of the
    # frame, arriving late, gets no reply.
    assert dev.read_reply() == (Command.WRITE_INPUTS | REPLY, 0x44, Status.TIMEOUT, b"")
    link.write(frame[7:])
    with pytest.raises(LinkError, match="no reply"):
        dev.read_reply()
    _inputs_refused(dev, golden)
    # Cut after the first length byte, before the command byte arrived.
    link.write(frame[:2])
    assert dev.read_reply() == (REPLY, 0, Status.TIMEOUT, b"")
    assert dev.info().n_in == network.n_in


def test_a_cut_frame_is_ended_by_the_next_frames_delimiter():
    network, x, golden, dev, link = _loaded()
    frame = _write_inputs(x[1], tag=0x45)
    link.reset_input_buffer()
    link.write(frame[:-9])                                # no timeout: the next request follows at once
    assert dev.info().design_id == design_id(network, 2)
    assert dev.tag != 0x45
    _inputs_refused(dev, golden)


def test_lost_byte_is_an_rx_error():
    network, x, golden, dev, link = _loaded()
    frame = _write_inputs(x[1], tag=0x46)
    link.reset_input_buffer()
    levels = []
    for i, b in enumerate(frame):
        levels += uart_bits(b, stop=0 if i == 8 else 1) + ([1] if i == 8 else [])
    link.write_levels(levels)
    assert dev.read_reply() == (Command.WRITE_INPUTS | REPLY, 0x46, Status.RX_ERROR, b"")
    _inputs_refused(dev, golden)
    dev.write_inputs(x[0])
    _still_x0(dev, golden, network)


def test_noise_before_a_frame_is_answered_as_a_broken_frame_and_skipped():
    network, x, golden, dev, link = _loaded()
    link.write(bytes([0x00, 0xFF, 0x5A, 0x13]))         # a frame whose run is cut short by the next 0x00
    assert dev.exchange(encode_request(Command.INFO, 0x20)) == (0x5A | REPLY, 0x13, Status.BAD_CHECKSUM, b"")
    assert _status(dev.read_reply(), Command.INFO, 0x20) == Status.OK
    link.write(bytes([0x77, 0x00, 0x00, 0x00]))          # and the driver skips such a reply by its tag
    assert dev.info().design_id == design_id(network, 2)
    _still_x0(dev, golden, network)


class _Corrupting:
    """Changes a byte of the first `n` frames written (inside the check), as a noisy line would."""

    def __init__(self, inner, n=1):
        self.inner, self.n = inner, n

    def write(self, data):
        if self.n:
            self.n -= 1
            data = _damaged(data, len(data) - 3)
        return self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_driver_resends_a_request_the_line_corrupted():
    network, x, golden, dev, link = _loaded()
    dev.transport = _Corrupting(link, n=2)
    dev.write_inputs(x[1])                               # BAD_CHECKSUM twice, then accepted
    dev.run()
    np.testing.assert_array_equal(dev.read_outputs(), golden[1])
    dev.transport = _Corrupting(link, n=3)
    with pytest.raises(LinkError, match=r"^sim: RUN refused: BAD_CHECKSUM \(the frame was corrupted on the line\)$"):
        dev.run()


# Requests that come while the link is busy (hw/protocol.py): answered after the one before, or BUSY, or dropped.

def _replies(link, n):
    dev = Device(link, name="sim")
    return [dev.read_reply()[:3] for _ in range(n)]


def test_a_request_sent_while_a_reply_goes_out_is_answered_after_it():
    network, x, golden, dev, link = _loaded()
    link.reset_input_buffer()
    link.write(encode_request(Command.READ_OUTPUTS, 1) + encode_request(Command.INFO, 2))
    assert _replies(link, 2) == [(Command.READ_OUTPUTS | REPLY, 1, Status.OK), (Command.INFO | REPLY, 2, Status.OK)]


def test_a_request_sent_while_the_engine_runs_is_answered_after_it():
    network, x = _layers(dict(n_in=40, n_out=30, density=0.9), dict(n_in=30, n_out=20, density=0.9), seed=3)
    dev, link = _device(network, 1)
    dev.write_inputs(x[0])
    total = _model(network, 1).total
    assert total > 40 * DIVISOR * 10                      # the run outlasts the next request on the line
    link.reset_input_buffer()
    link.write(encode_request(Command.RUN, 1) + encode_request(Command.READ_CYCLES, 2))
    got = [Device(link).read_reply() for _ in range(2)]
    assert [r[:3] for r in got] == [(Command.RUN | REPLY, 1, Status.OK), (Command.READ_CYCLES | REPLY, 2, Status.OK)]
    assert int.from_bytes(got[1][3][:4], "little") == total


def test_inputs_that_come_while_a_request_waits_are_answered_busy_and_not_applied():
    """READ_OUTPUTS's reply is going out, INFO waits for it, and WRITE_INPUTS begins meanwhile: its payload cannot be
    staged, so it is answered BUSY after INFO, and the inputs are still x0. Byte times on the line, from the end of
    READ_OUTPUTS's request: WRITE_INPUTS's code byte comes at ~12 (after INFO's 9 bytes), INFO is taken once the
    executor has handed on the 23 content bytes of READ_OUTPUTS's reply (~23), and WRITE_INPUTS ends at ~34 (16
    values), so neither edge is within 10 byte times."""
    network, x = _layers(dict(n_in=16, n_out=20, density=0.6), batch=2, seed=12)
    golden = network_forward(network, x)
    dev, link = _device(network, 2)
    dev.write_inputs(x[0])
    dev.run()
    link.reset_input_buffer()
    link.write(encode_request(Command.READ_OUTPUTS, 1) + encode_request(Command.INFO, 2) + _write_inputs(x[1], 3))
    assert _replies(link, 3) == [(Command.READ_OUTPUTS | REPLY, 1, Status.OK), (Command.INFO | REPLY, 2, Status.OK),
                                 (Command.WRITE_INPUTS | REPLY, 3, Status.BUSY)]
    assert dev.run() == _model(network, 2).total
    np.testing.assert_array_equal(dev.read_outputs(), golden[0])
    dev.write_inputs(x[1])                                # sent again, it goes through
    dev.run()
    np.testing.assert_array_equal(dev.read_outputs(), golden[1])


def test_a_frame_that_ends_while_a_request_waits_is_dropped_and_the_driver_sends_it_again():
    """READ_OUTPUTS's reply (~41 bytes) is still going out when INFO (9 bytes) and READ_CYCLES (9 bytes) have come:
    INFO waits, READ_CYCLES finds it waiting and is dropped; the driver's request then gets its reply."""
    network, x = _layers(dict(n_in=8, n_out=30, density=0.6), batch=1, seed=12)
    dev, link = _device(network, 2)
    dev.write_inputs(x[0])
    dev.run()
    link.reset_input_buffer()
    link.write(encode_request(Command.READ_OUTPUTS, 1) + encode_request(Command.INFO, 2) +
               encode_request(Command.READ_CYCLES, 3))
    assert _replies(link, 2) == [(Command.READ_OUTPUTS | REPLY, 1, Status.OK), (Command.INFO | REPLY, 2, Status.OK)]
    with pytest.raises(LinkError, match="no reply"):
        Device(link).read_reply()
    assert dev.read_cycles()[0] == _model(network, 2).total


def _simulate(link, bench):
    """A bare HostLink (no UART, no engine) driven by the testbench `bench`."""
    from amaranth.sim import Simulator
    sim = Simulator(link)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def _frames_sent(sent):
    """The replies in the bytes `sent`, decoded."""
    return [decode_reply(f) for f in bytes(sent).split(b"\x00") if f]


def test_reply_check_waits_for_a_transmitter_that_takes_a_byte_every_cycle():
    # The sender folds each sent byte into the check over the next 8 cycles; the check must wait for the last fold.
    from mamhw.hw.hostlink import HostLink
    port = EngineHostPort(n_in=3, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=2)
    link = HostLink(port, pes=1, design_id=0x12345678, timeout=50)
    sent = []

    async def bench(ctx):
        ctx.set(link.tx.ready, 1)
        for byte in encode_request(Command.INFO, 0xC3):     # as fast as the link takes them
            ctx.set(link.rx.valid, 1)
            ctx.set(link.rx.payload, byte)
            await ctx.tick().until(link.rx.ready)
        ctx.set(link.rx.valid, 0)
        for _ in range(400):                                # 21 bytes of content and check, 9 cycles each
            if ctx.get(link.tx.valid):
                sent.append(ctx.get(link.tx.payload))
            await ctx.tick()

    _simulate(link, bench)
    [(code, tag, status, data)] = _frames_sent(sent)          # decode_reply raises on a bad check
    assert (code, tag, status) == (Command.INFO | REPLY, 0xC3, Status.OK)
    assert struct.unpack(INFO_FORMAT, data) == (PROTOCOL_VERSION, 3, 2, 8, 8, 1, 1, 0x12345678, 0)
    assert sent[0] == sent[-1] == 0 and 0 not in sent[1:-1]


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 255), st.binary(min_size=3, max_size=3))
def test_the_link_takes_a_request_byte_13_cycles_after_a_content_byte_and_5_after_any_other(tag, payload):
    """The receiver's pace: a line byte whose content byte goes through the check (8 cycles, after 4 on the way to
    it) is followed by the next 13 cycles later, a delimiter or a length byte that stands for no content byte 5
    cycles later; the UART brings one every 10 * divisor >= 40 cycles."""
    from mamhw.hw.hostlink import HostLink
    from mamhw.hw.protocol import cobs_decode
    port = EngineHostPort(n_in=3, in_bits=8, n_out=2, out_bits=8, n_layers=1, y_latency=2)
    link = HostLink(port, pes=1, design_id=1, timeout=500)
    frame = encode_request(Command.WRITE_INPUTS, tag, payload)
    content = cobs_decode(frame[1:-1])
    taken = []

    async def bench(ctx):
        ctx.set(link.tx.ready, 1)
        for cycle in range(20 * len(frame)):
            if len(taken) == len(frame):
                break
            ctx.set(link.rx.valid, 1)
            ctx.set(link.rx.payload, frame[len(taken)])
            if ctx.get(link.rx.ready):
                taken.append(cycle)
            await ctx.tick()

    _simulate(link, bench)
    gaps = [b - a for a, b in zip(taken, taken[1:])]
    assert sorted(gaps) == [5] * (len(frame) - 1 - len(content)) + [13] * len(content)


@pytest.mark.parametrize("y_latency", [1, 2, 3])
def test_output_bytes_wait_for_the_buffer_read_with_a_transmitter_that_takes_a_byte_every_cycle(y_latency):
    """READ_OUTPUTS against an engine whose y_data follows y_addr `y_latency` cycles later (the engine's: 2, a
    registered row map and a synchronous read): each value then passes a register before its bytes are chosen and
    another before they leave, so the link must wait y_latency + 2 cycles after moving to the next value; a UART
    hides that wait, a fast transmitter does not. The values hold zero bytes and a run of 254 non-zero bytes, so the
    reply's stuffing adds length bytes in both ways."""
    from mamhw.fpga.host import decode_values
    from mamhw.hw.hostlink import HostLink
    values = [-1500, 2047, 3, -2048, 700, 0, 256] + [-1] * 130
    port = EngineHostPort(n_in=3, in_bits=8, n_out=len(values), out_bits=12, n_layers=1, y_latency=y_latency)
    link = HostLink(port, pes=1, design_id=1, timeout=50)
    sent = []

    async def bench(ctx):
        ctx.set(link.tx.ready, 1)
        frame, i, addrs = encode_request(Command.READ_OUTPUTS, 0x5C), 0, [0] * y_latency
        for _ in range(4000):                                   # 281 bytes of content and check, 9 cycles each
            addr = addrs[0]                                                     # addressed y_latency cycles ago
            ctx.set(link.engine.y_data, values[addr] if addr < len(values) else 0)
            addrs = addrs[1:] + [ctx.get(link.engine.y_addr)]
            ctx.set(link.rx.valid, i < len(frame))
            ctx.set(link.rx.payload, frame[i] if i < len(frame) else 0)
            i += ctx.get(link.rx.ready)                                        # as fast as the link takes them
            if ctx.get(link.tx.valid):
                sent.append(ctx.get(link.tx.payload))
            await ctx.tick()

    _simulate(link, bench)
    [(code, tag, status, data)] = _frames_sent(sent)
    assert (code, tag, status) == (Command.READ_OUTPUTS | REPLY, 0x5C, Status.OK)
    assert decode_values(data, len(values), 12).tolist() == values


# Weights in RAM (the UP5K's SPRAM build, hw/weight_ram.py): loaded over the link before the first run.
def _spram_network(seed=11):
    return _layers(dict(n_in=30, n_out=9, density=0.5), dict(kind="mac", n_in=9, n_out=4, density=0.6), batch=2,
                   seed=seed)


def test_weights_loaded_over_the_link_bit_exact_and_cycle_exact():
    network, x = _spram_network()
    dev, res = assert_batch_exact(network, x, 2, weight_ram="memory")
    words, bits = entry_words(network, 2)
    assert res.info.weight_bits == bits and max(map(len, words)) > WEIGHT_CHUNK   # several frames for a PE


def test_relative_indices_found_by_design_id_and_loaded_over_the_link():
    """A UP5K build whose entry words in SPRAM hold relative indices: the host finds that width by the design id
    the device reports, loads those words, and the cycles are the model's with their fillers."""
    network, x = _layers(dict(n_in=400, n_out=6, density=0.02), dict(kind="mac", n_in=6, n_out=4, density=0.6),
                         batch=2, seed=12)
    delta_bits = spram_delta_bits(network)
    dev, _ = _device(network, 1, weight_ram="memory", delta_bits=delta_bits)
    res = dev.run_batch(network, x)
    assert (dev.engine, dev.delta_bits) == (("row", None), delta_bits)
    np.testing.assert_array_equal(res.outputs, network_forward(network, x))
    model = cycle_model(network, 1, delta_bits=delta_bits)
    assert res.cycles.tolist() == [model.total] * x.shape[0] and model.total > cycle_model(network, 1).total
    assert res.info.weight_bits == entry_words(network, 1, delta_bits)[1] == 16


def _weights_payload(pe, address, words, bits, count=None):
    nb = (bits + 7) // 8
    padded = list(words) + [0] * (WEIGHT_CHUNK - len(words))
    return struct.pack(WEIGHT_HEADER, pe, address, len(words) if count is None else count) + \
        b"".join(int(w).to_bytes(nb, "little") for w in padded)


def _weights_frame(*args, **kw):
    return encode_request(Command.LOAD_WEIGHTS, 0x66, _weights_payload(*args, **kw))


def test_bad_weight_frames_are_refused_and_not_applied():
    network, x = _spram_network()
    dev, _ = _device(network, 2, weight_ram="memory")
    golden = network_forward(network, x)
    dev.run_batch(network, x[:1])                                   # loads the weights, runs x0
    words, bits = entry_words(network, 2)
    n0 = len(words[0])
    # Every weight of PE 0's first words changed (lowest bit flipped: the weight is the word's low field), index
    # and row marks kept.
    changed = [w ^ 1 for w in words[0][:WEIGHT_CHUNK]]
    good = _weights_frame(0, 0, changed, bits)
    cases = [(_damaged(good, len(good) - 4), Status.BAD_CHECKSUM),
             (_weights_frame(2, 0, changed[:1], bits), Status.BAD_ADDRESS),          # no PE 2
             (_weights_frame(0, n0 - 1, changed[:2], bits), Status.BAD_ADDRESS),      # past PE 0's entries
             (_weights_frame(0, 0, changed, bits, count=0), Status.BAD_ADDRESS),
             (_weights_frame(0, 0, changed, bits, count=WEIGHT_CHUNK + 1), Status.BAD_ADDRESS),
             (encode_request(Command.LOAD_WEIGHTS, 0x66, _weights_payload(0, 0, changed, bits)[:-2]),
              Status.BAD_LENGTH)]
    for frame, status in cases:
        assert _status(dev.exchange(frame), Command.LOAD_WEIGHTS, 0x66) == status
    _still_x0(dev, golden, network)
    # A good frame is applied: the changed weights change the outputs; loading the right ones restores them.
    assert _status(dev.exchange(good), Command.LOAD_WEIGHTS) == Status.OK
    dev.run()
    assert not np.array_equal(dev.read_outputs(), golden[0])
    dev.request(Command.LOAD_WEIGHTS, _weights_payload(0, 0, words[0][:WEIGHT_CHUNK], bits))
    _still_x0(dev, golden, network)
