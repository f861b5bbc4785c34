"""Run a layer or a network on the multi-PE engines in Amaranth's simulator: outputs, measured cycles (total and
per layer) and the cycle model's prediction beside them."""

from dataclasses import dataclass

import numpy as np

from ..golden import check_inputs
from ..golden.cycles import NetworkCycles, network_cycles
from ..golden.network import Network
from ..hw.specs import build_layer_engine, build_network_engine
from .pe_amaranth import run_testbench, start_and_wait

__all__ = ["EngineSimResult", "simulate_network", "simulate_layer_engine", "place_inputs", "fetch_outputs"]



@dataclass
class EngineSimResult:
    outputs: np.ndarray             # int64 [batch, out]: the last layer's outputs
    cycles: np.ndarray              # int64 [batch]: start to done, counted by the testbench
    counter: np.ndarray             # int64 [batch]: the engine's own cycle counter
    layer_cycles: np.ndarray        # int64 [batch, layers]: the engine's per-layer counters
    model: NetworkCycles            # the cycle model's prediction (same for every sample)
    pes: int
    network: bool = True            # False: the layer engine alone (no sequencer), one layer

    @property
    def model_cycles(self):
        return self.model.total if self.network else int(self.model.engine[0])

    @property
    def model_layer_cycles(self):
        return self.model.per_layer if self.network else self.model.engine

    @property
    def load(self):
        """Entries per PE, one int64 [pes] array per layer."""
        return self.model.load

    @property
    def entries(self):
        """Entries per layer, int64 [layers]."""
        return self.model.entries

    @property
    def efficiency(self):
        """Entries / (P * cycles) per sample, float [batch]."""
        return float(self.entries.sum()) / (self.pes * self.cycles.astype(np.float64))

    @property
    def matches_model(self):
        return bool(np.all(self.cycles == self.model_cycles) and np.all(self.counter == self.model_cycles)
                    and np.all(self.layer_cycles == self.model_layer_cycles))


def place_inputs(ctx, engine, x_row):
    """Write one input vector straight into every replica of the input buffer (zero cycles)."""
    plan = engine.plan
    for i, v in enumerate(x_row.tolist()):
        bank, pos = int(plan.input_bank[i]), int(plan.input_pos[i])
        for replica in engine.buffers[0]:
            ctx.set(replica[bank].data[engine.buffer_base[0] + pos], v)


def fetch_outputs(ctx, engine, out):
    """Read the last layer's outputs from the output buffer into `out` [n_out]."""
    plan = engine.plan
    banks = engine.buffers[plan.output_buffer][0]
    for r, (bank, pos) in enumerate(zip(plan.out_bank[-1].tolist(), plan.out_pos[-1].tolist())):
        out[r] = ctx.get(banks[bank].data[engine.buffer_base[plan.output_buffer] + pos])


async def load_weights(ctx, top, engine):
    """Write every PE's entry words through the engine's loading ports (``w_*``), one word per cycle."""
    for p, pe in enumerate(engine.pe):
        if pe is None:
            continue
        for a, word in enumerate(pe.entry_words):
            ctx.set(top.w_we, 1)
            ctx.set(top.w_pe, p)
            ctx.set(top.w_addr, a)
            ctx.set(top.w_data, word)
            await ctx.tick()
    ctx.set(top.w_we, 0)


def _run(top, engine, x, timeout, per_layer, vcd, progress, layer=None):
    batch, n_layers = x.shape[0], len(engine.layers)
    outputs = np.zeros((batch, engine.layers[-1].n_out), dtype=np.int64)
    cycles = np.zeros(batch, dtype=np.int64)
    counter = np.zeros(batch, dtype=np.int64)
    layer_cycles = np.zeros((batch, n_layers), dtype=np.int64)

    async def testbench(ctx):
        if engine.weight_ram is not None:
            await load_weights(ctx, top, engine)
        for s in range(batch):
            place_inputs(ctx, engine, x[s])
            if layer is not None:
                ctx.set(top.layer, layer)
            cycles[s] = await start_and_wait(ctx, top, timeout)
            counter[s] = ctx.get(top.cycles)
            if per_layer:
                counts = ctx.get(top.layer_cycles)
                layer_cycles[s] = [counts[k] for k in range(n_layers)]
            fetch_outputs(ctx, engine, outputs[s])
            if progress is not None:
                progress(s + 1, batch)

    run_testbench(top, testbench, vcd)
    return outputs, cycles, counter, layer_cycles


def simulate_network(network, x, pes=1, vcd=None, progress=None, options=None, **changes):
    """Run every sample of x ([batch, in] or [in]) through `network` (a golden Network, or a Layer: a one-layer
    network) on the NetworkEngine with `pes` PEs.

    Inputs are placed in the input buffer directly, in zero cycles; the counted cycles run from start to done.
    `options` (and `changes`): the engine's build options (hw/options.py). With ``weight_ram="memory"`` the entry
    words sit in RAMs that the testbench first loads through the engine's ports, as the host link does on a board
    whose weights are in SPRAM (hw/weight_ram.py).
    """
    network = Network.of(network)
    x = check_inputs(x, network.n_in, network.in_bits)
    top, assignments = build_network_engine(network, pes, options, **changes)
    model = network_cycles(assignments, top.LATENCY)
    outputs, cycles, counter, layer_cycles = _run(top, top.engine, x, 4 * model.total + 64, True, vcd, progress)
    return EngineSimResult(outputs=outputs, cycles=cycles, counter=counter, layer_cycles=layer_cycles,
                           model=model, pes=int(pes))


def simulate_layer_engine(layer, x, pes=1, vcd=None, progress=None, options=None, **changes):
    """Run a single layer on the LayerEngine alone (no sequencer); layer_cycles holds the engine's counter."""
    network = Network.of(layer)
    if len(network) != 1:
        raise ValueError("simulate_layer_engine runs one layer; use simulate_network for networks")
    x = check_inputs(x, network.n_in, network.in_bits)
    top, assignments = build_layer_engine(network, pes, options, **changes)
    model = network_cycles(assignments, top.LATENCY)
    outputs, cycles, counter, _ = _run(top, top, x, 4 * model.total + 64, False, vcd, progress, layer=0)
    return EngineSimResult(outputs=outputs, cycles=cycles, counter=counter, layer_cycles=counter[:, None].copy(),
                           model=model, pes=int(pes), network=False)
