"""An 8N1 UART: one start bit (0), eight data bits LSB first, one stop bit (1), idle high.

Both directions take ``divisor``, the number of clock cycles per bit (clock / baud, rounded by the caller, who
also checks the rounding error: fpga/boards.py). Bytes pass on ``amaranth.lib.stream`` ports.

The receiver resynchronizes ``rx`` (two flip-flops), waits half a bit after the falling edge of the start bit,
checks that the line is still low (a shorter pulse is a glitch, not a start bit), then samples every bit in its
middle. A low stop bit is a framing error: the byte is dropped, ``error`` pulses for one cycle, and the receiver
waits for the line to return high before it looks for the next start bit (so a break does not turn into a
stream of 0x00 bytes). The receiver cannot be held off: a byte that completes while the previous one is still
unread replaces it and ``overrun`` pulses.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["MIN_DIVISOR", "UartTx", "UartRx"]

# Below four cycles per bit the half-bit wait and the edge detection's one-cycle uncertainty leave no margin.
MIN_DIVISOR = 4


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"divisor must be an integer >= {MIN_DIVISOR} (clock cycles per bit), got {divisor!r}")


class UartTx(wiring.Component):
    """Transmitter: ``i`` takes a byte whenever its one-byte holding register is empty (``i.ready``); ``tx`` is the
    line, high when idle. The register decouples the sender's handshake from the shifter: a byte waits there until
    the shifter is free (the sender's state decode, the handshake and the shift register's load in one clock period
    were a top level's longest path on the UP5K). A byte offered before the last cycle of the frame going out follows
    it back to back; one offered in that cycle, a cycle after it."""

    def __init__(self, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(9)                        # data bits, then the stop bit; the start bit goes out directly
        left = Signal(range(11))                 # bit periods left, the current one included; 0 = idle
        timer = Signal(range(self.divisor))
        hold, full = Signal(8), Signal()
        m.d.comb += self.i.ready.eq(~full)
        with m.If(self.i.valid & ~full):
            m.d.sync += [hold.eq(self.i.payload), full.eq(1)]
        # The held byte is loaded as the last stop-bit cycle ends, so bytes go out back to back.
        load = full & ((left == 0) | ((left == 1) & (timer == 0)))
        with m.If(load):
            m.d.sync += [full.eq(0), self.tx.eq(0), shreg.eq(Cat(hold, 1)), left.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif((left != 0) & (timer == 0)):
            # Ones shift in from the top, so the line stays high after the stop bit.
            m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(Cat(shreg[1:], 1)), left.eq(left - 1),
                         timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(wiring.Component):
    """Receiver: ``rx`` is the line; good bytes come out on ``o``; ``error`` pulses on a bad stop bit and
    ``overrun`` when an unread byte is replaced."""

    def __init__(self, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)), "error": Out(1),
                          "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        # timer == 0, registered beside it: the compare in front of the state logic and the overrun flag was the
        # ECP5 top level's longest path (7.0 ns).
        expired = Signal(init=1)
        shreg = Signal(8)
        bit = Signal(range(8))

        def wait(cycles):
            m.d.sync += [timer.eq(cycles), expired.eq(cycles == 0)]

        m.d.sync += [self.error.eq(0), self.overrun.eq(0)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(~expired):
            m.d.sync += [timer.eq(timer - 1), expired.eq(timer == 1)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    wait(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(expired):
                    with m.If(line):
                        m.next = "IDLE"                  # a glitch, not a start bit
                    with m.Else():
                        wait(self.divisor - 1)
                        m.d.sync += bit.eq(0)
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(expired):
                    wait(self.divisor - 1)
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(expired):
                    with m.If(line):
                        m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1),
                                     self.overrun.eq(self.o.valid & ~self.o.ready)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m
