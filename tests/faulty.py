"""Deliberately broken PEs: the formal proofs (test_formal.py) and netlist simulation (test_faults.py) must both
catch each of them."""

from amaranth.hdl import Const, Mux, Signal

from mamhw.hw.pe import PE
from mamhw.hw.stages import fold_stage


class SeedWithFirstProductPE(PE):
    """Seeds max and min with a row's first product even when the row has a pruned weight: the pruned zeros no
    longer compete (the bug DESIGN.md section 1 warns about)."""

    def _reduce(self, m, valid, last, dense, p, first, result):
        fold_stage(m, self.kind, valid=valid, last=last, dense=Const(1), p=p, first=first, result=result,
                   product_shape=self.product_shape, acc_shape=self.acc_shape)


class DropLastEntryOfRunPE(PE):
    """The fetch counter stops one entry early (off by one), so the run's last entry is never used."""

    def __init__(self, **params):
        super().__init__(**params)
        self.n_entries -= 1


class DropLastEntryOfRowPE(PE):
    """A row's last product (in rows of two or more entries) is replaced by the one before it."""

    def _reduce(self, m, valid, last, dense, p, first, result):
        prev = Signal.like(p)
        with m.If(valid):
            m.d.sync += prev.eq(p)
        super()._reduce(m, valid, last, dense, Mux(last & ~first, prev, p), first, result)


FAULTS = {
    "seed-max-with-first-product": SeedWithFirstProductPE,
    "drop-last-entry-of-run": DropLastEntryOfRunPE,
    "drop-last-entry-of-row": DropLastEntryOfRowPE,
}
