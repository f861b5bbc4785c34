"""Deliberately broken PEs: subclasses of the one PE the engines build (hw/pe.py), each with one bug. The formal
proofs (test_formal.py) and netlist simulation (test_faults.py) must both catch each of them."""

from amaranth.hdl import Const, Mux, Signal

from mamhw.hw.pe import PE
from mamhw.hw.stages import fold_stage


class SeedWithFirstProductPE(PE):
    """Seeds max and min with a row's first product even when the row has a pruned weight: the pruned zeros no
    longer compete."""

    def _reduce(self, m, *, valid, last, dense, p, signs, first, result, next_dense):
        fold_stage(m, self.kinds[0], valid=valid, last=last, dense=Const(1), p=p, signs=signs, first=first,
                   result=result, product_shape=self.product_shape, acc_shape=self.acc_shape, unroll=self.unroll,
                   next_dense=Const(1))


class DropLastEntryOfRunPE(PE):
    """The fetch stops one entry early (off by one), so the run's last entry is never used."""

    def fetch_count(self, k):
        return super().fetch_count(k) - 1


class DropLastEntryOfRowPE(PE):
    """A row's last product (in rows of two or more entries) is replaced by the one before it."""

    def _reduce(self, m, *, valid, last, dense, p, signs, first, result, next_dense):
        prev, prev_signs = Signal.like(p), [Signal(), Signal()]
        with m.If(valid):
            m.d.sync += [prev.eq(p), prev_signs[0].eq(signs[0]), prev_signs[1].eq(signs[1])]
        drop = last & ~first
        super()._reduce(m, valid=valid, last=last, dense=dense, p=Mux(drop, prev, p),
                        signs=[Mux(drop, ps, s) for ps, s in zip(prev_signs, signs)], first=first, result=result,
                        next_dense=next_dense)


FAULTS = {
    "seed-max-with-first-product": SeedWithFirstProductPE,
    "drop-last-entry-of-run": DropLastEntryOfRunPE,
    "drop-last-entry-of-row": DropLastEntryOfRowPE,
}
