"""A netlist that Yosys knows to be wrong is refused, not built (mamhw/plumbing.py's run_tool)."""

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mamhw.fpga.pnr import synthesize_json
from mamhw.plumbing import ToolError


class ProductRegisteredTwice(wiring.Component):
    """y = a * b, the operands registered twice and the product twice: plain registers all."""

    a: In(signed(8))
    b: In(signed(8))
    y: Out(signed(16))

    def __init__(self, second_register_plain=True):
        self.second_register_plain = second_register_plain
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        xa, xb, ya, yb = (Signal(signed(8), name=n, reset_less=True) for n in ("xa", "xb", "ya", "yb"))
        p, q = Signal(signed(16), reset_less=True), Signal(signed(16), reset_less=True)
        m.d.sync += [xa.eq(self.a), xb.eq(self.b), ya.eq(xa), yb.eq(xb), p.eq(ya * yb)]
        m.d.sync += q.eq(p if self.second_register_plain else p & ~self.a[0].replicate(16))
        m.d.comb += self.y.eq(q)
        return m


def test_yosys_ice40_dsp_mapping_tying_a_product_to_zero_is_refused(tmp_path):
    # Yosys 0.70 maps this onto one SB_MAC16, takes q as its output register, then drives q with 0 and says so in
    # a warning only. hw/window_pe.py avoids the pattern.
    with pytest.raises(ToolError, match="wrong netlist: Warning: Driver-driver conflict"):
        synthesize_json(ProductRegisteredTwice(), "ice40", str(tmp_path))


def test_the_same_product_with_logic_after_it_builds(tmp_path):
    _, cells = synthesize_json(ProductRegisteredTwice(second_register_plain=False), "ice40", str(tmp_path))
    assert cells["SB_MAC16"] == 1
