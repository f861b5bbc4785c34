"""The host link: a framed request/reply protocol over a byte stream (a UART) that drives a NetworkEngine.

Three parts with one job each: the receiver (hw/link_receiver.py) parses and checks frames and stages their
payload, the executor (hw/link_executor.py) carries out one checked request on the engine and composes its reply,
the sender (hw/link_sender.py) frames the reply; hw/link_types.py holds what they pass each other.

Frames, the same in both directions:

    SYNC (0xA5) | CODE | LEN lo | LEN hi | PAYLOAD (LEN bytes) | CHECK (4 bytes)

CHECK is CRC-32C (hw/protocol.py, which says why) over CODE, LEN and PAYLOAD. A request's CODE is a command; its
reply's CODE is the command | 0x80 (REPLY) and its payload is a status byte followed by the command's reply data.
Every request gets exactly one reply; the link handles one request at a time, and bytes that arrive while it runs
the engine or sends a reply are dropped.

    command              request payload                 reply data (after the status byte)
    INFO         0x01    none                            INFO_FORMAT: version, n_in, n_out, in_bits, out_bits,
                                                         layers, PEs, 32-bit design id
    WRITE_INPUTS 0x02    n_in values                     none
    RUN          0x03    none                            cycles (u32), sent when the run is done
    READ_OUTPUTS 0x04    none                            n_out values
    READ_CYCLES  0x05    none                            cycles, then each layer's cycles (u32 each)
    LOAD_WEIGHTS 0x06    PE (u8), address (u16), count    none
                         (u8, 1..WEIGHT_CHUNK), then
                         WEIGHT_CHUNK entry words

LOAD_WEIGHTS exists only in a design whose entry words sit in RAMs without initial contents (the UP5K's SPRAM,
hw/weight_ram.py; INFO's weight_bits is then their width, 0 otherwise, and a design without them answers
UNKNOWN_COMMAND). It writes the first `count` words of the frame to entries address .. address + count - 1 of PE
`PE`; the frame always carries WEIGHT_CHUNK words of ceil(weight_bits / 8) bytes (the unused ones are ignored).
A PE that does not exist or entries beyond the PE's are refused with BAD_ADDRESS. The host loads every PE's words
(the engine's EnginePE.entry_words) before the first RUN.

Values are ceil(bits / 8) bytes each, little endian, two's complement (inputs in in_bits, outputs in out_bits);
multi-byte integers in INFO and the counters are little endian too. Input bytes above in_bits are ignored.

Status codes (first byte of every reply payload):

    OK               0  the command was carried out
    BAD_CHECKSUM     1  the check did not match; nothing was applied
    BAD_LENGTH       2  LEN is not the command's payload length; nothing was applied. A LEN above the largest
                        payload this design takes is not waited for: the link discards bytes until the line has
                        been quiet for the timeout, then replies.
    UNKNOWN_COMMAND  3  no such command (or a reserved one)
    TIMEOUT          4  the frame stopped before its end for longer than the inter-byte timeout
    RX_ERROR         5  the UART lost a byte of this frame (framing error or overrun); nothing was applied
    BAD_ADDRESS      6  LOAD_WEIGHTS names a PE or entries the design does not have; nothing was applied
    NO_INPUTS        7  RUN after a refused WRITE_INPUTS: the staged inputs are not whole; nothing was run

Failures are checked in that order after the check's last byte (RX_ERROR first); the reply echoes the CODE as received.
Nothing is half-applied: WRITE_INPUTS and LOAD_WEIGHTS land in staging memories and are copied into the engine only
after the whole frame checked out. RUN copies the staged inputs into the engine again before it starts: a network
with an even number of layers writes its outputs into its inputs' buffer, and a RUN sent again (the driver repeats a
request whose reply was lost) must run on the same inputs. A refused WRITE_INPUTS frame leaves its bytes in the
staging memory, so RUN is then refused (NO_INPUTS) until a WRITE_INPUTS goes through. A frame cut short does not
wedge the link: after ``timeout`` cycles without a byte the link answers TIMEOUT and hunts for SYNC again; bytes
outside a frame are skipped until a SYNC.
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
from .protocol import COUNTER_BYTES, INFO_FORMAT, MAX_LEN, PROTOCOL_VERSION, WEIGHT_CHUNK, WEIGHT_HEADER_BYTES, \
    value_bytes

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
        longest_reply = 1 + max(struct.calcsize(INFO_FORMAT), p.n_out * value_bytes(p.out_bits),
                                COUNTER_BYTES * (1 + p.n_layers))
        if max(p.n_in * value_bytes(p.in_bits), load_len) > MAX_LEN or longest_reply > MAX_LEN:
            raise ValueError(f"{p.n_in} inputs / {p.n_out} outputs do not fit a frame of {MAX_LEN} bytes")
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
