"""The register bits synthesis keeps (fpga/registers.py), on a small design whose answer is known."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mamhw.fpga.registers import live_register_bits


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
