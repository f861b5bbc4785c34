"""The formal harness of the window engine's PE (hw/window_pe.py), for SymbiYosys to prove (sim/formal.py's
:func:`prove_window_pe` runs it), as sim/formal_harness.py is the row PE's.

The harness plays the window engine (hw/window_engine.py) around one PE running one layer of a small configuration
(W, R local rows, E groups), and holds it to the plan and timing contract of golden/window.py. The PE may have M
merge steps (a split row's parts joined over its team) and any index q in the engine, which makes it a receiver
at step l (it joins its partner's part into its own) when q is a multiple of 2^(l+1), else a sender there.

What is symbolic (the proof covers every value) and what is fixed:

* **groups**: every word of the entry memory (G slots of weight, column and local row, and ``wend``) is
  symbolic (its ``$meminit`` is dropped from the RTLIL), assumed only to be what golden/window.py's planner can
  give a PE: the last group ends a window (``wend``); a kept slot's row is below R; two kept slots of one row
  issue STATE_DISTANCE cycles apart whatever is skipped (so at least that many groups apart, and not in one group
  unless it is 1). STATE_DISTANCE is 1 (the PE forwards a row's state not yet written): any slot may hold any row.
  A window is a run of groups ending in ``wend``, so a stream of E groups has any number of windows from 1 to E;
  a slot of weight 0 is empty (its column and row are free).
* **biases and dense flags**: symbolic (the bias memory's ``$meminit`` is dropped too), ``bias_bits`` wide.
* **activations and zero masks**: the engine's window register is a free input at every cycle; the reference
  takes an entry's product from the window at the cycle the contract names (issue + 2), so no hold of the window
  is assumed. The masks are free too and need not match the activations: the PE must skip exactly what they say.
* **control**, as the engine drives it, but free in time. ``start`` is taken when the PE is idle or in the cycle
  of the layer's last result (as the engine starts its next layer). ``bnd`` (a register, as the engine's) rises
  only in a cycle after one in which ``reached`` was high, any number of cycles later, while a group waits for its
  window. ``nz_ready`` (a register) falls with each ``start`` and each ``bnd`` (so it is low in every bnd cycle and
  in the cycle after a start) and rises again at any later cycle, or never. ``next_nz`` is free while
  ``nz_ready`` is low and holds still while it is high and in the bnd cycle; ``nz`` takes it at each ``bnd`` and
  holds. ``fin`` is R consecutive cycles starting any time once every group is through and at least
  WINDOW_DRAIN + 1 = 9 cycles after the last issue. The sync reset may come while no layer runs (row states
  survive a reset: see below).
* **merge steps** (M > 0): the layer's active steps ``merge`` (0..M) are any value taken at each start and held
  (or fixed: ``merge_active``). The partner's part at step l (in the engine, part[l] of PE q + 2^l) is a free
  input at every cycle, assumed only in the cycle the PE takes it (its row's fin + 2 + l) to be what a team's PE
  sends: untouched, 0s; a mam part's max and min within the products' bound, a mac part's sum within that of
  2^l PEs' parts each as large as this PE's (the PE's sum field is sized for the team's 2^M parts).
* **fixed**: kind, widths, W, R, E, mult, shift, relu (the PE's configuration inputs hold the layer's values),
  q, M; one layer.

The reference of issuing (the contract of hw/window_pe.py): the head holds group rn - 1 of the rn taken, with
its candidates, the kept slots whose mask bit is set (the mask in force: ``next_nz`` for the next window's first
group or in the bnd cycle, else ``nz``). While its window is open (``bnd``, then until its last group is through)
the head issues its lowest candidate a cycle; in its last cycle (its last candidate, or its first with none) the
next group is taken; after the window's last group, the next window's first is taken as soon as ``nz_ready`` is
high. Its skip flag ``rz`` is set by a taken group with a kept slot whose mask bit is clear (a skipped entry).

Properties, asserted at every cycle (the harness follows each issued entry through a delay line of its own):

(a) ``a_issue``: the PE issues exactly when the reference does, the same slot (its lowest candidate).
    ``a_reached``: ``reached`` is ``nz_ready`` and, while the window is open, the head's last cycle of the
    window's last group. ``a_state``: every row's state (read through extra ports of the state memory) is the
    reference's: untouched, or touched with the running max and min (mam) or sum (mac) of the products
    ``weight * window[col]`` of its entries written so far, each written 8 cycles after its issue.
    ``a_in_flight``: the valid bits of the PE's stages E, E2, E3, X, Y, P, C, W are exactly the entries issued
    1..8 cycles ago, so they count the issued-but-not-written entries.
(b) ``b_result_timing``: a result comes exactly FINAL_LATENCY + M (10 + M) cycles after each ``fin`` cycle, and
    at no other time; ``b_result_row``: it carries the row that ``fin`` finalized (rows in order, 0..R-1);
    ``b_result_value``: its value is the contract's, from the row's part: its max and min with 0 joining both
    exactly when the row's ``dense`` flag is false or an entry of the layer was skipped (``rz``; the part is then
    touched even with no entries), or its sum (mac), 0s and untouched for a row with no entries; at each merge
    step l < ``merge`` where the PE receives, joined with the partner's part of that cycle (the max of the
    touched maxes and the min of the touched mins, or the sum; touched if either is), else unchanged; then max +
    min (or the sum) plus the bias, requantized as golden/forward.py (the row harness's reference formula).
    ``b_part``: the part the PE sends at step l (``part[l]``, at fin + 2 + l) is that part after the steps
    before l, so a sender's contribution is proven too; ``b_rows_in_flight``: the valid bits of the
    finalization, merge and requantization stages are exactly the ``fin`` cycles 1..10 + M cycles ago.
(c) ``c_clean_between_layers``: outside a layer and at each start every row's state is untouched (the
    finalization clears each row as it reads it), so each layer starts from clean state. ``c_issue_pointer``: the
    PE's take, group address and count, waiting flag, head (group and candidates), next group (its register, from
    the cycle after a start's) and skip flag are the reference's. ``c_final_pointer``, ``c_config_copy``,
    ``c_harness``: its finalization row and bias address, its copies of ``mult`` and the kind, its layer, and the
    harness's own counters, registers and delay lines agree with the timeline; ``c_state_bound``: a touched row's
    max and min are products, and the sums of a mac layer's rows grow by at most one product per write (so no field
    overflows from a state the induction step starts in).
    These hold through waits of any length, so the induction depth is that of the pipelines' data, which no
    invariant pins (10 + M cycles from a finalization read to its result is the smallest depth that proves: 10
    without merge steps, 11 with one; the default is 12, or 10 + M beyond), although a layer may last any number
    of cycles. The PE shows its registers to the harness through its ``_internals`` hook (a method that does
    nothing in hw/window_pe.py).

Covers (the cover task): a layer's last result; a result of a touched row with a pruned weight, of a dense row,
and of a dense row that 0 joins because an entry was skipped; a second window; a window of one group; a wait for
``bnd`` after ``reached``; a group with a skipped entry and an issued one; a group issuing several entries; two
entries of one row issued back to back (with STATE_DISTANCE 1). With merge steps, at each step where the PE
receives: a touched part joined with a touched partner's that changes it (a larger max, a sum not 0), an
untouched part taking its partner's, and (``merge`` symbolic) the step left inactive; where it sends: a touched
part sent.

Reset: the row states live in a memory that reset does not clear. The engine clears them by finalizing; a reset in
the middle of a layer would leave touched rows behind, so the harness allows reset only between layers.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Array, Assume, Cat, Const, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from ..golden.window import WINDOW_DRAIN, WINDOW_SIZES, WindowSegment
from ..hw.pe import bits_for
from ..hw.stages import config_shapes, requant_constants, signed_bits
from ..hw.window_pe import FINAL_LATENCY, STATE_DISTANCE, WindowPE
from .formal_harness import FormalHarness, memory_contents

__all__ = ["WindowPEConfig", "WindowFormalHarness", "WRITE_AT"]

WRITE_AT = 8                        # an entry issued at t is written into its row's state at t + 8
READ_X_AT = 2                       # ... and multiplies the window register of cycle t + 2
PART_AT = 2                         # a row finalized at f is on the PE's part[l] at f + 2 + l, joined in that cycle
FIN_AFTER = WINDOW_DRAIN + 1        # the first fin comes at least this many cycles after the last issue


@dataclass(frozen=True)
class WindowPEConfig:
    """A small window PE to prove: one layer of `groups` symbolic groups (entry words) in `rows` local rows,
    windows of `window` activations."""

    kind: str
    in_bits: int
    w_bits: int
    window: int
    rows: int
    groups: int
    bias_bits: int
    out_bits: int
    mult: int = 1
    shift: int = 0
    relu: bool = False
    both_kinds: bool = False        # the PE of an engine with mam and mac layers (both folds, the kind a register)
    group: int = 4                  # G: slots per group
    index: int = 0                  # q: the PE's number in the engine (at merge step l it receives iff 2^(l+1) | q)
    merge: int = 0                  # M: the PE's merge steps
    merge_active: int | None = None     # the layer's active merge steps (0..M); None: symbolic, one value a layer

    @classmethod
    def symbolic(cls, *, kind, in_bits, w_bits, rows, groups, window=4, bias_bits=None, out_bits=None, mult=1,
                 shift=0, relu=False, both_kinds=False, group=4, index=0, merge=0, merge_active=None):
        """Every group stream of `groups` groups (any windows, rows, empty slots) the planner could give a PE; with
        `merge` steps, every part its partners could send it (and, `merge_active` None, any active steps)."""
        if kind not in ("mam", "mac"):
            raise ValueError(f"kind must be mam or mac, not {kind!r}")
        if window not in WINDOW_SIZES:
            raise ValueError(f"window must be one of {WINDOW_SIZES}, not {window}")
        if rows < 1 or groups < 1:
            raise ValueError("need at least one row and one group")
        if index < 0 or merge < 0:
            raise ValueError("the PE's index and merge steps cannot be negative")
        if merge_active is not None and not 0 <= merge_active <= merge:
            raise ValueError(f"the active merge steps must be among 0..{merge}, not {merge_active}")
        if bias_bits is None:
            bias_bits = in_bits + w_bits
        if out_bits is None:
            out_bits = in_bits + w_bits
        return cls(kind=kind, in_bits=in_bits, w_bits=w_bits, window=window, rows=rows, groups=groups,
                   bias_bits=bias_bits, out_bits=out_bits, mult=mult, shift=shift, relu=relu, both_kinds=both_kinds,
                   group=group, index=index, merge=merge, merge_active=merge_active)

    @property
    def product_bound(self):
        """The largest |weight * x|."""
        return 1 << (self.w_bits + self.in_bits - 2)

    def receives(self, level):
        """Whether the PE joins its partner's part into its own at merge step `level` (when active), or sends its
        own on unchanged (the engine's pairing: hw/window_engine.py)."""
        return self.index % (2 << level) == 0

    def sum_bound(self, level=None):
        """The largest |sum| of a mac part: of the PE's own slots, or (`level`) of the part a partner sends at that
        step, joined from 2^level PEs' parts, each as large as this PE's; None: the team's whole row."""
        own = self.group * self.groups * self.product_bound
        return own << (self.merge if level is None else level)

    def requant(self):
        return requant_constants(mult=self.mult, shift=self.shift, relu=self.relu, out_bits=self.out_bits)

    def pe_params(self):
        """The engine's PE for this configuration, its shapes as wide as any weights and biases of these widths
        make them (hw/window_pe.py's window_shapes does it from the baked ones): a mac row may sum the products
        of every slot. The placeholder words only size the memories whose contents the proof leaves free."""
        P, E, R, G = self.product_bound, self.groups, self.rows, self.group
        mac = self.kind == "mac" or self.both_kinds
        mam = self.kind == "mam" or self.both_kinds
        hi = max(P, self.sum_bound() if mac else 0)        # a merged sum holds the team's parts
        b = 1 << (self.bias_bits - 1)
        v = max(2 * P if mam else 0, self.sum_bound() if mac else 0) + b
        wend = np.zeros(E, dtype=bool)
        wend[-1] = True
        # Biases spanning the symbolic range, so that the PE's bias field is bias_bits wide.
        bias = np.zeros(R, dtype=np.int64)
        bias[0] = -b
        if R > 1:
            bias[1] = b - 1
        empty = np.zeros((E, G), dtype=np.int64)
        seg = WindowSegment(weight=empty, col=empty, row=empty, wend=wend, bias=bias, dense=np.zeros(R, dtype=bool))
        kinds = ["mam", "mac"] if self.both_kinds else [self.kind]
        return dict(segments=[seg], kinds=kinds, shifts=[self.shift], clamps=[self.requant()],
                    act_bits=self.in_bits, w_bits=self.w_bits, out_bits=self.out_bits, window=self.window,
                    rows=R, hi_shape=signed(signed_bits([-hi, hi])),
                    lo_shape=signed(signed_bits([-P, P])) if mam else None,
                    v_shape=signed(signed_bits([-v, v])), index=self.index, merge=self.merge)

    def pe_config(self):
        """What the PE's per-layer configuration inputs hold for this layer (the active merge steps only when
        fixed: symbolic, the harness drives them)."""
        consts = self.requant()
        fixed = {"merge": self.merge_active} if self.merge and self.merge_active is not None else {}
        return {"mac": int(self.kind == "mac")} | fixed | {key: consts[key] for key in config_shapes([self.shift])}

    def describe(self):
        return (f"window {self.kind} in{self.in_bits} w{self.w_bits} bias{self.bias_bits} out{self.out_bits} "
                f"W={self.window} R={self.rows} E={self.groups} groups mult={self.mult} shift={self.shift} "
                f"relu={self.relu} G={self.group}" + (" (a PE of both kinds)" if self.both_kinds else "") +
                (f" q={self.index} M={self.merge} active="
                 f"{'any' if self.merge_active is None else self.merge_active}" if self.merge else ""))


class _Observed:
    """Mixin over a window PE class: copies the PE's internal registers (handed to its ``_internals`` hook) to
    signals the harness reads. The copies are plain wires; the PE's own logic (or a broken subclass's) runs."""

    COPIED = ("issue", "first", "take", "hd", "hd_valid", "hd_cand", "ga", "left", "waiting", "zero_seen", "cur",
              "frow", "brow", "mult", "mac", "nxt", "nxt1", "nxt2", "held", "fetched", "ra", "fleft", "fetch_data")

    def __init__(self, **params):
        super().__init__(**params)
        wide = 16
        self.obs = SimpleNamespace(
            issue=Signal(name="obs_issue"), first=Signal(self.group, name="obs_first"), take=Signal(name="obs_take"),
            hd=Signal(self.entry_shape.size, name="obs_hd"), nxt=Signal(self.entry_shape.size, name="obs_nxt"),
            nxt1=Signal(self.entry_shape.size, name="obs_nxt1"), nxt2=Signal(self.entry_shape.size, name="obs_nxt2"),
            fetch_data=Signal(self.entry_shape.size, name="obs_fetch_data"), held=Signal(wide, name="obs_held"),
            fetched=Signal(name="obs_fetched"), ra=Signal(wide, name="obs_ra"),
            fleft=Signal(signed(wide), name="obs_fleft"),
            hd_valid=Signal(name="obs_hd_valid"),
            hd_cand=Signal(self.group, name="obs_hd_cand"), ga=Signal(wide, name="obs_ga"),
            left=Signal(signed(wide), name="obs_left"), waiting=Signal(name="obs_waiting"),
            zero_seen=Signal(name="obs_zero_seen"), cur=Signal(wide, name="obs_cur"),
            frow=Signal(wide, name="obs_frow"), brow=Signal(wide, name="obs_brow"),
            mult=Signal(wide + 1, name="obs_mult"), mac=Signal(name="obs_mac"),
            entry_valids=[Signal(name=f"obs_entry_valid{i}") for i in range(WRITE_AT)],
            final_valids=[Signal(name=f"obs_final_valid{i}") for i in range(FINAL_LATENCY + self.merge_levels)])

    def _internals(self, m, signals):
        super()._internals(m, signals)
        obs = self.obs
        if len(signals.entry_valids) != len(obs.entry_valids) or \
                len(signals.final_valids) != len(obs.final_valids):
            raise ValueError(f"the window PE's pipeline is not the one this harness knows ({WRITE_AT} + "
                             f"{FINAL_LATENCY} + {self.merge_levels} stages)")
        m.d.comb += [getattr(obs, k).eq(getattr(signals, k)) for k in self.COPIED]
        m.d.comb += [o.eq(s) for o, s in zip(obs.entry_valids, signals.entry_valids)]
        m.d.comb += [o.eq(s) for o, s in zip(obs.final_valids, signals.final_valids)]


class WindowFormalHarness(wiring.Component):
    """The window PE (class `pe_class`, hw/window_pe.py or a subclass) driven as the window engine drives it, with
    the properties of the module docstring; ``start``, ``bnd``, ``fin``, ``nz_ready``, ``next_nz`` and ``window``
    are free inputs that the harness passes on only where and as the engine could drive them; with merge steps also
    ``merge`` (the active steps, taken at each start) and ``partner`` (a well-formed part in each cycle the PE takes
    it)."""

    _requantize = FormalHarness._requantize     # the row harness's reference of the requantization

    def __init__(self, config, pe_class=WindowPE, groups="abc"):
        self.config = config
        self.groups = groups
        self.names = {}
        observed = type(f"Observed{pe_class.__name__}", (_Observed, pe_class), {})
        self.pe = observed(**config.pe_params())
        M = config.merge
        merging = {"merge": In(range(M + 1)), "partner": In(data.ArrayLayout(self.pe.part_shape, M))} if M else {}
        super().__init__(merging | {
            "start": In(1),
            "bnd": In(1),
            "fin": In(1),
            "nz_ready": In(1),
            "next_nz": In(config.window),
            "window": In(data.ArrayLayout(signed(config.in_bits), config.window)),
        })

    def elaborate(self, platform):
        cfg, pe = self.config, self.pe
        obs = pe.obs
        E, R, W, G, M = cfg.groups, cfg.rows, cfg.window, cfg.group, cfg.merge
        L = FINAL_LATENCY + M               # a fin to its result: every merge step adds a cycle
        K = PART_AT + M                     # the row's part, through the merge steps, turns into a value here
        mam = cfg.kind == "mam"
        m = Module()
        m.submodules.pe = pe
        m.d.comb += [getattr(pe, key).eq(value) for key, value in cfg.pe_config().items()]
        m.d.comb += [pe.layer.eq(0), pe.window.eq(self.window)]
        if M:
            m.d.comb += pe.partner.eq(self.partner)

        def contents(mem, depth):
            return memory_contents(m, mem, depth)
        words = contents(pe.entry_mem, E)
        grp = [data.View(pe.entry_shape, w) for w in words]
        bias = [data.View(pe.bias_shape, w) for w in contents(pe.bias_mem, R)]
        state = [data.View(pe.state_shape, w) for w in contents(pe.state_mem, R)]

        # What the planner guarantees of a PE's groups: the last one ends a window; kept weights name real rows;
        # two kept weights of one row are issued STATE_DISTANCE cycles apart whatever is skipped (one group takes
        # a cycle at least; two slots of one group issue a cycle apart at least).
        m.d.comb += Assume(grp[-1].wend)
        for g in grp:
            for s in g.slots:
                if R < 2 ** len(s.row):
                    m.d.comb += Assume(~s.weight.any() | (s.row < R))
        for g in range(E):
            for h in range(g, min(E, g + STATE_DISTANCE)):
                if max(1, h - g) >= STATE_DISTANCE:
                    continue
                for i in range(G):
                    for k in range(i + 1 if g == h else 0, G):
                        a, b = grp[g].slots[i], grp[h].slots[k]
                        m.d.comb += Assume(~(a.weight.any() & b.weight.any() & (a.row == b.row)))

        # The engine around the PE. `ready` (nz_ready), `next_nz`, `nz` and `bnd` are registers here, as there.
        in_run = Signal()
        ready = Signal()
        next_nz, held_nz, nz = Signal(W), Signal(W, name="held_nz"), Signal(W, name="nz")
        bnd = Signal()
        # The layer's timeline: since: cycles since the last issue (saturating); fins: rows finalized; outs:
        # results out; issued: entries issued; age: cycles since the start (saturating).
        since = Signal(range(FIN_AFTER + 1), init=FIN_AFTER)
        fins = Signal(range(R + 1), init=R)
        outs = Signal(range(R + 1), init=R)
        issued = Signal(range(G * E + 1))
        age = Signal(range(3), init=2)
        was_reached = Signal()                  # reached was high in the previous cycle of this layer (a cover)
        # The reference of issuing: rn groups taken into the head; rv: the head holds one; rc: its candidates
        # not yet issued; rw: the PE waits for bnd (its window is through); rz: a kept entry was skipped.
        rn = Signal(range(E + 1), init=E)
        rv = Signal()
        rc = Signal(G)
        rw = Signal(init=1)
        rz = Signal()
        # Delay lines: the issued entries (1..WRITE_AT cycles ago) and the fin cycles (1..L cycles ago).
        slot0 = grp[0].slots[0]
        d = [SimpleNamespace(valid=Signal(name=f"iss{k}_valid"), row=Signal.like(slot0.row, name=f"iss{k}_row"),
                             weight=Signal.like(slot0.weight, name=f"iss{k}_weight"),
                             col=Signal.like(slot0.col, name=f"iss{k}_col"),
                             p=Signal(signed(cfg.w_bits + cfg.in_bits), name=f"iss{k}_p"))
             for k in range(WRITE_AT + 1)]
        # The fin delay line carries the reference's row and part (touched, max and min or sum) to K, then its
        # requantized result.
        acc_bits = cfg.w_bits + cfg.in_bits + bits_for(G * E + 1) + 1 + M
        ref_part = data.StructLayout({"touched": 1, "hi": signed(acc_bits), "lo": signed(acc_bits)})
        y_ref_shape = signed(cfg.out_bits)
        f = [SimpleNamespace(valid=Signal(name=f"fin{k}_valid"),
                             row=Signal(range(R + 1), name=f"fin{k}_row") if k <= K else None,
                             part=Signal(ref_part, name=f"fin{k}_part") if k <= K else None,
                             y=Signal(y_ref_shape, name=f"fin{k}_y") if k > K else None)
             for k in range(L + 1)]
        last_out = f[L].valid & (outs == R - 1)

        taken = Signal()
        m.d.comb += taken.eq(self.start & (~in_run | last_out))
        m.d.comb += pe.start.eq(taken)
        # Reset only between layers: the row states are in a memory, which reset does not clear.
        m.d.comb += Assume(~ResetSignal() | ~in_run)

        # The head (group rn - 1) and the group on the memory's output (group rn), from the symbolic words.
        head, nxt = Signal(pe.entry_shape, name="ref_head"), Signal(pe.entry_shape, name="ref_next")
        m.d.comb += [head.eq(Array(words)[Mux(rn == 0, 0, rn - 1)]), nxt.eq(Array(words)[rn])]
        # The reference of the PE's issue: while the window is open (or bnd opens it), the head issues its lowest
        # candidate a cycle; in its last cycle (its last candidate, or its first with none) the next group is
        # taken: of the open window (its mask, `next_nz` in the bnd cycle), or after the window's last group the
        # next window's, with `next_nz` once it is ready.
        opened = ~rw | bnd
        pidx = Signal(range(G))
        for i in reversed(range(G)):
            with m.If(rc[i]):
                m.d.comb += pidx.eq(i)
        pick = Signal(G)
        m.d.comb += pick.eq(Cat(rc[i] & ~rc[:i].any() for i in range(G)))
        issue, last, window_done, ahead, take = (Signal(name=n) for n in
                                                 ("ref_issue", "ref_last", "ref_window_done", "ref_ahead",
                                                  "ref_take"))
        m.d.comb += [issue.eq(opened & rc.any()),
                     last.eq(opened & rv & ~(rc & ~pick).any()),
                     window_done.eq(last & head.wend),
                     ahead.eq(window_done | (~opened & ~rv)),
                     take.eq((rn < E) & Mux(ahead, ready, last))]
        mask = Mux(ahead | bnd, next_nz, nz)
        kept = Cat(s.weight.any() for s in nxt.slots)
        lit = Cat(mask.bit_select(s.col, 1) for s in nxt.slots)
        skipped = (kept & ~lit).any()
        with m.If(take):
            m.d.sync += [rn.eq(rn + 1), rv.eq(1), rc.eq(kept & lit)]
            with m.If(skipped):
                m.d.sync += rz.eq(1)
        with m.Elif(last):
            m.d.sync += [rv.eq(0), rc.eq(0)]
        with m.Elif(issue):
            m.d.sync += rc.eq(rc & ~pick)
        with m.If(window_done):
            m.d.sync += rw.eq(1)
        with m.Elif(bnd):
            m.d.sync += rw.eq(0)

        # bnd: the cycle after one in which the PE's reached was high, any number of cycles later, while a group
        # waits for its window; it clears nz_ready, which rises again at any later cycle; next_nz holds still while
        # nz_ready is high (and in the bnd cycle), and moves into nz at bnd.
        pending = (rn < E) | (rv & rw)
        bnd_next = Signal()
        m.d.comb += bnd_next.eq(self.bnd & in_run & ~taken & ~last_out & pe.reached & pending)
        m.d.sync += [bnd.eq(bnd_next), was_reached.eq(in_run & ~taken & ~last_out & pe.reached)]
        with m.If(taken | bnd_next):
            m.d.sync += ready.eq(0)
        with m.Else():
            m.d.sync += ready.eq(ready | self.nz_ready)
        m.d.comb += next_nz.eq(Mux(ready | bnd, held_nz, self.next_nz))
        m.d.sync += held_nz.eq(next_nz)
        with m.If(bnd):
            m.d.sync += nz.eq(next_nz)
        m.d.comb += [pe.bnd.eq(bnd), pe.nz_ready.eq(ready), pe.next_nz.eq(next_nz), pe.nz.eq(nz)]

        # fin: R consecutive cycles, from any cycle at least FIN_AFTER after the last issue once every group is
        # through.
        fin = Signal()
        m.d.comb += fin.eq(in_run & (rn == E) & ~rv & (since == FIN_AFTER) & (fins < R) & (self.fin | (fins != 0)))
        m.d.comb += pe.fin.eq(fin)

        with m.If(issue):
            m.d.sync += [since.eq(1), issued.eq(issued + 1)]
        with m.Elif(since != FIN_AFTER):
            m.d.sync += since.eq(since + 1)
        with m.If(fin):
            m.d.sync += fins.eq(fins + 1)
        with m.If(f[L].valid):
            m.d.sync += outs.eq(outs + 1)
        with m.If(age != 2):
            m.d.sync += age.eq(age + 1)
        with m.If(taken):
            m.d.sync += [in_run.eq(1), rn.eq(0), rv.eq(0), rc.eq(0), rw.eq(1), rz.eq(0), fins.eq(0), outs.eq(0),
                         issued.eq(0), age.eq(0)]
        with m.Elif(last_out):
            m.d.sync += in_run.eq(0)
        # The layer's active merge steps: fixed, or any, taken at each start and held (the engine's register).
        if M and cfg.merge_active is None:
            merge_on = Signal(range(M + 1), name="merge_on")
            with m.If(taken):
                m.d.sync += merge_on.eq(self.merge)
            m.d.comb += pe.merge.eq(merge_on)
        elif M:
            merge_on = Const(cfg.merge_active, range(M + 1))

        # The issued entries, followed to their write: the product of the window at issue + 2.
        slot = head.slots[pidx]
        m.d.comb += [d[0].valid.eq(issue), d[0].row.eq(slot.row), d[0].weight.eq(slot.weight),
                     d[0].col.eq(slot.col)]
        for k in range(1, WRITE_AT + 1):
            m.d.sync += [d[k].valid.eq(d[k - 1].valid), d[k].row.eq(d[k - 1].row),
                         d[k].weight.eq(d[k - 1].weight), d[k].col.eq(d[k - 1].col)]
            if k == READ_X_AT + 1:
                at = d[READ_X_AT]
                m.d.sync += d[k].p.eq(at.weight * Array(self.window[c] for c in range(W))[at.col])
            elif k > READ_X_AT + 1:
                m.d.sync += d[k].p.eq(d[k - 1].p)

        # The reference row states: folded at each write, cleared at each finalization read + 1.
        ref_t = Array(Signal(name=f"ref_touched{j}") for j in range(R))
        ref_hi = Array(Signal(signed(acc_bits), name=f"ref_hi{j}") for j in range(R))
        ref_lo = Array(Signal(signed(acc_bits), name=f"ref_lo{j}") for j in range(R))
        w = d[WRITE_AT]
        with m.If(w.valid):
            t_, hi_, lo_ = ref_t[w.row], ref_hi[w.row], ref_lo[w.row]
            m.d.sync += ref_t[w.row].eq(1)
            if mam:
                m.d.sync += [ref_hi[w.row].eq(Mux(t_ & (hi_ > w.p), hi_, w.p)),
                             ref_lo[w.row].eq(Mux(t_ & (lo_ < w.p), lo_, w.p))]
            else:
                m.d.sync += ref_hi[w.row].eq(Mux(t_, hi_ + w.p, w.p))
        with m.If(f[1].valid):                  # the row fin read a cycle ago: fins - 1
            m.d.sync += [ref_t[fins - 1].eq(0), ref_hi[fins - 1].eq(0), ref_lo[fins - 1].eq(0)]

        # The contract's part of the row finalized now: its max and min, 0 joining both iff the row has a pruned
        # weight (its dense flag false) or a kept entry of the layer was skipped (then touched, if only by the 0);
        # or its sum; 0 (untouched) for a row with no entries.
        j = fins
        b = Array(bias)[j]
        t_, hi_, lo_ = ref_t[j], ref_hi[j], ref_lo[j]
        pad = ~b.dense | rz
        own = f[0].part
        if mam:
            m.d.comb += [own.touched.eq(t_ | pad), own.hi.eq(Mux(t_ & ~(pad & (hi_ < 0)), hi_, 0)),
                         own.lo.eq(Mux(t_ & ~(pad & (lo_ > 0)), lo_, 0))]
        else:
            m.d.comb += [own.touched.eq(t_), own.hi.eq(Mux(t_, hi_, 0)), own.lo.eq(0)]
        m.d.comb += [f[0].valid.eq(fin), f[0].row.eq(j)]

        # Merge step l at PART_AT + l: a receiver's part with an active step is joined with the part its partner
        # sends in that cycle (max of the touched maxes, min of the touched mins, or the sum; touched if either
        # is), else it goes on unchanged. What the engine guarantees of a partner's part there: untouched, it
        # holds 0s; its values are a mam row's products, or a sum of 2^l PEs' parts (each at most this PE's).
        def joined(own, other):
            if mam:
                hi = Mux(~other.touched | (own.touched & (own.hi >= other.hi)), own.hi, other.hi)
                lo = Mux(~other.touched | (own.touched & (own.lo <= other.lo)), own.lo, other.lo)
            else:
                hi, lo = own.hi + other.hi, 0
            return [own.touched | other.touched, hi, lo]

        for k in range(1, L + 1):
            m.d.sync += f[k].valid.eq(f[k - 1].valid)
            if k <= K:
                prev, level = f[k - 1].part, k - 1 - PART_AT
                fields = [prev.touched, prev.hi, prev.lo]
                if level >= 0 and cfg.receives(level):
                    fields = [Mux(level < merge_on, new, same) for new, same in
                              zip(joined(prev, self.partner[level]), fields)]
                part = f[k].part
                m.d.sync += [f[k].row.eq(f[k - 1].row), part.touched.eq(fields[0]), part.hi.eq(fields[1]),
                             part.lo.eq(fields[2])]
            elif k > K + 1:
                m.d.sync += f[k].y.eq(f[k - 1].y)
        for level in range(M):
            other, bound = self.partner[level], cfg.product_bound if mam else cfg.sum_bound(level)
            well = _implies(~other.touched, (other.hi == 0) & (other.lo == 0)) & (abs(other.hi) <= bound)
            if mam:
                well &= abs(other.lo) <= bound
            m.d.comb += Assume(_implies(f[PART_AT + level].valid, well))

        # The merged part's value (max + min, or the sum) + bias, requantized.
        value = Signal(signed(acc_bits + 1), name="ref_value")
        m.d.comb += value.eq(f[K].part.hi + f[K].part.lo)
        v = Signal(signed(max(acc_bits + 1, cfg.bias_bits) + 1), name="ref_v")
        m.d.comb += v.eq(value + Array(bias)[f[K].row].bias)
        y_ref = self._requantize(m, v)
        m.d.sync += f[K + 1].y.eq(y_ref)

        check = self._check
        # (a) issue, reached, the row states, the entries in flight.
        check(m, "a_issue", (obs.issue == issue) & _implies(issue, obs.first == pick))
        check(m, "a_reached", pe.reached == (ready & Mux(opened, window_done, 1)))
        for r in range(R):
            same = state[r].touched == ref_t[r]
            if mam:
                same &= ~ref_t[r] | ((state[r].hi == ref_hi[r]) & (state[r].lo == ref_lo[r]))
            else:
                same &= ~ref_t[r] | (state[r].hi == ref_hi[r])
            check(m, "a_state", same)
        check(m, "a_in_flight", _all([o == d[k + 1].valid for k, o in enumerate(obs.entry_valids)]))

        # (b) the results.
        res = pe.result
        check(m, "b_result_timing", res.valid == f[L].valid)
        check(m, "b_result_row", _implies(f[L].valid, res.payload.row == outs))
        check(m, "b_result_value", _implies(f[L].valid, res.payload.value == f[L].y))
        check(m, "b_rows_in_flight", _all([o == f[k + 1].valid for k, o in enumerate(obs.final_valids)]))
        for level in range(M):
            at = f[PART_AT + level]
            out, ref = pe.part[level], at.part
            check(m, "b_part", _implies(at.valid, (out.touched == ref.touched) & (out.hi == ref.hi) &
                                        (out.lo == ref.lo)))

        # (c) clean state between layers, and the invariants that carry the induction through waits.
        # A row is clean from the cycle after its finalization write (fin + 1) to its first write of the next layer.
        for r in range(R):
            cleared = (fins > r) & ~(f[1].valid & (fins == r + 1))
            check(m, "c_clean_between_layers", _implies(~in_run | taken | cleared, ~state[r].touched))
        check(m, "c_issue_pointer", (obs.take == take) & (obs.left == E - 1 - rn) & (obs.waiting == rw) &
              (obs.hd_valid == rv) & (obs.hd_cand == rc) & (obs.zero_seen == rz) &
              _implies(in_run, obs.ga == rn) & _implies(rv, obs.hd == head.as_value()) &
              _implies(in_run & (age != 0) & (rn < E), obs.nxt == nxt.as_value()))
        # The fetch queue behind the head: groups rn.. in order, the memory's output the last group fetched, the
        # fetch pointer past all of them; from the cycle after the start on, group rn is held (while there is one).
        fetched_to = rn + obs.held + obs.fetched
        queue_ok = [(obs.held <= 3) & (obs.held + obs.fetched <= 3) & (fetched_to <= E) &
                    (obs.ra == fetched_to) & (obs.fleft == E - 1 - fetched_to) &
                    _implies(obs.fetched, obs.fetch_data == Array(words)[obs.ra - 1]) &
                    _implies((age != 0) & (rn < E), obs.held != 0)]
        for i, slot in enumerate((obs.nxt, obs.nxt1, obs.nxt2)):
            queue_ok.append(_implies((i < obs.held) & (rn + i < E), slot == Array(words)[rn + i]))
        check(m, "c_fetch_queue", _implies(in_run, _all(queue_ok)))
        check(m, "c_final_pointer", _implies(in_run & (fins < R), (obs.frow == fins) & (obs.brow == fins)))
        check(m, "c_config_copy", _implies(in_run & (age != 0), (obs.cur == 0) & (obs.mult == cfg.mult) &
                                           (obs.mac == int(not mam))))
        # The reference states stay as large as products make them (so the PE's fields and adders hold them): a
        # touched row's max and min are products; a sum grows by at most one product per write.
        in_flight = sum(x.valid.as_unsigned() for x in d[1:])
        if mam:
            check(m, "c_state_bound", _all([_implies(ref_t[r], (abs(ref_hi[r]) <= cfg.product_bound) &
                                                     (abs(ref_lo[r]) <= cfg.product_bound)) for r in range(R)]))
        else:
            total = sum(Mux(ref_t[r], abs(ref_hi[r]), 0) for r in range(R))
            check(m, "c_state_bound", total <= cfg.product_bound * (issued - in_flight))
        # The harness's own bookkeeping: nothing pending between layers; the delay line of issues holds the one
        # that `since` counts from and none after it; the fin delay line as many fins as rows finalized but not out;
        # an open window has a head; the engine's registers as it sets them.
        issues_since = _all([_implies(since == k, d[k].valid & ~_any([d[i].valid for i in range(1, k)]))
                             for k in range(1, WRITE_AT + 1)] +
                            [_implies(since > WRITE_AT, ~_any([x.valid for x in d[1:]]))])
        idle = (rn == E) & ~rv & rw & (fins == R) & (outs == R) & (since == FIN_AFTER) & ~bnd & ~was_reached
        candidates = sum(rc[i].as_unsigned() for i in range(G))
        check(m, "c_harness", (rn <= E) & _implies(~in_run, idle) & issues_since &
              _implies(rn < E, fins == 0) & _implies(fins != 0, (rn == E) & ~rv & (since == FIN_AFTER)) &
              _implies(in_run & (rn == 0), (since == FIN_AFTER) & ~rv & rw & ~rz & (issued == 0)) &
              _implies(~rv, rc == 0) & _implies(in_run & ~rw, rv) &
              _implies(bnd, in_run & rv & rw & ~ready) &
              (issued >= in_flight) & (issued + candidates <= G * rn) &
              (sum(x.valid.as_unsigned() for x in f[1:]) == fins - outs) &
              _implies(in_run & (age != 2), (rn == 0) & ~bnd) & _implies(in_run & (age == 0), ~ready & ~was_reached))

        # Reachability: a layer ends; finalized rows of both kinds, a dense one with 0 joining after a skip; a
        # second window; one of one group; a wait for bnd; a skipped entry beside an issued one; a group issuing
        # several entries; two entries of one row issued back to back (where the spacing allows it).
        self._cover(m, "cover_layer_end", last_out)
        if mam:
            self._cover(m, "cover_pruned_row", fin & t_ & ~b.dense & (hi_ > 0) & (lo_ > 0))
            self._cover(m, "cover_dense_row", fin & t_ & b.dense & ~rz & (hi_ < 0))
            self._cover(m, "cover_dense_row_after_a_skip", fin & t_ & b.dense & rz & (hi_ < 0))
        self._cover(m, "cover_second_window", bnd & (rn > 1))
        self._cover(m, "cover_window_of_one_group", bnd & head.wend)
        self._cover(m, "cover_wait_for_bnd", was_reached & ~bnd & rv & rw & (rn > 1))
        self._cover(m, "cover_skipped_entry", take & skipped & (kept & lit).any())
        self._cover(m, "cover_group_of_several", issue & (rc & ~pick).any())
        if STATE_DISTANCE == 1:
            self._cover(m, "cover_row_back_to_back", issue & d[1].valid & (d[1].row == d[0].row))
        # Merge steps: a receiver's touched part joined with a touched partner's that changes it, and an untouched
        # one taking its partner's; a step left inactive; a sender's touched part going out.
        for level in range(M):
            at, other = f[PART_AT + level], self.partner[level]
            part = at.part
            if cfg.receives(level):
                on = at.valid & (level < merge_on)
                changes = (other.hi > part.hi) if mam else (other.hi != 0)
                self._cover(m, "cover_joined", on & part.touched & other.touched & changes)
                self._cover(m, "cover_partner_alone", on & ~part.touched & other.touched)
                if cfg.merge_active is None:
                    self._cover(m, "cover_step_off", at.valid & (level >= merge_on) & part.touched)
            else:
                self._cover(m, "cover_part_sent", at.valid & part.touched)
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
