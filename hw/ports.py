"""The network engine's port to its host: one named signature that the engine declares (hw/network.py), the host
link drives (hw/hostlink.py, flipped) and the simulators and exported designs follow.

    member        engine  width
    x_we          in      1
    x_addr        in      addr_bits(n_in)
    x_data        in      signed(in_bits)
    start         in      1
    busy          out     1
    done          out     1
    cycles        out     counter_bits
    layer         out     addr_bits(n_layers)
    layer_cycles  out     n_layers x counter_bits
    y_addr        in      addr_bits(n_out)          y_data follows y_addr y_latency cycles later
    y_data        out     signed(out_bits)
    w_we          in      1                         (the w_ members only with weights loaded at run time)
    w_pe          in      addr_bits(PEs)
    w_addr        in      addr_bits(most entries of a PE)
    w_data        in      weight_bits

What each member does: EngineHostPort.MEANING. addr_bits(n) = max(1, ceil_log2(n)), as the engine sizes its
counters. The flows are the engine's: ``In`` is what its
host drives. The host link's side is ``In(EngineHostPort(...))``, and ``wiring.connect`` joins the two.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["EngineHostPort", "addr_bits"]


def addr_bits(n):
    """Address bits for `n` words: at least 1."""
    return max(1, ceil_log2(max(1, n)))


class EngineHostPort(wiring.Signature):
    """The engine's host port for a network of `n_in` `in_bits`-wide inputs and `n_out` `out_bits`-wide outputs in
    `n_layers` layers. `y_latency`: cycles from ``y_addr`` to its ``y_data``. `counter_bits`: width of ``cycles`` and
    of each of ``layer_cycles``. `weight_words`: when the entry words are loaded at run time, each PE's entry count
    (0 for a PE not built), and `weight_bits` their width; the ``w_*`` members exist only then."""

    # One line per member, for documentation that lists the ports (mam export's PORTS.md).
    MEANING = {
        "x_we": "write x_data to input x_addr in this cycle (ignored while busy)",
        "x_addr": "input number",
        "x_data": "input value (signed)",
        "start": "one cycle high: run the network on the loaded inputs (ignored while busy)",
        "busy": "high from the cycle after start until the run ends",
        "done": "rises once per run, at its end, and holds until the next start",
        "cycles": "the last run's cycle count (valid while done)",
        "layer": "the layer running now",
        "layer_cycles": "each layer's cycles of the last run, layer k at bits k*counter_bits",
        "y_addr": "output number; a new one may be set every cycle",
        "y_data": "output y_addr as it was y_latency cycles before (signed)",
        "w_we": "write w_data to entry w_addr of PE w_pe in this cycle (ignored while busy)",
        "w_pe": "PE number",
        "w_addr": "entry number, below the PE's entry count",
        "w_data": "entry word",
    }

    def __init__(self, *, n_in, in_bits, n_out, out_bits, n_layers, y_latency, counter_bits=32, weight_words=None,
                 weight_bits=0):
        self.n_in, self.in_bits, self.n_out, self.out_bits = int(n_in), int(in_bits), int(n_out), int(out_bits)
        self.n_layers, self.y_latency, self.counter_bits = int(n_layers), int(y_latency), int(counter_bits)
        self.weight_words = None if weight_words is None else tuple(int(n) for n in weight_words)
        self.weight_bits = int(weight_bits)
        if (self.weight_words is None) != (not self.weight_bits) or self.weight_words == ():
            raise ValueError("weight_words (one count per PE) and weight_bits go together")
        if self.y_latency < 1:
            raise ValueError("y_latency must be at least one cycle (the output read is synchronous)")
        members = {}
        if self.weight_words is not None:
            members = {"w_we": In(1), "w_pe": In(addr_bits(len(self.weight_words))),
                       "w_addr": In(addr_bits(max(self.weight_words))), "w_data": In(self.weight_bits)}
        super().__init__(members | {
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(self.counter_bits),
            "layer": Out(addr_bits(self.n_layers)),
            "layer_cycles": Out(data.ArrayLayout(unsigned(self.counter_bits), self.n_layers)),
            "x_we": In(1),
            "x_addr": In(addr_bits(self.n_in)),
            "x_data": In(signed(self.in_bits)),
            "y_addr": In(addr_bits(self.n_out)),
            "y_data": Out(signed(self.out_bits)),
        })

    @property
    def loads_weights(self):
        return self.weight_words is not None

    @property
    def pes(self):
        """PEs the weight port addresses (None when the weights are baked in)."""
        return None if self.weight_words is None else len(self.weight_words)

    def _key(self):
        return (self.n_in, self.in_bits, self.n_out, self.out_bits, self.n_layers, self.y_latency, self.counter_bits,
                self.weight_words, self.weight_bits)

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        weights = "" if self.weight_words is None else \
            f", weight_words={list(self.weight_words)}, weight_bits={self.weight_bits}"
        return (f"EngineHostPort(n_in={self.n_in}, in_bits={self.in_bits}, n_out={self.n_out}, "
                f"out_bits={self.out_bits}, n_layers={self.n_layers}, y_latency={self.y_latency}, "
                f"counter_bits={self.counter_bits}{weights})")
