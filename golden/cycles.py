"""The exact cycle model of the layer engine (P PEs on one layer) and of the network engine (layers back to back).

Like :data:`golden.encode.PE_LATENCY`, the overheads below are part of the contract: hw/engine.py and
hw/network.py implement them and a test holds the constants equal.

Layer engine, from the cycle after ``start`` to the cycle ``done`` is seen (as for a single PE):

    cycles = max over PEs with rows of (entries of the PE) + PE_LATENCY + ENGINE_OVERHEAD

Network engine, every layer run by the same engine, outputs of layer k written straight into the input buffer of
layer k+1 (ping-pong):

    cycles(layer k) = engine cycles of layer k + NETWORK_LAYER_OVERHEAD
    cycles          = sum over layers of cycles(layer k) + NETWORK_OVERHEAD

The engine overhead is two registers on the hand-over, one cycle each: the start reaches the PEs a cycle after
``start``, and the PEs' done flags are gathered into one register before ``done`` (they keep the hand-over out of
the clock's critical path). The layer overhead is the cycle in which the sequencer sees the engine's done and
starts the next layer; the last layer spends it registering the network's done.
"""

from dataclasses import dataclass

import numpy as np

from .assign import assign
from .encode import PE_LATENCY

__all__ = ["ENGINE_OVERHEAD", "NETWORK_LAYER_OVERHEAD", "NETWORK_OVERHEAD", "engine_cycles",
           "NetworkCycles", "network_cycles", "plan_network"]

ENGINE_OVERHEAD = 2
NETWORK_LAYER_OVERHEAD = 1
NETWORK_OVERHEAD = 0


def engine_cycles(assignment, latency=PE_LATENCY):
    """Exact cycles of one layer on the layer engine, from its assignment (per-PE encodings) alone."""
    return int(assignment.load.max()) + latency + ENGINE_OVERHEAD


@dataclass(frozen=True, eq=False)
class NetworkCycles:
    """The cycle model of a network on P PEs."""

    pes: int
    total: int
    per_layer: np.ndarray       # int64 [layers]: network-engine cycles of each layer (they sum to total)
    engine: np.ndarray          # int64 [layers]: cycles of each layer alone on the layer engine
    entries: np.ndarray         # int64 [layers]
    load: list                  # per layer: int64 [pes], entries per PE

    @property
    def efficiency(self):
        """Useful entries per PE-cycle over the whole network, in (0, 1]."""
        return float(self.entries.sum()) / (self.pes * self.total)


def plan_network(network, pes, delta_bits=0):
    """One Assignment per layer of a Network (or any sequence of layers); `delta_bits`: see golden.assign."""
    return [assign(layer, pes, delta_bits) for layer in network]


def network_cycles(assignments, latency=PE_LATENCY):
    """Exact cycles of a network on the network engine, from the per-layer assignments alone."""
    assignments = list(assignments)
    engine = np.array([engine_cycles(a, latency) for a in assignments], dtype=np.int64)
    per_layer = engine + NETWORK_LAYER_OVERHEAD
    return NetworkCycles(pes=assignments[0].pes, total=int(per_layer.sum()) + NETWORK_OVERHEAD,
                         per_layer=per_layer, engine=engine,
                         entries=np.array([a.entries for a in assignments], dtype=np.int64),
                         load=[a.load for a in assignments])

