"""The register bits synthesis keeps (fpga/registers.py), on a small design whose answer is known."""

import json

from amaranth.back import rtlil
from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mamhw.fpga.registers import live_register_bits
from mamhw.plumbing import run_tool


class Pipe(wiring.Component):
    """a: 8 bits in; y: 4 bits out. Declares 8 (r1) + 8 (r2) + 4 (y) + 8 (wide) + 2 (twins) + 12 (total) + 3 (const)
    = 45 register bits."""

    def __init__(self):
        super().__init__({"a": In(signed(8)), "en": In(1), "y": Out(signed(4)), "v": Out(2), "s": Out(signed(12))})

    def elaborate(self, platform):
        m = Module()
        r1 = Signal(signed(8))
        r2 = Signal(signed(8))
        wide = Signal(signed(8))
        twin_a, twin_b = Signal(), Signal()
        total = Signal(signed(12))
        const = Signal(3)
        m.d.sync += [r1.eq(self.a), r2.eq(r1), self.y.eq(r2[:4]),      # r2's top 4 bits are never read
                     wide.eq(self.a),                                  # read by nothing: 8 bits gone
                     twin_a.eq(self.en), twin_b.eq(self.en),           # one register
                     total.eq(r1 + r2),                                # 9 bits of sum, 3 copies of its sign
                     const.eq(0)]                                      # a constant
        m.d.comb += [self.v.eq(twin_a | (twin_b << 1)), self.s.eq(total)]
        return m


def test_unread_twin_constant_and_sign_copy_bits_are_dropped():
    # r1 8 + r2 low 4 (read by y) + r2 high 4 (read by the sum) + y 4 + one twin + 9 bits of the sum = 30.
    assert live_register_bits(Pipe()) == 8 + 8 + 4 + 1 + 9



class Config(wiring.Component):
    """A copy of a 6-bit configuration input, held while `en` is low, and its product with `x`; `zero` only ever
    loads 0 (its initial value)."""

    def __init__(self):
        super().__init__({"cfg": In(6), "en": In(1), "x": In(signed(4)), "y": Out(signed(12)), "z": Out(2)})

    def elaborate(self, platform):
        m = Module()
        copy, zero, prod = Signal(6), Signal(2), Signal(signed(12))
        with m.If(self.en):
            m.d.sync += [copy.eq(self.cfg), zero.eq(0)]
        m.d.sync += prod.eq(self.x * copy)
        m.d.comb += [self.y.eq(prod), self.z.eq(zero)]
        return m


class TiedConfig(wiring.Component):
    """Config with cfg = (a, a, b, 0, 0, 0): what `input_classes` tells live_register_bits, for Yosys to see."""

    def __init__(self):
        super().__init__({"a": In(1), "b": In(1), "en": In(1), "x": In(signed(4)), "y": Out(signed(12)), "z": Out(2)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.c = c = Config()
        m.d.comb += [c.cfg.eq(Cat(self.a, self.a, self.b)), c.en.eq(self.en), c.x.eq(self.x), self.y.eq(c.y),
                     self.z.eq(c.z)]
        return m


def _yosys_flip_flops(component, tmp_path):
    (tmp_path / "d.il").write_text(rtlil.convert(component, name="top"))
    run_tool("YOSYS", ["-q", "-p", "read_rtlil d.il; synth -flatten -top top; tee -q -o stat.json stat -json"],
             str(tmp_path), "yosys.log")
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\top"]["num_cells_by_type"]
    return sum(n for kind, n in cells.items() if "DFF" in kind)


def test_a_register_that_only_loads_its_initial_value_is_a_constant(tmp_path):
    # copy 6 + the product: a signed 4-bit and a never negative 6-bit value reach 10 bits (two sign copies); zero:
    # none. Yosys keeps as many.
    assert live_register_bits(Config()) == 6 + 10 == _yosys_flip_flops(Config(), tmp_path)


def test_input_guarantees_make_constants_twins_and_narrower_products(tmp_path):
    # cfg[0] == cfg[1] and cfg[3:] == 0: copy keeps 2 bits, and the product reaches 4 + 3 = 7 bits; Yosys keeps as
    # many when the input is tied that way.
    classes = {"cfg": [("a",), ("a",), ("b",), 0, 0, 0]}
    assert live_register_bits(Config(), classes) == 2 + 7 == _yosys_flip_flops(TiedConfig(), tmp_path)
