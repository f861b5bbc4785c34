"""The network engine: a sequencer that runs every layer of a network back to back on one layer engine.

One ``start`` runs layer 0, 1, ..., n-1: the layer engine's ``done`` for layer k starts layer k+1 in the same
cycle. Layer k reads buffer k % 2 and writes its outputs into buffer (k+1) % 2, which is layer k+1's input: the
activations stay on chip (ping-pong) and the host only loads the network's inputs and reads its outputs.

Cycles, exactly (golden/cycles.py holds the same constants):

    cycles(layer k) = layer engine cycles of layer k + LAYER_OVERHEAD
    cycles          = sum over layers + OVERHEAD

The per-layer overhead is the cycle in which the sequencer sees the engine's done (registered in the PEs) and
starts the next layer, or, after the last layer, registers ``done``. ``cycles`` counts from the cycle after
``start`` to the cycle ``done`` is seen; ``layer_cycles[k]`` counts the cycles of layer k, and they add up to it.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from .engine import LayerEngine
from .ports import EngineHostPort

__all__ = ["NetworkEngine"]


class NetworkEngine(wiring.Component):
    """Runs `layers` (a list of LayerSpec, in order, widths chained) with one start and one done.

    Ports: ``x_we``/``x_addr``/``x_data`` load the inputs (address = input number), ``start``, ``busy``,
    ``done`` (high from the end of the run until the next start), ``cycles``, ``layer`` (the running layer),
    ``layer_cycles`` (one counter per layer), and ``y_addr``/``y_data`` (output row; the value :attr:`Y_LATENCY`
    cycles later).
    The layer engine is ``self.engine``; its buffers hold the activations. With a `weight_ram`, ``w_we``/``w_pe``/
    ``w_addr``/``w_data`` load the PEs' entry words while idle (hw/engine.py). The ports are an EngineHostPort
    (hw/ports.py).
    """

    LATENCY = LayerEngine.LATENCY
    Y_LATENCY = LayerEngine.Y_LATENCY
    LAYER_OVERHEAD = 1
    OVERHEAD = 0

    def __init__(self, layers, options=None):
        self.engine = LayerEngine(layers, options)
        self.options = self.engine.options
        counter_bits = self.options.counter_bits
        self.n_layers = n = len(self.engine.layers)
        first, last = self.engine.layers[0], self.engine.layers[-1]
        loads = {} if self.options.weight_ram is None else {
            "weight_words": [0 if pe is None else pe.n_entries for pe in self.engine.pe],
            "weight_bits": next(pe for pe in self.engine.pe if pe is not None).entry_shape.size}
        super().__init__(EngineHostPort(n_in=first.n_in, in_bits=first.in_bits, n_out=last.n_out,
                                        out_bits=last.out_bits, n_layers=n, y_latency=self.Y_LATENCY,
                                        counter_bits=counter_bits, **loads))

    @property
    def plan(self):
        return self.engine.plan

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        last = self.n_layers - 1
        m.d.comb += [
            eng.x_we.eq(self.x_we & ~self.busy), eng.x_addr.eq(self.x_addr), eng.x_data.eq(self.x_data),
            eng.y_addr.eq(self.y_addr), self.y_data.eq(eng.y_data),
        ]
        if self.engine.weight_ram is not None:
            m.d.comb += [eng.w_we.eq(self.w_we & ~self.busy), eng.w_pe.eq(self.w_pe), eng.w_addr.eq(self.w_addr),
                         eng.w_data.eq(self.w_data)]

        launch = Signal()
        advance = Signal()
        m.d.comb += [
            launch.eq(self.start & ~self.busy),
            advance.eq(self.busy & eng.finishing & (self.layer != last)),
            eng.start.eq(launch | advance),
            eng.layer.eq(self.layer + 1),
        ]
        with m.If(launch):
            m.d.comb += eng.layer.eq(0)

        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.Switch(self.layer):
                for k in range(self.n_layers):
                    with m.Case(k):
                        m.d.sync += self.layer_cycles[k].eq(self.layer_cycles[k] + 1)
        with m.If(advance):
            m.d.sync += self.layer.eq(self.layer + 1)
        with m.If(self.busy & eng.finishing & (self.layer == last)):
            m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        with m.If(launch):
            m.d.sync += [self.busy.eq(1), self.done.eq(0), self.layer.eq(0), self.cycles.eq(0)]
            m.d.sync += [self.layer_cycles[k].eq(0) for k in range(self.n_layers)]
        return m
