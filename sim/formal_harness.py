"""The formal harness of the PE: Amaranth properties around the PE every engine builds (hw/pe.py), for
SymbiYosys to prove (sim/formal.py runs it).

What is symbolic (the proof covers every value) and what is fixed:

* **activations**: symbolic. The activation buffer's power-on contents are free (its ``$meminit`` cell is dropped
  from the RTLIL) and the host may rewrite it through ``x_we``/``x_addr``/``x_data`` whenever the PE is idle.
* **biases**: symbolic, any 32-bit value (the bias memory is built 32 bits wide and its ``$meminit`` is
  dropped too).
* **entry memory**: with :meth:`PEConfig.symbolic` every word (weight, index, last, dense) is symbolic, assumed
  only to be a stream ``golden.encode`` could produce for *some* layer of that size: exactly ``rows`` entries end
  a row and the final entry ends one; indices are below ``n_in`` and distinct within a row; a zero weight only
  as the single entry of an (empty) row; ``dense`` set exactly when the entry's row has a nonzero weight in every
  column. So one proof covers every sparsity pattern and every weight value with that many entries and rows.
  With :meth:`PEConfig.from_layer` / :meth:`PEConfig.from_stream` the entry memory is the given image (assumed
  at every cycle: the induction step starts from arbitrary states, memories included).
* **control**: ``start``, ``x_we``, ``x_addr``, ``x_data`` and the sync domain's reset are free inputs at every
  cycle (back-to-back runs, ``start`` while busy, reset at any time). The harness takes ``start`` only while the
  PE is idle, as the engines do. The one assumption on the host: no activation write while ``busy``.
* **fixed**: kind, widths, ``n_in``, the entry and row counts, and mult, shift, relu (the PE's configuration
  inputs hold the layer's values, as the engines hold them through a run), ``splits`` and ``relu_in``.
* **relative indices** (``delta_bits`` > 0): each word holds the step from the previous entry's index (from 0 at a
  row's start) and no ``dense`` flag. The symbolic stream is any whose step sums (the absolute indices) stay below
  ``n_in`` and rise within a row, with zero weights (fillers, empty rows) anywhere and, for MAM, no row without a
  pruned weight (``golden.encode`` refuses those); the reference reads the absolute indices. So the proof covers
  the PE's running index as well as its datapath.
* **splits** (mam): with ``splits`` > 1 the stream is also assumed to be what ``golden.encode`` makes of such a
  layer: indices ascend within a row, ``slice_last`` ends each slice's run of entries (and every row), and
  ``dense`` is the entry's slice having a nonzero weight in every column of the slice. The reference folds max
  + min per slice, 0 competing exactly when the slice has a pruned weight, and adds the slices into the row.
  With ``relu_in`` the products are of ``max(x, 0)``.

Properties, asserted at every cycle; ``t`` counts the cycles of the current run (``t = 1`` on the cycle after
``start`` is taken), E entries, R rows, L = ``golden.PE_LATENCY`` (the contract, not ``PE.LATENCY``):

(a) ``a_row_value``: at every row end the PE's registered row value equals the reference: max + min (mam) or the
    sum (mac) of the row's products ``weight * x[index]``, with 0 competing in max and min exactly when some
    column of the row has no nonzero weight (computed from the indices and weights, not from ``dense``), i.e.
    max/min over all ``n_in`` columns of the dense weight row, as the layer contract says; the harness folds it
    along its own timeline. ``a_rows_in_order``, ``a_row_address``: each ``y_valid`` comes in a run and carries the
    next row number.
    ``a_output_value``: ``y_value`` is the contract's formula (bias, mult, rounding, arithmetic shift, ReLU,
    saturation) of that row value. ``a_rows_in_flight``: the valid bits of the stages between the reduce
    stage and the output count exactly the rows reduced but not yet written, and are all clear outside a run (an
    invariant that keeps the induction depth one run, however deep the pipeline).
    With splits, ``a_slice_value`` takes the place of ``a_row_value``: at every slice end the fold's value is the
    slice's max + min; the row's sum of slices is checked by ``a_output_value``.
(b) ``b_entry_consumed_in_order``, ``b_no_entry_skipped``: the reduce stage takes an entry exactly at
    ``t = F .. E + F - 1`` (F = ``PE.FOLD_AT``), one per cycle; a shadow counter of taken entries equals
    ``t - F`` each time and E at the end (``c_run_complete``), so every entry is used exactly once, in order, none dropped and none repeated.
    ``b_entry_last_dense_first``, ``b_entry_product``, ``b_entry_row``: the i-th taken entry carries entry i's
    last and dense bits, its product, the "opens a row" flag and belongs to the row being reduced.
(c) ``c_busy_for_entries_plus_latency``: ``busy`` high and ``done`` low for t = 1 .. E + L;
    ``c_done_after_entries_plus_latency``: at t = E + L + 1 ``done`` high, ``busy`` low;
    ``c_done_rises_only_at_run_end``, ``c_done_falls_only_on_start``, ``c_idle_outside_runs``: so ``done`` rises
    exactly once per run, exactly E + L cycles after the first busy cycle; ``c_run_complete``: by then all E
    entries were taken and all R rows written.

Covers (the cover task): a run ends (``done`` rises); a row with a pruned weight and a fully dense row are
written (where the size allows one). They show that the assumptions leave the properties something to check.
"""

import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Array, Assert, Assume, Const, Cover, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from ..golden import PE_LATENCY, encode
from ..golden.encode import slice_width
from ..hw.pe import PE, bits_for, index_steps, pack_entries
from ..hw.stages import config_shapes, requant_constants

__all__ = ["PEConfig", "FormalHarness", "memory_contents"]


def memory_contents(m, mem, depth):
    """The words of `mem`, through extra combinational read ports added to `m` (the memory's own ports are
    untouched)."""
    words = []
    for i in range(depth):
        port = mem.read_port(domain="comb")
        m.d.comb += port.addr.eq(i)
        words.append(port.data)
    return words


@dataclass(frozen=True)
class PEConfig:
    """A small PE to prove: its parameters, and the entry stream or None for symbolic entry memory."""

    kind: str
    in_bits: int
    w_bits: int
    out_bits: int
    n_in: int
    entries: int
    rows: int
    mult: int = 1
    shift: int = 0
    relu: bool = False
    stream: tuple = None            # (weight, index, last, dense, slice_last) as tuples, or None: symbolic words
    splits: int = 1                 # mam: max + min per slice of ceil(n_in / splits) inputs, summed
    relu_in: bool = False           # the inputs pass a ReLU first
    delta_bits: int = 0             # entries with relative indices of that many bits (0: absolute indices)

    @classmethod
    def symbolic(cls, *, kind, in_bits, w_bits, n_in, entries, rows, out_bits=None, mult=1, shift=0,
                 relu=False, splits=1, relu_in=False, delta_bits=0):
        """Every well-formed entry stream of `entries` entries in `rows` rows (see the module docstring)."""
        if not 1 <= rows <= entries or entries > rows * n_in:
            raise ValueError(f"no well-formed stream has {entries} entries in {rows} rows of {n_in} inputs")
        if delta_bits and splits > 1:
            raise ValueError("entries with relative indices do not take slices (layers with splits)")
        if out_bits is None:
            out_bits = in_bits + w_bits + 1 + (splits - 1).bit_length()
        return cls(kind=kind, in_bits=in_bits, w_bits=w_bits, out_bits=out_bits, n_in=n_in, entries=entries,
                   rows=rows, mult=mult, shift=shift, relu=relu, splits=splits, relu_in=relu_in,
                   delta_bits=delta_bits)

    @classmethod
    def from_stream(cls, *, kind, in_bits, w_bits, out_bits, n_in, weight, index, last, dense, slice_last=None,
                    mult=1, shift=0, relu=False, splits=1, relu_in=False, delta_bits=0):
        """A fixed entry stream (the entry memory as given, `index` absolute); activations and biases stay
        symbolic."""
        slice_last = last if slice_last is None else slice_last
        stream = tuple(tuple(int(v) for v in np.asarray(a).ravel())
                       for a in (weight, index, last, dense, slice_last))
        return cls(kind=kind, in_bits=in_bits, w_bits=w_bits, out_bits=out_bits, n_in=n_in,
                   entries=len(stream[0]), rows=sum(stream[2]), mult=mult, shift=shift, relu=relu,
                   stream=stream, splits=splits, relu_in=relu_in, delta_bits=delta_bits)

    @classmethod
    def from_layer(cls, layer, *, symbolic=False, delta_bits=0):
        """A golden layer's PE: its encoded stream (with `delta_bits`, with relative indices and fillers), or
        with `symbolic`, every stream of the same size."""
        enc = encode(layer, delta_bits=delta_bits)
        common = dict(kind=layer.kind, in_bits=layer.in_bits, w_bits=layer.w_bits, out_bits=layer.out_bits,
                      n_in=layer.n_in, mult=layer.mult, shift=layer.shift, relu=layer.relu, splits=layer.splits,
                      relu_in=layer.relu_in, delta_bits=delta_bits)
        if symbolic:
            return cls.symbolic(entries=enc.entries, rows=enc.rows, **common)
        return cls.from_stream(weight=enc.weight, index=enc.index, last=enc.last, dense=enc.dense,
                               slice_last=enc.slice_last, **common)

    @property
    def slice_width(self):
        return slice_width(self.n_in, self.splits)

    def requant(self):
        return requant_constants(mult=self.mult, shift=self.shift, relu=self.relu, out_bits=self.out_bits)

    def pe_params(self):
        """The engine's PE (hw/pe.py) for this configuration: one layer, biases symbolic 32-bit values, the row
        value as wide as any weights of these widths can make it (the engines size it by their baked weights)."""
        if self.stream is not None:
            weight, index, last, dense, slice_last = self.stream
        else:
            weight, index, last, dense = _placeholder_stream(self.entries, self.rows)
            slice_last = last
        p_bits = self.in_bits + self.w_bits
        acc_bits = p_bits + (bits_for(self.n_in + 1) if self.kind == "mac" else 1)
        row_bits = acc_bits + (self.splits - 1).bit_length()              # the sum of the slices' values
        return dict(segments=[(weight, index, last, dense, [0] * self.rows, slice_last)], kinds=[self.kind],
                    shifts=[self.shift], clamps=[self.requant()], act_bits=self.in_bits, w_bits=self.w_bits,
                    out_bits=self.out_bits, addr_bits=bits_for(self.n_in), acc_shape=signed(acc_bits),
                    v_shape=signed(max(row_bits, 32) + 1), bias_bits=32, slices=self.splits > 1,
                    relu_in=[self.relu_in], delta_bits=self.delta_bits)

    def pe_config(self):
        """What the PE's per-layer configuration inputs hold for this layer."""
        consts = self.requant()
        return {"mac": int(self.kind == "mac")} | {key: consts[key] for key in config_shapes([self.shift])}

    def describe(self):
        what = "symbolic entries" if self.stream is None else "fixed entries"
        index = f" delta_bits={self.delta_bits}" if self.delta_bits else ""
        return (f"{self.kind} in{self.in_bits} w{self.w_bits} out{self.out_bits} n_in={self.n_in} "
                f"E={self.entries} R={self.rows} splits={self.splits} relu_in={self.relu_in}{index} ({what})")


def _placeholder_stream(entries, rows):
    """Initial words for a PE whose entry memory the proof leaves free (only its size matters)."""
    last = [0] * entries
    for r in range(rows):
        last[entries - rows + r] = 1
    return [0] * entries, [0] * entries, last, [0] * entries


class _Observed:
    """Mixin over a PE class: copies the reduce stage's inputs and result to signals the harness can read.

    The PE folds every product through ``_reduce``; the copies are plain combinational wires, so the PE's own
    datapath (or a faulty subclass's) is what runs.
    """

    def __init__(self, **params):
        super().__init__(**params)
        self.obs_valid, self.obs_last, self.obs_dense, self.obs_first = (
            Signal(name=f"obs_{n}") for n in ("valid", "last", "dense", "first"))
        self.obs_p = Signal(self.product_shape)
        self.obs_result = Signal(self.acc_shape)
        self.rows_in_flight = Signal(range(self.LATENCY + 1))

    def _rows_in_flight(self, m, valids):
        m.d.comb += self.rows_in_flight.eq(sum(v.as_unsigned() for v in valids))

    def _reduce(self, m, *, valid, last, dense, p, signs, first, result, next_dense):
        m.d.comb += [self.obs_valid.eq(valid), self.obs_last.eq(last), self.obs_dense.eq(dense),
                     self.obs_first.eq(first), self.obs_p.eq(p), self.obs_result.eq(result)]
        super()._reduce(m, valid=valid, last=last, dense=dense, p=p, signs=signs, first=first, result=result,
                        next_dense=next_dense)


class FormalHarness(wiring.Component):
    """The engines' PE (class `pe_class`, hw/pe.py or a subclass) with an activation buffer of the harness's own and
    the properties of the module docstring; inputs are free for the solver. The configuration inputs hold the
    layer's values and ``start`` is taken only while idle, as the engines drive them."""

    def __init__(self, config, pe_class=PE, groups="abc"):
        self.config = config
        self.groups = groups            # assert only the properties whose names start with one of these
        self.names = {}                 # "file:line" of each property -> its name
        observed = type(f"Observed{pe_class.__name__}", (_Observed, pe_class), {})
        self.pe = observed(**config.pe_params())
        self.act_mem = Memory(shape=signed(config.in_bits), depth=config.n_in, init=[])
        super().__init__({
            "start": In(1),
            "x_we": In(1),
            "x_addr": In(bits_for(config.n_in)),
            "x_data": In(signed(config.in_bits)),
        })

    def elaborate(self, platform):
        cfg, pe = self.config, self.pe
        E, R, n_in, L = cfg.entries, cfg.rows, cfg.n_in, PE_LATENCY
        m = Module()
        m.submodules.pe = pe
        m.submodules.act_mem = self.act_mem
        act_wr, act_rd = self.act_mem.write_port(), self.act_mem.read_port()
        m.d.comb += [getattr(pe, key).eq(value) for key, value in cfg.pe_config().items()]
        m.d.comb += [pe.start.eq(self.start & ~pe.busy), pe.layer.eq(0),
                     act_wr.en.eq(self.x_we), act_wr.addr.eq(self.x_addr), act_wr.data.eq(self.x_data),
                     act_rd.addr.eq(pe.act_addr), pe.act_data.eq(act_rd.data)]
        y_valid, y_row, y_value = pe.result.valid, pe.result.payload.row, pe.result.payload.value

        # The memories' contents, seen through extra combinational read ports (the PE's own ports are untouched).
        def contents(mem, depth):
            return memory_contents(m, mem, depth)
        words = contents(pe.entry_mem, E)
        ent = [data.View(pe.entry_shape, w) for w in words]
        x = contents(self.act_mem, n_in)
        bias = contents(pe.bias_mem, R)

        # Host protocol: activations change only while the PE is idle.
        m.d.comb += Assume(~(self.x_we & pe.busy))
        facts = self._stream_facts(m, ent, x)
        if cfg.stream is None:
            self._assume_well_formed(m, ent, facts)
        else:
            # The memory holds its image from power on; the induction step starts from any state, so say it.
            weight, index, last, dense, slice_last = cfg.stream
            if cfg.delta_bits:
                index = index_steps(index, last, cfg.delta_bits)
            image = pack_entries(pe.entry_shape, weight, index, last, dense, slice_last)
            m.d.comb += [Assume(w == v) for w, v in zip(words, image)]

        # The run's timeline, kept by the harness: t = 1 on the cycle after `start` is taken.
        taken = Signal()
        m.d.comb += taken.eq(self.start & ~pe.busy)
        in_run = Signal()
        t = Signal(range(E + L + 2))
        used = Signal(range(E + 1))             # entries consumed by the PE's reduce stage in this run
        rows_reduced = Signal(range(R + 1))     # row ends seen by the reduce stage
        rows_out = Signal(range(R + 1))         # rows written in this run
        done_q, taken_q = Signal(), Signal()
        m.d.sync += [done_q.eq(pe.done), taken_q.eq(taken)]
        with m.If(taken):
            m.d.sync += [in_run.eq(1), t.eq(1), used.eq(0), rows_out.eq(0), rows_reduced.eq(0)]
        with m.Else():
            with m.If(in_run):
                m.d.sync += t.eq(t + 1)
                with m.If(t == E + L + 1):
                    m.d.sync += in_run.eq(0)
            with m.If(pe.obs_valid):
                m.d.sync += used.eq(used + 1)
                # With splits the fold ends slices: the row ends are the stream's.
                with m.If(pe.obs_last if cfg.splits == 1 else Array(facts.lasts)[used]):
                    m.d.sync += rows_reduced.eq(rows_reduced + 1)
            with m.If(y_valid):
                m.d.sync += rows_out.eq(rows_out + 1)

        # The reference row values, folded along the timeline (entry u is due at the reduce stage at t = F + u)
        # by the contract: max + min or the sum of the row's products, 0 competing iff the row has a pruned
        # weight (a column without a nonzero weight).
        F = pe.FOLD_AT
        due = in_run & (t >= F) & (t < E + F)
        u = Signal(range(max(E, 2)))
        m.d.comb += u.eq(t - F)
        row_val = Array(Signal(signed(facts.acc_bits), name=f"row_val{r}") for r in range(R))
        slice_val = self._reference_fold(m, due, u, facts, row_val, taken)

        # (c) timing.
        running = in_run & (t <= E + L)
        ending = in_run & (t == E + L + 1)
        check = self._check
        check(m, "c_busy_for_entries_plus_latency", _implies(running, pe.busy & ~pe.done))
        check(m, "c_idle_outside_runs", _implies(~in_run, ~pe.busy))
        check(m, "c_done_after_entries_plus_latency",
              _implies(ending, pe.done & ~pe.busy))
        check(m, "c_done_rises_only_at_run_end", _implies(pe.done & ~done_q, ending))
        check(m, "c_done_falls_only_on_start", _implies(done_q & ~pe.done, taken_q))
        check(m, "c_run_complete", _implies(ending, (used == E) & (rows_out == R) & (rows_reduced == R)))

        # (b) every entry reaches the reduce stage exactly once, in order, one per cycle, with its own fields.
        cur = data.View(pe.entry_shape, Array(words)[used])
        cur_end = cur.slice_last if cfg.splits > 1 else cur.last
        cur_dense = cur.dense if "dense" in pe.entry_shape.members else 0        # relative indices: no dense flag
        fields = (pe.obs_last == cur_end) & (pe.obs_dense == cur_dense) & (pe.obs_first == Array(facts.opens)[used])
        check(m, "b_entry_consumed_in_order", _implies(pe.obs_valid, due & (used == u)))
        check(m, "b_no_entry_skipped", _implies(due, pe.obs_valid))
        check(m, "b_entry_last_dense_first", _implies(pe.obs_valid, fields))
        check(m, "b_entry_product", _implies(pe.obs_valid, pe.obs_p == Array(facts.products)[used]))
        check(m, "b_entry_row", _implies(pe.obs_valid, Array(facts.row_of)[used] == rows_reduced))

        # (a) row values and outputs.
        y_ref = self._requantize(m, row_val[rows_out] + Array(bias)[rows_out])
        # The row value reaches the result register RESULT_DELAY cycles after the row's last fold; by then more
        # (one-entry) rows may have ended, so the row's number travels along.
        row_end_q, rows_q, slice_q = pe.obs_valid & pe.obs_last, rows_reduced, slice_val
        for i in range(pe.RESULT_DELAY):
            row_end_d = Signal(name=f"row_end_d{i + 1}")
            m.d.sync += row_end_d.eq(row_end_q)
            if i:
                rows_d = Signal.like(rows_reduced, name=f"rows_reduced_d{i}")
                m.d.sync += rows_d.eq(rows_q)
                rows_q = rows_d
            if cfg.splits > 1:
                slice_d = Signal.like(slice_val, name=f"slice_val_d{i + 1}")
                m.d.sync += slice_d.eq(slice_q)
                slice_q = slice_d
            row_end_q = row_end_d
        if cfg.splits == 1:
            check(m, "a_row_value", _implies(row_end_q, pe.obs_result == row_val[rows_q - 1]))
        else:
            # With splits the fold's value is a slice's max + min; the row's sum of them shows in the output.
            check(m, "a_slice_value", _implies(row_end_q, pe.obs_result == slice_q))
        # An invariant that keeps the induction short however deep the pipeline: every row between the reduce
        # stage and the output is one valid bit, and there are none outside a run.
        in_flight = pe.rows_in_flight
        check(m, "a_rows_in_flight", Mux(in_run, in_flight == rows_reduced - rows_out, in_flight == 0))
        # Asserted at every cycle of a run, not only with y_valid: the row address is then an invariant too.
        check(m, "a_rows_in_order", _implies(y_valid, in_run & (rows_out < R)))
        check(m, "a_row_address", _implies(in_run & (rows_out < R), y_row == rows_out))
        check(m, "a_output_value", _implies(y_valid, y_value == y_ref))

        # Reachability (run as the cover task): a run ends; rows with and without pruned weights are written.
        self._cover(m, "cover_done", pe.done & ~done_q)
        if cfg.stream is None:
            # With relative indices a pruned row may hold fillers (zero weights) in every column; no MAM row is dense.
            can_dense = E >= n_in + R - 1 and not (cfg.delta_bits and cfg.kind == "mam")
            can_sparse = E < R * n_in or bool(cfg.delta_bits)
        else:
            can_dense, can_sparse = any(cfg.stream[3]), not all(cfg.stream[3])
        row_dense = Array(facts.row_dense)[rows_out]
        if can_sparse:
            self._cover(m, "cover_row_with_pruned_weight", y_valid & ~row_dense)
        if can_dense:
            self._cover(m, "cover_dense_row", y_valid & row_dense)
        return m

    def _check(self, m, name, test):
        """Assert `test` every cycle; solver logs name the source line, which `names` maps back to `name`."""
        if not name.startswith(tuple(self.groups)):
            return
        prop = Assert(test, name, src_loc_at=1)
        self.names[f"{os.path.basename(prop.src_loc[0])}:{prop.src_loc[1]}"] = name
        m.d.comb += prop

    def _cover(self, m, name, test):
        prop = Cover(test, name, src_loc_at=1)
        self.names[f"{os.path.basename(prop.src_loc[0])}:{prop.src_loc[1]}"] = name
        m.d.comb += prop

    def _stream_facts(self, m, ent, x):
        """Per entry: its row, its product weight * x[index], whether it opens a row; per row: whether every
        column has a nonzero weight (from the indices and weights, not from the `dense` bits)."""
        cfg = self.config
        R, n_in = cfg.rows, cfg.n_in
        p_bits = cfg.w_bits + cfg.in_bits
        if cfg.relu_in:
            relu = [Signal(signed(cfg.in_bits), name=f"x_relu{i}") for i in range(n_in)]
            m.d.comb += [r.eq(Mux(v < 0, 0, v)) for r, v in zip(relu, x)]
            x = relu
        width, k = cfg.slice_width, cfg.splits
        row_of, products, piece_of, index = [], [], [], []
        count = Const(0, range(R + 1))
        for i, e in enumerate(ent):
            rid = Signal(range(R + 1), name=f"row_of{i}")
            p = Signal(signed(p_bits), name=f"p{i}")
            piece = Signal(range(k + 1), name=f"slice_of{i}")
            at = e.index
            if cfg.delta_bits:
                # The absolute index: the steps summed from 0 at the row's start (wide enough not to wrap).
                at = Signal(range(n_in + (1 << cfg.delta_bits)), name=f"index{i}")
                m.d.comb += at.eq(e.index if i == 0 else Mux(ent[i - 1].last, 0, index[-1]) + e.index)
            m.d.comb += [rid.eq(count), p.eq(e.weight * Array(x)[at]),
                         piece.eq(sum((at >= b).as_unsigned() for b in range(width, n_in, width)))]
            row_of.append(rid)
            products.append(p)
            piece_of.append(piece)
            index.append(at)
            count = rid + e.last

        def covered(r, cols):
            """Whether row r has a nonzero weight in every one of `cols`."""
            dense = Signal(name=f"dense_r{r}_c{cols[0]}_{cols[-1]}")
            m.d.comb += dense.eq(_all([_any([(rid == r) & (at == c) & (e.weight != 0)
                                             for rid, at, e in zip(row_of, index, ent)]) for c in cols]))
            return dense

        row_dense = [covered(r, list(range(n_in))) for r in range(R)]
        # piece_dense[r * k + s]: slice s of row r has no pruned weight (the row itself with one slice).
        piece_dense = row_dense if k == 1 else [covered(r, list(range(s * width, min((s + 1) * width, n_in))))
                                                for r in range(R) for s in range(k)]
        ends = [e.slice_last if k > 1 else e.last for e in ent]
        opens = [Const(1)] + ends[:-1]
        return SimpleNamespace(row_of=row_of, products=products, row_dense=row_dense, piece_dense=piece_dense,
                               piece_of=piece_of, index=index, opens=opens, ends=ends, lasts=[e.last for e in ent],
                               p_bits=p_bits, acc_bits=p_bits + max(1, n_in.bit_length()) + (k - 1).bit_length())

    def _assume_well_formed(self, m, ent, facts):
        """The entry stream is one that golden.encode can produce (see the module docstring)."""
        cfg = self.config
        R, n_in = cfg.rows, cfg.n_in
        lasts = facts.lasts
        m.d.comb += Assume(lasts[-1] == 1)
        m.d.comb += Assume(sum(lasts) == R)
        if cfg.delta_bits:
            self._assume_well_formed_steps(m, ent, facts)
            return
        for i, e in enumerate(ent):
            if n_in < 2 ** len(e.index):
                m.d.comb += Assume(e.index < n_in)
            if i > 0:
                prev = ent[i - 1]
                # Only a row of one entry may hold a zero weight (an empty row's placeholder).
                m.d.comb += Assume(_implies(~prev.last, (e.weight != 0) & (prev.weight != 0)))
            for j in range(i):
                # Distinct indices within a row (no row end from j to i-1).
                same_row = sum(lasts[j:i]) == 0
                m.d.comb += Assume(_implies(same_row, ent[j].index != e.index))
            k = cfg.splits
            if k == 1:
                # `dense`: the entry's row has no pruned weight, i.e. a nonzero weight in every column.
                m.d.comb += Assume(e.dense == Array(facts.row_dense)[facts.row_of[i]])
                continue
            # With splits: indices ascend within a row, a slice's entries end at the next slice's or the row's end,
            # and `dense` is the entry's slice having no pruned weight.
            if i > 0:
                m.d.comb += Assume(_implies(~ent[i - 1].last, ent[i - 1].index < e.index))
            change = facts.piece_of[i + 1] != facts.piece_of[i] if i + 1 < len(ent) else Const(1)
            m.d.comb += Assume(e.slice_last == (e.last | change))
            m.d.comb += Assume(e.dense == Array(facts.piece_dense)[facts.row_of[i] * k + facts.piece_of[i]])

    def _assume_well_formed_steps(self, m, ent, facts):
        """A stream with relative indices as golden.encode.with_fillers makes it, or any with zero weights in more
        places: the steps' sums (absolute indices) below ``n_in`` and rising within a row; fillers and empty rows
        are entries of weight 0, allowed anywhere; a MAM row always has a pruned weight (dense ones are refused)."""
        cfg = self.config
        for i, e in enumerate(ent):
            m.d.comb += Assume(facts.index[i] < cfg.n_in)
            if i > 0:
                m.d.comb += Assume(_implies(~ent[i - 1].last, e.index != 0))
        if cfg.kind == "mam":
            m.d.comb += [Assume(~dense) for dense in facts.row_dense]

    def _reference_fold(self, m, due, u, facts, row_val, taken):
        """Fold entry u's product into the reference row value; at the row's end, store it in row_val. With splits
        the fold is per slice and a row's value the sum of its slices'; returns the value folded so far (at a
        slice's end, the slice's value)."""
        cfg = self.config
        p = Array(facts.products)[u]
        opens = Array(facts.opens)[u]
        row = Array(facts.row_of)[u]
        pruned = ~Array(facts.piece_dense)[row * cfg.splits + Array(facts.piece_of)[u]]
        value = Signal(signed(facts.acc_bits))
        if cfg.kind == "mac":
            total = Signal(signed(facts.acc_bits))
            m.d.comb += value.eq(Mux(opens, 0, total) + p)
            updates = [total.eq(value)]
        else:
            # A row without a pruned weight starts below/above every product (|w * x| < 2**(p_bits - 1)).
            floor, ceil = -(1 << (facts.p_bits - 1)), 1 << (facts.p_bits - 1)
            hi, lo = Signal(signed(facts.p_bits + 1)), Signal(signed(facts.p_bits + 1))
            hi_base = Mux(opens, Mux(pruned, 0, floor), hi)
            lo_base = Mux(opens, Mux(pruned, 0, ceil), lo)
            new_hi, new_lo = Signal.like(hi), Signal.like(lo)
            m.d.comb += [new_hi.eq(Mux(p > hi_base, p, hi_base)), new_lo.eq(Mux(p < lo_base, p, lo_base)),
                         value.eq(new_hi + new_lo)]
            updates = [hi.eq(new_hi), lo.eq(new_lo)]
        if cfg.splits == 1:
            with m.If(due):
                m.d.sync += updates
                with m.If(Array(facts.lasts)[u]):
                    m.d.sync += row_val[row].eq(value)
            return value
        # The row's slices so far, added at each slice's end; 0 again after the row's end (and at a run's start).
        before = Signal(signed(facts.acc_bits), name="row_slices_before")
        with m.If(taken):
            m.d.sync += before.eq(0)
        with m.Elif(due):
            m.d.sync += updates
            with m.If(Array(facts.ends)[u]):
                m.d.sync += before.eq(Mux(Array(facts.lasts)[u], 0, before + value))
            with m.If(Array(facts.lasts)[u]):
                m.d.sync += row_val[row].eq(before + value)
        return value

    def _requantize(self, m, v):
        """The contract after the row value: bias already added; mult, rounding, shift, ReLU, clamp."""
        cfg = self.config
        rounding = (1 << (cfg.shift - 1)) if cfg.shift > 0 else 0
        q = Signal(signed(len(v) + cfg.mult.bit_length() + 2), name="q_ref")
        m.d.comb += q.eq((v * cfg.mult + rounding) >> cfg.shift)
        lo = 0 if cfg.relu else -(1 << (cfg.out_bits - 1))
        hi = (1 << (cfg.out_bits - 1)) - 1
        y = Signal(signed(cfg.out_bits), name="y_ref")
        m.d.comb += y.eq(Mux(q < lo, lo, Mux(q > hi, hi, q)))
        return y


def _implies(premise, conclusion):
    return ~premise | conclusion


def _all(terms):
    out = terms[0]
    for t in terms[1:]:
        out = out & t
    return out


def _any(terms):
    out = terms[0]
    for t in terms[1:]:
        out = out | t
    return out
