"""Deliberately broken PEs: subclasses of the one PE the engines build (hw/pe.py), each with one bug. The formal
proofs (test_formal.py) and netlist simulation (test_faults.py) must both catch each of them. Below them, broken
window PEs (hw/window_pe.py), which the window PE's proof (test_window_formal.py) must catch."""

from amaranth.hdl import Cat, Const, Mux, Signal

from mamhw.hw.pe import PE
from mamhw.hw.stages import delay, fold_stage
from mamhw.hw.window_pe import WindowPE


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


# Broken window PEs. Each overrides some of the PE's statements through its `_internals` hook, which sees the PE's
# module and signals: a statement added there replaces the PE's own assignment (the last one wins).

class FirstFoldIgnoresTouchedWindowPE(WindowPE):
    """mam: folds a row's first product into whatever the row's state holds (0 after finalization) as if the row
    were touched: max(0, p) and min(0, p) instead of p, p."""

    def _internals(self, m, s):
        super()._internals(m, s)
        m.d.comb += [s.new.hi.eq(Mux(s.c_old.hi > s.c_p, s.c_old.hi, s.c_p)),
                     s.new.lo.eq(Mux(s.c_old.lo < s.c_p, s.c_old.lo, s.c_p))]


class ForgetPrunedZeroWindowPE(WindowPE):
    """mam: finalizes a row with a pruned weight as a dense one: 0 no longer joins its max and min."""

    def _internals(self, m, s):
        super()._internals(m, s)
        m.d.sync += [s.f2_hi.eq(Mux(s.old.touched, s.old.hi, 0)), s.f2_lo.eq(Mux(s.old.touched, s.old.lo, 0))]


class LateStateWriteWindowPE(WindowPE):
    """Writes each folded state one cycle late (a register too many after P): an entry of the same row issued
    STATE_DISTANCE cycles later reads the state before it."""

    def _internals(self, m, s):
        super()._internals(m, s)
        live, row, state = delay(m, s.w_live, "late_live"), delay(m, s.w_row, "late_row"), \
            delay(m, s.w_state, "late_state")
        m.d.comb += [s.state_wr.en.eq(live | s.f1_valid), s.state_wr.addr.eq(Mux(s.f1_valid, s.f1_row, row)),
                     s.state_wr.data.eq(Mux(s.f1_valid, 0, state))]


class IgnoreZeroSeenWindowPE(WindowPE):
    """mam: 0 joins max and min of a row only when the row has a pruned weight, as before zero skipping: a dense
    row whose PE skipped a zero activation loses that zero product."""

    def _internals(self, m, s):
        super()._internals(m, s)
        pad = ~s.dense
        m.d.sync += [s.f2_hi.eq(Mux(s.old.touched, Mux(pad & (s.old.hi < 0), 0, s.old.hi), 0)),
                     s.f2_lo.eq(Mux(s.old.touched, Mux(pad & (s.old.lo > 0), 0, s.old.lo), 0))]


class StaleMaskWindowPE(WindowPE):
    """Screens the next window's first group with the open window's zero mask (``nz``) instead of the next
    window's (``next_nz``): it skips entries whose activation is not zero and issues some whose activation is."""

    def _internals(self, m, s):
        super()._internals(m, s)
        mask = Mux(self.bnd, self.next_nz, self.nz)
        kept = Cat(slot.weight.any() for slot in s.nxt.slots)
        seen = Cat(mask.bit_select(slot.col, 1) for slot in s.nxt.slots)
        with m.If(s.take & ~self.start):
            m.d.sync += [s.hd_cand.eq(kept & seen), s.zero_seen.eq(s.zero_seen | (kept & ~seen).any())]


WINDOW_FAULTS = {
    "first-fold-ignores-touched": FirstFoldIgnoresTouchedWindowPE,
    "forget-pruned-zero": ForgetPrunedZeroWindowPE,
    "late-state-write": LateStateWriteWindowPE,
    "ignore-zero-seen": IgnoreZeroSeenWindowPE,
    "stale-mask": StaleMaskWindowPE,
}
