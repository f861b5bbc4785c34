"""The two engines that run a network, and the exact cycle model of each: the row engine (golden/cycles.py) and the
window engine (golden/window.py)."""

from .cycles import network_cycles, plan_network
from .window import plan_window_network, window_network_cycles

__all__ = ["ENGINES", "AUTO_WINDOWS", "cycle_model"]

ENGINES = ("row", "window")
AUTO_WINDOWS = (16, 64)      # the window engine's W that a command choosing the engine itself weighs


def cycle_model(network, pes, engine="row", window=None):
    """golden.cycles.NetworkCycles of `network` on `pes` PEs of `engine` (the window engine with windows of
    `window` activations)."""
    if engine == "window":
        return window_network_cycles(plan_window_network(network, pes, window))
    if engine != "row":
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    return network_cycles(plan_network(network, pes))
