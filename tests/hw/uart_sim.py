"""A pyserial-like transport over the rx/tx pins of a design in Amaranth's simulator, for the host driver.

Bytes written are shifted onto ``rx`` as 8N1 frames by a behavioural UART (not the one under test); ``tx`` is
decoded the same way. Time only moves while the host waits: in ``read`` (up to ``timeout`` seconds of simulated
time, at ``clk_hz``) and in ``sleep``. :func:`run_testbenches` runs a component's testbenches to their end.
"""

from collections import deque

from amaranth.sim import Simulator

__all__ = ["SimTransport", "uart_bits", "run_testbenches"]


def uart_bits(byte, stop=1):
    """Line levels of one 8N1 frame: start bit, data LSB first, stop bit."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


def run_testbenches(dut, *benches):
    """Simulate `dut` on a 1 MHz clock until every testbench in `benches` has returned."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()


class SimTransport:
    def __init__(self, top, divisor, *, clk_hz=1_000_000, timeout=0.01, gap=0):
        self.top, self.divisor, self.clk_hz = top, divisor, clk_hz
        self.timeout = timeout
        self.gap = gap                          # idle bit times between written bytes
        self.cycle = 0
        self.levels = deque()                   # line levels still to drive, one per bit time
        self.received = bytearray()
        self.framing_errors = 0
        self.sim = Simulator(top)
        self.sim.add_clock(1 / clk_hz)
        self.sim.add_testbench(self._drive, background=True)
        self.sim.add_testbench(self._listen, background=True)

    # The pyserial side.
    def write(self, data):
        for b in bytes(data):
            self.levels.extend(uart_bits(b) + [1] * self.gap)
        return len(data)

    def write_levels(self, levels):
        """Raw line levels, one per bit time (to send broken frames)."""
        self.levels.extend(levels)

    def read(self, n):
        deadline = self.cycle + round(self.timeout * self.clk_hz)
        while len(self.received) < n and self.cycle < deadline:
            self._advance(min(10 * self.divisor, deadline - self.cycle))
        out = bytes(self.received[:n])
        del self.received[:n]
        return out

    def reset_input_buffer(self):
        self.received.clear()

    def sleep(self, seconds):
        self._advance(round(seconds * self.clk_hz))

    def watch(self, testbench):
        """Run `testbench` (async, on the simulator's context) in the background beside the line, e.g. to watch the
        design's internal ports. Call before the first read."""
        self.sim.add_testbench(testbench, background=True)

    def wait_idle(self):
        """Run until every written level has gone out."""
        while self.levels:
            self._advance(10 * self.divisor)

    def close(self):
        pass

    # The simulation side.
    def _advance(self, cycles):
        self.cycle += max(1, cycles)
        self.sim.run_until(self.cycle / self.clk_hz)

    # One wake-up per bit time, not per cycle (a third of the run time went to the testbenches' wake-ups): a line
    # level is held for exactly `divisor` clock periods, and tx is sampled half a period away from its edges.
    async def _drive(self, ctx):
        bit = self.divisor / self.clk_hz
        ctx.set(self.top.rx, 1)
        await ctx.tick()
        while True:
            ctx.set(self.top.rx, self.levels.popleft() if self.levels else 1)   # idle: look again a bit later
            await ctx.delay(bit)

    async def _listen(self, ctx):
        period = 1 / self.clk_hz
        bit = self.divisor * period
        while True:
            # tx is a register: it falls just after a clock edge, which starts the bit times.
            await ctx.negedge(self.top.tx)
            await ctx.delay((self.divisor // 2 + 0.5) * period)     # middle of the start bit
            if ctx.get(self.top.tx):
                raise AssertionError("tx: start bit shorter than half a bit")
            byte = 0
            for i in range(8):
                await ctx.delay(bit)
                byte |= ctx.get(self.top.tx) << i
            await ctx.delay(bit)
            if ctx.get(self.top.tx):
                self.received.append(byte)
            else:
                self.framing_errors += 1
