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
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .options import EngineOptions
from .pe import KINDS, PE, Segment, bits_for as _bits, index_steps, value_shapes
from .stages import config_shapes, delay, requant_constants

__all__ = ["PESegment", "LayerSpec", "BufferMemory", "BufferPlan", "LayerEngine", "pe_segments",
           "relative_index_misfit"]


@dataclass(frozen=True, eq=False)
class PESegment:
    """The part of one layer one PE computes: its rows' entry stream (``index`` = input feature number), their
    biases, and which output rows they are (ascending); ``slice_last`` ends the slices of a layer with splits."""

    weight: np.ndarray
    index: np.ndarray
    last: np.ndarray
    dense: np.ndarray
    bias: np.ndarray
    rows: np.ndarray
    slice_last: np.ndarray = None

    @property
    def entries(self):
        return len(self.weight)


@dataclass(frozen=True, eq=False)
class LayerSpec:
    """One layer as plain values: the layer contract's scalars and one PESegment per PE (empty when it has no
    rows). hw/specs.py builds these from golden's layer and assignment."""

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
    splits: int = 1
    relu_in: bool = False

    @property
    def pes(self):
        return len(self.segments)

    @property
    def load(self):
        return [s.entries for s in self.segments]


def _result_write(pe, enable, address=lambda row: row):
    """A buffer write of `pe`'s row results: (enable, address of the row, value)."""
    return enable, address(pe.result.payload.row), pe.result.payload.value


@dataclass(frozen=True, eq=False)
class BufferMemory:
    """One memory of the activation buffers and who uses it: what the engine wires, and what estimates read.

    buffer: 0 or 1, or None for a paired memory (both buffers, the buffer its top address bit); replica, bank: its
    place in ``buffers[b][replica][bank]``; reader: the PE that fetches from it, writer: the PE whose row results
    it stores (None: no PE); host_writes: the host loads inputs into it; host_reads: the host reads outputs from
    it."""

    name: str
    memory: Memory
    buffer: int
    replica: int
    bank: int
    reader: int = None
    writer: int = None
    host_writes: bool = False
    host_reads: bool = False


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


def pe_segments(layers, plan):
    """Per layer, per PE: the PE's Segment (activation addresses where its entries' inputs are in `plan`), or
    None for a PE without rows in that layer."""
    return [[None if seg.entries == 0 else
             Segment(seg.weight, plan.input_address(k)[np.asarray(seg.index, dtype=np.int64)], seg.last,
                     seg.dense, seg.bias, seg.slice_last) for seg in sp.segments]
            for k, sp in enumerate(layers)]


def relative_index_misfit(layers, pes, delta_bits):
    """Why the engine of `layers` (LayerSpecs with the fillers of `delta_bits`-bit relative indices) on `pes`
    PEs cannot take such entries, or None. The fillers bridge gaps between input numbers; each PE steps through
    activation addresses, which are the input numbers for layer 0 and for every layer on one PE, but elsewhere
    follow where the previous layer's PEs wrote them."""
    for k, segs in enumerate(pe_segments(layers, BufferPlan(layers, pes))):
        for seg in segs:
            if seg is None:
                continue
            try:
                index_steps(seg.address, seg.last, delta_bits)
            except ValueError as e:
                if k:
                    return (f"layer {k + 1}'s inputs lie where layer {k}'s {pes} PEs wrote them, not in input "
                            "order, so relative indices need one PE")
                return str(e)
    return None


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

    `options` (hw/options.py): ``onehot_banks``: each PE picks its activation word by registered one-hot bank hits
    and an AND-OR, not by a registered binary bank select and a mux (the same words, the same cycle; faster on the
    ECP5, see fpga/targets.py).

    With a `weight_ram` (hw/pe.py), the host writes PE ``w_pe``'s entry word ``w_addr`` with ``w_we``/``w_data``
    while the engine is idle (writes during a run are ignored). ``w_addr`` must be below that PE's entry count:
    each PE takes only the address bits it needs, so a write beyond lands on another entry (the host link refuses
    such a write, BAD_ADDRESS).

    ``paired_buffers``: when both buffers are read (two layers or more), buffer 0's and buffer 1's memories of one
    (replica, bank) are one memory, the buffer the top address bit (:attr:`buffer_base`). A layer reads one buffer
    and writes the other, so each PE still needs one read and one write port of it: half the memories, twice as
    deep, and no pick between the buffers after the read. (On the iCE40 a block RAM holds both; separate, the second
    buffer's replicas were flip-flops and LUT read muxes, ~1,050 of the UP5K's 5280 cells at P = 4.)
    """

    LATENCY = PE.LATENCY
    OVERHEAD = 2
    Y_LATENCY = 2       # cycles from y_addr to its y_data: the row map's register, then the buffer's read

    def __init__(self, layers, options=None):
        layers = list(layers)
        self.options = options = options or EngineOptions()
        self.onehot_banks = options.onehot_banks
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
        segments = pe_segments(layers, plan)
        self.acc_shape, self.v_shape = value_shapes(
            [(sp.kind, seg) for sp, segs in zip(layers, segments) for seg in segs if seg is not None], self.act_bits)
        self.active = [[seg.entries > 0 for seg in sp.segments] for sp in layers]
        self.pe = []
        for p in range(pes):
            segs = [segments[k][p] for k in range(len(layers))]
            self.pe.append(None if all(s is None for s in segs) else PE(
                segments=segs, kinds=kinds, slices=any(sp.splits > 1 for sp in layers),
                relu_in=[sp.relu_in for sp in layers], shifts=[sp.shift for sp in layers], act_bits=self.act_bits,
                clamps=[requant_constants(mult=sp.mult, shift=sp.shift, relu=sp.relu, out_bits=sp.out_bits)
                        for sp in layers],
                w_bits=self.w_bits, out_bits=self.out_bits,
                addr_bits=plan.addr_bits, acc_shape=self.acc_shape, v_shape=self.v_shape, unroll=options.unroll,
                dsp=options.dsp, weight_ram=options.weight_ram, delta_bits=options.delta_bits))
        # buffers[b][replica][bank]; buffer b's words start at buffer_base[b] of its memory. `buffer_memories`
        # says who reads and writes each one: the ports are wired from it, and estimates read it.
        self.paired = options.paired_buffers and all(plan.read)
        self.buffer_memories = []
        if self.paired:                         # both buffers are pes x pes: one memory per (replica, bank)
            self.buffer_base = [0, 1 << plan.local_bits]
            for r in range(pes):
                for w in range(pes):
                    mem = Memory(shape=signed(self.act_bits), depth=self.buffer_base[1] + plan.depth[1], init=[])
                    self.buffer_memories.append(BufferMemory(
                        f"buf_r{r}_b{w}", mem, None, r, w, reader=self._built(r), writer=self._built(w),
                        host_writes=True, host_reads=r == 0))
            pairs = [[bm.memory for bm in self.buffer_memories[r * pes:(r + 1) * pes]] for r in range(pes)]
            self.buffers = [pairs, pairs]
        else:
            self.buffer_base = [0, 0]
            for b in (0, 1):
                for r in range(plan.replicas[b]):
                    for w in range(plan.banks[b]):
                        mem = Memory(shape=signed(self.act_bits), depth=plan.depth[b], init=[])
                        self.buffer_memories.append(BufferMemory(
                            f"buf{b}_r{r}_b{w}", mem, b, r, w,
                            reader=self._built(r) if plan.read[b] else None,
                            writer=self._built(w) if plan.written[b] else None,
                            host_writes=b == 0, host_reads=b == plan.output_buffer and r == 0))
            self.buffers = [[[bm.memory for bm in self.buffer_memories if (bm.buffer, bm.replica) == (b, r)]
                             for r in range(plan.replicas[b])] for b in (0, 1)]
        last = layers[-1]
        self.y_map = [int(a) for a in plan.physical(plan.out_bank[-1], plan.out_pos[-1])]
        self.weight_ram = options.weight_ram
        built = [pe for pe in self.pe if pe is not None]
        loading = {} if options.weight_ram is None else {
            "w_we": In(1), "w_pe": In(_bits(pes)), "w_addr": In(_bits(max(pe.n_entries for pe in built))),
            "w_data": In(built[0].entry_shape.size)}
        super().__init__(loading | {
            "start": In(1),
            "layer": In(_bits(len(layers))),
            "busy": Out(1),
            "done": Out(1),
            "finishing": Out(1),
            "cycles": Out(options.counter_bits),
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
        bank_data = self._buffer_ports(m, in_par, running, host_we, host_addr, host_data, y_phys)

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

    def _built(self, p):
        """`p` if PE p is built (it has rows in some layer), else None."""
        return p if p < len(self.pe) and self.pe[p] is not None else None

    def _buffer_ports(self, m, in_par, running, host_we, host_addr, host_data, y_phys):
        """The ports of every buffer memory, as :attr:`buffer_memories` declares them: (b, r) -> the read data of
        replica r's banks of buffer b (b = 0 for paired memories). The running layer reads buffer `in_par` and
        writes the other: separate memories by enables, paired ones by their top address bit."""
        lb = self.plan.local_bits

        def at(pos, buffer):
            """The address of word `pos` (its low local_bits) of `buffer` (0, 1 or a bit) in a paired memory."""
            return Cat(pos[:lb], Const(0, lb - len(pos[:lb])), Const(buffer, 1) if isinstance(buffer, int) else buffer)

        bank_data = {}
        for bm in self.buffer_memories:
            writer = None if bm.writer is None else self.pe[bm.writer]
            reader = None if bm.reader is None else self.pe[bm.reader]
            if bm.buffer is None:                       # paired: the running layer's input and output buffer in one
                ports = dict(
                    host_write=(host_we[bm.bank], at(host_addr, 0), host_data),
                    pe_write=None if writer is None else _result_write(writer, writer.result.valid,
                                                                       lambda row: at(row, ~in_par)),
                    pe_read=None if reader is None else (reader.act_valid, at(reader.act_addr, in_par)),
                    host_read=at(y_phys, self.plan.output_buffer) if bm.host_reads else None)
            else:
                is_in = in_par if bm.buffer == 1 else ~in_par   # buffer b is the running layer's input, else output
                ports = dict(
                    host_write=(host_we[bm.bank] if bm.host_writes else Const(0, 1), host_addr, host_data),
                    pe_write=None if writer is None else _result_write(writer, writer.result.valid & ~is_in),
                    pe_read=None if reader is None else (reader.act_valid & is_in, reader.act_addr[:lb]),
                    host_read=y_phys[:lb] if bm.host_reads else None)
            data = self._memory_ports(m, bm.name, bm.memory, running, **ports)
            bank_data.setdefault((bm.buffer or 0, bm.replica), []).append(data)
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
