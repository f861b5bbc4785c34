"""One layer on one PE: the PE of hw/pe.py with an activation buffer and an output buffer of its own.

Nothing of the datapath is here: the PE is the engines' PE, its configuration inputs tied to the layer's
constants. This is what a single layer's tests, the formal proofs' fixed-stream checks and the per-PE synthesis
figures run.
"""

from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .pe import PE, Segment, bits_for, value_shapes
from .stages import config_shapes, requant_constants

__all__ = ["SinglePE"]


class SinglePE(wiring.Component):
    """A layer's PE with its memories: the weights baked into the entry memory.

    Parameters are plain values and memory images (``golden.encode`` gives them for a layer file): kind; in_bits,
    w_bits, out_bits: signed widths; mult, shift, relu: requantization; weight, index, last, dense: the entry
    stream (equal-length sequences); bias: one integer per row; slice_last, relu_in: a layer's splits (where each
    slice of a row ends) and input ReLU; n_in: depth of the activation buffer; unroll, dsp: as the PE takes them.

    Ports: load ``x`` through ``x_we``/``x_addr``/``x_data``, pulse ``start``; ``busy`` is high for
    ``entries + LATENCY`` cycles, counted in ``cycles``; ``done`` rises once at the end and stays high until the
    next ``start``. Results are readable through ``y_addr``/``y_data`` (:attr:`Y_LATENCY`: one cycle).
    """

    LATENCY = PE.LATENCY
    Y_LATENCY = 1

    def __init__(self, *, kind, in_bits, w_bits, out_bits, mult, shift, relu, n_in, weight, index, last, dense, bias,
                 slice_last=None, relu_in=False, counter_bits=32, unroll=True, dsp=None, pe_class=PE):
        self.kind = kind
        self.in_bits, self.w_bits, self.out_bits = in_bits, w_bits, out_bits
        self.n_in, self.n_rows, self.n_entries = int(n_in), len(bias), len(weight)
        consts = requant_constants(mult=mult, shift=shift, relu=relu, out_bits=out_bits)
        self.config = {"mac": int(kind == "mac")} | {key: consts[key] for key in config_shapes([shift])}
        segment = Segment(weight, index, last, dense, bias, slice_last)
        acc_shape, v_shape = value_shapes([(kind, segment)], in_bits)
        self.pe = pe_class(segments=[segment], kinds=[kind], shifts=[shift], relu_in=[relu_in],
                           clamps=[consts], act_bits=in_bits, w_bits=w_bits, out_bits=out_bits,
                           addr_bits=bits_for(self.n_in), acc_shape=acc_shape, v_shape=v_shape, unroll=unroll, dsp=dsp)
        self.act_mem = Memory(shape=signed(in_bits), depth=self.n_in, init=[])
        self.out_mem = Memory(shape=signed(out_bits), depth=self.n_rows, init=[])
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(counter_bits),
            "x_we": In(1),
            "x_addr": In(bits_for(self.n_in)),
            "x_data": In(signed(in_bits)),
            "y_addr": In(bits_for(self.n_rows)),
            "y_data": Out(signed(out_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        pe = m.submodules.pe = self.pe
        m.submodules.act_mem = self.act_mem
        m.submodules.out_mem = self.out_mem
        act_wr, act_rd = self.act_mem.write_port(), self.act_mem.read_port()
        out_wr, out_rd = self.out_mem.write_port(), self.out_mem.read_port()
        m.d.comb += [getattr(pe, key).eq(value) for key, value in self.config.items()]
        m.d.comb += [
            pe.start.eq(self.start & ~pe.busy), pe.layer.eq(0),
            self.busy.eq(pe.busy), self.done.eq(pe.done),
            act_wr.en.eq(self.x_we), act_wr.addr.eq(self.x_addr), act_wr.data.eq(self.x_data),
            act_rd.addr.eq(pe.act_addr), pe.act_data.eq(act_rd.data),
            out_wr.en.eq(pe.result.valid), out_wr.addr.eq(pe.result.payload.row),
            out_wr.data.eq(pe.result.payload.value),
            out_rd.addr.eq(self.y_addr), self.y_data.eq(out_rd.data),
        ]
        with m.If(pe.start):
            m.d.sync += self.cycles.eq(0)
        with m.Elif(pe.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        return m
