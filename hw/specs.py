"""The bridge from golden to hw: a golden network dealt over P PEs (golden/assign.py) as the plain LayerSpecs the
engines are built from, and the engines built from them."""

from ..golden.assign import assign
from ..golden.network import Network
from .engine import LayerEngine, LayerSpec, PESegment
from .network import NetworkEngine
from .options import EngineOptions

__all__ = ["layer_specs", "build_layer_engine", "build_network_engine"]


def layer_specs(network, pes, delta_bits=0):
    """(LayerSpec per layer, golden Assignment per layer) for a Network (or a Layer, or a list of layers); with
    `delta_bits`, the entry streams hold the fillers of relative indices (golden/encode.py)."""
    specs, assignments = [], []
    for layer in Network.of(network):
        a = assign(layer, pes, delta_bits)
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
    options = EngineOptions.of(options, **changes)
    specs, assignments = layer_specs(network, pes, options.delta_bits)
    return LayerEngine(specs, options), assignments


def build_network_engine(network, pes=1, options=None, **changes):
    """A NetworkEngine for `network` on `pes` PEs, and the per-layer assignments; `options` and `changes` as
    :func:`build_layer_engine` takes them."""
    options = EngineOptions.of(options, **changes)
    specs, assignments = layer_specs(network, pes, options.delta_bits)
    return NetworkEngine(specs, options), assignments
