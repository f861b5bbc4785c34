"""The host link under a noisy line, in simulation through the real UART: request frames damaged on the line (bits
flipped, bursts, cuts, bytes inserted or deleted, stalls past the timeout, all on the UART's bit levels), hundreds of
them, each group followed by the host driver's ordinary requests.

Held: nothing a damaged frame carried ever reaches the engine (every write on the engine's host port is the whole
content of a frame the host sent intact, and the engine starts no more often than intact RUN frames came); no damaged
frame is answered OK; every reply the device sends is a well-formed frame; and the link always recovers: the next
request gets its correct reply under the driver's retry rule (outputs bit-exact against the golden model, cycles
against the cycle model, INFO as built).
"""

import os
import struct

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mamhw.fpga.boards import build_link_top
from mamhw.fpga.design_id import design_id
from mamhw.fpga.host import Device, LinkError, encode_values, entry_words
from mamhw.golden import network_forward
from mamhw.golden.cycles import network_cycles, plan_network
from mamhw.hw.network import NetworkEngine
from mamhw.hw.protocol import (WEIGHT_CHUNK, WEIGHT_HEADER, Command, Status, decode_request, encode_request,
                               value_bytes)
from tests.hw.uart_sim import SimTransport, uart_bits
from tests.strategies import make_network_and_inputs

DIVISOR = 4
LINK_TIMEOUT = 200                  # cycles without a byte that end a frame
CLK_HZ = 1_000_000
GROUPS, PER_GROUP = 26, 8           # 208 damaged frames a session
DAMAGED_TAG = 0                     # the driver never uses it: an OK reply with it answers a damaged frame


def _network():
    base = dict(kind="mam", in_bits=8, w_bits=8, out_bits=8, n_empty=0, n_dense=0, sign_mode="any", relu=False,
                scale="fit", batch=1)
    return make_network_and_inputs(dict(layers=[dict(base, n_in=3, n_out=3, density=0.7, seed=21)], x_mode="any",
                                        batch=1, seed=21))


# What the line does to a frame (positions are taken modulo the frame's span, so any integer is a valid draw).
DAMAGES = ("flip", "burst", "cut", "insert", "delete", "stall")
# LOAD_WEIGHTS frames are ten times longer than the others: one in 32.
REQUESTS = ((["INFO", "RUN", "READ_OUTPUTS", "READ_CYCLES"] + ["WRITE_INPUTS"] * 4) * 4)[:-1] + ["LOAD_WEIGHTS"]
CHECKS = ("info", "cycles", "full")


def _damage(rnd):
    kind, at = rnd.choice(DAMAGES), rnd.randrange(1 << 16)
    if kind == "flip":
        return kind, rnd.sample(range(1 << 16), rnd.randint(1, 4))
    if kind == "burst":
        return kind, at, rnd.randint(2, 40), rnd.getrandbits(40)
    if kind == "insert":
        return kind, at, rnd.randbytes(rnd.randint(1, 6))
    if kind == "delete":
        return kind, at, rnd.randint(1, 4)
    return kind, at


def _session(rnd):
    """GROUPS of (PER_GROUP damaged requests, the check after them, the inputs it writes)."""
    return [([(rnd.choice(REQUESTS), _damage(rnd)) for _ in range(PER_GROUP)], rnd.choice(CHECKS),
             [rnd.randint(-128, 127) for _ in range(3)]) for _ in range(GROUPS)]


def _levels(frame):
    return [level for byte in frame for level in uart_bits(byte)]


def damaged_levels(frame, damage):
    """The line levels of `frame` (delimiters included) after `damage`; always different from the frame's own in a
    way that changes what a receiver gets between the delimiters (so the frame can never check out)."""
    kind, at = damage[0], damage[1] if damage[0] != "flip" else 0
    n = len(frame)
    inner = 1 + at % (n - 2)                          # a byte between the delimiters
    if kind == "flip":
        levels = _levels(frame)
        for p in damage[1]:
            levels[p % len(levels)] ^= 1
        return levels
    if kind == "burst":
        levels = _levels(frame)
        length, bits = damage[2], damage[3]
        start = at % (len(levels) - length + 1)
        before = levels[start:start + length]
        levels[start:start + length] = [(bits >> i) & 1 for i in range(length)]
        if levels[start:start + length] == before:
            levels[start] ^= 1
        return levels
    if kind == "cut":                                 # some content is lost: the next 0x00 ends a short frame
        return _levels(frame[:1 + at % (n - 2)])
    if kind == "insert":                              # between two content bytes
        spot = 2 + at % (n - 4)
        return _levels(frame[:spot] + damage[2] + frame[spot:])
    if kind == "delete":
        k = min(damage[2], n - 1 - inner)
        return _levels(frame[:inner] + frame[inner + k:])
    assert kind == "stall"                            # the line stops inside the frame for longer than the timeout
    spot = 2 + at % (n - 2)                           # after a content byte, the closing 0x00 at the latest
    pause = [1] * (LINK_TIMEOUT // DIVISOR + 3)
    return _levels(frame[:spot]) + pause + _levels(frame[spot:])


class Recording:
    """The driver's transport: what it writes is intact; the requests in it are kept by command."""

    def __init__(self, inner):
        self.inner, self.sent = inner, []

    def write(self, data):
        for chunk in bytes(data).split(b"\x00"):
            if chunk:
                code, _, payload = decode_request(chunk)
                self.sent.append((code, payload))
        return self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class EngineWatch:
    """Every write on the engine's host port, grouped into runs of consecutive cycles, and each start."""

    def __init__(self, engine):
        self.engine, self.writes, self.starts = engine, [], 0
        self.loads_weights = "w_we" in engine.signature.members

    async def run(self, ctx):
        eng = self.engine
        watched = [eng.x_we, eng.start] + ([eng.w_we] if self.loads_weights else [])
        while True:
            await ctx.changed(*watched)
            run = []
            while True:
                values = dict(zip(["x_we", "x_addr", "x_data", "start"],
                                  [ctx.get(eng.x_we), ctx.get(eng.x_addr), ctx.get(eng.x_data), ctx.get(eng.start)]))
                if self.loads_weights:
                    values.update(w_we=ctx.get(eng.w_we), w_pe=ctx.get(eng.w_pe), w_addr=ctx.get(eng.w_addr),
                                  w_data=ctx.get(eng.w_data))
                if not (values["x_we"] or values["start"] or values.get("w_we")):
                    break
                self.starts += values["start"]
                if values["x_we"]:
                    run.append(("x", values["x_addr"], values["x_data"]))
                if values.get("w_we"):
                    run.append(("w", values["w_pe"], values["w_addr"], values["w_data"]))
                await ctx.tick()
            if run:
                self.writes.append(run)


def _intact_writes(sent, n_in, weight_bits):
    """The engine writes that intact frames allow: each WRITE_INPUTS's values (RUN copies the staged ones again), each
    LOAD_WEIGHTS's words."""
    allowed = set()
    nb = value_bytes(weight_bits) if weight_bits else 1
    hdr = struct.calcsize(WEIGHT_HEADER)
    for code, payload in sent:
        if code == Command.WRITE_INPUTS:
            x = np.frombuffer(payload, dtype=np.int8).astype(int)
            allowed.add(tuple(("x", i, int(v)) for i, v in enumerate(x)))
        elif code == Command.LOAD_WEIGHTS:
            pe, addr, count = struct.unpack(WEIGHT_HEADER, payload[:hdr])
            words = [int.from_bytes(payload[hdr + nb * i:hdr + nb * (i + 1)], "little") for i in range(count)]
            allowed.add(tuple(("w", pe, addr + i, w) for i, w in enumerate(words)))
    return allowed


# One session takes most of a minute; set FUZZ_SESSIONS to run more (each with new damage). No shrinking: a session
# is too long to run over and over, and the failure names its group and damage.
@settings(max_examples=int(os.environ.get("FUZZ_SESSIONS", 1)), deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=True))
def test_damaged_frames_are_never_applied_and_the_link_always_recovers(rnd):
    groups = _session(rnd)
    network, x0 = _network()
    pes = 1
    top = build_link_top(network, pes, divisor=DIVISOR, timeout=LINK_TIMEOUT, weight_ram="memory")
    line = SimTransport(top, DIVISOR, clk_hz=CLK_HZ, timeout=0.008)
    watch = EngineWatch(top.engine)
    line.watch(watch.run)
    host = Recording(line)
    dev = Device(host, name="sim", sleep=line.sleep, resync=3 * LINK_TIMEOUT / CLK_HZ, retries=3)
    model = network_cycles(plan_network(network, pes), NetworkEngine.LATENCY)
    words, bits = entry_words(network, pes)
    assert len(words[0]) <= WEIGHT_CHUNK                         # one LOAD_WEIGHTS frame holds PE 0's words
    info = dev.run_batch(network, x0).info                     # loads the weights, runs once

    # What damaged frames carry: inputs and weights that would change the outputs if they got through.
    x_bad = encode_values(-np.asarray(x0[0]) - 1, 8)
    bad_words = struct.pack(WEIGHT_HEADER, 0, 0, len(words[0])) + b"".join(
        (w ^ 1).to_bytes(value_bytes(bits), "little") for w in words[0]) + bytes(
        value_bytes(bits) * (WEIGHT_CHUNK - len(words[0])))
    payloads = {"WRITE_INPUTS": x_bad, "LOAD_WEIGHTS": bad_words}
    answered = 0                                               # replies to damaged frames
    stalls = 0

    for g, (group, check, x) in enumerate(groups):
        where = f"group {g}: {group}"
        line.reset_input_buffer()
        for name, damage in group:
            frame = encode_request(Command[name], DAMAGED_TAG, payloads.get(name, b""))
            line.write_levels(damaged_levels(frame, damage))
            stalls += damage[0] == "stall"
        # The device answers what it can; every reply is a whole frame, and none says OK to a damaged one.
        line.wait_idle()
        line.timeout = 0.0004
        while True:
            try:
                code, tag, status, _ = dev.read_reply()
            except LinkError as e:
                assert "damaged" not in str(e), f"{where}: {e}"
                break
            assert not (tag == DAMAGED_TAG and status == Status.OK), f"{where}: a damaged frame was answered OK"
            answered += tag == DAMAGED_TAG
        line.timeout = 0.008 if "LOAD_WEIGHTS" not in [n for n, _ in group] else 0.012

        # The driver's requests get their correct replies.
        if check == "info":
            assert dev.info() == info, where
        elif check == "cycles":
            assert dev.read_cycles() == (model.total, model.per_layer.tolist()), where
        else:
            dev.write_inputs(x)
            assert dev.run() == model.total, where
            np.testing.assert_array_equal(dev.read_outputs(), network_forward(network, np.array([x]))[0],
                                          err_msg=where)

        # Nothing but intact frames reached the engine.
        allowed = _intact_writes(host.sent, network.n_in, bits)
        for run in watch.writes:
            assert tuple(run) in allowed, f"{where}: the engine got {run}, which no intact frame carried"
        intact_runs = sum(code == Command.RUN for code, _ in host.sent)
        assert watch.starts <= intact_runs, f"{where}: {watch.starts} starts, {intact_runs} intact RUN frames"

    assert dev.info().design_id == design_id(network, pes)
    # The session did what it claims: every damage kind, and the link answered most damaged frames.
    kinds = {d[0] for group, _, _ in groups for _, d in group}
    assert kinds == {"flip", "burst", "cut", "insert", "delete", "stall"} and stalls
    assert answered > GROUPS * PER_GROUP // 2, answered
