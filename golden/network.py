"""Network files: an ordered list of layers whose widths chain, in one .npz.

Keys: ``n_layers`` (0-d int) and, for layer k (0-based), every layer key prefixed ``"k/"`` (``"0/kind"``,
``"0/weight"``, ...), k written in plain ASCII decimal (``0``, ``1``, ... ``10``; never ``00`` or other digits), so
that every key names exactly one layer's key. Layer k+1 takes layer k's outputs: its ``in`` equals layer k's
``out`` and its ``in_bits`` equals layer k's ``out_bits``. All layers together store at most ``MAX_ENTRIES``
weights; every key, header and chain link is judged before any weight is read.
"""

import re

import numpy as np

from ..plumbing import ContractError
from .chain import Chain, check_chain
from .forward import forward
from .layer import (MAX_ENTRIES, MAX_LAYERS, Layer, LayerPlan, check_inputs, check_layer_keys, layer_from_archive,
                    members_of, open_archive, save_npz)

__all__ = ["Network", "load_network", "save_network", "load_model", "network_forward", "MAX_LAYERS"]

_LAYER_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)


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

    @property
    def plain(self):
        """Every layer is :attr:`Layer.plain`."""
        return all(layer.plain for layer in self.layers)

    def to_arrays(self, sparse=False):
        """The dict of arrays of the network's file (each layer as :meth:`Layer.to_arrays`)."""
        return self._arrays(lambda layer: layer.to_arrays(sparse))

    def file_arrays(self, sparse=None):
        """What :func:`save_network` writes (each layer as :meth:`Layer.file_arrays`)."""
        return self._arrays(lambda layer: layer.file_arrays(sparse))

    def _arrays(self, of_layer):
        arrays = {"n_layers": np.array(len(self.layers))}
        for k, layer in enumerate(self.layers):
            arrays.update({f"{k}/{key}": v for key, v in of_layer(layer).items()})
        return arrays


def _network(keys, get, where):
    """A Network from its keys and `get(key)` (members of a file, or arrays in memory): keys first, then every
    layer's scalars and headers, the chain and the size limit, and only then the weights' data."""
    if "n_layers" not in keys:
        raise ContractError(f"{where}: not a network file: missing key n_layers")
    n = get("n_layers")
    if n.ndim != 0 or n.dtype.kind not in "iu" or not 1 <= int(n.read()) <= MAX_LAYERS:
        raise ContractError(f"{where}: n_layers must be a scalar integer in [1, {MAX_LAYERS}]")
    n = int(n.read())
    groups = [[] for _ in range(n)]
    for key in keys:
        if key == "n_layers":
            continue
        head, sep, tail = key.partition("/")
        if not sep or not _LAYER_INDEX.fullmatch(head) or int(head) >= n:
            raise ContractError(f"{where}: unknown key {key!r} (expected n_layers or k/<layer key> with k in "
                                f"0..{n - 1}, plain decimal)")
        groups[int(head)].append(tail)
    for k, tails in enumerate(groups):
        check_layer_keys(tails, f"{where}: layer {k}")
    plans, total = [], 0
    for k, tails in enumerate(groups):
        plan = LayerPlan(tails, lambda t, k=k: get(f"{k}/{t}"), f"{where}: layer {k}")
        total += plan.entries
        if total > MAX_ENTRIES:
            plan.refuse_entries(total)
        plans.append(plan)
    check_chain(plans, where, bits=True)
    return Network([plan.build() for plan in plans], where)


def network_from_dict(arrays, where):
    """A Network from a dict of a network file's arrays (already in memory)."""
    return _network(list(arrays), members_of(arrays, where), where)


def load_network(path):
    """Load and validate a network .npz file."""
    with open_archive(path) as archive:
        return _network(archive.keys, archive.member, str(path))


def save_network(network, path, sparse=None):
    """Write `network` to `path` atomically; `sparse` as for :func:`golden.layer.save_layer`, for each layer."""
    if not isinstance(network, Network):
        network = Network(network)
    save_npz(path, network.file_arrays(sparse))


def load_model(path):
    """A layer file or a network file, as a Network (a layer file becomes a one-layer network)."""
    with open_archive(path) as archive:
        if "n_layers" in archive:
            return _network(archive.keys, archive.member, str(path))
        return Network([layer_from_archive(archive, str(path))], str(path))


def network_forward(network, x, return_all=False):
    """Golden outputs of the last layer [batch, out]; with return_all, the outputs of every layer."""
    x = check_inputs(x, network.n_in, network.in_bits)
    outs = []
    for layer in network:
        x = forward(layer, x)
        outs.append(x)
    return outs if return_all else outs[-1]
