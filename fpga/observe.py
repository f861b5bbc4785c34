"""A pin-thrifty wrapper that keeps a whole design alive through synthesis, for area and Fmax measurements.

A bare engine has more ports than a small FPGA package has pins, and an unconnected output is optimized away.
The wrapper feeds every input port from a shift register loaded through one pin, and folds every output bit
into one registered parity pin, so all logic stays observable and the timing paths are those of the design.
"""

from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.lib import wiring

__all__ = ["ObservableTop"]


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
        parity = Signal()
        m.d.sync += parity.eq(Cat(*outs).xor() if outs else 0)
        m.d.comb += self.sout.eq(parity)
        return m
