"""The measurement wrapper: every input bit reachable from `sin`, the parity of every output bit on `sout`."""

import random

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from mamhw.fpga.observe import GROUP, ObservableTop


class _Wires(wiring.Component):
    """Outputs equal to inputs: the parity on `sout` is that of the shift register, a few cycles late."""

    def __init__(self, width):
        super().__init__({"a": In(width), "y": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a)
        return m


def test_sout_is_the_parity_of_every_output_bit():
    width = GROUP * GROUP + 5                       # three levels of the tree
    top = ObservableTop(_Wires(width))
    rng = random.Random(1)
    seen, parity = [], []

    async def bench(ctx):
        for _ in range(width + 20):
            ctx.set(top.sin, rng.getrandbits(1))
            await ctx.tick()
            seen.append(ctx.get(top.sout))
            parity.append(bin(ctx.get(top.dut.y)).count("1") & 1)

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    levels = 3
    assert any(parity) and seen[levels:] == parity[:-levels]
