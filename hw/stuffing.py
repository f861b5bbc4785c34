"""The host link's byte stuffing in gateware (hw/protocol.py describes it): a COBS decoder for requests and a
reverse-COBS encoder for replies, the two directions that need no buffer (a run's length byte comes before the
run on the way in and after it on the way out)."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .link_types import FrameByte
from .protocol import DELIMITER, MAX_RUN

__all__ = ["Event", "Decoded", "CobsDecoder", "ReverseCobsEncoder"]


class Event(enum.Enum, shape=2):
    DATA = 0        # a byte of the frame's content
    END = 1         # the frame ended at a 0x00
    BROKEN = 2      # ... with a run cut short: the stuffing is broken
    TIMEOUT = 3     # the line stopped inside the frame; what follows up to the next 0x00 is ignored


Decoded = data.StructLayout({"kind": Event, "data": 8})


class CobsDecoder(wiring.Component):
    """``i``: line bytes (always taken); ``o``: one Event per content byte and one at each frame's end, for a
    consumer that takes every event (the line cannot wait). ``boundary`` pulses at every 0x00. A frame is what lies
    between two 0x00 with at least one byte; after reset and after a TIMEOUT the decoder waits for a 0x00 first.
    `timeout`: cycles without a byte that end a frame in progress."""

    i: In(stream.Signature(8))
    o: Out(stream.Signature(Decoded, always_ready=True))
    boundary: Out(1)

    def __init__(self, timeout):
        if timeout < 1:
            raise ValueError("timeout must be at least one cycle")
        self.timeout = int(timeout)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # Each byte and its tests are registered first, so no compare of a byte stands before the decisions below.
        got, byte, is_zero, is_full = Signal(), Signal(8), Signal(), Signal()
        m.d.comb += self.i.ready.eq(1)
        m.d.sync += [got.eq(self.i.valid), byte.eq(self.i.payload), is_zero.eq(self.i.payload == DELIMITER),
                     is_full.eq(self.i.payload == MAX_RUN + 1)]

        hunting = Signal(init=1)        # waiting for a 0x00 before the next frame
        in_frame = Signal()             # a frame has begun and not ended
        run_left = Signal(range(MAX_RUN + 1))   # bytes of the current run still to come
        run_done = Signal(init=1)       # run_left == 0, registered beside it
        zero_due = Signal()             # the run that ended stands for a 0x00 too, unless the frame ends here
        timer = Signal(range(self.timeout + 1))
        expired = Signal()              # timer == timeout, registered beside it

        # An event is decided into `ev` (its fields assigned every cycle, so no hold stands in its logic) and
        # handed to `o` a cycle later, where the payload holds until the next event: the decision and the hold in
        # one clock period were the UP5K top level's slowest path (21-23.5 ns).
        ev_valid, ev = Signal(), Signal(Decoded)

        def emit(kind, value=0):
            m.d.sync += [ev_valid.eq(1), ev.kind.eq(kind), ev.data.eq(value)]

        m.d.sync += [ev_valid.eq(0), ev.kind.eq(Event.DATA), ev.data.eq(byte), self.o.valid.eq(ev_valid)]
        with m.If(ev_valid):
            m.d.sync += self.o.payload.eq(ev)
        at_zero = Signal()              # `boundary` goes with the event of its 0x00, a cycle later as well
        m.d.sync += [at_zero.eq(got & is_zero), self.boundary.eq(at_zero)]
        with m.If(got):
            m.d.sync += [timer.eq(0), expired.eq(0)]
        with m.Elif(~expired):
            m.d.sync += [timer.eq(timer + 1), expired.eq(timer == self.timeout - 1)]

        with m.If(got & is_zero):
            with m.If(in_frame):
                emit(Mux(run_done, Event.END, Event.BROKEN))
            m.d.sync += [hunting.eq(0), in_frame.eq(0), run_left.eq(0), run_done.eq(1), zero_due.eq(0)]
        with m.Elif(got & ~hunting):
            m.d.sync += in_frame.eq(1)
            with m.If(run_done):                            # a length byte: the run before it is whole
                with m.If(zero_due):
                    emit(Event.DATA, 0)
                m.d.sync += [run_left.eq(byte - 1), run_done.eq(byte == 1), zero_due.eq(~is_full)]
            with m.Else():
                emit(Event.DATA, byte)
                m.d.sync += [run_left.eq(run_left - 1), run_done.eq(run_left == 1)]
        with m.Elif(in_frame & expired):
            emit(Event.TIMEOUT)
            m.d.sync += [hunting.eq(1), in_frame.eq(0)]
        return m


class ReverseCobsEncoder(wiring.Component):
    """``i``: frames' content, ``last`` on each frame's final byte; ``o``: the line bytes, each frame as 0x00, its
    content in reverse COBS, 0x00. A byte goes out as it comes; a run of MAX_RUN bytes and a frame's end each add a
    length byte (and the end its 0x00) while ``i`` waits.

    Each byte is taken into a register first, its zero test beside it (``i.ready`` is that register being empty, so a
    byte every two cycles at most, far above a UART's rate): the choice of the byte upstream and the encoder's run
    logic in one clock period were the UP5K top level's longest path."""

    i: In(stream.Signature(FrameByte))
    o: Out(stream.Signature(8))

    class State(enum.Enum):
        OPEN = 0        # the leading 0x00
        BODY = 1        # content bytes, each 0x00 replaced by the length byte of the run before it
        FULL = 2        # the length byte of a run of MAX_RUN bytes
        LAST_RUN = 3    # the length byte of the frame's last run
        CLOSE = 4       # the closing 0x00

    def elaborate(self, platform):
        m = Module()
        S = self.State
        state = Signal(S)
        run = Signal(range(MAX_RUN + 1))        # non-zero bytes since the last length byte
        ends = Signal()                         # the byte that filled a run was the frame's last
        held = Signal()                         # a byte waits in the input register
        byte, last, is_zero = Signal(8), Signal(), Signal()
        m.d.comb += self.i.ready.eq(~held)
        with m.If(~held):
            # While empty the register takes whatever is offered and only `held` waits for ``i.valid``, so the
            # handshake, at the end of the executor's and the sender's logic, ends in one flip-flop, not in the
            # enables of eleven.
            m.d.sync += [held.eq(self.i.valid), byte.eq(self.i.payload.data), last.eq(self.i.payload.last),
                         is_zero.eq(self.i.payload.data == 0)]
        taken = Signal()                        # the held byte goes out (or is replaced by its run's length)
        with m.If(taken):
            m.d.sync += held.eq(0)

        with m.Switch(state):
            with m.Case(S.OPEN):
                m.d.comb += [self.o.valid.eq(held), self.o.payload.eq(DELIMITER)]
                with m.If(held & self.o.ready):
                    m.d.sync += [state.eq(S.BODY), run.eq(0)]
            with m.Case(S.BODY):
                m.d.comb += [self.o.valid.eq(held), taken.eq(held & self.o.ready),
                             self.o.payload.eq(Mux(is_zero, run + 1, byte))]
                with m.If(taken):
                    with m.If(is_zero):
                        m.d.sync += run.eq(0)
                        with m.If(last):
                            m.d.sync += state.eq(S.LAST_RUN)
                    with m.Else():
                        m.d.sync += [run.eq(run + 1), ends.eq(last)]
                        with m.If(run == MAX_RUN - 1):
                            m.d.sync += state.eq(S.FULL)
                        with m.Elif(last):
                            m.d.sync += state.eq(S.LAST_RUN)
            with m.Case(S.FULL):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(MAX_RUN + 1)]
                with m.If(self.o.ready):
                    m.d.sync += [run.eq(0), state.eq(Mux(ends, S.LAST_RUN, S.BODY))]
            with m.Case(S.LAST_RUN):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(run + 1)]
                with m.If(self.o.ready):
                    m.d.sync += state.eq(S.CLOSE)
            with m.Case(S.CLOSE):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(DELIMITER)]
                with m.If(self.o.ready):
                    m.d.sync += state.eq(S.OPEN)
        return m
