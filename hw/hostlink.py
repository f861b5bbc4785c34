"""The host link: the request/reply protocol of hw/protocol.py over a byte stream (a UART), driving a NetworkEngine.

Three parts with one job each, one after the other:

    UART -> Receiver -> Request -> Executor -> reply content -> Sender -> UART
            (decodes and checks        (carries out a request        (appends the check, stuffs
            frames, stages payloads)    on the engine, composes       and delimits the reply)
                                        the reply)

hw/link_receiver.py, hw/link_executor.py and hw/link_sender.py; hw/link_types.py holds what they pass each other
(RequestPort, ReplyPort), hw/stuffing.py the byte stuffing. The receiver runs all the time: a request that arrives
while another is carried out waits in the RequestPort's stream (one at most). The staging memories (WRITE_INPUTS's
values, LOAD_WEIGHTS's words) sit here, written by the receiver and read by the executor.
"""

import struct

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .link_executor import Executor
from .link_receiver import Receiver
from .link_sender import Sender
from .ports import EngineHostPort
from .protocol import (COUNTER_BYTES, INFO_FORMAT, MAX_PAYLOAD, PROTOCOL_VERSION, WEIGHT_CHUNK,
                       WEIGHT_HEADER_BYTES, value_bytes)

__all__ = ["HostLink"]


class HostLink(wiring.Component):
    """The protocol engine: bytes in on ``rx``, bytes out on ``tx``, a NetworkEngine on ``engine``.

    `engine_port`: the engine's EngineHostPort (hw/ports.py; NetworkEngine's signature); ``engine`` is its flipped
    side, so ``wiring.connect(m, link.engine, network_engine)`` joins the two. With the weights in RAM
    (its ``weight_words``) the link loads them (LOAD_WEIGHTS).
    ``rx_error`` (a pulse from the UART: framing error or overrun) marks the frame being received as bad.
    `pes`: the engine's PE count and `design_id` its 32-bit id (both reported by INFO). `timeout`: cycles without a
    byte after which a frame in progress is abandoned.
    """

    def __init__(self, engine_port, *, pes, design_id, timeout):
        if not isinstance(engine_port, EngineHostPort):
            raise TypeError(f"engine_port must be an EngineHostPort, not {engine_port!r}")
        p = engine_port
        if p.loads_weights and p.pes != pes:
            raise ValueError(f"the engine port loads weights into {p.pes} PEs, the design has {pes}")
        load_len = WEIGHT_HEADER_BYTES + WEIGHT_CHUNK * value_bytes(p.weight_bits) if p.loads_weights else 0
        longest_reply = max(struct.calcsize(INFO_FORMAT), p.n_out * value_bytes(p.out_bits),
                            COUNTER_BYTES * (1 + p.n_layers))
        if max(p.n_in * value_bytes(p.in_bits), load_len) > MAX_PAYLOAD or longest_reply > MAX_PAYLOAD:
            raise ValueError(f"{p.n_in} inputs / {p.n_out} outputs do not fit a frame's {MAX_PAYLOAD} bytes")
        if p.counter_bits > 8 * COUNTER_BYTES:
            raise ValueError(f"counters wider than {8 * COUNTER_BYTES} bits do not fit the protocol")
        if not 0 <= design_id < 1 << 32:
            raise ValueError(f"design id must be a 32-bit unsigned integer, got {design_id!r}")
        if timeout < 1:
            raise ValueError("timeout must be at least one cycle")
        self.info = struct.pack(INFO_FORMAT, PROTOCOL_VERSION, p.n_in, p.n_out, p.in_bits, p.out_bits, p.n_layers,
                                pes, design_id, p.weight_bits)
        self.staging = Memory(shape=p.in_bits, depth=p.n_in, init=[])
        self.weight_staging = Memory(shape=p.weight_bits, depth=WEIGHT_CHUNK, init=[]) if p.loads_weights else None
        self.receiver = Receiver(n_in=p.n_in, in_bits=p.in_bits, timeout=timeout, weight_words=p.weight_words,
                                 weight_bits=p.weight_bits)
        self.executor = Executor(p, info=self.info)
        self.sender = Sender()
        super().__init__({
            "rx": In(stream.Signature(8)),
            "rx_error": In(1),
            "tx": Out(stream.Signature(8)),
            "engine": In(engine_port),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = rx = self.receiver
        m.submodules.executor = ex = self.executor
        m.submodules.sender = tx = self.sender
        m.submodules.staging = self.staging
        wiring.connect(m, wiring.flipped(self.rx), rx.rx)
        m.d.comb += rx.rx_error.eq(self.rx_error)
        wiring.connect(m, rx.port, ex.port)
        wiring.connect(m, ex.reply, tx.reply)
        wiring.connect(m, tx.tx, wiring.flipped(self.tx))
        wiring.connect(m, ex.engine, wiring.flipped(self.engine))
        wiring.connect(m, rx.inputs, self.staging.write_port())
        wiring.connect(m, ex.inputs, self.staging.read_port())
        if self.weight_staging is not None:
            m.submodules.weight_staging = self.weight_staging
            wiring.connect(m, rx.weights, self.weight_staging.write_port())
            wiring.connect(m, ex.weights, self.weight_staging.read_port())
        return m
