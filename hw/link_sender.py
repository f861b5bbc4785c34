"""The host link's reply sender: frames the executor's reply content and adds its check (hw/protocol.py)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .link_types import CHECK_PARAMETERS, ReplyPort
from .protocol import CHECK_BYTES, SYNC

__all__ = ["Sender"]


class Sender(wiring.Component):
    """``reply``: the content of one reply after another; ``tx``: the bytes to the UART: SYNC, the content, CHECK."""

    reply: In(ReplyPort())
    tx: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        content = self.reply.content
        m.submodules.check = check = CHECK_PARAMETERS.create()
        # A byte the transmitter takes is folded into the check in the next cycle, from a register: the byte choice
        # and the CRC step in one clock period were the host link's longest path.
        sent, sent_pend = Signal(8), Signal()
        m.d.sync += sent_pend.eq(0)
        m.d.comb += [check.valid.eq(sent_pend), check.data.eq(sent)]
        index = Signal(range(CHECK_BYTES))           # the check's byte going out, least significant first

        with m.FSM():
            with m.State("SYNC"):
                m.d.comb += [self.tx.valid.eq(content.valid), self.tx.payload.eq(SYNC)]
                with m.If(content.valid & self.tx.ready):
                    m.d.comb += check.start.eq(1)
                    m.next = "CONTENT"
            with m.State("CONTENT"):
                m.d.comb += [self.tx.valid.eq(content.valid), self.tx.payload.eq(content.payload.data),
                             content.ready.eq(self.tx.ready)]
                with m.If(content.valid & self.tx.ready):
                    m.d.sync += [sent.eq(content.payload.data), sent_pend.eq(1), index.eq(0)]
                    with m.If(content.payload.last):
                        m.next = "CHECK"
            with m.State("CHECK"):
                # Waits out the last byte's step (a transmitter that takes a byte every cycle gets here first).
                m.d.comb += [self.tx.valid.eq(~sent_pend), self.tx.payload.eq(check.crc.word_select(index, 8))]
                with m.If(self.tx.ready & ~sent_pend):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == CHECK_BYTES - 1):
                        m.next = "SYNC"
        return m
