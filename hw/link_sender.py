"""The host link's reply sender: the executor's reply content, its check appended, stuffed and delimited for the
line (hw/protocol.py)."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .link_types import ReplyPort, SerialCheck
from .protocol import CHECK_BYTES
from .stuffing import ReverseCobsEncoder

__all__ = ["Sender"]


class Sender(wiring.Component):
    """``reply``: the content of one reply after another; ``tx``: the bytes to the UART, each reply as 0x00, its
    content and CHECK in reverse COBS, 0x00.

    Every byte that goes to the encoder is folded into the check bit by bit over the next 8 cycles (SerialCheck),
    and the next byte waits for that: a byte every 9 cycles at most, far above a UART's rate. The check's bytes go
    out of the check's own register, its low byte each time: folding the complement of a byte sent shifts the next
    one there (no copy of the check, no byte picked by an index)."""

    reply: In(ReplyPort())
    tx: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        content = self.reply.content
        m.submodules.encoder = enc = ReverseCobsEncoder()
        wiring.connect(m, enc.o, wiring.flipped(self.tx))
        m.submodules.check = check = SerialCheck()
        first = Signal(init=1)                       # the next content byte starts a reply
        checking = Signal()                          # the content is sent; the check's bytes go out
        left = Signal(range(CHECK_BYTES))            # check bytes after the one offered
        free = ~check.busy
        taken = enc.i.valid & enc.i.ready
        m.d.comb += [enc.i.valid.eq(free & (checking | content.valid)),
                     enc.i.payload.data.eq(Mux(checking, check.crc[:8], content.payload.data)),
                     enc.i.payload.last.eq(checking & (left == 0)),
                     content.ready.eq(free & ~checking & enc.i.ready),
                     check.valid.eq(taken), check.start.eq(first),
                     check.data.eq(Mux(checking, ~check.crc[:8], content.payload.data))]
        # The count of the check's bytes moves a cycle after a byte was taken (no byte is taken then: the check is
        # busy), from registers: the handshake, at the end of the executor's logic and the encoder's, as their
        # enable was the UP5K top level's longest path.
        took, took_last = Signal(), Signal()
        m.d.sync += took.eq(taken)
        with m.If(~took):
            m.d.sync += took_last.eq(content.payload.last)
        with m.If(took):
            m.d.sync += first.eq(0)
            with m.If(~checking):
                with m.If(took_last):
                    m.d.sync += [checking.eq(1), left.eq(CHECK_BYTES - 1)]
            with m.Else():
                m.d.sync += left.eq(left - 1)
                with m.If(left == 0):
                    m.d.sync += [checking.eq(0), first.eq(1)]
        return m
