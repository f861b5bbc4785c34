"""The host link's frame check in gateware: CHECK (hw/protocol.py) over a frame's bytes, for the receiver and the
sender."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .link_types import CHECK_PARAMETERS

__all__ = ["FrameCheck"]


class FrameCheck(wiring.Component):
    """``valid``/``data``: a frame's bytes, ``start`` with the first; ``crc``: the check of the bytes so far,
    ``match_detected``: they end in their own check (the algorithm's residue), both settled while ``busy`` is low.

    A byte is registered, then folded as two nibbles, low first, in the two cycles after it is given (``busy``), by
    amaranth.lib.crc over 4-bit words, which for this bit-reflected algorithm is the same CRC as over bytes. A byte
    at a time was one XOR level deeper, and the check's loop was the longest path of both top levels (22.7 ns on the
    UP5K, 7.4 ns on the ECP5 at 150 MHz). Bytes must come at least two cycles apart, and a byte given in cycle t is
    in ``crc`` from cycle t + 3: the request decoder takes a byte every three cycles at most (so the check is done
    when the delimiter's event comes), the reply encoder one every two."""

    valid: In(1)
    data: In(8)
    start: In(1)
    crc: Out(32)
    match_detected: Out(1)
    busy: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = CHECK_PARAMETERS.create()
        pending = Signal(8)                  # the byte being folded, its next nibble in the low bits
        low, high, first = Signal(), Signal(), Signal()
        m.d.sync += [low.eq(self.valid), high.eq(low)]
        with m.If(self.valid):
            m.d.sync += [pending.eq(self.data), first.eq(self.start)]
        with m.Elif(low):
            m.d.sync += pending.eq(pending >> 4)
        m.d.comb += [crc.valid.eq(low | high), crc.data.eq(pending[:4]), crc.start.eq(low & first),
                     self.crc.eq(crc.crc), self.match_detected.eq(crc.match_detected), self.busy.eq(low | high)]
        return m
