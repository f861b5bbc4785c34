"""The window engine's PE: it walks its entries window by window and folds each product into its row's state in a
memory, then, once the layer's windows have passed, finalizes every row (golden/window.py: the plan and timing).

Unlike the row engine's PE (hw/pe.py), which folds one row at a time in registers, this PE's entries of one window
belong to many rows, so the running max and min (or sum) of every row live in a row-state memory, read, combined
with the product and written back. The multiplier and the requantization are the shared stages (hw/stages.py).

Pipeline of an entry (cycle 0: the entry is issued, its word on the entry memory's output):

    0   issue: the word leaves the memory; a ``bnd`` (the engine's window start) releases a PE that waits
    1   E: the entry registered
    2   E2: registered again; its column picks x from the engine's window register
    3-5 X, Y, P: multiply (hw/stages.py); at 4 the row's state is addressed, at 5 it is read
    6   C: the product and the state registered, then combined (first touch: the product itself)
    7   the new state written

So two entries of one row must be issued :data:`STATE_DISTANCE` (4) cycles apart: the plan spaces them. A spacer
(weight 0) writes nothing. C is a stage of its own because the product leaves a DSP and the state a block RAM,
both slow outputs: compared straight away, DSP -> compare -> new state was the ECP5 engine's slowest path (11.6 ns
at P = 16); a stage costs a cycle of spacing, which real-size layers rarely need (their rows' entries are far
apart), and a cycle of drain per layer.

Finalization of local row j (cycle f: ``fin`` high, this PE's own row counter at j):

    f       read the row's state and its bias word (bias, dense); write the state back untouched (cleared)
    f+1     mam: max and min with 0 joining them when the row has a pruned weight (not dense); untouched: 0
    f+2     their sum (or the sum of products)
    f+3     + bias
    f+4..   requantization (hw/stages.py), ``result`` at f + 10
"""

import functools
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .dsp import check_dsp
from .pe import KINDS, bits_for, result_layout
from .stages import config_shapes, delay, multiply, requant_stages, signed_bits

__all__ = ["WindowPE", "window_entry_layout", "state_layout", "window_shapes"]

STATE_DISTANCE = 4          # issue cycles between two entries of one row (the read-modify-write above)
FINAL_LATENCY = 10          # a row's finalization read to its result


def window_entry_layout(w_bits, window, rows):
    """One entry word: weight (0: a spacer), column within the window, local row, last entry of the window, and
    whether the next entry of the stream is the last of its window (``next_wend``: the PE knows it a cycle ahead)."""
    return data.StructLayout({"weight": signed(w_bits), "col": unsigned(ceil_log2(window)),
                              "row": unsigned(bits_for(rows)), "wend": unsigned(1), "next_wend": unsigned(1)})


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
        for seg in plan.segments:
            w = np.abs(seg.weight)
            if plan.kind == "mac":                      # a row's sum of |w|
                row = np.bincount(seg.row, weights=w, minlength=plan.rows).astype(np.int64)
            else:                                       # a row's largest |w|
                row = np.zeros(plan.rows, dtype=np.int64)
                np.maximum.at(row, seg.row, w)
            hi = max(hi, int(row.max(initial=0)) * x)
            if plan.kind == "mam":
                mam, lo = True, max(lo, int(row.max(initial=0)) * x)
            both = row if plan.kind == "mac" else 2 * row
            v = max(v, int((both * x + np.abs(seg.bias)).max(initial=0)))
    return (signed(signed_bits([-hi, hi])), signed(signed_bits([-lo, lo])) if mam else None,
            signed(signed_bits([-v, v])))


class WindowPE(wiring.Component):
    """One PE of the window engine, holding its segment of every layer (golden.window.WindowSegment).

    kinds, shifts, clamps, act_bits, w_bits, out_bits: as the row PE (hw/pe.py); window: W; rows: local rows of the
    largest layer; hi_shape, lo_shape, v_shape: :func:`window_shapes`; dsp: the DSP primitive (hw/dsp.py).

    Ports: ``start`` with ``layer``: run that layer (its first entry waits for the first ``bnd``). ``bnd``: a window
    starts this cycle. ``reached``: this PE has issued its last entry of the window (or does now). ``window``: the
    engine's window register (x of the entry in E2). ``fin``: finalize the next row (one per cycle, from row 0).
    ``mac``, ``mult``, ``neg_mult``, ``rounding``: the running layer's configuration, held from ``start`` to the
    layer's last result. ``result``: each finalized row (local row number, value).
    """

    def __init__(self, *, segments, kinds, shifts, clamps, act_bits, w_bits, out_bits, window, rows, hi_shape,
                 lo_shape, v_shape, dsp=None):
        self.kinds = tuple(sorted(set(kinds)))
        if not set(self.kinds) <= set(KINDS) or not self.kinds:
            raise ValueError(f"kinds must be among {KINDS}, not {kinds!r}")
        self.dsp = check_dsp(dsp)
        self.shifts = [int(s) for s in shifts]
        self.los, self.his = [c["lo"] for c in clamps], [c["hi"] for c in clamps]
        self.act_bits, self.w_bits, self.out_bits = act_bits, w_bits, out_bits
        self.window_size, self.rows = window, rows
        self.hi_shape, self.lo_shape, self.v_shape = hi_shape, lo_shape, v_shape
        self.entry_shape = window_entry_layout(w_bits, window, rows)
        self.state_shape = state_layout(hi_shape, lo_shape if "mam" in self.kinds else None)
        bias_bits = signed_bits([int(b) for seg in segments for b in seg.bias])
        self.bias_shape = data.StructLayout({"bias": signed(bias_bits), "dense": unsigned(1)})
        self.entry_base, self.entry_count, self.bias_base, self.first_wend = [], [], [], []
        words, biases = [], []
        for seg in segments:
            self.entry_base.append(len(words))
            self.bias_base.append(len(biases))
            self.entry_count.append(seg.entries)
            words += _pack(self.entry_shape, weight=seg.weight, col=seg.col, row=seg.row, wend=seg.wend,
                           next_wend=np.append(seg.wend[1:], False))
            self.first_wend.append(bool(seg.wend[0]) if seg.entries else True)
            biases += _pack(self.bias_shape, bias=seg.bias, dense=seg.dense)
        self.n_layers = len(segments)
        self.entry_words, self.bias_words = words, biases
        shapes = config_shapes(shifts)
        super().__init__({
            "start": In(1),
            "layer": In(bits_for(self.n_layers)),
            "bnd": In(1),
            "reached": Out(1),
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

        # Issue. `left` counts the entries not yet issued, minus one (its sign bit: none left). The memory's address
        # moves on an issue, and `reached` rises, decided from registers only (`waiting`, `bnd`, `head_wend`), never
        # from the word the memory reads: `head_wend` is the head's `wend`, taken a cycle ahead from the word before
        # (its `next_wend`; at a start, the layer's first entry's, a constant). The engine ANDs every PE's
        # `reached`, and the memory's output in front of that AND was the slowest path (13.5 ns at P = 16, ECP5).
        ea = Signal(range(max(2, len(self.entry_words) + 1)))
        left = Signal(signed(bits_for(len(self.entry_words) + 1) + 1), init=-1)
        waiting = Signal(init=1)
        head = data.View(self.entry_shape, entry_rd.data)
        head_wend = Signal()
        issue = Signal()
        m.d.comb += [issue.eq(~left[-1] & (~waiting | self.bnd)),
                     entry_rd.addr.eq(Mux(issue, ea + 1, ea)),
                     self.reached.eq((waiting & ~self.bnd) | (issue & head_wend))]
        with m.If(issue):
            m.d.sync += [ea.eq(ea + 1), left.eq(left - 1), waiting.eq(head_wend), head_wend.eq(head.next_wend)]

        # Finalization rows, counted here from each start.
        frow = Signal(bits_for(self.rows))
        brow = Signal(range(max(2, len(self.bias_words))))
        with m.If(self.fin):
            m.d.sync += [frow.eq(frow + 1), brow.eq(brow + 1)]
        with m.If(self.start):
            m.d.sync += [waiting.eq(1), cur.eq(self.layer), frow.eq(0)]
            with m.Switch(self.layer):
                for k in range(n):
                    with m.Case(k):
                        m.d.sync += [ea.eq(self.entry_base[k]), left.eq(self.entry_count[k] - 1),
                                     brow.eq(self.bias_base[k]), head_wend.eq(self.first_wend[k])]

        # E, E2; x from the window register; X, Y, P (the product).
        e_valid = delay(m, issue, "e_valid")
        e = delay(m, entry_rd.data, "e_entry")
        e2_valid, e2 = delay(m, e_valid, "e2_valid"), data.View(self.entry_shape, delay(m, e, "e2_entry"))
        # The column picks x by a word select (a View index would scale the column with a multiply).
        x = self.window.as_value().word_select(e2.col, self.act_bits).as_signed()
        p, _ = multiply(m, e2.weight, x, self.dsp)
        x_row, x_live = delay(m, e2.row, "x_row"), delay(m, e2_valid & e2.weight.any(), "x_live")
        y_row, y_live = delay(m, x_row, "y_row"), delay(m, x_live, "y_live")
        p_row, p_live = delay(m, y_row, "p_row"), delay(m, y_live, "p_live")

        # The row state: read at Y (with the finalization's row instead while finalizing), registered with the
        # product at C, combined there, and written a cycle later.
        m.d.comb += [state_rd.addr.eq(Mux(self.fin, frow, y_row)), bias_rd.addr.eq(brow)]
        old = data.View(self.state_shape, state_rd.data)
        c_old = data.View(self.state_shape, delay(m, state_rd.data, "c_state"))
        # c_p is zeroed when no entry is live (nothing reads it then) so that it is not a plain register: Yosys's
        # iCE40 DSP mapping (0.70) takes a plain second register after the product into the SB_MAC16 as its output
        # register and then ties the product to 0 (warning "Driver-driver conflict"), a wrong netlist.
        c_p = Signal.like(p, name="c_p", reset_less=True)
        m.d.sync += c_p.eq(Mux(p_live, p, 0))
        c_live, c_row = delay(m, p_live, "c_live"), delay(m, p_row, "c_row")
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
        w_live, w_row = delay(m, c_live, "w_live"), delay(m, c_row, "w_row")
        w_state = delay(m, new.as_value(), "w_state")

        # Finalization: f+1 pads and clears, f+2 adds max and min, f+3 adds the bias.
        f1_valid, f1_row = delay(m, self.fin, "f1_valid"), delay(m, frow, "f1_row")
        m.d.comb += [state_wr.en.eq(w_live | f1_valid), state_wr.addr.eq(Mux(f1_valid, f1_row, w_row)),
                     state_wr.data.eq(Mux(f1_valid, 0, w_state))]
        b = data.View(self.bias_shape, bias_rd.data)
        f2_hi = Signal(self.hi_shape, reset_less=True)
        f2_lo = Signal(self.lo_shape or signed(2), reset_less=True)
        pad = ~b.dense                                  # a pruned weight: 0 joins max and min
        if mam:
            mam_hi = Mux(old.touched, Mux(pad & (old.hi < 0), 0, old.hi), 0)
            mam_lo = Mux(old.touched, Mux(pad & (old.lo > 0), 0, old.lo), 0)
        sum_hi = Mux(old.touched, old.hi, 0)
        if self.kinds == ("mam",):
            m.d.sync += [f2_hi.eq(mam_hi), f2_lo.eq(mam_lo)]
        elif self.kinds == ("mac",):
            m.d.sync += [f2_hi.eq(sum_hi), f2_lo.eq(0)]
        else:
            m.d.sync += [f2_hi.eq(Mux(mac, sum_hi, mam_hi)), f2_lo.eq(Mux(mac, 0, mam_lo))]
        f2_valid, f2_row = delay(m, f1_valid, "f2_valid"), delay(m, f1_row, "f2_row")
        f2_bias = delay(m, b.bias, "f2_bias")
        f3_value = Signal(self.v_shape, reset_less=True)
        m.d.sync += f3_value.eq(f2_hi + f2_lo)
        f3_valid, f3_row, f3_bias = delay(m, f2_valid, "f3_valid"), delay(m, f2_row, "f3_row"), \
            delay(m, f2_bias, "f3_bias")
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
            issue=issue, head=head, head_wend=head_wend, ea=ea, left=left, waiting=waiting, cur=cur, frow=frow,
            brow=brow, mult=mult, mac=mac, entry_valids=[e_valid, e2_valid, x_live, y_live, p_live, c_live, w_live],
            final_valids=[f1_valid, f2_valid, f3_valid, v_valid] + requant_valids,
            c_p=c_p, c_old=c_old, old=old, new=new, state_wr=state_wr, w_live=w_live, w_row=w_row, w_state=w_state,
            f1_valid=f1_valid, f1_row=f1_row, f2_hi=f2_hi, f2_lo=f2_lo))
        return m

    def _internals(self, m, signals):
        """Nothing here: a hook called at the end of :meth:`elaborate` with the PE's registers and wires by name
        (`signals`). The formal harness (sim/window_formal_harness.py) reads them for its invariants; the broken
        PEs of tests/faulty.py add statements to `m` that override the PE's own (the last assignment wins)."""


def _pack(layout, **fields):
    """Integer words of `layout` from its fields' arrays (two's complement for signed fields)."""
    count = len(next(iter(fields.values())))
    words = np.zeros(count, dtype=object)
    for name, values in fields.items():
        field = layout[name]
        raw = np.asarray(values, dtype=np.int64) & ((1 << field.width) - 1)
        words |= raw.astype(object) << field.offset
    return [int(w) for w in words]
