"""The host link's reply sender: the executor's reply content, its check appended, stuffed and delimited for the
line (hw/protocol.py)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .link_types import CHECK_PARAMETERS, ReplyPort
from .protocol import CHECK_BYTES
from .stuffing import ReverseCobsEncoder

__all__ = ["Sender"]


class Sender(wiring.Component):
    """``reply``: the content of one reply after another; ``tx``: the bytes to the UART, each reply as 0x00, its
    content and CHECK in reverse COBS, 0x00."""

    reply: In(ReplyPort())
    tx: Out(stream.Signature(8))

    class State(enum.Enum):
        CONTENT = 0     # the executor's bytes pass to the encoder
        CHECK = 1       # then the check's, least significant first

    def elaborate(self, platform):
        m = Module()
        content = self.reply.content
        m.submodules.encoder = enc = ReverseCobsEncoder()
        wiring.connect(m, enc.o, wiring.flipped(self.tx))
        m.submodules.check = check = CHECK_PARAMETERS.create()
        # A byte the encoder takes is folded into the check in the next cycle, from a register: the byte choice and
        # the CRC step in one clock period were the host link's longest path.
        sent, sent_pend, sent_first = Signal(8), Signal(), Signal()
        first = Signal(init=1)                       # the next content byte starts a reply
        m.d.sync += sent_pend.eq(0)
        m.d.comb += [check.valid.eq(sent_pend), check.data.eq(sent), check.start.eq(sent_pend & sent_first)]
        index = Signal(range(CHECK_BYTES))           # the check's byte going out
        S = self.State
        state = Signal(S)

        with m.Switch(state):
            with m.Case(S.CONTENT):
                m.d.comb += [enc.i.valid.eq(content.valid), enc.i.payload.data.eq(content.payload.data),
                             content.ready.eq(enc.i.ready)]
                with m.If(content.valid & enc.i.ready):
                    m.d.sync += [sent.eq(content.payload.data), sent_pend.eq(1), sent_first.eq(first),
                                 first.eq(0), index.eq(0)]
                    with m.If(content.payload.last):
                        m.d.sync += state.eq(S.CHECK)
            with m.Case(S.CHECK):
                # Waits out the last byte's step (an encoder that takes a byte every cycle gets here first).
                m.d.comb += [enc.i.valid.eq(~sent_pend), enc.i.payload.data.eq(check.crc.word_select(index, 8)),
                             enc.i.payload.last.eq(index == CHECK_BYTES - 1)]
                with m.If(enc.i.ready & ~sent_pend):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == CHECK_BYTES - 1):
                        m.d.sync += [first.eq(1), state.eq(S.CONTENT)]
        return m
