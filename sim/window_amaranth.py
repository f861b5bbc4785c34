"""Run a network on the window engine in Amaranth's simulator, through its host port (inputs written, outputs
read, as a host does): outputs, measured cycles (total and per layer) and the cycle model's beside them (its
exact cycles for each sample's inputs, and the most any inputs take)."""

from dataclasses import dataclass

import numpy as np

from ..golden import check_inputs, network_forward
from ..golden.cycles import NetworkCycles
from ..golden.network import Network
from ..golden.window import plan_window_network, window_network_cycles, window_sample_cycles
from ..hw.window_engine import WindowEngine
from .pe_amaranth import read_outputs, run_testbench, start_and_wait, write_inputs

__all__ = ["WindowSimResult", "simulate_window"]


@dataclass
class WindowSimResult:
    outputs: np.ndarray             # int64 [batch, out]
    cycles: np.ndarray              # int64 [batch]: start to done, counted by the testbench
    counter: np.ndarray             # int64 [batch]: the engine's own counter
    layer_cycles: np.ndarray        # int64 [batch, layers]: its per-layer counters
    model: NetworkCycles            # the cycle model with no activation zero (the most any inputs take)
    model_layer_cycles: np.ndarray  # int64 [batch, layers]: the cycle model's for each sample's inputs

    @property
    def model_cycles(self):
        """int64 [batch]: the cycle model's for each sample."""
        return self.model_layer_cycles.sum(axis=1)

    @property
    def matches_model(self):
        return bool(np.all(self.cycles == self.model_cycles) and np.all(self.counter == self.model_cycles)
                    and np.all(self.layer_cycles == self.model_layer_cycles))


def simulate_window(network, x, pes, window, *, group=None, split=None, timeout=None, vcd=None, dsp=None,
                    progress=None):
    """Outputs and cycles of `network` (a Network, a Layer or a list of layers) on the window engine with `pes` PEs
    and windows of `window` activations (groups of `group` entries, rows in `split` parts; None: the planner's
    choice), for inputs `x` [batch, in]."""
    network = Network.of(network)
    x = check_inputs(x, network.n_in, network.in_bits)
    plans = plan_window_network(network, pes, window, group, split)
    model = window_network_cycles(plans)
    expected = window_sample_cycles(plans, [x] + network_forward(network, x, return_all=True)[:-1])
    top = WindowEngine(plans, dsp=dsp)
    batch, n_layers = x.shape[0], len(plans)
    outputs = np.zeros((batch, network.n_out), dtype=np.int64)
    cycles = np.zeros(batch, dtype=np.int64)
    counter = np.zeros(batch, dtype=np.int64)
    layer_cycles = np.zeros((batch, n_layers), dtype=np.int64)
    timeout = timeout or 2 * model.total + 100

    async def testbench(ctx):
        for s in range(batch):
            await write_inputs(ctx, top, x[s])
            cycles[s] = await start_and_wait(ctx, top, timeout, int(expected[s].sum()))
            counter[s] = ctx.get(top.cycles)
            counts = ctx.get(top.layer_cycles)
            layer_cycles[s] = [counts[k] for k in range(n_layers)]
            await read_outputs(ctx, top, outputs[s])
            if progress is not None:
                progress(s + 1, batch)

    run_testbench(top, testbench, vcd)
    return WindowSimResult(outputs=outputs, cycles=cycles, counter=counter, layer_cycles=layer_cycles,
                           model=model, model_layer_cycles=expected)
