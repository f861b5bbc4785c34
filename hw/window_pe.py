"""The window engine's PE: it walks its groups of entries window by window, issues the entries whose activation is
not zero and folds each product into its row's state in a memory, then, once the layer's windows have passed,
finalizes every row (golden/window.py: the plan, the zero skipping and the timing).

Unlike the row engine's PE (hw/pe.py), which folds one row at a time in registers, this PE's entries of one window
belong to many rows, so the running max and min (or sum) of every row live in a row-state memory, read, combined
with the product and written back. The multiplier and the requantization are the shared stages (hw/stages.py).

Issue. The entry memory holds one group of G entry slots a word (G from the plan: golden/window.py). A group is
taken from a register (``nxt``, the head of a queue of three that the memory fills from a registered address
whenever it has room) into the head register together with its candidates: the slots with a kept weight whose
activation in the window is not zero (the engine's zero masks: ``nz`` of the open window, ``next_nz`` of the next
one, read ahead). Each cycle the head issues its first candidate; the cycle it issues its last one (or, with none,
its first cycle) the next group is taken. After its window's last group the PE takes the next window's first group
as soon as that window's mask is ready (``nz_ready``), and waits for ``bnd``. ``reached`` comes from registers only
(the head's candidates and flags, ``nz_ready``): the engine ANDs every PE's, and a memory output in front of that
AND was its slowest path once.

Pipeline of an entry (cycle 0: issued from the head):

    1   E: the entry registered
    2   E2: registered again; its column's low bits pick an activation of each block of 8 in the window register
    3   E3: its column's high bits pick the block: x
    4-6 X, Y, P: multiply (hw/stages.py); at 5 the row's state is addressed, at 6 it is read
    7   C: the product and the state registered, then combined (first touch: the product itself)
    8   the new state written

An entry's state read (at 6) comes before the writes of the entries of its row issued 1-3 cycles earlier: their new
states are taken from the write stage's registers instead, so the entries of one row may issue back to back. C is
a stage of its own because the product leaves a DSP and the state a block RAM, both slow outputs: compared straight
away, DSP -> compare -> new state was the ECP5 engine's slowest path (11.6 ns at P = 16).

Finalization of local row j (cycle f: ``fin`` high, this PE's own row counter at j):

    f       read the row's state and its bias word (bias, dense); write the state back untouched (cleared)
    f+1     mam: max and min with 0 joining them when the row has a pruned weight (not dense) or the PE skipped a
            zero activation in this layer (so did every dense row: it has an entry at every column); untouched: 0
    f+2     their sum (or the sum of products)
    f+3     + bias
    f+4..   requantization (hw/stages.py), ``result`` at f + 10
"""

import functools
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .dsp import check_dsp
from .pe import KINDS, bits_for, result_layout
from .stages import config_shapes, delay, multiply, requant_stages, signed_bits

__all__ = ["WindowPE", "window_slot_layout", "window_group_layout", "state_layout", "window_shapes"]

STATE_DISTANCE = 1          # issue cycles between two entries of one row (the PE forwards a state not yet written)
PICK = 8                    # activations the column's low bits choose among in E2 (see elaborate)
FINAL_LATENCY = 10          # a row's finalization read to its result


def window_slot_layout(w_bits, window, rows):
    """One entry slot: weight (0: an empty slot), column within the window, local row."""
    return data.StructLayout({"weight": signed(w_bits), "col": unsigned(ceil_log2(window)),
                              "row": unsigned(bits_for(rows))})


def window_group_layout(w_bits, window, rows, group):
    """One entry word: `group` slots and ``wend``, the PE's last group of its window."""
    return data.StructLayout({"slots": data.ArrayLayout(window_slot_layout(w_bits, window, rows), group),
                              "wend": unsigned(1)})


def state_layout(hi_shape, lo_shape=None):
    """One row's state: touched, and the running max and min (mam) or the sum (in ``hi``; `lo_shape` None: no
    layer is mam)."""
    return data.StructLayout({"touched": unsigned(1), "hi": hi_shape} | ({"lo": lo_shape} if lo_shape else {}))


def window_shapes(plans, act_bits):
    """(hi_shape, lo_shape, v_shape): a row's running max (or sum) and min, and its finished value + bias, as wide
    as the baked weights and biases make them with any activations of `act_bits` (like hw/pe.py's value_shapes).
    The min holds one product, the max one product or a mac row's sum; lo_shape is None when no layer is mam."""
    x = 1 << (act_bits - 1)
    hi = lo = v = 1
    mam = False
    for plan in plans:
        # A team's PEs hold the parts of its rows (one PE each unless rows are split): a row's bound is over all.
        for t in range(plan.teams):
            team = plan.segments[t * plan.split:(t + 1) * plan.split]
            w = np.concatenate([np.abs(seg.weight).ravel() for seg in team])
            rows = np.concatenate([seg.row.ravel() for seg in team])
            bias = team[0].bias
            if plan.kind == "mac":                      # a row's sum of |w|
                row = np.bincount(rows, weights=w, minlength=plan.rows).astype(np.int64)
            else:                                       # a row's largest |w|
                row = np.zeros(plan.rows, dtype=np.int64)
                np.maximum.at(row, rows, w)
            hi = max(hi, int(row.max(initial=0)) * x)
            if plan.kind == "mam":
                mam, lo = True, max(lo, int(row.max(initial=0)) * x)
            both = row if plan.kind == "mac" else 2 * row
            v = max(v, int((both * x + np.abs(bias)).max(initial=0)))
    return (signed(signed_bits([-hi, hi])), signed(signed_bits([-lo, lo])) if mam else None,
            signed(signed_bits([-v, v])))


class WindowPE(wiring.Component):
    """One PE of the window engine, holding its segment of every layer (golden.window.WindowSegment).

    kinds, shifts, clamps, act_bits, w_bits, out_bits: as the row PE (hw/pe.py); window: W; rows: local rows of the
    largest layer; hi_shape, lo_shape, v_shape: :func:`window_shapes`; dsp: the DSP primitive (hw/dsp.py).

    Ports: ``start`` with ``layer``: run that layer (its first entry waits for the first ``bnd``). ``bnd``: a window
    starts this cycle. ``reached``: this PE is through the window's entries and holds the next window's first group
    (or has none). ``nz``, ``next_nz``: the zero masks (bit c: column c's activation is not zero) of the open window
    and of the next; ``nz_ready``: ``next_nz`` holds the next window's (never in a ``bnd`` cycle). ``window``: the
    engine's window register (x of the entry in E2). ``fin``: finalize the next row (one per cycle, from row 0).
    ``mac``, ``mult``, ``neg_mult``, ``rounding``: the running layer's configuration, held from ``start`` to the
    layer's last result. ``result``: each finalized row (local row number, value).
    """

    def __init__(self, *, segments, kinds, shifts, clamps, act_bits, w_bits, out_bits, window, rows, hi_shape,
                 lo_shape, v_shape, dsp=None, index=0, merge=0):
        self.kinds = tuple(sorted(set(kinds)))
        if not set(self.kinds) <= set(KINDS) or not self.kinds:
            raise ValueError(f"kinds must be among {KINDS}, not {kinds!r}")
        self.dsp = check_dsp(dsp)
        self.shifts = [int(s) for s in shifts]
        self.los, self.his = [c["lo"] for c in clamps], [c["hi"] for c in clamps]
        self.act_bits, self.w_bits, self.out_bits = act_bits, w_bits, out_bits
        self.window_size, self.rows = window, rows
        self.hi_shape, self.lo_shape, self.v_shape = hi_shape, lo_shape, v_shape
        self.group = check_group(segments)
        self.slot_shape = window_slot_layout(w_bits, window, rows)
        self.entry_shape = window_group_layout(w_bits, window, rows, self.group)
        self.state_shape = state_layout(hi_shape, lo_shape if "mam" in self.kinds else None)
        bias_bits = signed_bits([int(b) for seg in segments for b in seg.bias])
        self.bias_shape = data.StructLayout({"bias": signed(bias_bits), "dense": unsigned(1)})
        self.entry_base, self.entry_count, self.bias_base = [], [], []
        words, biases = [], []
        for seg in segments:
            self.entry_base.append(len(words))
            self.bias_base.append(len(biases))
            self.entry_count.append(seg.groups)
            words += _pack_groups(self.entry_shape, seg)
            biases += _pack(self.bias_shape, bias=seg.bias, dense=seg.dense)
        self.n_layers = len(segments)
        self.entry_words, self.bias_words = words, biases
        self.index, self.merge_levels = index, merge
        self.final_latency = FINAL_LATENCY + merge
        self.part_shape = data.StructLayout({"touched": unsigned(1), "hi": hi_shape,
                                             "lo": lo_shape if lo_shape is not None else unsigned(1)})
        shapes = config_shapes(shifts)
        merging = {"merge": In(range(merge + 1)), "part": Out(data.ArrayLayout(self.part_shape, merge)),
                   "partner": In(data.ArrayLayout(self.part_shape, merge))} if merge else {}
        super().__init__(merging | {
            "start": In(1),
            "layer": In(bits_for(self.n_layers)),
            "bnd": In(1),
            "reached": Out(1),
            "nz": In(window),
            "next_nz": In(window),
            "nz_ready": In(1),
            "window": In(data.ArrayLayout(signed(act_bits), window)),
            "fin": In(1),
            "mac": In(1),
            "mult": In(shapes["mult"]),
            "neg_mult": In(shapes["neg_mult"]),
            "rounding": In(shapes["rounding"]),
            "result": Out(stream.Signature(result_layout(bits_for(rows), out_bits), always_ready=True)),
        })

    @functools.cached_property
    def entry_mem(self):
        return Memory(shape=unsigned(self.entry_shape.size), depth=len(self.entry_words), init=self.entry_words)

    @functools.cached_property
    def bias_mem(self):
        return Memory(shape=unsigned(self.bias_shape.size), depth=len(self.bias_words), init=self.bias_words)

    @functools.cached_property
    def state_mem(self):
        return Memory(shape=unsigned(self.state_shape.size), depth=self.rows, init=[])

    def elaborate(self, platform):
        m = Module()
        m.submodules.entry_mem = self.entry_mem
        m.submodules.bias_mem = self.bias_mem
        m.submodules.state_mem = self.state_mem
        entry_rd, bias_rd = self.entry_mem.read_port(), self.bias_mem.read_port()
        state_rd, state_wr = self.state_mem.read_port(), self.state_mem.write_port()
        n = self.n_layers
        cur = Signal(bits_for(n))

        # Issue. `ga` counts the groups taken (from the layer's first), `left` the groups not yet taken into the
        # head, minus one (its sign bit: none left).
        ga = Signal(range(max(2, len(self.entry_words) + 1)))
        left = Signal(signed(bits_for(len(self.entry_words) + 1) + 1), init=-1)
        more = ~left[-1]
        waiting = Signal(init=1)
        hd = Signal(self.entry_shape, reset_less=True)
        hd_valid = Signal()
        hd_cand = Signal(self.group)
        zero_seen = Signal()
        # The group to take next (group ga), in a register: the entry memory's output (a block RAM's, slow) only
        # loads it, one group ahead, so the candidates are looked up from a register (the memory's output in front
        # of that lookup was the VGG-16 head's slowest path, 16.9 ns at P = 16 on the ECP5-85F). `nxt` heads a queue
        # of the groups after the head, in order; the memory's address is a register (`ra`, the next group to
        # fetch), and a group is fetched when the queue has room for it without counting this cycle's take, so the
        # take never reaches the block RAMs' address (hd_cand -> entry_mem was the VGG-16 head's slowest path at
        # P = 8, 15.1 ns). Three places keep a take every cycle going; a start reads the layer's first group.
        nxt = Signal(self.entry_shape, name="nxt", reset_less=True)
        queue = [nxt] + [Signal(self.entry_shape, name=f"nxt{i}", reset_less=True) for i in (1, 2)]
        held = Signal(range(len(queue) + 1))        # groups in the queue
        fetched = Signal()                          # the memory's output holds the group fetched last cycle
        ra = Signal.like(ga, name="ra")             # the next group to fetch
        fleft = Signal.like(left, name="fleft", init=-1)    # groups not yet fetched, minus one
        fetch = Signal()
        m.d.comb += fetch.eq(~fleft[-1] & (held + fetched < len(queue)))
        first_group = Signal.like(ga)
        with m.Switch(self.layer):
            for k in range(n):
                with m.Case(k):
                    m.d.comb += first_group.eq(self.entry_base[k])

        first = Signal(self.group)
        m.d.comb += first.eq(hd_cand & (~hd_cand + 1))           # the lowest candidate
        rest = hd_cand & ~first
        kept = Cat(slot.weight.any() for slot in nxt.slots)
        # The next group's candidates under either mask: the choice waits on the head, the lookups do not.
        next_seen = Cat(self.next_nz.bit_select(slot.col, 1) for slot in nxt.slots)
        open_seen = Cat(self.nz.bit_select(slot.col, 1) for slot in nxt.slots)
        # `bnd` reaches every PE from one register (its route alone took 5.6 ns at P = 16 on the ECP5-85F), so the
        # head's next state is worked out twice, for a bnd cycle and for any other, and `bnd` only picks one: a LUT
        # after its arrival, not the head's whole decision. The two are kept (`keep`) apart from that last pick, or
        # synthesis could fold `bnd` back into them.

        def head_step(opening):
            """The head's next state, its issue and its take, in a bnd cycle (`opening`) or in any other: {name:
            signal}, each a wire of its own (``keep``)."""
            active = Const(1) if opening else ~waiting
            done = active & hd_valid & ~rest.any()              # the head's last cycle
            window_done = done & hd.wend
            # The group taken next: of the open window (its mask `nz`, or `next_nz` in the bnd cycle, before the
            # engine moves it into `nz`), or after the window's last one the next window's, once its mask is ready.
            take_next = window_done | (~active & ~hd_valid)
            take = more & Mux(take_next, self.nz_ready, done)
            seen = Mux(take_next | opening, next_seen, open_seen)
            values = {"issue": active & hd_cand.any(), "take": take,
                      "cand": Mux(take, kept & seen, Mux(done, 0, Mux(active, rest, hd_cand))),
                      "valid": Mux(take, 1, Mux(done, 0, hd_valid)),
                      "waiting": Mux(window_done, 1, Const(0) if opening else waiting),
                      "zero_seen": zero_seen | (take & (kept & ~seen).any())}
            wires = {name: Signal(len(value), name=f"b{opening}_{name}", attrs={"keep": 1})
                     for name, value in values.items()}
            m.d.comb += [wires[name].eq(value) for name, value in values.items()]
            return wires

        steps = [head_step(opening) for opening in (0, 1)]
        step = {name: Mux(self.bnd, steps[1][name], steps[0][name]) for name in steps[0]}
        issue, take = Signal(), Signal()
        # `reached` without `bnd`: in a bnd cycle `nz_ready` is low, so it is 0 then anyway (bnd -> every PE ->
        # the engine's AND was the slowest path, 14.0 ns at P = 16 on the ECP5).
        m.d.comb += [issue.eq(step["issue"]), take.eq(step["take"]),
                     self.reached.eq(self.nz_ready & (waiting | (hd_valid & ~rest.any() & hd.wend))),
                     entry_rd.addr.eq(Mux(self.start, first_group, ra))]
        # After the take (if any) the queue moves up by one; the fetched group joins behind the last one held.
        for i, slot in enumerate(queue):
            below = queue[i + 1] if i + 1 < len(queue) else slot
            joins_taken, joins_kept = fetched & (held == i + 1), fetched & (held == i)
            m.d.sync += slot.eq(Mux(take, Mux(joins_taken, entry_rd.data, below),
                                    Mux(joins_kept, entry_rd.data, slot)))
        m.d.sync += [held.eq(held - take + fetched), fetched.eq(fetch)]
        with m.If(fetch):
            m.d.sync += [ra.eq(ra + 1), fleft.eq(fleft - 1)]
        m.d.sync += [hd_cand.eq(step["cand"]), hd_valid.eq(step["valid"]), waiting.eq(step["waiting"]),
                     zero_seen.eq(step["zero_seen"])]
        with m.If(take):
            m.d.sync += [hd.eq(nxt), ga.eq(ga + 1), left.eq(left - 1)]
        slot = hd.slots[0].as_value()
        for i in range(1, self.group):
            slot = Mux(first[i], hd.slots[i].as_value(), slot)

        # Finalization rows, counted here from each start.
        frow = Signal(bits_for(self.rows))
        brow = Signal(range(max(2, len(self.bias_words))))
        with m.If(self.fin):
            m.d.sync += [frow.eq(frow + 1), brow.eq(brow + 1)]
        with m.If(self.start):
            m.d.sync += [waiting.eq(1), hd_valid.eq(0), hd_cand.eq(0), zero_seen.eq(0), cur.eq(self.layer),
                         frow.eq(0)]
            with m.Switch(self.layer):
                for k in range(n):
                    with m.Case(k):
                        # The start reads the layer's first group (the address is `first_group` in this cycle).
                        m.d.sync += [left.eq(self.entry_count[k] - 1), brow.eq(self.bias_base[k]),
                                     fleft.eq(self.entry_count[k] - 2), fetched.eq(self.entry_count[k] > 0)]
            m.d.sync += [ga.eq(first_group), ra.eq(first_group + 1), held.eq(0)]

        # E, E2, E3: the column picks x from the window register in two steps, its low bits one activation of each
        # block of PICK (E2), its high bits the block (E3): a 64-to-1 pick in one cycle was the ECP5 engine's slowest
        # path (10.7 ns at P = 16). Then X, Y, P (the product).
        e_valid = delay(m, issue, "e_valid")
        e = delay(m, slot, "e_entry")
        e2_valid, e2 = delay(m, e_valid, "e2_valid"), data.View(self.slot_shape, delay(m, e, "e2_entry"))
        low = min(ceil_log2(PICK), len(e2.col))
        block = self.act_bits << low
        blocks = Signal(self.window_size * self.act_bits >> low << low, name="e3_blocks", reset_less=True)
        for k in range(self.window_size >> low):
            # A word select, not a View index (which would scale the column with a multiply).
            m.d.sync += blocks.word_select(k, self.act_bits).eq(
                self.window.as_value()[k * block:(k + 1) * block].word_select(e2.col[:low], self.act_bits))
        e3_valid, e3 = delay(m, e2_valid, "e3_valid"), data.View(self.slot_shape, delay(m, e2.as_value(), "e3_entry"))
        x = blocks.word_select(e3.col[low:], self.act_bits).as_signed() if len(e3.col) > low else \
            blocks[:self.act_bits].as_signed()
        p, _ = multiply(m, e3.weight, x, self.dsp)
        x_row, x_live = delay(m, e3.row, "x_row"), delay(m, e3_valid, "x_live")
        y_row, y_live = delay(m, x_row, "y_row"), delay(m, x_live, "y_live")
        p_row, p_live = delay(m, y_row, "p_row"), delay(m, y_live, "p_live")

        # The row state: read at Y (with the finalization's row instead while finalizing), registered with the
        # product at C, combined there, and written a cycle later (W). An entry of the same row 1-3 cycles ahead has
        # not reached the memory before this one's read: its new state is taken from the write stage's registers
        # instead, the nearest first. Those of 2 and 3 cycles ahead (W, W2) are taken as the state is registered at
        # P; only that of the entry right ahead is chosen at C, in the compare's one-cycle loop (all three chosen
        # there made that loop the slowest path, 13.0 ns at P = 16 on the ECP5).
        m.d.comb += [state_rd.addr.eq(Mux(self.fin, frow, y_row)), bias_rd.addr.eq(brow)]
        old = data.View(self.state_shape, state_rd.data)
        # c_p is zeroed when no entry is live (nothing reads it then) so that it is not a plain register: Yosys's
        # iCE40 DSP mapping (0.70) takes a plain second register after the product into the SB_MAC16 as its output
        # register and then ties the product to 0 (warning "Driver-driver conflict"), a wrong netlist.
        c_p = Signal.like(p, name="c_p", reset_less=True)
        m.d.sync += c_p.eq(Mux(p_live, p, 0))
        c_live, c_row = delay(m, p_live, "c_live"), delay(m, p_row, "c_row")
        w_live, w_row = delay(m, c_live, "w_live"), delay(m, c_row, "w_row")
        # Which of them is this entry's row, found a cycle early from the rows alone: the entry right ahead (at P),
        # those 2 and 3 ahead (at Y).
        hit1 = delay(m, p_live & c_live & (p_row == c_row), "c_hit1")
        hit2, hit3 = (delay(m, y_live & live & (y_row == row), f"p_hit{k}")
                      for k, live, row in ((2, c_live, c_row), (3, w_live, w_row)))
        w_state = Signal(self.state_shape.size, name="w_state", reset_less=True)
        w2_state = delay(m, w_state, "w2_state")
        c_state = Signal(self.state_shape.size, name="c_state", reset_less=True)
        m.d.sync += c_state.eq(Mux(hit2, w_state, Mux(hit3, w2_state, state_rd.data)))
        c_old = data.View(self.state_shape, Mux(hit1, w_state, c_state))
        new = Signal(self.state_shape, reset_less=True)
        mac = Signal(name="mac_copy")
        mam = "mam" in self.kinds
        m.d.comb += new.touched.eq(1)
        total = Mux(c_old.touched, c_old.hi + c_p, c_p)
        if mam:
            hi = Mux(c_old.touched & (c_old.hi > c_p), c_old.hi, c_p)
            lo = Mux(c_old.touched & (c_old.lo < c_p), c_old.lo, c_p)
            m.d.comb += new.lo.eq(lo)
        m.d.comb += new.hi.eq(total if not mam else hi if self.kinds == ("mam",) else Mux(mac, total, hi))
        m.d.sync += w_state.eq(new.as_value())

        # Finalization: f+1 pads and clears, then M merge steps (a split row's parts, over the team), then max and
        # min added, then the bias.
        f1_valid, f1_row = delay(m, self.fin, "f1_valid"), delay(m, frow, "f1_row")
        m.d.comb += [state_wr.en.eq(w_live | f1_valid), state_wr.addr.eq(Mux(f1_valid, f1_row, w_row)),
                     state_wr.data.eq(Mux(f1_valid, 0, w_state))]
        b = data.View(self.bias_shape, bias_rd.data)
        # f2: the row's part, as the merge takes it: touched (0: it has nothing to join: no entry, no 0), max and
        # min (or the sum in hi), 0 where untouched.
        f2 = Signal(self.part_shape, name="f2_part", reset_less=True)
        f2_hi, f2_lo = f2.hi, f2.lo
        pad = ~b.dense | zero_seen                      # a pruned weight or a skipped zero: 0 joins max and min
        if mam:
            mam_hi = Mux(old.touched, Mux(pad & (old.hi < 0), 0, old.hi), 0)
            mam_lo = Mux(old.touched, Mux(pad & (old.lo > 0), 0, old.lo), 0)
        sum_hi = Mux(old.touched, old.hi, 0)
        if self.kinds == ("mam",):
            m.d.sync += [f2_hi.eq(mam_hi), f2_lo.eq(mam_lo), f2.touched.eq(old.touched | pad)]
        elif self.kinds == ("mac",):
            m.d.sync += [f2_hi.eq(sum_hi), f2_lo.eq(0), f2.touched.eq(old.touched)]
        else:
            m.d.sync += [f2_hi.eq(Mux(mac, sum_hi, mam_hi)), f2_lo.eq(Mux(mac, 0, mam_lo)),
                         f2.touched.eq(old.touched | (~mac & pad))]
        f2_valid, f2_row = delay(m, f1_valid, "f2_valid"), delay(m, f1_row, "f2_row")
        f2_bias = delay(m, b.bias, "f2_bias")
        merged, valid, row, bias = f2, f2_valid, f2_row, f2_bias
        merge_valids = []
        for level in range(self.merge_levels):
            m.d.comb += self.part[level].eq(merged)
            nxt_part = Signal(self.part_shape, name=f"m{level}_part", reset_less=True)
            if self.index % (2 << level):               # a sender at this step: its part goes on unchanged
                m.d.sync += nxt_part.eq(merged)
            else:
                with m.If(level < self.merge):
                    m.d.sync += self._joined(nxt_part, merged, self.partner[level], mac)
                with m.Else():
                    m.d.sync += nxt_part.eq(merged)
            merged = nxt_part
            valid, row, bias = (delay(m, valid, f"m{level}_valid"), delay(m, row, f"m{level}_row"),
                                delay(m, bias, f"m{level}_bias"))
            merge_valids.append(valid)
        f3_value = Signal(self.v_shape, reset_less=True)
        m.d.sync += f3_value.eq(merged.hi + merged.lo)
        f3_valid, f3_row, f3_bias = delay(m, valid, "f3_valid"), delay(m, row, "f3_row"), delay(m, bias, "f3_bias")
        v = Signal(self.v_shape, reset_less=True)
        m.d.sync += v.eq(f3_value + f3_bias)
        v_valid, v_row = delay(m, f3_valid, "v_valid"), delay(m, f3_row, "v_row")

        # Requantization with this PE's own copies of `mult` and the kind, taken as a layer starts (the engine's
        # registers fan out to every PE; see hw/pe.py).
        mult = Signal.like(self.mult, name="mult_copy", reset_less=True)
        with m.If(delay(m, self.start, "started")):           # the engine loads them as it starts the PEs
            m.d.sync += [mult.eq(self.mult), mac.eq(self.mac)]
        requant_valids = []
        q_valid, y, (q_row,) = requant_stages(
            m, valid=v_valid, v=v, out_shape=signed(self.out_bits), mult=mult, neg_mult=self.neg_mult,
            rounding=self.rounding, lo=self.los, hi=self.his, shift=self.shifts, shift_select=cur, carry=[v_row],
            valids=requant_valids, dsp=self.dsp)
        m.d.comb += [self.result.valid.eq(q_valid), self.result.payload.row.eq(q_row),
                     self.result.payload.value.eq(y)]
        self._internals(m, SimpleNamespace(
            issue=issue, first=first, take=take, hd=hd, hd_valid=hd_valid, hd_cand=hd_cand, ga=ga, left=left,
            waiting=waiting, zero_seen=zero_seen, cur=cur, frow=frow,
            brow=brow, mult=mult, mac=mac, entry_valids=[e_valid, e2_valid, e3_valid, x_live, y_live, p_live, c_live, w_live],
            final_valids=[f1_valid, f2_valid] + merge_valids + [f3_valid, v_valid] + requant_valids,
            c_p=c_p, c_old=c_old, old=old, new=new, state_wr=state_wr, w_live=w_live, w_row=w_row, w_state=w_state,
            f1_valid=f1_valid, f1_row=f1_row, f2_hi=f2_hi, f2_lo=f2_lo, dense=b.dense, nxt=nxt, nxt1=queue[1],
            nxt2=queue[2], held=held, fetched=fetched, ra=ra, fleft=fleft, fetch_data=entry_rd.data))
        return m

    def _joined(self, out, own, other, mac):
        """Statements setting `out` to two parts of one row joined: max of maxes and min of mins (mam), or the sum
        (mac); a part not touched joins nothing."""
        both = own.touched & other.touched
        total = own.hi + other.hi                       # untouched parts hold 0
        if "mam" in self.kinds:
            hi = Mux(both, Mux(own.hi > other.hi, own.hi, other.hi), Mux(own.touched, own.hi, other.hi))
            lo = Mux(both, Mux(own.lo < other.lo, own.lo, other.lo), Mux(own.touched, own.lo, other.lo))
        if self.kinds == ("mac",):
            hi, lo = total, 0
        elif self.kinds != ("mam",):
            hi, lo = Mux(mac, total, hi), Mux(mac, 0, lo)
        return [out.touched.eq(own.touched | other.touched), out.hi.eq(hi), out.lo.eq(lo)]

    def _internals(self, m, signals):
        """Nothing here: a hook called at the end of :meth:`elaborate` with the PE's registers and wires by name
        (`signals`). The formal harness (sim/window_formal_harness.py) reads them for its invariants; the broken
        PEs of tests/faulty.py add statements to `m` that override the PE's own (the last assignment wins)."""


def check_group(segments):
    """G of the segments (golden.window.WindowSegment), one for all of them: the entry word's slots."""
    groups = {seg.group for seg in segments}
    if len(groups) != 1:
        raise ValueError(f"every segment of a PE needs the same group size, not {sorted(groups)}")
    return groups.pop()


def _pack_groups(layout, seg):
    """Integer entry words of `layout` (:func:`window_group_layout`) from a WindowSegment's groups."""
    slot = layout["slots"].shape.elem_shape
    words = np.zeros(seg.groups, dtype=object)
    for i in range(seg.group):
        for name in ("weight", "col", "row"):
            field = slot[name]
            raw = np.asarray(getattr(seg, name)[:, i], dtype=np.int64) & ((1 << field.width) - 1)
            words |= raw.astype(object) << (i * slot.size + field.offset)
    words |= np.asarray(seg.wend, dtype=np.int64).astype(object) << layout["wend"].offset
    return [int(w) for w in words]


def _pack(layout, **fields):
    """Integer words of `layout` from its fields' arrays (two's complement for signed fields)."""
    count = len(next(iter(fields.values())))
    words = np.zeros(count, dtype=object)
    for name, values in fields.items():
        field = layout[name]
        raw = np.asarray(values, dtype=np.int64) & ((1 << field.width) - 1)
        words |= raw.astype(object) << field.offset
    return [int(w) for w in words]
