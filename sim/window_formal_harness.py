"""The formal harness of the window engine's PE (hw/window_pe.py), for SymbiYosys to prove (sim/formal.py's
:func:`prove_window_pe` runs it), as sim/formal_harness.py is the row PE's.

The harness plays the window engine (hw/window_engine.py) around one PE running one layer of a small configuration
(W, R local rows, E entries), and holds it to the plan and timing contract of golden/window.py.

What is symbolic (the proof covers every value) and what is fixed:

* **entries**: every word of the entry memory (weight, column, local row, ``wend``, ``next_wend``) is symbolic (its
  ``$meminit`` is dropped from the RTLIL), assumed only to be what golden/window.py's planner can give a PE: the
  last entry ends a window (``wend``), and a kept weight's row is below R; and what the PE's packing makes of
  it: each word's ``next_wend`` is the next word's ``wend`` (the last word's is free), and the PE's constant for
  the layer's first ``wend`` is the first word's (a wire here). A window is a run of entries ending in ``wend``,
  so every window has at least one entry and a stream of E entries has any number of windows from 1 to E; a
  weight 0 is a spacer (its column and row are free).
* **biases and dense flags**: symbolic (the bias memory's ``$meminit`` is dropped too), ``bias_bits`` wide.
* **activations**: the engine's window register is a free input at every cycle; the reference takes the entry's
  product from the window at the cycle the contract names (issue + 2), so no hold of the window is assumed.
* **control**, as the engine drives it, but free in time: ``start`` is taken when the PE is idle or in the cycle
  of the layer's last result (as the engine starts its next layer); ``bnd`` only from the second cycle after the
  start and only in a cycle after one in which ``reached`` was high, delayed by any number of cycles; ``fin`` is
  R consecutive cycles starting any time at least WINDOW_DRAIN + 1 = 8 cycles after the last issue. The sync
  reset may come while no layer runs (row states survive a reset: see below).
* **the planner's spacing** (assumed): two kept weights of one row are issued at least STATE_DISTANCE (4)
  cycles apart, counting clock cycles (waits for ``bnd`` included).
* **fixed**: kind, widths, W, R, E, mult, shift, relu (the PE's configuration inputs hold the layer's values);
  one layer.

Properties, asserted at every cycle (the harness counts ``u``, the entries issued in this layer, and follows each
issued entry through a delay line of its own):

(a) ``a_issue``: the PE pops entry u exactly when the contract says: while its window is open (not waiting) or
    with ``bnd``, until all E are issued; ``a_reached``: ``reached`` is (waiting and no ``bnd``) or issuing a
    ``wend`` entry. ``a_state``: every row's state (read through extra ports of the state memory) is the
    reference's: untouched, or touched with the running max and min (mam) or sum (mac) of the products
    ``weight * window[col]`` of its kept entries written so far, each written 7 cycles after its issue (spacers
    change nothing). ``a_in_flight``: the valid bits of the PE's stages E, E2, X, Y, P, C, W are exactly the entries
    issued 1..7 cycles ago (kept weights only from X on), so they count the issued-but-not-written entries.
(b) ``b_result_timing``: a result comes exactly FINAL_LATENCY (10) cycles after each ``fin`` cycle, and at no
    other time; ``b_result_row``: it carries the row that ``fin`` finalized (rows in order, 0..R-1);
    ``b_result_value``: its value is the contract's: max + min with 0 joining both exactly when the row's
    ``dense`` flag is false (a row with no entries: 0), or the sum (mac), plus the bias, requantized as
    golden/forward.py (the row harness's reference formula); ``b_rows_in_flight``: the valid bits of the
    finalization and requantization stages are exactly the ``fin`` cycles 1..10 cycles ago.
(c) ``c_clean_between_layers``: outside a layer and at each start every row's state is untouched (the
    finalization clears each row as it reads it), so each layer starts from clean state. ``c_issue_pointer``,
    ``c_final_pointer``, ``c_config_copy``, ``c_harness``: the PE's entry address and count, its waiting flag and
    the head's ``wend`` it holds, its
    finalization row and bias address, its copies of ``mult`` and the kind, its layer, and the harness's own
    counters and delay lines agree with the timeline; ``c_state_bound``: a touched row's max and min are products,
    and the sums of a mac layer's rows grow by at most one product per write (so no field overflows from a state
    the induction step starts in). These hold through waits of any length, so the induction depth is that of the
    pipelines' data, which no invariant pins (10 cycles from a finalization read to its result is the smallest
    depth that proves; the default is 12), although a layer may last any number of cycles. The PE shows its registers to the harness through its ``_internals``
    hook (a method that does nothing in hw/window_pe.py).

Covers (the cover task): a layer's last result; a result of a touched row with a pruned weight and of a dense
row; a second window; a window of one entry; a wait for ``bnd`` after ``reached``.

Reset: the row states live in a memory that reset does not clear. The engine clears them by finalizing; a reset in
the middle of a layer would leave touched rows behind, so the harness allows reset only between layers.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Array, Assume, Const, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from ..golden.window import WINDOW_DRAIN, WINDOW_SIZES, WindowSegment
from ..hw.pe import bits_for
from ..hw.stages import config_shapes, requant_constants, signed_bits
from ..hw.window_pe import FINAL_LATENCY, STATE_DISTANCE, WindowPE
from .formal_harness import FormalHarness, memory_contents

__all__ = ["WindowPEConfig", "WindowFormalHarness", "WRITE_AT"]

WRITE_AT = 7                        # an entry issued at t is written into its row's state at t + 7
READ_X_AT = 2                       # ... and multiplies the window register of cycle t + 2
FIN_AFTER = WINDOW_DRAIN + 1        # the first fin comes at least this many cycles after the last issue


@dataclass(frozen=True)
class WindowPEConfig:
    """A small window PE to prove: one layer of `entries` symbolic entries in `rows` local rows, windows of
    `window` activations."""

    kind: str
    in_bits: int
    w_bits: int
    window: int
    rows: int
    entries: int
    bias_bits: int
    out_bits: int
    mult: int = 1
    shift: int = 0
    relu: bool = False
    both_kinds: bool = False        # the PE of an engine with mam and mac layers (both folds, the kind a register)

    @classmethod
    def symbolic(cls, *, kind, in_bits, w_bits, rows, entries, window=4, bias_bits=None, out_bits=None, mult=1,
                 shift=0, relu=False, both_kinds=False):
        """Every entry stream of `entries` entries (any windows, any rows, spacers) the planner could give a PE."""
        if kind not in ("mam", "mac"):
            raise ValueError(f"kind must be mam or mac, not {kind!r}")
        if window not in WINDOW_SIZES:
            raise ValueError(f"window must be one of {WINDOW_SIZES}, not {window}")
        if rows < 1 or entries < 1:
            raise ValueError("need at least one row and one entry")
        if bias_bits is None:
            bias_bits = in_bits + w_bits
        if out_bits is None:
            out_bits = in_bits + w_bits
        return cls(kind=kind, in_bits=in_bits, w_bits=w_bits, window=window, rows=rows, entries=entries,
                   bias_bits=bias_bits, out_bits=out_bits, mult=mult, shift=shift, relu=relu, both_kinds=both_kinds)

    @property
    def product_bound(self):
        """The largest |weight * x|."""
        return 1 << (self.w_bits + self.in_bits - 2)

    def requant(self):
        return requant_constants(mult=self.mult, shift=self.shift, relu=self.relu, out_bits=self.out_bits)

    def pe_params(self):
        """The engine's PE for this configuration, its shapes as wide as any weights and biases of these widths
        make them (hw/window_pe.py's window_shapes does it from the baked ones); the placeholder words only size
        the memories whose contents the proof leaves free."""
        P, E, R = self.product_bound, self.entries, self.rows
        mac = self.kind == "mac" or self.both_kinds
        mam = self.kind == "mam" or self.both_kinds
        hi = max(P, E * P if mac else 0)
        b = 1 << (self.bias_bits - 1)
        v = max(2 * P if mam else 0, E * P if mac else 0) + b
        wend = np.zeros(E, dtype=bool)
        wend[-1] = True
        # Biases spanning the symbolic range, so that the PE's bias field is bias_bits wide.
        bias = np.zeros(R, dtype=np.int64)
        bias[0] = -b
        if R > 1:
            bias[1] = b - 1
        seg = WindowSegment(weight=np.zeros(E, dtype=np.int64), col=np.zeros(E, dtype=np.int64),
                            row=np.zeros(E, dtype=np.int64), wend=wend, bias=bias, dense=np.zeros(R, dtype=bool))
        kinds = ["mam", "mac"] if self.both_kinds else [self.kind]
        return dict(segments=[seg], kinds=kinds, shifts=[self.shift], clamps=[self.requant()],
                    act_bits=self.in_bits, w_bits=self.w_bits, out_bits=self.out_bits, window=self.window,
                    rows=R, hi_shape=signed(signed_bits([-hi, hi])),
                    lo_shape=signed(signed_bits([-P, P])) if mam else None,
                    v_shape=signed(signed_bits([-v, v])))

    def pe_config(self):
        """What the PE's per-layer configuration inputs hold for this layer."""
        consts = self.requant()
        return {"mac": int(self.kind == "mac")} | {key: consts[key] for key in config_shapes([self.shift])}

    def describe(self):
        return (f"window {self.kind} in{self.in_bits} w{self.w_bits} bias{self.bias_bits} out{self.out_bits} "
                f"W={self.window} R={self.rows} E={self.entries} mult={self.mult} shift={self.shift} "
                f"relu={self.relu}" + (" (a PE of both kinds)" if self.both_kinds else ""))


class _Observed:
    """Mixin over a window PE class: copies the PE's internal registers (handed to its ``_internals`` hook) to
    signals the harness reads. The copies are plain wires; the PE's own logic (or a broken subclass's) runs."""

    def __init__(self, **params):
        super().__init__(**params)
        # The layer's first entry's `wend`, a constant the PE takes from its segment as it packs the words: here the
        # words are symbolic, so it is a wire that the harness drives from the first word.
        self.first_wend = [Signal(name="first_wend")]
        wide = 16
        self.obs = SimpleNamespace(
            issue=Signal(name="obs_issue"), waiting=Signal(name="obs_waiting"), mac=Signal(name="obs_mac"),
            head_wend=Signal(name="obs_head_wend"),
            head=Signal(self.entry_shape.size, name="obs_head"), ea=Signal(wide, name="obs_ea"),
            left=Signal(signed(wide), name="obs_left"), cur=Signal(wide, name="obs_cur"),
            frow=Signal(wide, name="obs_frow"), brow=Signal(wide, name="obs_brow"),
            mult=Signal(wide + 1, name="obs_mult"),
            entry_valids=[Signal(name=f"obs_entry_valid{i}") for i in range(WRITE_AT)],
            final_valids=[Signal(name=f"obs_final_valid{i}") for i in range(FINAL_LATENCY)])

    def _internals(self, m, signals):
        super()._internals(m, signals)
        obs = self.obs
        if len(signals.entry_valids) != len(obs.entry_valids) or \
                len(signals.final_valids) != len(obs.final_valids):
            raise ValueError("the window PE's pipeline is not the one this harness knows (6 + 10 stages)")
        m.d.comb += [getattr(obs, k).eq(getattr(signals, k))
                     for k in ("issue", "waiting", "mac", "head", "head_wend", "ea", "left", "cur", "frow", "brow",
                               "mult")]
        m.d.comb += [o.eq(s) for o, s in zip(obs.entry_valids, signals.entry_valids)]
        m.d.comb += [o.eq(s) for o, s in zip(obs.final_valids, signals.final_valids)]


class WindowFormalHarness(wiring.Component):
    """The window PE (class `pe_class`, hw/window_pe.py or a subclass) driven as the window engine drives it, with
    the properties of the module docstring; ``start``, ``bnd``, ``fin`` and ``window`` are free inputs that the
    harness passes on only where the engine could raise them."""

    _requantize = FormalHarness._requantize     # the row harness's reference of the requantization

    def __init__(self, config, pe_class=WindowPE, groups="abc"):
        self.config = config
        self.groups = groups
        self.names = {}
        observed = type(f"Observed{pe_class.__name__}", (_Observed, pe_class), {})
        self.pe = observed(**config.pe_params())
        super().__init__({
            "start": In(1),
            "bnd": In(1),
            "fin": In(1),
            "window": In(data.ArrayLayout(signed(config.in_bits), config.window)),
        })

    def elaborate(self, platform):
        cfg, pe = self.config, self.pe
        obs = pe.obs
        E, R, L = cfg.entries, cfg.rows, FINAL_LATENCY
        mam = cfg.kind == "mam"
        m = Module()
        m.submodules.pe = pe
        m.d.comb += [getattr(pe, key).eq(value) for key, value in cfg.pe_config().items()]
        m.d.comb += [pe.layer.eq(0), pe.window.eq(self.window)]

        def contents(mem, depth):
            return memory_contents(m, mem, depth)
        words = contents(pe.entry_mem, E)
        ent = [data.View(pe.entry_shape, w) for w in words]
        bias = [data.View(pe.bias_shape, w) for w in contents(pe.bias_mem, R)]
        state = [data.View(pe.state_shape, w) for w in contents(pe.state_mem, R)]

        # What the planner guarantees of a stream: the last entry ends a window; kept weights name real rows. What
        # the PE's packing guarantees: each word's next_wend is the next word's wend, and the constant it starts a
        # layer with is the first word's.
        m.d.comb += Assume(ent[-1].wend)
        m.d.comb += [Assume(e.next_wend == n.wend) for e, n in zip(ent, ent[1:])]
        m.d.comb += pe.first_wend[0].eq(ent[0].wend)
        if R < 2 ** len(ent[0].row):
            m.d.comb += [Assume(~e.weight.any() | (e.row < R)) for e in ent]

        # The layer's timeline. u: entries issued; h_wait: the PE waits for bnd; since: cycles since the last
        # issue (saturating); fins: rows finalized; age: cycles since the start (saturating).
        in_run = Signal()
        u = Signal(range(E + 1), init=E)
        h_wait = Signal(init=1)
        ok = Signal()                           # reached was high in the previous cycle of this layer
        since = Signal(range(FIN_AFTER + 1), init=FIN_AFTER)
        fins = Signal(range(R + 1), init=R)
        outs = Signal(range(R + 1), init=R)     # results out
        kept = Signal(range(E + 1))             # kept weights (not spacers) issued
        age = Signal(range(3), init=2)
        # Delay lines: the issued entries (1..WRITE_AT cycles ago) and the fin cycles (1..L cycles ago).
        d = [SimpleNamespace(valid=Signal(name=f"iss{k}_valid"), live=Signal(name=f"iss{k}_live"),
                             row=Signal.like(ent[0].row, name=f"iss{k}_row"),
                             weight=Signal.like(ent[0].weight, name=f"iss{k}_weight"),
                             col=Signal.like(ent[0].col, name=f"iss{k}_col"),
                             p=Signal(signed(cfg.w_bits + cfg.in_bits), name=f"iss{k}_p"))
             for k in range(WRITE_AT + 1)]
        y_ref_shape = signed(cfg.out_bits)
        f = [SimpleNamespace(valid=Signal(name=f"fin{k}_valid"), y=Signal(y_ref_shape, name=f"fin{k}_y"))
             for k in range(L + 1)]
        last_out = f[L].valid & (outs == R - 1)

        taken = Signal()
        m.d.comb += taken.eq(self.start & (~in_run | last_out))
        m.d.comb += pe.start.eq(taken)
        bnd = Signal()
        m.d.comb += bnd.eq(self.bnd & in_run & ok & (u < E))
        m.d.comb += pe.bnd.eq(bnd)
        issue = Signal()
        m.d.comb += issue.eq((u < E) & (~h_wait | bnd))
        cur = Array(ent)[u]
        fin = Signal()
        m.d.comb += fin.eq(in_run & (u == E) & (since == FIN_AFTER) & (fins < R) & (self.fin | (fins != 0)))
        m.d.comb += pe.fin.eq(fin)
        # Reset only between layers: the row states are in a memory, which reset does not clear.
        m.d.comb += Assume(~ResetSignal() | ~in_run)

        m.d.sync += ok.eq(in_run & ~taken & ~last_out & pe.reached)
        with m.If(issue):
            m.d.sync += [u.eq(u + 1), h_wait.eq(cur.wend), since.eq(1)]
        with m.Elif(since != FIN_AFTER):
            m.d.sync += since.eq(since + 1)
        with m.If(fin):
            m.d.sync += fins.eq(fins + 1)
        with m.If(f[L].valid):
            m.d.sync += outs.eq(outs + 1)
        with m.If(age != 2):
            m.d.sync += age.eq(age + 1)
        with m.If(taken):
            m.d.sync += [in_run.eq(1), u.eq(0), h_wait.eq(1), fins.eq(0), outs.eq(0), kept.eq(0), age.eq(0)]
        with m.Elif(last_out):
            m.d.sync += in_run.eq(0)

        # The issued entries, followed to their write: the product of the window at issue + 2.
        m.d.comb += [d[0].valid.eq(issue), d[0].live.eq(issue & cur.weight.any()), d[0].row.eq(cur.row),
                     d[0].weight.eq(cur.weight), d[0].col.eq(cur.col)]
        for k in range(1, WRITE_AT + 1):
            m.d.sync += [d[k].valid.eq(d[k - 1].valid), d[k].live.eq(d[k - 1].live), d[k].row.eq(d[k - 1].row),
                         d[k].weight.eq(d[k - 1].weight), d[k].col.eq(d[k - 1].col)]
            if k == READ_X_AT + 1:
                at = d[READ_X_AT]
                m.d.sync += d[k].p.eq(at.weight * Array(self.window[c] for c in range(cfg.window))[at.col])
            elif k > READ_X_AT + 1:
                m.d.sync += d[k].p.eq(d[k - 1].p)
        with m.If(d[0].live & ~taken):
            m.d.sync += kept.eq(kept + 1)
        # The planner's spacing: a kept weight's row is not that of a kept weight issued 1 to 3 cycles before.
        for k in range(1, STATE_DISTANCE):
            m.d.comb += Assume(~(d[0].live & d[k].live & (d[k].row == d[0].row)))

        # The reference row states: folded at each write, cleared at each finalization read + 1.
        acc_bits = cfg.w_bits + cfg.in_bits + bits_for(E + 1) + 1
        ref_t = Array(Signal(name=f"ref_touched{j}") for j in range(R))
        ref_hi = Array(Signal(signed(acc_bits), name=f"ref_hi{j}") for j in range(R))
        ref_lo = Array(Signal(signed(acc_bits), name=f"ref_lo{j}") for j in range(R))
        w = d[WRITE_AT]
        with m.If(w.live):
            t_, hi_, lo_ = ref_t[w.row], ref_hi[w.row], ref_lo[w.row]
            m.d.sync += ref_t[w.row].eq(1)
            if mam:
                m.d.sync += [ref_hi[w.row].eq(Mux(t_ & (hi_ > w.p), hi_, w.p)),
                             ref_lo[w.row].eq(Mux(t_ & (lo_ < w.p), lo_, w.p))]
            else:
                m.d.sync += ref_hi[w.row].eq(Mux(t_, hi_ + w.p, w.p))
        with m.If(f[1].valid):                  # the row fin read a cycle ago: fins - 1
            m.d.sync += [ref_t[fins - 1].eq(0), ref_hi[fins - 1].eq(0), ref_lo[fins - 1].eq(0)]

        # The contract's result of the row finalized now: max + min, 0 joining both iff the row has a pruned
        # weight (its dense flag false), 0 for a row with no entries; or the sum; + bias; requantized.
        j = fins
        b = Array(bias)[j]
        t_, hi_, lo_ = ref_t[j], ref_hi[j], ref_lo[j]
        pad = ~b.dense
        value = Signal(signed(acc_bits + 1), name="ref_value")
        if mam:
            m.d.comb += value.eq(Mux(t_, Mux(pad & (hi_ < 0), 0, hi_) + Mux(pad & (lo_ > 0), 0, lo_), 0))
        else:
            m.d.comb += value.eq(Mux(t_, hi_, 0))
        v = Signal(signed(max(acc_bits + 1, cfg.bias_bits) + 1), name="ref_v")
        m.d.comb += v.eq(value + b.bias)
        y_ref = self._requantize(m, v)
        m.d.comb += [f[0].valid.eq(fin), f[0].y.eq(y_ref)]
        for k in range(1, L + 1):
            m.d.sync += [f[k].valid.eq(f[k - 1].valid), f[k].y.eq(f[k - 1].y)]

        check = self._check
        # (a) issue, reached, the row states, the entries in flight.
        check(m, "a_issue", obs.issue == issue)
        check(m, "a_reached", pe.reached == ((h_wait & ~bnd) | (issue & cur.wend)))
        for r in range(R):
            same = state[r].touched == ref_t[r]
            if mam:
                same &= ~ref_t[r] | ((state[r].hi == ref_hi[r]) & (state[r].lo == ref_lo[r]))
            else:
                same &= ~ref_t[r] | (state[r].hi == ref_hi[r])
            check(m, "a_state", same)
        flight = [d[1].valid, d[2].valid] + [d[k].live for k in range(3, WRITE_AT + 1)]
        check(m, "a_in_flight", _all([o == h for o, h in zip(obs.entry_valids, flight)]))

        # (b) the results.
        res = pe.result
        check(m, "b_result_timing", res.valid == f[L].valid)
        check(m, "b_result_row", _implies(f[L].valid, res.payload.row == outs))
        check(m, "b_result_value", _implies(f[L].valid, res.payload.value == f[L].y))
        check(m, "b_rows_in_flight", _all([o == f[k + 1].valid for k, o in enumerate(obs.final_valids)]))

        # (c) clean state between layers, and the invariants that carry the induction through waits.
        # A row is clean from the cycle after its finalization write (fin + 1) to its first write of the next layer.
        for r in range(R):
            cleared = (fins > r) & ~(f[1].valid & (fins == r + 1))
            check(m, "c_clean_between_layers", _implies(~in_run | taken | cleared, ~state[r].touched))
        check(m, "c_issue_pointer", (obs.left == E - 1 - u) & (obs.waiting == h_wait) &
              _implies(in_run, obs.ea == u) &
              _implies(in_run & (u < E), obs.head_wend == cur.wend) &
              _implies(in_run & (age != 0) & (u < E), obs.head == Array(words)[u]))
        check(m, "c_final_pointer", _implies(in_run & (fins < R), (obs.frow == fins) & (obs.brow == fins)))
        check(m, "c_config_copy", _implies(in_run & (age != 0), (obs.cur == 0) & (obs.mult == cfg.mult) &
                                           (obs.mac == int(not mam))))
        # The reference states stay as large as products make them (so the PE's fields and adders hold them): a
        # touched row's max and min are products; a sum grows by at most one product per write.
        live_in_flight = sum(x.live.as_unsigned() for x in d[1:])
        if mam:
            check(m, "c_state_bound", _all([_implies(ref_t[r], (abs(ref_hi[r]) <= cfg.product_bound) &
                                                     (abs(ref_lo[r]) <= cfg.product_bound)) for r in range(R)]))
        else:
            total = sum(Mux(ref_t[r], abs(ref_hi[r]), 0) for r in range(R))
            check(m, "c_state_bound", total <= cfg.product_bound * (kept - live_in_flight))
        # The harness's own bookkeeping: nothing pending between layers; the delay line of issues holds the one
        # that `since` counts from and none after it; the fin delay line as many fins as rows finalized but not out.
        issues_since = _all([_implies(since == k, d[k].valid & ~_any([d[i].valid for i in range(1, k)]))
                             for k in range(1, WRITE_AT + 1)] +
                            [_implies(since > WRITE_AT, ~_any([x.valid for x in d[1:]]))])
        idle = (u == E) & (fins == R) & (outs == R) & ~ok & (since == FIN_AFTER)
        check(m, "c_harness", _implies(~in_run, idle) & issues_since &
              _implies(u < E, fins == 0) & _implies(fins != 0, (u == E) & (since == FIN_AFTER)) &
              _implies(in_run & (u == 0), since == FIN_AFTER) &
              _all([_implies(x.live, x.valid) for x in d[1:]]) & (kept >= live_in_flight) & (kept <= u) &
              (sum(x.valid.as_unsigned() for x in f[1:]) == fins - outs) &
              _implies(ok, h_wait) & _implies(in_run & (age != 2), (u == 0) & h_wait) &
              _implies(in_run & (age == 0), ~ok))

        # Reachability: a layer ends; finalized rows of both kinds; a second window; one of one entry; a wait for bnd.
        self._cover(m, "cover_layer_end", last_out)
        if mam:
            self._cover(m, "cover_pruned_row", fin & t_ & ~b.dense & (hi_ > 0) & (lo_ > 0))
            self._cover(m, "cover_dense_row", fin & t_ & b.dense & (hi_ < 0))
        self._cover(m, "cover_second_window", bnd & (u != 0))
        self._cover(m, "cover_window_of_one_entry", bnd & cur.wend)
        self._cover(m, "cover_wait_for_bnd", ok & ~self.bnd & (u != 0) & (u < E))
        return m

    # Named asserts and covers, as the row PE's harness makes them (the same `names` and `groups` attributes).
    _check = FormalHarness._check
    _cover = FormalHarness._cover


def _implies(premise, conclusion):
    return ~premise | conclusion


def _any(terms):
    out = Const(0) if not terms else terms[0]
    for t in terms[1:]:
        out = out | t
    return out


def _all(terms):
    out = terms[0]
    for t in terms[1:]:
        out = out & t
    return out
