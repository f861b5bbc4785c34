"""The bridge from golden to hw: a golden network dealt over P PEs (golden/assign.py) as the plain LayerSpecs the
engines are built from, and the engines built from them; or planned for the window engine (golden/window.py).

Two engines run a network behind the same host port (hw/ports.py): the row engine (hw/network.py: each PE reads
any activation, so each holds its own copy of them; rows dealt whole) and the window engine (hw/window_engine.py:
one copy, read W activations at a time). :func:`build_engine` builds either, with its exact cycle model."""

from ..golden.assign import assign
from ..golden.cycles import network_cycles
from ..golden.engines import ENGINES
from ..golden.network import Network
from ..golden.window import plan_window_network, window_network_cycles
from .engine import LayerEngine, LayerSpec, PESegment
from .network import NetworkEngine
from .options import EngineOptions
from .window_engine import WindowEngine

__all__ = ["ENGINES", "layer_specs", "build_layer_engine", "build_network_engine", "build_window_engine",
           "build_engine"]


def layer_specs(network, pes):
    """(LayerSpec per layer, golden Assignment per layer) for a Network (or a Layer, or a list of layers)."""
    specs, assignments = [], []
    for layer in Network.of(network):
        a = assign(layer, pes)
        segments = tuple(
            PESegment(weight=enc.weight, index=enc.index, last=enc.last, dense=enc.dense,
                      bias=layer.bias[rows], rows=rows, slice_last=enc.slice_last)
            for enc, rows in zip(a.encodings, a.rows))
        specs.append(LayerSpec(kind=layer.kind, in_bits=layer.in_bits, w_bits=layer.w_bits,
                               out_bits=layer.out_bits, mult=layer.mult, shift=layer.shift, relu=layer.relu,
                               n_in=layer.n_in, n_out=layer.n_out, segments=segments, splits=layer.splits,
                               relu_in=layer.relu_in))
        assignments.append(a)
    return specs, assignments


def build_layer_engine(network, pes=1, options=None, **changes):
    """A LayerEngine holding every layer of `network` on `pes` PEs, and the per-layer assignments. `options`: the
    engine's build options (hw/options.py), with `changes` (field=value) applied."""
    specs, assignments = layer_specs(network, pes)
    return LayerEngine(specs, EngineOptions.of(options, **changes)), assignments


def build_network_engine(network, pes=1, options=None, **changes):
    """A NetworkEngine for `network` on `pes` PEs, and the per-layer assignments; `options` and `changes` as
    :func:`build_layer_engine` takes them."""
    specs, assignments = layer_specs(network, pes)
    return NetworkEngine(specs, EngineOptions.of(options, **changes)), assignments


def build_window_engine(network, pes, window, dsp=None):
    """A WindowEngine for `network` on `pes` PEs with windows of `window` activations, and its per-layer plans."""
    plans = plan_window_network(Network.of(network), pes, window)
    return WindowEngine(plans, dsp=dsp), plans


def build_engine(network, pes, *, engine="row", window=None, options=None, **changes):
    """(component, golden.cycles.NetworkCycles) of `network` on `engine` ("row" or "window", with `window`
    activations per window). `options` and `changes`: the row engine's build options; the window engine takes
    only ``dsp``."""
    if engine == "row":
        top, assignments = build_network_engine(network, pes, options, **changes)
        return top, network_cycles(assignments)
    if engine != "window":
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    dsp = changes.pop("dsp", None) or (options.dsp if options is not None else None)
    if changes:
        raise ValueError(f"the window engine has no options {', '.join(sorted(changes))}")
    top, plans = build_window_engine(network, pes, window, dsp)
    return top, window_network_cycles(plans)
