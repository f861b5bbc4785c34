"""The sparse MAM (or MAC) processing element: the one PE of every engine, of the standalone PE (hw/single_pe.py)
and of the formal proofs.

The PE walks a compressed entry stream (weight, input index, last-of-row, row-is-dense), one entry per cycle with
no bubble at row ends (or, with ``delta_bits``, narrower entries: weight, the step from the previous entry's index,
last-of-row; golden/encode.py puts filler entries of weight 0 where a step is too long), fetches ``x[index]`` from
an activation buffer outside it (address out in A, data back a cycle later), multiplies, and folds the products of
a row into max and min (mam) or a sum (mac). Each finished row then passes bias, requantization, ReLU and
saturation and leaves on the ``result`` stream.

It holds the entry streams of every layer of a network one after the other (one entry memory, one bias memory)
and runs the one selected by ``layer`` at ``start``. The per-layer configuration (``mac``, ``mult``,
``neg_mult``, ``rounding``) comes in from outside; shift and clamp bounds are muxes of the layers' constants.

Pipeline, one stage per cycle (all stages advance every cycle; nothing stalls). Each stage holds at most one
memory access, one carry chain or one multiply; the running max and min, a loop, get two cycles to go round:

    F   entry address counter -> entry memory (synchronous read)
    E   entry word out, registered (with ``delta_bits``: the index as well, the running index plus the step)
    A   x[index] addressed in the activation buffer (``act_addr``)
    X   x out (``act_data``), registered beside its weight
    Y   both registered again, beside the multiplier (its own input registers where the DSP takes them)
    P   product w * x registered (an SB_MAC16 / MULT18X18D)
    R   reduce: q = max (min) of this product and the previous one, or the sum; addresses the bias
    R1  compare q with the running max (min) of two entries back
    R2  select; a row end registers the row's max and min (hw/stages.py: the loop unrolled by one step)
    S   the row value max + min (or the sum)
    B   v = value + bias
    M1..Q2  requantization (hw/stages.py) -> ``result``; ``done`` after the last row

So a run of E entries takes E + LATENCY cycles of ``busy``.
"""

import functools
from typing import NamedTuple, Sequence

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .dsp import check_dsp
from .stages import (FOLD_DELAY, config_shapes, delay, fold_stage, multiply, requant_stages, signed_bits,
                     wait_for_fold)
from .weight_ram import WeightRAM, check_weight_ram

__all__ = ["KINDS", "PE", "Segment", "entry_layout", "index_steps", "pack_entries", "result_layout", "value_shapes",
           "bits_for"]

KINDS = ("mam", "mac")


def bits_for(n):
    """Address bits of a memory (or counter) of `n` words: at least 1."""
    return max(1, ceil_log2(max(1, n)))


class Segment(NamedTuple):
    """The part of one layer a PE computes, as memory images: its rows' entries (``address``: where each entry's
    ``x[index]`` is in the activation buffer), one bias per row, and, for a layer with splits, where each slice of
    a row ends (None: a slice is the row)."""

    weight: Sequence
    address: Sequence
    last: Sequence
    dense: Sequence
    bias: Sequence
    slice_last: Sequence = None


def entry_layout(w_bits, n_in, slices=False, delta_bits=0):
    """One word of the entry memory; with `slices`, a flag that ends a slice of a row (layers with splits). With
    `delta_bits` > 0, a word with a relative index: ``index`` is the step from the previous entry's index (from 0
    at a row's start), and there is no dense flag (golden.encode.with_fillers: such streams have no dense MAM row)
    and no slices."""
    if delta_bits:
        if slices:
            raise ValueError("entries with relative indices do not take slices (layers with splits)")
        return data.StructLayout({"weight": signed(w_bits), "index": unsigned(delta_bits), "last": unsigned(1)})
    return data.StructLayout({
        "weight": signed(w_bits),
        "index": unsigned(max(1, ceil_log2(n_in))),
        "last": unsigned(1),
        "dense": unsigned(1),
    } | ({"slice_last": unsigned(1)} if slices else {}))


def result_layout(row_bits, out_bits):
    """One row result on the PE's ``result`` stream: its place in this PE's row list, and its value."""
    return data.StructLayout({"row": unsigned(row_bits), "value": signed(out_bits)})


def index_steps(index, last, delta_bits):
    """The relative index of every entry of a stream (`index`: absolute, ascending within each row; `last`: row
    ends): its step from the previous entry's, from 0 at a row's start. Refuses a step that does not fit
    `delta_bits` bits (a stream without the fillers that golden.encode.with_fillers puts in) or goes back."""
    index = np.asarray(index, dtype=np.int64)
    previous = np.concatenate([[0], index[:-1]])
    previous[np.flatnonzero(np.concatenate([[True], np.asarray(last, dtype=bool)[:-1]]))] = 0
    steps = index - previous
    if steps.size and not 0 <= steps.min() <= steps.max() < 1 << delta_bits:
        raise ValueError(f"entry index steps {steps.min()}..{steps.max()} do not fit {delta_bits} bits: the "
                         "stream needs its fillers and its addresses in ascending order within each row")
    return steps


def pack_entries(layout, weight, index, last, dense, slice_last=None):
    """Pack field arrays into the integer words of `layout` (vectorized: big layers have 10^5+ entries); fields
    the layout does not have are left out."""
    words = np.zeros(len(weight), dtype=object)
    fields = [("weight", weight), ("index", index), ("last", last)] + (
        [("dense", dense)] if "dense" in layout.members else [])
    if "slice_last" in layout.members:
        fields.append(("slice_last", last if slice_last is None else slice_last))
    for name, values in fields:
        field = layout[name]
        mask = (1 << field.width) - 1
        raw = np.asarray(values, dtype=np.int64) & mask          # two's complement for signed fields
        words |= raw.astype(object) << field.offset
    return [int(w) for w in words]


def value_shapes(segments, act_bits):
    """(acc_shape, v_shape): the fold's value (a slice's max + min, or a row's sum) and the row value + bias, as wide
    as the baked weights and biases can make them with any activations of `act_bits`, not as the contract's worst
    case (a narrower v is what lets v * mult fit one DSP per PE).

    `segments`: (kind, Segment) of every segment the PEs hold."""
    x = 1 << (act_bits - 1)                     # the largest |activation|
    acc = v = 1
    for kind, seg in segments:
        seg = Segment(*seg)
        if len(seg.weight) == 0:
            continue
        w = np.abs(np.asarray(seg.weight, dtype=np.int64))
        ends = np.flatnonzero(seg.slice_last if seg.slice_last is not None else seg.last)
        starts = np.concatenate([[0], ends[:-1] + 1])
        piece = np.add.reduceat(w, starts) if kind == "mac" else 2 * np.maximum.reduceat(w, starts)
        # A row's value is the sum of its slices' (one slice unless the layer has splits).
        row_of_piece = np.cumsum(np.concatenate([[0], np.asarray(seg.last, dtype=bool)[ends][:-1]]))
        row = np.bincount(row_of_piece, weights=piece).astype(np.int64)
        acc = max(acc, int(piece.max()) * x)
        v = max(v, int((row * x + np.abs(np.asarray(seg.bias, dtype=np.int64))).max()))
    return signed(signed_bits([-acc, acc])), signed(signed_bits([-v, v]))


class PE(wiring.Component):
    """A sparse MAM/MAC processing element holding its entry streams, one segment per layer.

    segments: per layer, a :class:`Segment`, or None when this PE has no rows in that layer (it must not be started
    for it). relu_in: per layer, whether its inputs pass a ReLU first (default: none does). slices: the entries
    carry slice ends (some layer has splits; default: when a segment's slices differ from its rows).
    kinds: the kinds of the layers it runs; shifts, clamps: per layer, the shift and the ``lo``/``hi`` clamp
    bounds (:func:`hw.stages.requant_constants`); act_bits, w_bits, out_bits: widths; addr_bits: width of an
    activation address; acc_shape, v_shape: see :func:`value_shapes`; bias_bits: width of the bias memory (default:
    what the biases need; the formal harness makes them symbolic 32-bit values).
    unroll: the running max/min unrolled by one step for a faster clock (hw/stages.py), or compact; dsp: the DSP
    primitive the multipliers are built as (hw/dsp.py; None: plain multiplies, what simulation runs).
    weight_ram: None, the entry words baked into a ROM; "memory" or a primitive (hw/weight_ram.py), a RAM the host
    fills through ``w_we``/``w_addr``/``w_data`` (the words of :attr:`entry_words`) before the first start.
    delta_bits: entries with relative indices of that many bits (0: absolute); the segments' streams must then
    hold their fillers (golden.encode.with_fillers) and ascending addresses within each row.

    Ports: ``layer`` and a one-cycle ``start`` (only while idle) run that layer's segment; ``busy`` is high for
    ``entries + LATENCY`` cycles, then ``done`` rises and holds until the next start. The configuration inputs
    (``mac``, ``mult``, ``neg_mult``, ``rounding``) must hold the layer's values from ``start`` to ``done``
    (``mult`` is taken while idle, so from before ``start``). ``act_addr`` (with ``act_valid``) addresses an
    activation, whose value must arrive on ``act_data`` in the next cycle. Each row result passes once on
    ``result`` (``row``: its place in this PE's row list of the layer), in row order.

    A layer with splits folds max + min per slice of a row (the entries' ``slice_last`` flags end the slices) and
    adds the slices' values into the row's, bias first, in stage B: the same latency, one adder loop more.
    """

    LATENCY = 17
    FOLD_AT = 7             # the cycle of a run (1 = the cycle after start) in which entry 0 is folded
    RESULT_DELAY = FOLD_DELAY   # cycles from a row's last fold to its value in the result register

    def __init__(self, *, segments, kinds, shifts, clamps, act_bits, w_bits, out_bits, addr_bits, acc_shape, v_shape,
                 bias_bits=None, unroll=True, dsp=None, weight_ram=None, relu_in=None, slices=None, delta_bits=0):
        self.unroll = bool(unroll)
        self.dsp = check_dsp(dsp)
        self.weight_ram = check_weight_ram(weight_ram)
        self.kinds = tuple(sorted(set(kinds)))
        if not set(self.kinds) <= set(KINDS) or not self.kinds:
            raise ValueError(f"kinds must be among {KINDS}, not {kinds!r}")
        self.shifts = [int(s) for s in shifts]
        self.los, self.his = [c["lo"] for c in clamps], [c["hi"] for c in clamps]
        self.act_bits, self.w_bits, self.out_bits = act_bits, w_bits, out_bits
        self.acc_shape, self.v_shape = acc_shape, v_shape
        segments = [None if seg is None else Segment(*seg) for seg in segments]
        self.n_layers = len(segments)
        self.relu_in = [bool(r) for r in (relu_in or [False] * self.n_layers)]
        # Slices of rows (splits): only PEs of layers with them have the flag and the slice adder (`slices`; None:
        # when a segment's slices are not its rows).
        self.slices = bool(slices) if slices is not None else any(
            seg is not None and seg.slice_last is not None
            and not np.array_equal(np.asarray(seg.slice_last, bool), np.asarray(seg.last, bool)) for seg in segments)
        self.delta_bits = int(delta_bits)
        self.entry_shape = entry_layout(w_bits, 1 << addr_bits, self.slices, self.delta_bits)
        words, biases, addresses = [], [], []
        self.entry_base, self.entry_count, self.bias_base, self.row_count = [], [], [], []
        for seg in segments:
            self.entry_base.append(len(words))
            self.bias_base.append(len(biases))
            if seg is None:
                self.entry_count.append(0)
                self.row_count.append(0)
                continue
            if len(seg.weight) < len(seg.bias) or int(np.count_nonzero(np.asarray(seg.last))) != len(seg.bias) \
                    or not len(seg.bias):
                raise ValueError("a segment needs at least one row, and exactly one row end per bias value")
            index = index_steps(seg.address, seg.last, self.delta_bits) if self.delta_bits else seg.address
            words += pack_entries(self.entry_shape, seg.weight, index, seg.last, seg.dense, seg.slice_last)
            addresses += [int(a) for a in seg.address]
            biases += [int(b) for b in seg.bias]
            self.entry_count.append(len(seg.weight))
            self.row_count.append(len(seg.bias))
        if not words:
            raise ValueError("a PE without rows in any layer is not built")
        self.n_entries, self.n_rows = len(words), len(biases)
        self.entry_words, self.biases, self._addresses = words, biases, addresses
        self.bias_shape = signed(max(signed_bits(biases), bias_bits or 0))
        loading = {} if weight_ram is None else {
            "w_we": In(1), "w_addr": In(bits_for(self.n_entries)), "w_data": In(self.entry_shape.size)}
        shapes = config_shapes(shifts)
        super().__init__(loading | {
            "start": In(1),
            "layer": In(bits_for(self.n_layers)),
            "mac": In(1),
            "mult": In(shapes["mult"]),
            "neg_mult": In(shapes["neg_mult"]),
            "rounding": In(shapes["rounding"]),
            "busy": Out(1),
            "done": Out(1),
            "act_valid": Out(1),
            "act_addr": Out(addr_bits),
            "act_data": In(signed(act_bits)),
            "result": Out(stream.Signature(result_layout(bits_for(max(self.row_count)), out_bits),
                                           always_ready=True)),
        })

    # The memories are made when first used (elaboration, a testbench): an estimate reads the words above and never
    # pays for Amaranth's conversion of a big layer's contents (seconds for a dense 784 x 256 layer).
    @functools.cached_property
    def entry_mem(self):
        """The entry words: a ROM, or the weight RAM the host loads (hw/weight_ram.py)."""
        if self.weight_ram is None:
            return Memory(shape=unsigned(self.entry_shape.size), depth=self.n_entries, init=self.entry_words)
        return WeightRAM(depth=self.n_entries, width=self.entry_shape.size, primitive=self.weight_ram_primitive)

    @property
    def weight_ram_primitive(self):
        """The RAM primitive the entry words are loaded into (hw/weight_ram.py), or None (a ROM, or a RAM built
        from an Amaranth memory)."""
        return None if self.weight_ram in (None, "memory") else self.weight_ram

    @functools.cached_property
    def bias_mem(self):
        return Memory(shape=self.bias_shape, depth=self.n_rows, init=self.biases)

    def entry_bits_read(self):
        """The bits of an entry word the PE reads: all but the dense flag when no layer is mam (only the mam fold
        seeds rows by it)."""
        used = set(range(self.entry_shape.size))
        if "mam" not in self.kinds and "dense" in self.entry_shape.members:
            dense = self.entry_shape["dense"]
            used -= set(range(dense.offset, dense.offset + dense.width))
        return used

    def fetch_addresses(self):
        """The activation addresses in the entry words, one per entry (None when the words are loaded at run time):
        every address this PE can ever put on ``act_addr``."""
        return None if self.weight_ram is not None else self._addresses

    @property
    def product_shape(self):
        return signed(self.act_bits + self.w_bits)

    def elaborate(self, platform):
        m = Module()
        m.submodules.entry_mem = self.entry_mem
        m.submodules.bias_mem = self.bias_mem
        bias_rd = self.bias_mem.read_port()

        # F: entry fetch over this layer's segment. Counters stop at their last valid address. `left` counts the
        # entries after ea's, minus one, down to -1: its sign bit marks the last fetch, so no compare of ea stands
        # in the counter's loop (an equality test of ea was the UP5K engine's slowest path).
        ea = Signal(range(max(2, self.n_entries)))
        left = Signal(signed(bits_for(self.n_entries) + 1))
        at_end = left[-1]
        if self.weight_ram is None:
            entry_rd = self.entry_mem.read_port()
            m.d.comb += entry_rd.addr.eq(ea)
            entry_data = entry_rd.data
        else:                                                     # one port: the host's writes, or the fetch
            ram = self.entry_mem
            m.d.comb += [ram.we.eq(self.w_we), ram.wdata.eq(self.w_data),
                         ram.addr.eq(Mux(self.w_we, self.w_addr, ea))]
            entry_data = ram.rdata
        brow = Signal(range(max(2, self.n_rows)))                 # bias address of the row being folded
        out_row = Signal.like(self.result.payload.row)            # rows leave in order: a counter
        out_last = Signal.like(out_row)
        cur = Signal(bits_for(self.n_layers))                     # the running layer (selects its shift)
        relu_in = Signal()                                        # the running layer's inputs pass a ReLU
        fetching, first = Signal(), Signal(init=1)
        with m.If(fetching):
            with m.If(at_end):
                m.d.sync += fetching.eq(0)
            with m.Else():
                m.d.sync += [ea.eq(ea + 1), left.eq(left - 1)]
        with m.If(self.start):
            m.d.sync += [fetching.eq(1), self.busy.eq(1), self.done.eq(0), first.eq(1), out_row.eq(0),
                         cur.eq(self.layer)]
            with m.Switch(self.layer):
                for k in range(self.n_layers):
                    if self.entry_count[k]:
                        with m.Case(k):
                            m.d.sync += [ea.eq(self.entry_base[k]), left.eq(self.fetch_count(k) - 2),
                                         brow.eq(self.bias_base[k]), out_last.eq(self.row_count[k] - 1)]
                            if any(self.relu_in):
                                m.d.sync += relu_in.eq(self.relu_in[k])

        # E: the entry word, registered (memory output to memory address is too long a path for one cycle).
        e_valid, e_end = delay(m, fetching, "e_valid"), delay(m, fetching & at_end, "e_end")
        a_valid, a_end = delay(m, e_valid, "a_valid"), delay(m, e_end, "a_end")
        a_entry = delay(m, data.View(self.entry_shape, entry_data).as_value(), "a_entry")
        if self.delta_bits:                     # the running index: from 0 at a row's start, plus each step
            a_index, opens_row = Signal.like(self.act_addr, name="a_index"), Signal(init=1, name="opens_row")
            e = data.View(self.entry_shape, entry_data)
            with m.If(e_valid):
                m.d.sync += [a_index.eq(Mux(opens_row, 0, a_index) + e.index), opens_row.eq(e.last)]
            with m.If(self.start):
                m.d.sync += opens_row.eq(1)
        else:
            a_index = data.View(self.entry_shape, a_entry).index

        # A: the entry's activation address goes out to the buffer (data back in X).
        m.d.comb += [self.act_valid.eq(a_valid), self.act_addr.eq(a_index)]
        x_valid, x_end, x_entry = delay(m, a_valid, "x_valid"), delay(m, a_end, "x_end"), delay(m, a_entry, "x_entry")

        # X: the activation registered beside its weight; Y: again, at the multiplier; P: the product.
        ys_valid, ys_end = delay(m, x_valid, "y_stage_valid"), delay(m, x_end, "y_stage_end")
        ys_entry = delay(m, x_entry, "y_stage_entry")
        p_valid, p_end = delay(m, ys_valid, "p_valid"), delay(m, ys_end, "p_end")
        p_entry = delay(m, ys_entry, "p_entry")
        r_valid, r_end, r_entry = delay(m, p_valid, "r_valid"), delay(m, p_end, "r_end"), delay(m, p_entry, "r_entry")
        r = data.View(self.entry_shape, r_entry)
        x = self.act_data
        if any(self.relu_in):                   # the layer's inputs through a ReLU, as they enter the X register
            x = Mux(relu_in & x[-1], 0, x)
        r_p, r_signs = multiply(m, data.View(self.entry_shape, x_entry).weight, x, self.dsp)

        # R: fold the row (or each slice of it). `first` marks that the next entry opens one. S: its value.
        fold_end = r.slice_last if self.slices else r.last
        s_valid = Signal()
        b_a = Signal(self.acc_shape, reset_less=True)
        m.d.comb += bias_rd.addr.eq(brow)
        m.d.sync += s_valid.eq(r_valid & fold_end)
        with m.If(r_valid):
            m.d.sync += first.eq(fold_end)
            with m.If(r.last & ~r_end):
                m.d.sync += brow.eq(brow + 1)
        dense_of = (lambda entry: data.View(self.entry_shape, entry).dense) if "dense" in self.entry_shape.members \
            else (lambda entry: Const(0, 1))
        self._reduce(m, valid=r_valid, last=fold_end, dense=dense_of(r_entry), p=r_p, signs=r_signs, first=first,
                     result=b_a, next_dense=dense_of(p_entry))
        # The value is ready FOLD_DELAY cycles after its last product: its marker and bias wait with it.
        fold_valids, b_bias = wait_for_fold(m, s_valid, bias_rd.data)    # bias read in R with the row's address
        b_valid = fold_valids[-1]

        # B: add the bias (with slices: add each slice's value into its row's, which starts at the bias).
        m_v = Signal(self.v_shape, reset_less=True)
        row_valids = fold_valids
        if self.slices:
            row_ends = [delay(m, r_valid & r.last, "s_row_end")]
            for i in range(FOLD_DELAY - 1):
                row_ends.append(delay(m, row_ends[-1], f"fold_row_end{i + 1}"))
            row_valids = [v & e for v, e in zip(fold_valids, row_ends)]       # the markers of row ends
            b_row_end = row_ends[-1]
            opens = Signal(init=1, name="slice_opens_row")
            with m.If(b_valid):
                m.d.sync += [m_v.eq(Mux(opens, b_bias, m_v) + b_a), opens.eq(b_row_end)]
            with m.If(self.start):                  # no slice is in flight then: every run starts with a row
                m.d.sync += opens.eq(1)
            m_valid = delay(m, b_valid & b_row_end, "m_valid")
        else:
            m_valid = delay(m, b_valid, "m_valid")
            m.d.sync += m_v.eq(b_a + b_bias)

        # M1..Q2: requantize with the layer's parameters. The multiplier's operand is this PE's own copy of `mult`:
        # the engine's register is shared by every PE (and Yosys merges it with any register of equal inputs), too
        # far from most DSPs for a DSP's clock period. The copy follows `mult` while this PE is idle and holds
        # while it runs: an enable of this PE's own (`busy`), so that Yosys does not merge the copies of PEs that
        # start together.
        mult = Signal.like(self.mult, name="mult_copy", reset_less=True)
        with m.If(~self.busy):
            m.d.sync += mult.eq(self.mult)
        row_valids = row_valids + [m_valid]
        q_valid, y, _ = requant_stages(
            m, valid=m_valid, v=m_v, out_shape=signed(self.out_bits),
            mult=mult, neg_mult=self.neg_mult, rounding=self.rounding, lo=self.los, hi=self.his,
            shift=self.shifts, shift_select=cur, valids=row_valids, dsp=self.dsp)
        m.d.comb += [self.result.valid.eq(q_valid), self.result.payload.row.eq(out_row),
                     self.result.payload.value.eq(y)]
        with m.If(q_valid):
            m.d.sync += out_row.eq(out_row + 1)
            with m.If(out_row == out_last):
                m.d.sync += [self.done.eq(1), self.busy.eq(0)]
        self._rows_in_flight(m, row_valids)
        return m

    def _rows_in_flight(self, m, valids):
        """The valid bits of the stages from the row end register to the output, one per row in flight: nothing
        here (the formal harness counts them)."""

    def fetch_count(self, k):
        """Entries fetched when layer `k` runs: all of its segment (a hook for the deliberately broken PEs)."""
        return self.entry_count[k]

    def _reduce(self, m, *, valid, last, dense, p, signs, first, result, next_dense):
        """R, R1, R2, S: fold one product into the running row value (mam, mac, or either, chosen by the layer's
        `mac` bit); FOLD_DELAY cycles after a row's last product, `result` holds the row's value. `next_dense`: the
        dense flag of the entry behind (in P). (A method: the formal harness observes it, broken PEs replace it.)"""
        fold = dict(valid=valid, last=last, dense=dense, p=p, signs=signs, first=first, next_dense=next_dense,
                    product_shape=self.product_shape, acc_shape=self.acc_shape, unroll=self.unroll)
        if len(self.kinds) == 1:
            fold_stage(m, self.kinds[0], result=result, **fold)
            return
        a_mam, a_mac = Signal(self.acc_shape, reset_less=True), Signal(self.acc_shape, reset_less=True)
        fold_stage(m, "mam", result=a_mam, **fold)
        fold_stage(m, "mac", result=a_mac, **fold)
        # The kind is this PE's own copy, like `mult`: the engine's register fans out to every PE's select, a route
        # that took 5.5-6 ns of a UP5K period in front of the bias adder.
        mac = Signal(name="mac_copy")
        with m.If(~self.busy):
            m.d.sync += mac.eq(self.mac)
        m.d.comb += result.eq(Mux(mac, a_mac, a_mam))
