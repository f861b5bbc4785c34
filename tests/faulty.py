"""Deliberately broken PEs: the verification tools must catch each of them."""

from amaranth.hdl import Mux, Signal

from mamhw.hw.pe import PE


class SeedWithFirstProductPE(PE):
    """Seeds max and min with the row's first product even when the row has pruned weights: the pruned zeros
    no longer compete (the bug DESIGN.md section 1 warns about)."""

    def _reduce(self, m, valid, last, dense, p, first, result):
        hi, lo = Signal(self.product_shape), Signal(self.product_shape)
        new_hi = Mux(first, p, Mux(p > hi, p, hi))
        new_lo = Mux(first, p, Mux(p < lo, p, lo))
        with m.If(valid):
            m.d.sync += [hi.eq(new_hi), lo.eq(new_lo)]
            with m.If(last):
                m.d.sync += result.eq(new_hi + new_lo)


class DropLastEntryPE(PE):
    """Ends each row without folding in its last entry (a row of one entry keeps its seed)."""

    def _reduce(self, m, valid, last, dense, p, first, result):
        hi, lo = Signal(self.product_shape), Signal(self.product_shape)
        seed_hi = Mux(dense | (p > 0), p, 0)
        seed_lo = Mux(dense | (p < 0), p, 0)
        new_hi = Mux(first, seed_hi, Mux(p > hi, p, hi))
        new_lo = Mux(first, seed_lo, Mux(p < lo, p, lo))
        with m.If(valid):
            m.d.sync += [hi.eq(new_hi), lo.eq(new_lo)]
            with m.If(last):
                m.d.sync += result.eq(Mux(first, new_hi + new_lo, hi + lo))


FAULTS = {"seed-with-first-product": SeedWithFirstProductPE, "drop-last-entry": DropLastEntryPE}
