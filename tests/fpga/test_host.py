"""The host side of the link: frames and values (round trips, error detection), the design id, the driver's
checks and errors, and `mam run` (on the simulated board, on a protocol-level fake, and on bad ports)."""

import json
import struct
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamhw.cli import main
from mamhw.fpga.boards import BOARDS, build_link_top, get_board, uart_divisor
from mamhw.fpga.design_id import design_id
from mamhw.fpga.host import Device, LinkError, decode_values, encode_values, open_serial
from mamhw.fpga.targets import TARGETS
from mamhw.golden import ContractError, Layer, Network, network_forward, save_network
from mamhw.golden.cycles import network_cycles, plan_network
from mamhw.hw.protocol import (CHECK, COUNTER_BYTES, INFO_FORMAT, MAX_PAYLOAD, PROTOCOL_VERSION, REPLY, Command,
                               FrameError, Status, decode_reply, decode_request, encode_reply, encode_request)
from mamhw.hw.network import NetworkEngine
from tests.strategies import make_network_and_inputs


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=600))
def test_frame_round_trip(code, tag, payload):
    frame = encode_request(code, tag, payload)
    assert frame[0] == frame[-1] == 0 and 0 not in frame[1:-1]
    assert decode_request(frame[1:-1]) == (code, tag, payload)
    reply = encode_reply(code, tag, Status.BUSY, payload)
    assert reply[0] == reply[-1] == 0 and 0 not in reply[1:-1]
    assert decode_reply(reply[1:-1]) == (code | REPLY, tag, Status.BUSY, payload)


@given(st.integers(0, 255), st.binary(max_size=64), st.booleans(), st.data())
def test_any_single_bit_flip_is_caught(code, payload, reply, data):
    frame = bytearray((encode_reply(code, 1, 0, payload) if reply else encode_request(code, 1, payload))[1:-1])
    bit = data.draw(st.integers(0, 8 * len(frame) - 1))
    frame[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError):
        (decode_reply if reply else decode_request)(bytes(frame))


def test_check_is_crc32c_sent_least_significant_byte_first():
    assert CHECK.compute(b"123456789") == 0xE3069283 and CHECK.compute(b"") == 0
    assert CHECK.check_bytes(b"123456789") == bytes([0x83, 0x92, 0x06, 0xE3])


def test_frame_limits():
    with pytest.raises(ValueError):
        encode_request(0x100, 0)
    with pytest.raises(ValueError):
        encode_request(1, 0, bytes(MAX_PAYLOAD + 1))
    with pytest.raises(FrameError, match="too short"):
        decode_request(b"\x03\x01\x02")


@given(st.integers(2, 32).flatmap(lambda bits: st.tuples(
    st.just(bits), st.lists(st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1), max_size=20))))
def test_values_round_trip(case):
    bits, values = case
    data = encode_values(values, bits)
    assert len(data) == len(values) * ((bits + 7) // 8)
    assert decode_values(data, len(values), bits).tolist() == values


def test_values_are_little_endian_twos_complement():
    assert encode_values([1, -1, -128, 127], 8) == bytes([1, 0xFF, 0x80, 0x7F])
    assert encode_values([-2, 0x123], 12) == bytes([0xFE, 0xFF, 0x23, 0x01])
    assert encode_values([-(1 << 19)], 20) == bytes([0, 0, 0xF8])
    assert encode_values([-1], 32) == b"\xff" * 4
    with pytest.raises(ContractError, match="8-bit signed"):
        encode_values([128], 8)


def _layers(*specs, seed=3, batch=3):
    base = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=0, n_dense=0, sign_mode="any",
                relu=False, scale="fit", batch=1)
    layers = [dict(base, **s, seed=seed + k) for k, s in enumerate(specs)]
    return make_network_and_inputs(dict(layers=layers, x_mode="any", batch=batch, seed=seed))


NET = (dict(n_in=10, n_out=6, density=0.4, relu=True), dict(kind="mac", n_in=6, n_out=3, density=0.8))


def test_design_id_is_a_fingerprint_of_weights_and_pes():
    network, _ = _layers(*NET)
    a = design_id(network, 2)
    assert 0 <= a < 1 << 32 and a == design_id(network, 2)
    assert design_id(network, 1) != a
    first = network[0]
    w = first.weight.copy()
    w[0, 0] += 1 if w[0, 0] < 127 else -1
    changed = Layer.build(kind=first.kind, weight=w, bias=first.bias, mult=first.mult, shift=first.shift,
                          relu=first.relu)
    assert design_id(Network([changed, network[1]]), 2) != a


def test_boards():
    assert set(BOARDS) == {"icebreaker", "ulx3s-85f"}
    for board in BOARDS.values():
        assert board.target in TARGETS
        assert board.divisor() * board.baud == board.clk_hz          # exact: no baud error at all
    assert (BOARDS["icebreaker"].clk_pin, BOARDS["icebreaker"].rx_pin, BOARDS["icebreaker"].tx_pin) == ("35", "6", "9")
    assert (BOARDS["ulx3s-85f"].clk_pin, BOARDS["ulx3s-85f"].rx_pin, BOARDS["ulx3s-85f"].tx_pin) == ("G2", "M1", "L4")
    assert BOARDS["icebreaker"].divisor(48_000_000) == 16
    with pytest.raises(ContractError, match="off"):
        uart_divisor(25_000_000, 3_000_000)                           # 8.33 cycles per bit
    with pytest.raises(ContractError, match="at least"):
        uart_divisor(6_000_000, 3_000_000)
    with pytest.raises(ContractError, match="unknown board"):
        get_board("de10")


class FakeDevice:
    """The protocol answered in Python (golden model behind it), as a pyserial-like transport."""

    def __init__(self, network, pes, *, id_=None, flip_output=False, info=None, timeout=0.2):
        self.network, self.pes = network, pes
        self.timeout = timeout
        self.id = design_id(network, pes) if id_ is None else id_
        self.flip_output = flip_output
        self.info_fields = info or {}
        self.inbuf, self.outbuf = bytearray(), bytearray()
        self.x = np.zeros(network.n_in, dtype=np.int64)
        self.y = None
        self.closed = False

    def reset_input_buffer(self):
        self.outbuf.clear()

    def close(self):
        self.closed = True

    def read(self, n):
        out = bytes(self.outbuf[:n])
        del self.outbuf[:n]
        return out

    def write(self, data):
        self.inbuf += data
        while 0 in self.inbuf:
            end = self.inbuf.index(0)
            frame, self.inbuf = bytes(self.inbuf[:end]), self.inbuf[end + 1:]
            if frame:
                code, tag, payload = decode_request(frame)
                status, reply = self._answer(code, payload)
                self.outbuf += encode_reply(code, tag, status, reply)
        return len(data)

    def _answer(self, code, payload):
        net = self.network
        model = network_cycles(plan_network(net, self.pes), NetworkEngine.LATENCY)
        if code == Command.INFO:
            f = dict(version=PROTOCOL_VERSION, n_in=net.n_in, n_out=net.n_out, in_bits=net.in_bits,
                     out_bits=net[-1].out_bits, n_layers=len(net), pes=self.pes, design_id=self.id, weight_bits=0)
            f.update(self.info_fields)
            if f["weight_bits"] is None:                        # protocol version 1 had no weight_bits
                return Status.OK, struct.pack(INFO_FORMAT[:-1], *list(f.values())[:-1])
            return Status.OK, struct.pack(INFO_FORMAT, *f.values())
        if code == Command.WRITE_INPUTS:
            self.x = decode_values(payload, net.n_in, net.in_bits)
            return Status.OK, b""
        if code == Command.RUN:
            self.y = network_forward(net, self.x[None, :])[0]
            if self.flip_output:
                self.y[0] = -self.y[0] - 1
            return Status.OK, model.total.to_bytes(COUNTER_BYTES, "little")
        if code == Command.READ_OUTPUTS:
            return Status.OK, encode_values(self.y, net[-1].out_bits)
        if code == Command.READ_CYCLES:
            return Status.OK, b"".join(int(c).to_bytes(COUNTER_BYTES, "little")
                                       for c in [model.total, *model.per_layer])
        return Status.UNKNOWN_COMMAND, b""


def test_run_batch_on_the_fake_device():
    network, x = _layers(*NET)
    res = Device(FakeDevice(network, 2)).run_batch(network, x)
    np.testing.assert_array_equal(res.outputs, network_forward(network, x))
    assert res.info.pes == 2 and res.cycles.shape == (3,)


@pytest.mark.parametrize("kw, pes, message", [
    (dict(id_=0x1234), None, r"design id 0x00001234 on the device, 0x[0-9a-f]{8} for network on 2 PEs"),
    (dict(info=dict(n_in=11)), None, r"the device runs a 11-in 3-out .* network, network is 10-in 3-out"),
    (dict(), 3, r"the device has 2 PEs, 3 were asked for"),
    (dict(info=dict(version=PROTOCOL_VERSION + 1)), None, r"protocol version"),
    # Protocol version 1 had a shorter INFO.
    (dict(info=dict(version=1, weight_bits=None)), None, rf"protocol version 1, this host version {PROTOCOL_VERSION}"),
])
def test_device_mismatch_is_one_line(kw, pes, message):
    network, x = _layers(*NET)
    with pytest.raises(LinkError, match=message) as e:
        Device(FakeDevice(network, 2, **kw), name="dev").run_batch(network, x, pes=pes)
    assert "\n" not in str(e.value)


class Silent:
    timeout = 0.01

    def write(self, data):
        return len(data)

    def read(self, n):
        return b""

    def reset_input_buffer(self):
        pass


def test_no_reply_is_one_line_after_retries():
    pauses = []
    dev = Device(Silent(), name="/dev/ttyUSB9", retries=2, sleep=pauses.append)
    with pytest.raises(LinkError, match=r"^/dev/ttyUSB9: no reply within 0.01 s \(is the board connected") as e:
        dev.info()
    assert len(pauses) == 2 and "\n" not in str(e.value)


def test_open_serial_errors_are_one_line():
    with pytest.raises(ContractError, match=r"^/nonexistent/tty: cannot open serial port \(") as e:
        open_serial("/nonexistent/tty", 3_000_000)
    assert "\n" not in str(e.value)
    port = open_serial("loop://", 3_000_000, timeout=0.01)
    port.close()


# `mam run`.

@pytest.fixture
def files(tmp_path):
    network, x = _layers(*NET)
    save_network(network, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", x)
    return network, x, tmp_path


def _run(tmp, *extra, port="fake"):
    return main(["run", "--board", "icebreaker", "--port", port, str(tmp / "net.npz"), str(tmp / "x.npy"),
                 "-o", str(tmp / "out.npy"), *map(str, extra)])


def _one_line_error(capsys, code, pattern):
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert pattern in err, err


@pytest.mark.parametrize("weight_ram", [None, "memory"])
def test_mam_run_on_the_simulated_board(files, monkeypatch, capsys, weight_ram):
    """`mam run` end to end: the driver talks to the LinkTop in Amaranth's simulator through its UART pins. With
    the weights in RAM (an SPRAM build), `mam run` loads them first."""
    from tests.hw.uart_sim import SimTransport
    network, x, tmp = files
    x = x[:2]
    np.save(tmp / "x.npy", x)
    top = build_link_top(network, 2, divisor=4, timeout=300, weight_ram=weight_ram)
    link = SimTransport(top, 4, timeout=0.012)
    monkeypatch.setattr("mamhw.fpga.host.open_serial", lambda port, baud, timeout: link)
    labels = np.argmax(network_forward(network, x), axis=1)
    np.save(tmp / "y.npy", labels)
    code = _run(tmp, "--report", tmp / "r.json", "--labels", tmp / "y.npy", "--pes", 2)
    out = capsys.readouterr().out
    assert code == 0, out
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), network_forward(network, x))
    report = json.loads((tmp / "r.json").read_text())
    model = network_cycles(plan_network(network, 2), NetworkEngine.LATENCY)
    assert report["cycles_per_sample"] == [model.total] * 2 and report["cycles_match_model"]
    assert report["mismatches"] == 0 and report["accuracy"] == 1.0
    assert report["design_id"] == f"0x{design_id(network, 2):08x}"
    assert report["weights_loaded"] == (weight_ram is not None)
    assert "equal the golden model" in out and ("loaded into the board's weight RAM" in out) == report["weights_loaded"]


def test_mam_run_on_the_simulated_board_with_the_window_engine(files, monkeypatch, capsys):
    """The window engine behind the same host link: `mam run --engine window --window W` checks its design id
    (which names the engine) and its cycle model; the row engine's id is refused."""
    from mamhw.golden.window import plan_window_network, window_network_cycles, window_sample_cycles
    from tests.hw.uart_sim import SimTransport
    network, x, tmp = files
    x = x[:2]
    np.save(tmp / "x.npy", x)
    top = build_link_top(network, 2, divisor=4, timeout=300, engine="window", window=4)
    link = SimTransport(top, 4, timeout=0.012)
    monkeypatch.setattr("mamhw.fpga.host.open_serial", lambda port, baud, timeout: link)
    code = _run(tmp, "--report", tmp / "r.json", "--pes", 2, "--engine", "window", "--window", 4)
    out = capsys.readouterr().out
    assert code == 0, out
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), network_forward(network, x))
    report = json.loads((tmp / "r.json").read_text())
    plans = plan_window_network(network, 2, 4)
    expected = window_sample_cycles(plans, [x] + network_forward(network, x, return_all=True)[:-1])
    assert report["cycles_per_sample"] == expected.sum(axis=1).tolist() and report["cycles_match_model"]
    assert report["model_cycles"] == window_network_cycles(plans).total
    assert report["design_id"] == f"0x{design_id(network, 2, 'window', 4):08x}" != f"0x{design_id(network, 2):08x}"
    assert (report["engine"], report["window"]) == ("window", 4)
    _one_line_error(capsys, _run(tmp, "--pes", 2), "another engine")          # auto weighs W = 16 and 64 only
    _one_line_error(capsys, _run(tmp, "--pes", 2, "--engine", "row"), "of the row engine")


def test_mam_run_finds_the_engine_by_its_design_id(files, monkeypatch, capsys):
    """Without --engine, `mam run` takes the engine whose design id the board reports."""
    from tests.hw.uart_sim import SimTransport
    network, x, tmp = files
    np.save(tmp / "x.npy", x[:1])
    link = SimTransport(build_link_top(network, 2, divisor=4, timeout=300, engine="window", window=16), 4,
                        timeout=0.012)
    monkeypatch.setattr("mamhw.fpga.host.open_serial", lambda port, baud, timeout: link)
    assert _run(tmp, "--report", tmp / "r.json") == 0
    report = json.loads((tmp / "r.json").read_text())
    assert (report["engine"], report["window"], report["mismatches"]) == ("window", 16, 0)
    assert report["cycles_match_model"] and "window engine (W = 16)" in capsys.readouterr().out


def test_mam_run_reports_mismatches_with_exit_1(files, monkeypatch, capsys):
    network, x, tmp = files
    monkeypatch.setattr("mamhw.fpga.host.open_serial",
                        lambda port, baud, timeout: FakeDevice(network, 2, flip_output=True))
    assert _run(tmp, "--report", tmp / "r.json") == 1
    report = json.loads((tmp / "r.json").read_text())
    assert report["mismatches"] == 3 and report["cycles_match_model"]
    assert "MISMATCH: 3 of 9 outputs" in capsys.readouterr().out


def test_mam_run_wrong_bitstream_exit_2(files, monkeypatch, capsys):
    network, x, tmp = files
    monkeypatch.setattr("mamhw.fpga.host.open_serial",
                        lambda port, baud, timeout: FakeDevice(network, 2, id_=0xDEADBEEF))
    _one_line_error(capsys, _run(tmp), "design id 0xdeadbeef on the device")
    assert not (tmp / "out.npy").exists()


def test_mam_run_bad_port_exit_2(files, capsys):
    _, _, tmp = files
    _one_line_error(capsys, _run(tmp, port="/nonexistent/ttyUSB0"), "/nonexistent/ttyUSB0: cannot open serial port")
    assert not (tmp / "out.npy").exists()


def test_mam_run_loopback_port_is_not_a_device(files, capsys):
    # pyserial's loop:// echoes the request back: a frame, but not a reply.
    _, _, tmp = files
    _one_line_error(capsys, _run(tmp, "--timeout", 0.05, port="loop://"), "not a mamhw host link")


def test_mam_run_without_pyserial(files, monkeypatch, capsys):
    _, _, tmp = files
    monkeypatch.setitem(sys.modules, "serial", None)
    _one_line_error(capsys, _run(tmp), "needs pyserial: pip install -e '.[board]'")


def test_mam_run_bad_inputs_and_board(files, capsys):
    network, x, tmp = files
    np.save(tmp / "x.npy", x[:, :-1])
    _one_line_error(capsys, _run(tmp), "features but the layer takes 10")
    _one_line_error(capsys, main(["run", "--board", "nope", "--port", "x", str(tmp / "net.npz"),
                                  str(tmp / "x.npy"), "-o", str(tmp / "o.npy")]), "unknown board 'nope'")
