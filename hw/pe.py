"""The sparse MAM (or MAC) processing element.

The PE walks a compressed entry stream (weight, input index, last-of-row, row-is-dense), one entry per cycle with
no bubble at row ends, fetches ``x[index]`` from its activation buffer, multiplies, and folds the products of a
row into max and min (mam) or a sum (mac). Each finished row then passes bias, requantization, ReLU and
saturation and is written to the output buffer.

Pipeline, one stage per cycle (all stages advance every cycle; nothing stalls). Each stage holds at most one
memory access, one carry chain or one multiply; the running max and min, a loop, get two cycles to go round:

    F   entry address counter -> entry memory (synchronous read)
    E   entry word out, registered
    A   x[index] addressed in the activation buffer
    X   x out, registered beside its weight
    Y   both registered again, beside the multiplier (its own input registers where the DSP takes them)
    P   product w * x registered (an SB_MAC16 / MULT18X18D)
    R   reduce: q = max (min) of this product and the previous one, or the sum; addresses the bias
    R1  compare q with the running max (min) of two entries back
    R2  select; a row end registers the row's max and min (hw/stages.py: the loop unrolled by one step)
    S   the row value max + min (or the sum)
    B   v = value + bias
    M1..Q2  requantization (hw/stages.py) -> output buffer; `done` after the last row

So a run of E entries takes E + LATENCY cycles of `busy`, LATENCY being :data:`PE.LATENCY`.
"""

import numpy as np
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .dsp import check_dsp
from .stages import (FOLD_DELAY, delay, fold_stage, multiply, wait_for_fold, requant_constants, requant_stages,
                     signed_bits)

__all__ = ["PE", "entry_layout", "pack_entries"]

KINDS = ("mam", "mac")


def entry_layout(w_bits, n_in):
    """One word of the entry memory."""
    return data.StructLayout({
        "weight": signed(w_bits),
        "index": unsigned(max(1, ceil_log2(n_in))),
        "last": unsigned(1),
        "dense": unsigned(1),
    })


def pack_entries(layout, weight, index, last, dense):
    """Pack field arrays into the integer words of `layout` (vectorized: big layers have 10^5+ entries)."""
    words = np.zeros(len(weight), dtype=object)
    for name, values in (("weight", weight), ("index", index), ("last", last), ("dense", dense)):
        field = layout[name]
        mask = (1 << field.width) - 1
        raw = np.asarray(values, dtype=np.int64) & mask          # two's complement for signed fields
        words |= raw.astype(object) << field.offset
    return [int(w) for w in words]


class PE(wiring.Component):
    """A sparse MAM/MAC processing element with its weights baked into the entry memory.

    Parameters are plain values and memory images (``golden.encode`` gives them for a layer file):

    kind: "mam" or "mac"; in_bits, w_bits, out_bits: signed widths; mult, shift, relu: requantization;
    weight, index, last, dense: the entry stream (equal-length sequences); bias: one integer per row;
    n_in: depth of the activation buffer; bias_bits: width of the bias memory (default: what `bias` needs);
    unroll: the running max/min unrolled by one step for a faster clock (hw/stages.py), or compact; dsp: the DSP
    primitive the multipliers are built as (hw/dsp.py; None: plain multiplies, what simulation runs).

    Ports: load ``x`` through ``x_we``/``x_addr``/``x_data``, pulse ``start``; ``busy`` is high for
    ``entries + LATENCY`` cycles, counted in ``cycles``; ``done`` rises once at the end and stays high until the
    next ``start``. Results are readable through ``y_addr``/``y_data`` (:attr:`Y_LATENCY`: one cycle) and pass by on
    ``y_valid``/``y_row``/``y_value`` as each row finishes.
    """

    LATENCY = 17
    Y_LATENCY = 1
    FOLD_AT = 7             # the cycle of a run (1 = the cycle after start) in which entry 0 is folded
    RESULT_DELAY = FOLD_DELAY   # cycles from a row's last fold to its value in the result register

    def __init__(self, *, kind, in_bits, w_bits, out_bits, mult, shift, relu, n_in,
                 weight, index, last, dense, bias, bias_bits=None, counter_bits=32,
                 unroll=True, dsp=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        self.unroll = bool(unroll)
        self.dsp = check_dsp(dsp)
        self.in_bits, self.w_bits, self.out_bits = in_bits, w_bits, out_bits
        self.mult, self.shift, self.relu = int(mult), int(shift), bool(relu)
        self.n_in = int(n_in)
        self.n_entries = len(weight)
        self.n_rows = len(bias)
        if self.n_entries < self.n_rows or self.n_rows < 1:
            raise ValueError("need at least one row and one entry per row")
        if int(np.count_nonzero(np.asarray(last))) != self.n_rows:
            raise ValueError("the entry stream must end exactly one row per bias value")

        self.entry_shape = entry_layout(w_bits, self.n_in)
        self.entry_mem = Memory(shape=unsigned(self.entry_shape.size), depth=self.n_entries,
                                init=pack_entries(self.entry_shape, weight, index, last, dense))
        biases = [int(b) for b in bias]
        # As wide as the baked biases need (a narrower adder and multiplier than the contract's int32), unless
        # `bias_bits` asks for more (the formal harness makes the biases symbolic int32 values).
        bias_bits = max(signed_bits(biases), bias_bits or 0)
        self.bias_mem = Memory(shape=signed(bias_bits), depth=self.n_rows, init=biases)
        self.act_mem = Memory(shape=signed(in_bits), depth=self.n_in, init=[])
        self.out_mem = Memory(shape=signed(out_bits), depth=self.n_rows, init=[])

        # Rows between the reduce stage and the output buffer: not a port, only the formal harness reads it.
        self.rows_in_flight = Signal(range(self.LATENCY + 1))
        x_addr_bits = max(1, ceil_log2(self.n_in))
        row_bits = max(1, ceil_log2(self.n_rows))
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(counter_bits),
            "x_we": In(1),
            "x_addr": In(x_addr_bits),
            "x_data": In(signed(in_bits)),
            "y_addr": In(row_bits),
            "y_data": Out(signed(out_bits)),
            "y_valid": Out(1),
            "y_row": Out(row_bits),
            "y_value": Out(signed(out_bits)),
        })

    @property
    def product_shape(self):
        return signed(self.in_bits + self.w_bits)

    @property
    def acc_shape(self):
        p = self.in_bits + self.w_bits
        if self.kind == "mac":
            return signed(p + ceil_log2(self.n_in + 1))
        return signed(p + 1)                                    # max + min of two products

    def elaborate(self, platform):
        m = Module()
        m.submodules.entry_mem = self.entry_mem
        m.submodules.bias_mem = self.bias_mem
        m.submodules.act_mem = self.act_mem
        m.submodules.out_mem = self.out_mem

        entry_rd = self.entry_mem.read_port()
        bias_rd = self.bias_mem.read_port()
        act_rd = self.act_mem.read_port()
        act_wr = self.act_mem.write_port()
        out_wr = self.out_mem.write_port()
        out_rd = self.out_mem.read_port()

        m.d.comb += [
            act_wr.en.eq(self.x_we), act_wr.addr.eq(self.x_addr), act_wr.data.eq(self.x_data),
            out_rd.addr.eq(self.y_addr), self.y_data.eq(out_rd.data),
        ]

        # F: control and entry fetch.
        ea = Signal(range(max(2, self.n_entries)))
        fetching = Signal()
        last_row = self.n_rows - 1
        m.d.comb += entry_rd.addr.eq(ea)
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        # Counters stop at their last valid address: no memory is ever read out of bounds (CXXRTL checks).
        with m.If(fetching):
            with m.If(ea == self.n_entries - 1):
                m.d.sync += fetching.eq(0)
            with m.Else():
                m.d.sync += ea.eq(ea + 1)
        with m.If(self.start & ~self.busy):
            m.d.sync += [ea.eq(0), fetching.eq(1), self.busy.eq(1), self.done.eq(0), self.cycles.eq(0)]

        # E: the entry word, registered (memory output to memory address is too long a path for one cycle).
        e_valid = delay(m, fetching, "e_valid")
        entry = data.View(self.entry_shape, entry_rd.data)
        a_valid = delay(m, e_valid, "a_valid")
        a_entry = delay(m, entry.as_value(), "a_entry")
        a = data.View(self.entry_shape, a_entry)

        # A: x[index] addressed in the activation buffer.
        m.d.comb += act_rd.addr.eq(a.index)
        x_valid, x_entry = delay(m, a_valid, "x_valid"), delay(m, a_entry, "x_entry")

        # X: x registered beside its weight; Y: again, at the multiplier; P: the product.
        # Stage Y's registers are y_stage_*: `y_valid` is the output port.
        ys_valid, ys_entry = delay(m, x_valid, "y_stage_valid"), delay(m, x_entry, "y_stage_entry")
        p_valid, p_entry = delay(m, ys_valid, "p_valid"), delay(m, ys_entry, "p_entry")
        pe_ = data.View(self.entry_shape, p_entry)
        r_valid, r_entry = delay(m, p_valid, "r_valid"), delay(m, p_entry, "r_entry")
        r = data.View(self.entry_shape, r_entry)
        r_p, r_signs = multiply(m, data.View(self.entry_shape, x_entry).weight, act_rd.data, self.dsp)

        # R: fold the row. `first` marks that the next entry opens a row. S: the row value.
        first = Signal(init=1)
        row = Signal(range(max(2, self.n_rows)))                  # the row being folded (its bias address)
        out_row = Signal.like(row)                                # rows leave in order: a counter
        s_valid = Signal()
        b_a = Signal(self.acc_shape, reset_less=True)
        m.d.comb += bias_rd.addr.eq(row)
        m.d.sync += s_valid.eq(r_valid & r.last)
        with m.If(self.start & ~self.busy):
            m.d.sync += [first.eq(1), row.eq(0), out_row.eq(0)]
        with m.If(r_valid):
            m.d.sync += first.eq(r.last)
            with m.If(r.last & (row != last_row)):
                m.d.sync += row.eq(row + 1)
        self._reduce(m, r_valid, r.last, r.dense, r_p, r_signs, first, b_a, pe_.dense)
        # The row's value is ready FOLD_DELAY cycles after its last product: its marker and bias wait with it.
        fold_valids, b_bias = wait_for_fold(m, s_valid, bias_rd.data)    # bias read in R with the row's index
        b_valid = fold_valids[-1]

        # B: add the bias.
        m_valid = delay(m, b_valid, "m_valid")
        m_v = Signal(signed(max(self.acc_shape.width, len(b_bias)) + 1), reset_less=True)
        m.d.sync += m_v.eq(b_a + b_bias)

        # M1..Q2: requantize (shared with the layer engine), then write.
        # Valid bits of the stages after R: one per row in flight.
        row_valids = fold_valids + [m_valid]
        q_valid, y, _ = requant_stages(
            m, valid=m_valid, v=m_v, out_shape=signed(self.out_bits), valids=row_valids, dsp=self.dsp,
            **requant_constants(mult=self.mult, shift=self.shift, relu=self.relu, out_bits=self.out_bits))
        m.d.comb += [
            out_wr.en.eq(q_valid), out_wr.addr.eq(out_row), out_wr.data.eq(y),
            self.y_valid.eq(q_valid), self.y_row.eq(out_row), self.y_value.eq(y),
        ]
        with m.If(q_valid):
            m.d.sync += out_row.eq(out_row + 1)
            with m.If(out_row == last_row):
                m.d.sync += [self.done.eq(1), self.busy.eq(0), out_row.eq(out_row)]
        m.d.comb += self.rows_in_flight.eq(sum(v.as_unsigned() for v in row_valids))
        return m

    def _reduce(self, m, valid, last, dense, p, signs, first, result, next_dense):
        """Fold one product into the running row value; on a row end, register the row's result. `next_dense`:
        the dense flag of the entry behind (in P)."""
        fold_stage(m, self.kind, valid=valid, last=last, dense=dense, p=p, signs=signs, first=first, result=result,
                   product_shape=self.product_shape, acc_shape=self.acc_shape, unroll=self.unroll,
                   next_dense=next_dense)
