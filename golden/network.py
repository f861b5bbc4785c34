"""Network files: an ordered list of layers whose widths chain, in one .npz.

Keys: ``n_layers`` (0-d int) and, for layer k (0-based), every layer key prefixed ``"k/"`` (``"0/kind"``,
``"0/weight"``, ...). Layer k+1 takes layer k's outputs: its ``in`` equals layer k's ``out`` and its ``in_bits``
equals layer k's ``out_bits``.
"""

import numpy as np

from ..plumbing import ContractError
from .chain import Chain, check_chain
from .forward import forward
from .layer import Layer, check_inputs, layer_from_dict, read_npz, save_npz

__all__ = ["Network", "load_network", "save_network", "load_model", "network_forward"]

MAX_LAYERS = 64


class Network(Chain):
    """A validated, chained list of layers."""

    def __init__(self, layers, where="network"):
        self.layers = check_chain(layers, where, bits=True)

    @classmethod
    def of(cls, model):
        """`model` as a Network: a Network as is, a Layer as a one-layer network, or a list of layers."""
        if isinstance(model, cls):
            return model
        if isinstance(model, Layer):
            return cls([model])
        return cls(list(model))

    @property
    def in_bits(self):
        return self.layers[0].in_bits

    def to_arrays(self):
        arrays = {"n_layers": np.array(len(self.layers))}
        for k, layer in enumerate(self.layers):
            arrays.update({f"{k}/{key}": v for key, v in layer.to_arrays().items()})
        return arrays


def network_from_dict(arrays, where):
    n = arrays["n_layers"]
    if n.ndim != 0 or n.dtype.kind not in "iu" or not 1 <= int(n) <= MAX_LAYERS:
        raise ContractError(f"{where}: n_layers must be a scalar integer in [1, {MAX_LAYERS}]")
    n = int(n)
    groups = [{} for _ in range(n)]
    for key, value in arrays.items():
        if key == "n_layers":
            continue
        head, sep, tail = key.partition("/")
        if not sep or not head.isdigit() or int(head) >= n:
            raise ContractError(f"{where}: unknown key {key!r} (expected n_layers or k/<layer key>, k < {n})")
        groups[int(head)][tail] = value
    layers = [layer_from_dict(g, f"{where}: layer {k}") for k, g in enumerate(groups)]
    return Network(layers, where)


def load_network(path):
    return network_from_dict(read_npz(path), str(path))


def save_network(network, path):
    if not isinstance(network, Network):
        network = Network(network)
    save_npz(path, network.to_arrays())


def load_model(path):
    """A layer file or a network file, as a Network (a layer file becomes a one-layer network)."""
    arrays = read_npz(path)
    if "n_layers" in arrays:
        return network_from_dict(arrays, str(path))
    return Network([layer_from_dict(arrays, str(path))], str(path))


def network_forward(network, x, return_all=False):
    """Golden outputs of the last layer [batch, out]; with return_all, the outputs of every layer."""
    x = check_inputs(x, network.n_in, network.in_bits)
    outs = []
    for layer in network:
        x = forward(layer, x)
        outs.append(x)
    return outs if return_all else outs[-1]
