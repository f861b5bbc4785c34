"""Deliberately broken PEs: the formal proofs (test_formal.py) and netlist simulation (test_faults.py) must both
catch each of them."""

from amaranth.hdl import Const, Mux, Signal

from mamhw.hw.pe import PE
from mamhw.hw.stages import fold_stage


class SeedWithFirstProductPE(PE):
    """Seeds max and min with a row's first product even when the row has a pruned weight: the pruned zeros no
    longer compete (the bug DESIGN.md section 1 warns about)."""

    def _reduce(self, m, valid, last, dense, p, signs, first, result, next_dense):
        fold_stage(m, self.kind, valid=valid, last=last, dense=Const(1), p=p, signs=signs, first=first, result=result,
                   product_shape=self.product_shape, acc_shape=self.acc_shape, next_dense=Const(1))


class DropLastEntryOfRunPE(PE):
    """The fetch counter stops one entry early (off by one), so the run's last entry is never used."""

    def __init__(self, **params):
        super().__init__(**params)
        self.n_entries -= 1


class DropLastEntryOfRowPE(PE):
    """A row's last product (in rows of two or more entries) is replaced by the one before it."""

    def _reduce(self, m, valid, last, dense, p, signs, first, result, next_dense):
        prev, prev_signs = Signal.like(p), [Signal(), Signal()]
        with m.If(valid):
            m.d.sync += [prev.eq(p), prev_signs[0].eq(signs[0]), prev_signs[1].eq(signs[1])]
        drop = last & ~first
        super()._reduce(m, valid, last, dense, Mux(drop, prev, p),
                        [Mux(drop, ps, s) for ps, s in zip(prev_signs, signs)], first, result, next_dense)


FAULTS = {
    "seed-max-with-first-product": SeedWithFirstProductPE,
    "drop-last-entry-of-run": DropLastEntryOfRunPE,
    "drop-last-entry-of-row": DropLastEntryOfRowPE,
}
