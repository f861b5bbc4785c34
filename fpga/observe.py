"""A pin-thrifty wrapper that keeps a whole design alive through synthesis, for area and Fmax measurements.

A bare engine has more ports than a small FPGA package has pins, and an unconnected output is optimized away.
The wrapper feeds every input port from a shift register loaded through one pin, and folds every output bit
into one registered parity pin, so all logic stays observable and the timing paths are those of the design. The
parity is a tree of registered XORs of GROUP bits each (two LUT levels): a single XOR of every output bit in one
cycle was itself the slowest path of some designs (an engine's cycle counter or output buffer -> ``sout``).
"""

from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import wiring

__all__ = ["ObservableTop"]

GROUP = 16


class ObservableTop(Elaboratable):
    def __init__(self, dut):
        self.dut = dut
        self.sin = Signal()
        self.sout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        ins, outs = [], []
        for _path, member, value in dut.signature.flatten(dut):
            (ins if member.flow == wiring.In else outs).append(value)
        if ins:
            width = sum(len(v) for v in ins)
            shift = Signal(width)
            m.d.sync += shift.eq(Cat(self.sin, shift[:-1]))
            m.d.comb += Cat(*ins).eq(shift)
        bits = Cat(*outs) if outs else Cat(Signal())
        while True:
            groups = [bits[i:i + GROUP] for i in range(0, len(bits), GROUP)]
            level = Signal(len(groups))
            m.d.sync += level.eq(Cat(*[g.xor() for g in groups]))
            bits = level
            if len(groups) == 1:
                break
        m.d.comb += self.sout.eq(bits)
        return m
