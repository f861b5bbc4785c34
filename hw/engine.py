"""The layer engine: P sparse PEs working on one layer at once, and the on-chip activation buffers they share.

Work split. The rows of a layer are dealt to the PEs (golden/assign.py: longest-processing-time first by entry
count); each PE walks the entry stream of its own rows exactly as the single PE does (hw/pe.py: one entry per
cycle, no bubble at row ends, the same pipeline, so the same ``LATENCY``), and the engine is done when the
most loaded PE is. All PEs are started in the same cycle; none ever waits for another.

The engine holds every layer of a network (one entry memory and one bias memory per PE, with the PE's segment of
each layer one after the other) and runs the one selected by ``layer`` at ``start``. Widths are the largest of all
layers; mam/mac, multiplier and rounding are per-layer registers loaded at ``start``; the shift and the clamp
bounds are muxes of the layers' constants, chosen by the running layer.

Activation buffers: replicated per reader, banked per writer. Each PE fetches ``x[index]`` at an arbitrary index
every cycle, and in the same cycle up to P PEs finish a row and must store it. A single buffer would need P read
and P write ports. A banked buffer (x spread over P memories) would make two PEs fetching from the same bank in
the same cycle conflict: one would stall, the run time would depend on the index pattern, and the cycle model
would no longer be ``max over PEs of entries + L``. So each of the two buffers (ping-pong: layer k reads buffer
k % 2 and writes buffer (k+1) % 2) is a P x P array of small memories, each with one read and one write port:

    buffer[b][r][w]   replica r (read only by PE r), bank w (written only by PE w, with the rows PE w computes)

PE w writes its row result into bank w of every replica (a broadcast: P memories, same address and data) and PE r
reads only its own replica, selecting the bank with the high bits of the entry's index. Fetches never conflict,
writes never collide, so nothing is queued or lost, whichever PEs finish rows in the same cycle, and the cycle
model stays exact. The cost is storage: every buffer is held P times (P x max(inputs, outputs) x act_bits bits per
buffer), in P**2 memories of ~n/P words each. That is the same bit count as plain replication (each PE a full
copy); banking by writer only splits each copy so that all P writers can store at once. A buffer that no layer
reads (the output buffer of a one-layer engine) has a single replica, read by the host. With ``paired_buffers``
(the iCE40 builds), buffer[0][r][w] and buffer[1][r][w] are one memory, the buffer its top address bit: a layer
reads one buffer and writes the other, so the pair still needs only one read and one write port.

Addresses. The entry's index field is physical: ``bank << local_bits | position``. The input of layer 0 is laid
out ``bank = i >> local_bits``, so its physical address is ``i`` itself and the host writes ``x[i]`` at
``x_addr = i``; the input of layer k > 0 is where layer k-1's PEs wrote it (bank = PE, position = the row's place
in that PE's row list). The host reads the last layer's output row ``r`` at ``y_addr = r`` (a small ROM maps it
to its bank and position), one cycle read latency, like the PE.
"""

import operator
from dataclasses import dataclass
from functools import reduce

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .dsp import check_dsp
from .pe import KINDS, entry_layout, pack_entries
from .stages import (config_shapes, delay, fold_stage, multiply, wait_for_fold, requant_constants, requant_stages,
                     signed_bits)
from .weight_ram import WeightRAM, check_weight_ram

__all__ = ["PESegment", "LayerSpec", "BufferPlan", "EnginePE", "LayerEngine"]


@dataclass(frozen=True, eq=False)
class PESegment:
    """The part of one layer one PE computes: its rows' entry stream (``index`` = input feature number), their
    biases, and which output rows they are (ascending)."""

    weight: np.ndarray
    index: np.ndarray
    last: np.ndarray
    dense: np.ndarray
    bias: np.ndarray
    rows: np.ndarray

    @property
    def entries(self):
        return len(self.weight)


@dataclass(frozen=True, eq=False)
class LayerSpec:
    """One layer as plain values: the layer contract's scalars and one PESegment per PE (empty when it has no
    rows). sim/engine_amaranth.py builds these from golden's layer and assignment."""

    kind: str
    in_bits: int
    w_bits: int
    out_bits: int
    mult: int
    shift: int
    relu: bool
    n_in: int
    n_out: int
    segments: tuple

    @property
    def pes(self):
        return len(self.segments)

    @property
    def load(self):
        return [s.entries for s in self.segments]


def _bits(n):
    return max(1, ceil_log2(max(1, n)))


def _value_bounds(layers, act_bits):
    """The largest |row value| (max + min, or the sum) and |row value + bias| any row of `layers` can reach.

    The weights are baked in, so the accumulator, the bias adder and the requantization multiplier are sized by
    what these weights can produce with any activations, not by the contract's worst case (a narrower v is what
    lets v * mult fit one DSP per PE).
    """
    x = 1 << (act_bits - 1)                     # the largest |activation|
    acc = v = 1
    for sp in layers:
        for seg in sp.segments:
            if seg.entries == 0:
                continue
            w = np.abs(np.asarray(seg.weight, dtype=np.int64))
            ends = np.flatnonzero(seg.last)
            starts = np.concatenate([[0], ends[:-1] + 1])
            row = np.add.reduceat(w, starts) if sp.kind == "mac" else 2 * np.maximum.reduceat(w, starts)
            acc = max(acc, int(row.max()) * x)
            v = max(v, int((row * x + np.abs(np.asarray(seg.bias, dtype=np.int64))).max()))
    return acc, v


class BufferPlan:
    """Where every activation lives: replicas, banks and depths of the two buffers, and physical addresses.

    A pure function of the layer specs (no hardware); the engine builds its memories from it and the simulation
    runner uses it to place inputs and find outputs.
    """

    def __init__(self, layers, pes):
        n = len(layers)
        self.pes = pes
        self.n_layers = n
        self.act_bits = max([layers[0].in_bits] + [sp.out_bits for sp in layers])
        self.read = [any(k % 2 == b for k in range(n)) for b in (0, 1)]          # by some layer's PEs
        self.written = [any((k + 1) % 2 == b for k in range(n)) for b in (0, 1)]
        self.replicas = [pes if self.read[b] else 1 for b in (0, 1)]
        self.banks = [pes if self.written[b] else 1 for b in (0, 1)]
        # Rows per PE of every layer, and the input spread over buffer 0's banks in blocks of 2**local_bits.
        max_rows = max(len(seg.rows) for sp in layers for seg in sp.segments)
        n_in = layers[0].n_in
        self.local_bits = max(_bits(max_rows), _bits(-(-n_in // self.banks[0])))
        self.bank_bits = ceil_log2(pes)
        self.addr_bits = self.local_bits + self.bank_bits
        block = 1 << self.local_bits
        depth = [max(1, min(n_in, block)), 1]
        for k, sp in enumerate(layers):
            b = (k + 1) % 2
            depth[b] = max([depth[b]] + [len(seg.rows) for seg in sp.segments])
        self.depth = depth                                         # words per bank, the same for all banks
        self.input_bank = np.arange(n_in) >> self.local_bits
        self.input_pos = np.arange(n_in) & (block - 1)
        # Output locations of each layer: the PE that computes the row, and the row's place in that PE's list.
        self.out_bank, self.out_pos = [], []
        for sp in layers:
            bank = np.zeros(sp.n_out, dtype=np.int64)
            pos = np.zeros(sp.n_out, dtype=np.int64)
            for p, seg in enumerate(sp.segments):
                bank[seg.rows] = p
                pos[seg.rows] = np.arange(len(seg.rows))
            self.out_bank.append(bank)
            self.out_pos.append(pos)
        self.input_buffer = 0
        self.output_buffer = n % 2

    def physical(self, bank, pos):
        return (np.asarray(bank, dtype=np.int64) << self.local_bits) | np.asarray(pos, dtype=np.int64)

    def input_address(self, k):
        """Physical address of every input feature of layer k, int64 [n_in of layer k]."""
        if k == 0:
            return self.physical(self.input_bank, self.input_pos)
        return self.physical(self.out_bank[k - 1], self.out_pos[k - 1])


class EnginePE(wiring.Component):
    """One PE of the layer engine: the single PE's pipeline, with its activations fetched from outside (by
    physical address, data one cycle later), its row results passed out, and its layer chosen at ``start``.

    segments: per layer, ``(weight, address, last, dense, bias)`` (address = physical index), or None when this
    PE has no rows in that layer (it must not be started for it). The configuration inputs (``mac``, ``mult``,
    ``neg_mult``, ``rounding``) must hold the running layer's values from ``start`` to ``done`` (``mult`` is taken
    at ``start``, so from there on).

    weight_ram: None, the entry words baked into a ROM; "memory" or a primitive (hw/weight_ram.py), a RAM the host
    fills through ``w_we``/``w_addr``/``w_data`` (the words of :attr:`entry_words`) before the first start.
    """

    LATENCY = 17

    def __init__(self, *, segments, kinds, shifts, clamps, act_bits, w_bits, out_bits, addr_bits, acc_shape, v_shape,
                 unroll=True, dsp=None, weight_ram=None):
        self.unroll = bool(unroll)
        self.dsp = check_dsp(dsp)
        self.weight_ram = check_weight_ram(weight_ram)
        self.kinds = tuple(sorted(set(kinds)))
        self.shifts = [int(s) for s in shifts]
        self.los, self.his = [c["lo"] for c in clamps], [c["hi"] for c in clamps]
        self.act_bits, self.w_bits, self.out_bits = act_bits, w_bits, out_bits
        self.acc_shape, self.v_shape = acc_shape, v_shape
        self.n_layers = len(segments)
        self.entry_shape = entry_layout(w_bits, 1 << addr_bits)
        words, biases = [], []
        self.entry_base, self.entry_count, self.bias_base, self.row_count = [], [], [], []
        for seg in segments:
            self.entry_base.append(len(words))
            self.bias_base.append(len(biases))
            if seg is None:
                self.entry_count.append(0)
                self.row_count.append(0)
                continue
            weight, address, last, dense, bias = seg
            words += pack_entries(self.entry_shape, weight, address, last, dense)
            biases += [int(b) for b in bias]
            self.entry_count.append(len(weight))
            self.row_count.append(len(bias))
        if not words:
            raise ValueError("a PE without rows in any layer is not built")
        self.n_entries, self.n_rows = len(words), len(biases)
        self.entry_words = words
        if weight_ram is None:
            self.entry_mem = Memory(shape=unsigned(self.entry_shape.size), depth=self.n_entries, init=words)
            loading = {}
        else:
            self.entry_mem = WeightRAM(depth=self.n_entries, width=self.entry_shape.size,
                                       primitive=None if weight_ram == "memory" else weight_ram)
            loading = {"w_we": In(1), "w_addr": In(_bits(self.n_entries)), "w_data": In(self.entry_shape.size)}
        self.bias_mem = Memory(shape=signed(signed_bits(biases)), depth=self.n_rows, init=biases)
        shapes = config_shapes(shifts)
        super().__init__(loading | {
            "start": In(1),
            "layer": In(_bits(self.n_layers)),
            "mac": In(1),
            "mult": In(shapes["mult"]),
            "neg_mult": In(shapes["neg_mult"]),
            "rounding": In(shapes["rounding"]),
            "busy": Out(1),
            "done": Out(1),
            "act_valid": Out(1),
            "act_addr": Out(addr_bits),
            "act_data": In(signed(act_bits)),
            "y_valid": Out(1),
            "y_row": Out(_bits(max(self.row_count))),
            "y_value": Out(signed(out_bits)),
        })

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
        left = Signal(signed(_bits(self.n_entries) + 1))
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
        out_row, out_last = Signal.like(self.y_row), Signal.like(self.y_row)   # rows leave in order: a counter
        cur = Signal(_bits(self.n_layers))                        # the running layer (selects its shift)
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
                            m.d.sync += [ea.eq(self.entry_base[k]), left.eq(self.entry_count[k] - 2),
                                         brow.eq(self.bias_base[k]), out_last.eq(self.row_count[k] - 1)]

        # E: the entry word, registered (memory output to memory address is too long a path for one cycle).
        e_valid, e_end = delay(m, fetching, "e_valid"), delay(m, fetching & at_end, "e_end")
        a_valid, a_end = delay(m, e_valid, "a_valid"), delay(m, e_end, "a_end")
        a_entry = delay(m, data.View(self.entry_shape, entry_data).as_value(), "a_entry")

        # A: its physical index goes out to the activation buffers (data back in X).
        m.d.comb += [self.act_valid.eq(a_valid), self.act_addr.eq(data.View(self.entry_shape, a_entry).index)]
        x_valid, x_end, x_entry = delay(m, a_valid, "x_valid"), delay(m, a_end, "x_end"), delay(m, a_entry, "x_entry")

        # X: the activation, picked from its bank, registered beside its weight; Y: again, at the multiplier (its
        # registers are y_stage_*: `y_valid` is the output port); P: the product.
        ys_valid, ys_end = delay(m, x_valid, "y_stage_valid"), delay(m, x_end, "y_stage_end")
        ys_entry = delay(m, x_entry, "y_stage_entry")
        p_valid, p_end = delay(m, ys_valid, "p_valid"), delay(m, ys_end, "p_end")
        p_entry = delay(m, ys_entry, "p_entry")
        r_valid, r_end, r_entry = delay(m, p_valid, "r_valid"), delay(m, p_end, "r_end"), delay(m, p_entry, "r_entry")
        r = data.View(self.entry_shape, r_entry)
        r_p, r_signs = multiply(m, data.View(self.entry_shape, x_entry).weight, self.act_data, self.dsp)

        # R: fold the row (mam, mac, or either, chosen by the layer's `mac` bit). S: the row value.
        s_valid = Signal()
        b_a = Signal(self.acc_shape, reset_less=True)
        m.d.comb += bias_rd.addr.eq(brow)
        m.d.sync += s_valid.eq(r_valid & r.last)
        with m.If(r_valid):
            m.d.sync += first.eq(r.last)
            with m.If(r.last & ~r_end):
                m.d.sync += brow.eq(brow + 1)
        fold = dict(valid=r_valid, last=r.last, dense=r.dense, p=r_p, signs=r_signs, first=first,
                    next_dense=data.View(self.entry_shape, p_entry).dense,
                    product_shape=self.product_shape, acc_shape=self.acc_shape, unroll=self.unroll)
        if len(self.kinds) == 1:
            fold_stage(m, self.kinds[0], result=b_a, **fold)
        else:
            a_mam, a_mac = Signal(self.acc_shape, reset_less=True), Signal(self.acc_shape, reset_less=True)
            fold_stage(m, "mam", result=a_mam, **fold)
            fold_stage(m, "mac", result=a_mac, **fold)
            # The kind is this PE's own copy, like `mult` below: the engine's register fans out to every PE's
            # select, a route that took 5.5-6 ns of a UP5K period in front of the bias adder.
            mac = Signal(name="mac_copy")
            with m.If(~self.busy):
                m.d.sync += mac.eq(self.mac)
            m.d.comb += b_a.eq(Mux(mac, a_mac, a_mam))
        # The row's value is ready FOLD_DELAY cycles after its last product: its marker and bias wait with it.
        fold_valids, b_bias = wait_for_fold(m, s_valid, bias_rd.data)    # bias read in R with the row's address
        b_valid = fold_valids[-1]

        # B: add the bias.
        m_valid = delay(m, b_valid, "m_valid")
        m_v = Signal(self.v_shape, reset_less=True)
        m.d.sync += m_v.eq(b_a + b_bias)

        # M1..Q2: requantize with the layer's parameters; the row result goes out to the engine. The multiplier's
        # operand is this PE's own copy of `mult`: the engine's register is shared by every PE (and Yosys merges
        # it with any register of equal inputs), too far from most DSPs for a DSP's clock period. The copy follows
        # `mult` while this PE is idle and holds while it runs: an enable of this PE's own (`busy`), so that Yosys
        # does not merge the copies of PEs that start together.
        mult = Signal.like(self.mult, name="mult_copy", reset_less=True)
        with m.If(~self.busy):
            m.d.sync += mult.eq(self.mult)
        q_valid, y, _ = requant_stages(
            m, valid=m_valid, v=m_v, out_shape=signed(self.out_bits),
            mult=mult, neg_mult=self.neg_mult, rounding=self.rounding, lo=self.los, hi=self.his,
            shift=self.shifts, shift_select=cur, dsp=self.dsp)
        m.d.comb += [self.y_valid.eq(q_valid), self.y_row.eq(out_row), self.y_value.eq(y)]
        with m.If(q_valid):
            m.d.sync += out_row.eq(out_row + 1)
            with m.If(out_row == out_last):
                m.d.sync += [self.done.eq(1), self.busy.eq(0)]
        return m


class LayerEngine(wiring.Component):
    """P PEs running one layer of `layers` (a list of LayerSpec, all with the same number of PEs) at a time.

    Ports: load the first layer's inputs with ``x_we``/``x_addr``/``x_data`` (``x_addr`` = input number; a write
    lands a cycle later, in time for any start); set
    ``layer`` and pulse ``start`` (taken when idle, or in the cycle ``done`` rises); ``done`` rises two cycles
    after the last row of the layer is stored (the PE's done, then all PEs' done, registered) and holds until the
    next ``start``; ``finishing`` is high only in the cycle ``done`` rises (a sequencer that starts the next layer
    then need not wait for the held flag); ``cycles`` counts ``max over PEs of entries + LATENCY + OVERHEAD`` from
    start to done. Layer k reads buffer k % 2 and writes buffer (k+1) % 2, so running layers 0, 1, ... in order
    runs the network.
    ``y_addr`` = output row of the last layer, read on ``y_data`` :attr:`Y_LATENCY` (2) cycles later; a new row
    may be addressed every cycle.

    ``onehot_banks``: each PE picks its activation word by registered one-hot bank hits and an AND-OR, not by a
    registered binary bank select and a mux (the same words, the same cycle; faster on the ECP5, see fpga/targets.py).

    With a `weight_ram` (EnginePE), the host writes PE ``w_pe``'s entry word ``w_addr`` with ``w_we``/``w_data``
    while the engine is idle (writes during a run are ignored). ``w_addr`` must be below that PE's entry count:
    each PE takes only the address bits it needs, so a write beyond lands on another entry (the host link refuses
    such a write, BAD_ADDRESS).

    ``paired_buffers``: when both buffers are read (two layers or more), buffer 0's and buffer 1's memories of one
    (replica, bank) are one memory, the buffer the top address bit (:attr:`buffer_base`). A layer reads one buffer
    and writes the other, so each PE still needs one read and one write port of it: half the memories, twice as
    deep, and no pick between the buffers after the read. (On the iCE40 a block RAM holds both; separate, the second
    buffer's replicas were flip-flops and LUT read muxes, ~1,050 of the UP5K's 5280 cells at P = 4.)
    """

    LATENCY = EnginePE.LATENCY
    OVERHEAD = 2
    Y_LATENCY = 2       # cycles from y_addr to its y_data: the row map's register, then the buffer's read

    def __init__(self, layers, *, counter_bits=32, unroll=True, dsp=None, weight_ram=None, onehot_banks=False,
                 paired_buffers=False):
        layers = list(layers)
        self.onehot_banks = bool(onehot_banks)
        if not layers:
            raise ValueError("need at least one layer")
        pes = layers[0].pes
        if any(sp.pes != pes for sp in layers) or not pes:
            raise ValueError("every layer needs one segment per PE")
        for sp in layers:
            if sp.kind not in KINDS:
                raise ValueError(f"kind must be one of {KINDS}, not {sp.kind!r}")
        self.layers = layers
        self.n_pes = pes
        self.plan = plan = BufferPlan(layers, pes)
        self.act_bits = plan.act_bits
        self.w_bits = max(sp.w_bits for sp in layers)
        self.out_bits = max(sp.out_bits for sp in layers)
        kinds = {sp.kind for sp in layers}
        acc_bound, v_bound = _value_bounds(layers, self.act_bits)
        self.acc_shape = signed(signed_bits([-acc_bound, acc_bound]))
        self.v_shape = signed(signed_bits([-v_bound, v_bound]))
        self.active = [[seg.entries > 0 for seg in sp.segments] for sp in layers]
        self.pe = []
        for p in range(pes):
            segs = []
            for k, sp in enumerate(layers):
                seg = sp.segments[p]
                segs.append(None if seg.entries == 0 else
                            (seg.weight, plan.input_address(k)[np.asarray(seg.index, dtype=np.int64)],
                             seg.last, seg.dense, seg.bias))
            self.pe.append(None if all(s is None for s in segs) else EnginePE(
                segments=segs, kinds=kinds, shifts=[sp.shift for sp in layers], act_bits=self.act_bits,
                clamps=[requant_constants(mult=sp.mult, shift=sp.shift, relu=sp.relu, out_bits=sp.out_bits)
                        for sp in layers],
                w_bits=self.w_bits, out_bits=self.out_bits,
                addr_bits=plan.addr_bits, acc_shape=self.acc_shape, v_shape=self.v_shape, unroll=unroll,
                dsp=dsp, weight_ram=weight_ram))
        # buffers[b][replica][bank]; buffer b's words start at buffer_base[b] of its memory.
        self.paired = bool(paired_buffers) and all(plan.read)
        if self.paired:                         # both buffers are pes x pes: one memory per (replica, bank)
            self.buffer_base = [0, 1 << plan.local_bits]
            pairs = [[Memory(shape=signed(self.act_bits), depth=self.buffer_base[1] + plan.depth[1], init=[])
                      for _ in range(pes)] for _ in range(pes)]
            self.buffers = [pairs, pairs]
        else:
            self.buffer_base = [0, 0]
            self.buffers = [[[Memory(shape=signed(self.act_bits), depth=plan.depth[b], init=[])
                              for _ in range(plan.banks[b])] for _ in range(plan.replicas[b])] for b in (0, 1)]
        last = layers[-1]
        self.y_map = [int(a) for a in plan.physical(plan.out_bank[-1], plan.out_pos[-1])]
        self.weight_ram = weight_ram
        built = [pe for pe in self.pe if pe is not None]
        loading = {} if weight_ram is None else {
            "w_we": In(1), "w_pe": In(_bits(pes)), "w_addr": In(_bits(max(pe.n_entries for pe in built))),
            "w_data": In(built[0].entry_shape.size)}
        super().__init__(loading | {
            "start": In(1),
            "layer": In(_bits(len(layers))),
            "busy": Out(1),
            "done": Out(1),
            "finishing": Out(1),
            "cycles": Out(counter_bits),
            "x_we": In(1),
            "x_addr": In(_bits(layers[0].n_in)),
            "x_data": In(signed(layers[0].in_bits)),
            "y_addr": In(_bits(last.n_out)),
            "y_data": Out(signed(last.out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        plan, pes, n = self.plan, self.n_pes, len(self.layers)
        lb = plan.local_bits

        cur = Signal(_bits(n))
        running, done_r = Signal(), Signal()
        in_par = cur[0] if n > 1 else Const(0, 1)

        # Per-layer configuration, loaded at start and held until the next.
        shapes = config_shapes([sp.shift for sp in self.layers])
        cfg = {"mac": Signal()} | {k: Signal(v, name=f"cfg_{k}") for k, v in shapes.items()}
        active_new, active_cur = Signal(pes), Signal(pes)
        for sel, mask in ((self.layer, active_new), (cur, active_cur)):
            with m.Switch(sel):
                for k in range(n):
                    with m.Case(k):
                        m.d.comb += mask.eq(sum(1 << p for p in range(pes) if self.active[k][p]))

        # The hand-over from one layer to the next is registered at both ends, a cycle each (OVERHEAD): the PEs'
        # done flags are gathered into `all_done`, and `go` reaches the PEs as a registered start, so neither the
        # gathering nor the PEs' start logic shares a clock period with the sequencer's decision.
        pe_done = Signal(pes)
        go, all_done = Signal(), Signal()
        for p, pe in enumerate(self.pe):
            if pe is None:
                continue
            m.submodules[f"pe{p}"] = pe
            m.d.comb += [getattr(pe, k).eq(v) for k, v in cfg.items()]
            m.d.comb += [pe_done[p].eq(pe.done), pe.layer.eq(cur)]
            if self.weight_ram is not None:
                m.d.comb += [pe.w_we.eq(self.w_we & (self.w_pe == p) & ~running), pe.w_addr.eq(self.w_addr),
                             pe.w_data.eq(self.w_data)]
            m.d.sync += pe.start.eq(go & active_new[p])
        # Held low in the cycle of `go` and the next (the PEs' start): the done flags of the layer before are still
        # high in those two cycles.
        starting = delay(m, go, "starting")
        m.d.sync += all_done.eq(~go & ~starting & ((pe_done | ~active_cur) == (1 << pes) - 1))
        finish = Signal()
        m.d.comb += finish.eq(running & all_done)
        m.d.comb += go.eq(self.start & (~running | finish))

        m.d.comb += [self.done.eq(finish | done_r), self.finishing.eq(finish), self.busy.eq(running & ~finish)]
        with m.If(running & ~finish):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(finish):
            m.d.sync += [running.eq(0), done_r.eq(1)]
        with m.If(go):
            m.d.sync += [running.eq(1), done_r.eq(0), cur.eq(self.layer), self.cycles.eq(0)]
            with m.Switch(self.layer):
                for k in range(n):
                    with m.Case(k):
                        m.d.sync += [cfg[key].eq(value) for key, value in self.layer_config(k).items()]

        # Host access: inputs into buffer 0 (physical address = input number), outputs through the row map. The
        # map's output is registered (Y_LATENCY): the map, the output buffer's read mux and its read register in one
        # cycle were the slowest path of several designs (27 ns on the iCE40 at P = 5, a flip-flop output buffer).
        y_phys = Signal(plan.addr_bits)
        with m.Switch(self.y_addr):                     # a small ROM in logic: output row -> bank, position
            for r, a in enumerate(self.y_map):
                with m.Case(r):
                    m.d.sync += y_phys.eq(a)
        x_bank = self.x_addr[lb:] if len(self.x_addr) > lb else Const(0, 1)
        # Host writes land a cycle late, from registers with the bank already chosen (the engine's `running`, the
        # bank decode and the address muxes in front of a LUT RAM's write port were the ECP5 top level's longest
        # path). A start a cycle after the last write reads the buffer cycles later.
        host_we = Signal(plan.banks[0])
        host_addr, host_data = Signal(lb), Signal.like(self.x_data)
        m.d.sync += [host_addr.eq(self.x_addr[:lb]), host_data.eq(self.x_data)]
        m.d.sync += [host_we[w].eq(self.x_we & ~running & (x_bank == w)) for w in range(plan.banks[0])]

        # The buffers: replica r read by PE r, bank w written by PE w (and by the host for buffer 0).
        if self.paired:
            bank_data = self._paired_ports(m, in_par, running, host_we, host_addr, host_data, y_phys)
        else:
            bank_data = self._separate_ports(m, in_par, running, host_we, host_addr, host_data, y_phys)

        def select(datas, bank_sel):
            return datas[0] if len(datas) == 1 else Array(datas)[bank_sel]

        # Each PE's fetch: the bank chosen by the index's high bits, registered alongside the synchronous read.
        for r, pe in enumerate(self.pe):
            if pe is None:
                continue
            if self.onehot_banks:
                self._fetch_by_hits(m, pe, r, bank_data, in_par)
                continue
            sel = Signal(max(1, plan.bank_bits), name=f"pe{r}_bank")
            if plan.bank_bits:
                m.d.sync += sel.eq(pe.act_addr[lb:])
            srcs = {b: select(bank_data[b, r], sel) for b in self.fetched_buffers}
            if len(srcs) == 2:
                m.d.comb += pe.act_data.eq(Mux(in_par, srcs[1], srcs[0]))
            else:
                m.d.comb += pe.act_data.eq(srcs[0])

        y_sel = Signal(max(1, plan.bank_bits))
        if plan.bank_bits:
            m.d.sync += y_sel.eq(y_phys[lb:])
        m.d.comb += self.y_data.eq(select(bank_data[0 if self.paired else plan.output_buffer, 0], y_sel))
        return m

    def layer_config(self, k):
        """What the PEs' per-layer configuration inputs hold while layer `k` runs: {port name: value}."""
        sp = self.layers[k]
        consts = requant_constants(mult=sp.mult, shift=sp.shift, relu=sp.relu, out_bits=sp.out_bits)
        return {"mac": int(sp.kind == "mac")} | {key: consts[key]
                                                 for key in config_shapes([s.shift for s in self.layers])}

    @property
    def fetched_buffers(self):
        """The buffers the PEs fetch from, as keys of the read data: both memories' (0 and 1), or the pairs' (0)."""
        return [0] if self.paired else [b for b in (0, 1) if self.plan.read[b]]

    def _separate_ports(self, m, in_par, running, host_we, host_addr, host_data, y_phys):
        """The ports of separate buffers: (b, r) -> the read data of replica r's banks of buffer b."""
        plan, lb = self.plan, self.plan.local_bits
        bank_data = {}
        for b in (0, 1):
            is_in = in_par if b == 1 else ~in_par       # buffer b is the running layer's input, else its output
            for r in range(plan.replicas[b]):
                datas = []
                for w in range(plan.banks[b]):
                    writer = self.pe[w] if plan.written[b] else None
                    reader = self.pe[r] if plan.read[b] else None
                    datas.append(self._memory_ports(
                        m, f"buf{b}_r{r}_b{w}", self.buffers[b][r][w], running,
                        host_write=(host_we[w] if b == 0 else Const(0, 1), host_addr, host_data),
                        pe_write=None if writer is None else (writer.y_valid & ~is_in, writer.y_row, writer.y_value),
                        pe_read=None if reader is None else (reader.act_valid & is_in, reader.act_addr[:lb]),
                        host_read=y_phys[:lb] if b == plan.output_buffer and r == 0 else None))
                bank_data[b, r] = datas
        return bank_data

    def _paired_ports(self, m, in_par, running, host_we, host_addr, host_data, y_phys):
        """The ports of paired buffers: (0, r) -> the read data of replica r's memories. The running layer reads
        buffer `in_par` and writes the other: the top address bit."""
        plan, lb, pes = self.plan, self.plan.local_bits, self.n_pes

        def at(pos, buffer):
            """The address of word `pos` (its low local_bits) of `buffer` (0, 1 or a bit)."""
            return Cat(pos[:lb], Const(0, lb - len(pos[:lb])), Const(buffer, 1) if isinstance(buffer, int) else buffer)

        bank_data = {}
        for r in range(pes):
            datas = []
            for w in range(pes):
                writer, reader = self.pe[w], self.pe[r]     # into the running layer's output buffer, from its input
                datas.append(self._memory_ports(
                    m, f"buf_r{r}_b{w}", self.buffers[0][r][w], running,
                    host_write=(host_we[w], at(host_addr, 0), host_data),
                    pe_write=None if writer is None else (writer.y_valid, at(writer.y_row, ~in_par), writer.y_value),
                    pe_read=None if reader is None else (reader.act_valid, at(reader.act_addr, in_par)),
                    host_read=at(y_phys, plan.output_buffer) if r == 0 else None))
            bank_data[0, r] = datas
        return bank_data

    @staticmethod
    def _memory_ports(m, name, mem, running, *, host_write, pe_write, pe_read, host_read):
        """One buffer memory's ports; returns its read data. Writes: the PE's `pe_write` (enable, address, value),
        else the host's `host_write` (enable, address, value). Reads: the PE's `pe_read` (enable, address) while
        `running`, else the host's `host_read` address (on the memory the host reads the outputs from)."""
        m.submodules[name] = mem
        wr, rd = mem.write_port(), mem.read_port()
        # Every address stays within its memory, even when not enabled (CXXRTL asserts it).
        host_en, host_addr, host_data = host_write
        pe_en = Signal(name=f"{name}_pe_en")
        waddr, wdata = Mux(host_en, host_addr, 0), host_data
        if pe_write is not None:
            en, addr, value = pe_write
            m.d.comb += pe_en.eq(en)
            waddr, wdata = Mux(pe_en, addr, waddr), Mux(pe_en, value, wdata)
        m.d.comb += [wr.en.eq(pe_en | host_en), wr.addr.eq(waddr), wr.data.eq(wdata)]
        raddr = Const(0, 1) if pe_read is None else Mux(pe_read[0], pe_read[1], 0)
        m.d.comb += rd.addr.eq(raddr if host_read is None else Mux(running, raddr, host_read))
        return rd.data

    def _fetch_by_hits(self, m, pe, r, bank_data, in_par):
        """PE r's activation word with ``onehot_banks``: one hit bit per (buffer, bank) it reads, decoded from the
        index's high bits and registered alongside the synchronous read, and the OR of the hit banks' words. (With
        P = 8 on the ECP5, the binary bank select, then the buffer's, was five LUT levels and the slowest path.)"""
        plan, lb = self.plan, self.plan.local_bits
        sources = [(b, w, d) for b in self.fetched_buffers for w, d in enumerate(bank_data[b, r])]
        if len(sources) == 1:                                   # one word: nothing to pick
            m.d.comb += pe.act_data.eq(sources[0][2])
            return
        words = []
        for b, w, d in sources:
            is_in = Const(1, 1) if self.paired else in_par if b == 1 else ~in_par
            hit = Signal(name=f"pe{r}_hit{b}_{w}")
            m.d.sync += hit.eq(is_in & (pe.act_addr[lb:] == w) if plan.bank_bits else is_in)
            words.append(Mux(hit, d, 0))
        m.d.comb += pe.act_data.eq(reduce(operator.or_, words))
