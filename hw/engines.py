"""The two engines that run a network behind the same host port (hw/ports.py), built from a golden network: the
row engine (hw/network.py: each PE reads any activation from its own copy of them, rows dealt whole) and the
window engine (hw/window_engine.py: one copy, read W activations at a time). :func:`build_engine` builds either,
with its exact cycle model.

(A module of its own, apart from hw/specs.py, so that the row engine's sources, which its calibrated area model
is fingerprinted by, do not include the window engine's.)"""

from ..golden.engines import ENGINES
from ..golden.network import Network
from ..golden.cycles import network_cycles
from ..golden.window import plan_window_network, window_network_cycles
from .specs import build_network_engine
from .window_engine import WindowEngine

__all__ = ["ENGINES", "build_window_engine", "build_engine"]


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
