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
        LOAD = 1        # the check, complete, is copied into a shift register
        CHECK = 2       # then its bytes go out, least significant first

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
        # The check goes out of a shift register, its next byte always in the low bits: picking the byte by an index
        # (a mux of the CRC's bytes) in front of the encoder was the UP5K top level's longest path (27.6 ns).
        out = Signal(8 * CHECK_BYTES)
        left = Signal(range(CHECK_BYTES + 1))        # check bytes still to send, minus one
        S = self.State
        state = Signal(S)

        with m.Switch(state):
            with m.Case(S.CONTENT):
                m.d.comb += [enc.i.valid.eq(content.valid), enc.i.payload.data.eq(content.payload.data),
                             content.ready.eq(enc.i.ready)]
                with m.If(content.valid & enc.i.ready):
                    m.d.sync += [sent.eq(content.payload.data), sent_pend.eq(1), sent_first.eq(first),
                                 first.eq(0)]
                    with m.If(content.payload.last):
                        m.d.sync += state.eq(S.LOAD)
            with m.Case(S.LOAD):
                # Waits out the last content byte's fold, a cycle after the encoder took it.
                with m.If(~sent_pend):
                    m.d.sync += [out.eq(check.crc), left.eq(CHECK_BYTES - 1), state.eq(S.CHECK)]
            with m.Case(S.CHECK):
                m.d.comb += [enc.i.valid.eq(1), enc.i.payload.data.eq(out[:8]), enc.i.payload.last.eq(left == 0)]
                with m.If(enc.i.ready):
                    m.d.sync += [out.eq(out >> 8), left.eq(left - 1)]
                    with m.If(left == 0):
                        m.d.sync += [first.eq(1), state.eq(S.CONTENT)]
        return m
