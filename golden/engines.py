"""The two engines that run a network, and the exact cycle model of each: the row engine (golden/cycles.py) and the
window engine (golden/window.py)."""

import numpy as np

from .cycles import network_cycles, plan_network
from .network import network_forward
from .window import plan_window_network, window_network_cycles, window_sample_cycles

__all__ = ["ENGINES", "AUTO_WINDOWS", "cycle_model", "sample_cycles", "cycles_for_inputs"]

ENGINES = ("row", "window")
AUTO_WINDOWS = (16, 64)      # the window engine's W that a command choosing the engine itself weighs


def cycle_model(network, pes, engine="row", window=None, delta_bits=0):
    """golden.cycles.NetworkCycles of `network` on `pes` PEs of `engine` (the window engine with windows of
    `window` activations; the row engine with entries of relative indices of `delta_bits` bits if that is > 0)."""
    if engine == "window":
        return window_network_cycles(plan_window_network(network, pes, window))
    if engine != "row":
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    return network_cycles(plan_network(network, pes, delta_bits))


def sample_cycles(network, x, pes, engine="row", window=None, outputs=None, delta_bits=0):
    """int64 [batch, layers]: the exact cycles of each layer for each sample of inputs x [batch, in]. The row
    engine's do not depend on the inputs; the window engine's do (it skips zero activations). `outputs`: every
    layer's golden outputs for x (network_forward with return_all), if already at hand. `delta_bits`: see
    :func:`cycle_model`."""
    if engine == "window":
        if outputs is None:
            outputs = network_forward(network, x, return_all=True)
        return window_sample_cycles(plan_window_network(network, pes, window), [x] + list(outputs[:-1]))
    per_layer = cycle_model(network, pes, engine, window, delta_bits).per_layer
    return np.tile(per_layer, (len(x), 1))


def cycles_for_inputs(network, x, pes, engine="row", window=None, outputs=None, delta_bits=0):
    """The exact cycles of `network` for each sample of inputs x [batch, in], summed up as a JSON-able dict:
    samples, mean, std, min, max of the whole inference and the mean of each layer. `outputs`, `delta_bits`: as
    for :func:`sample_cycles`."""
    per = sample_cycles(network, x, pes, engine, window, outputs, delta_bits)
    total = per.sum(axis=1)
    return {"samples": int(len(x)), "mean": float(total.mean()), "std": float(total.std()),
            "min": int(total.min()), "max": int(total.max()),
            "layer_mean": [float(v) for v in per.mean(axis=0)]}
