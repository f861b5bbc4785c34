"""Simulation backends side by side: simulated cycles per second on the same network engine and inputs.

Run: python bench/sim_backends.py [--pes 4] [--batch 5000] [--amaranth-samples 3] [--icarus-samples 3]
                                  [--cxxrtl-samples 500]

The network is 784-256-10 pruned to 2% (MAM hidden layer with ReLU, MAC output layer), int8, as in
bench/engine_scaling.py. Every backend runs the whole engine RTL; outputs and cycle counts are checked against the
golden model and the cycle model on every sample each backend ran.

Cycles are those each backend really clocks. The compiled backends, Icarus and cocotb load each input through the
write port (one cycle per input), start, run, and read each output through y_addr; Amaranth's testbench places
the inputs in the buffer and reads the outputs in zero cycles, so only its start and run cycles count.

Rates, two per backend:
- end to end: clocked cycles / wall time of the whole call (elaboration, tool runs, process start-up included;
  the compiled backends' build is timed apart, in a fresh cache);
- simulation: the simulator alone. For Amaranth and Icarus, the extra cycles of a longer run over the extra
  time (so elaboration and compilation cancel out); for the compiled backends, the native driver's own count
  over its own wall time (and, in brackets, over its CPU time: the machine is shared, wall time suffers).

The compiled backend ("compiled") is a cycle model generated from the engine's Yosys netlist; with lanes it holds
several copies of the engine, each running its own samples in lockstep, and its cycles are those of all copies
(each copy clocks every cycle of its samples). "compiled, 1 lane" is the same model with one copy: the rate of a
single engine. "compiled-cxxrtl" is the CXXRTL fallback.

Targets: compiled >= 10M cycles/s and >= 300x Amaranth's simulator; the whole batch in under a minute including
the build.
"""

import argparse
import os
import tempfile
import time

import numpy as np

from engine_scaling import fitted_layer, pruned_weights
from mamhw.golden import Network, forward, network_forward
from mamhw.golden.cycles import network_cycles
from mamhw.rtl import run_rtl
from mamhw.sim.compiled import build_compiled
from mamhw.hw.specs import build_network_engine


def network_784_256_10(rng, samples):
    x = rng.integers(-128, 128, (samples, 784))
    hidden = fitted_layer("mam", pruned_weights(rng, 256, 784, 0.02), x[:500], True, rng)
    out = fitted_layer("mac", pruned_weights(rng, 10, 256, 0.02), forward(hidden, x[:500]), False, rng)
    return Network([hidden, out]), x


def clocked(backend, network, cycles):
    """Cycles a backend clocks for samples that each took `cycles` from start to done."""
    n = len(cycles)
    if backend == "amaranth":
        return int(cycles.sum()) + n                                    # the start cycle, then the run
    return int(cycles.sum()) + n * (network.n_in + 1 + network.n_out)  # load, start, run, read-back


class Row:
    def __init__(self, name, samples, wall, cycles, sim_rate, cpu_rate=None, exact=True, build=None):
        self.name, self.samples, self.wall, self.cycles, self.build = name, samples, wall, cycles, build
        self.rate, self.sim_rate, self.cpu_rate, self.exact = cycles / wall, sim_rate, cpu_rate, exact

    def print(self):
        cpu = f" ({self.cpu_rate / 1e6:5.1f}M cpu)" if self.cpu_rate else ""
        build = f"{self.build:7.1f}" if self.build is not None else f"{'':>7}"
        print(f"{self.name:>18} {self.samples:>7} {build} {self.wall:>8.2f} {self.cycles:>12,} {self.rate:>12,.0f} "
              f"{self.sim_rate:>12,.0f}{cpu:<15} {str(self.exact):>5}")


def exact(run_outputs, run_cycles, golden, model_total):
    return bool(np.array_equal(run_outputs, golden[:len(run_outputs)]) and np.all(run_cycles == model_total))


def slow_backend(name, network, x, golden, pes, n):
    """A slow backend on 1 sample, then on 1 + n: the simulation rate from the difference (a first run builds
    what the backend caches)."""
    run_rtl(network, x[:1], pes=pes, backend=name)
    times, runs = [], []
    for k in (1, 1 + n):
        t0 = time.perf_counter()
        runs.append(run_rtl(network, x[:k], pes=pes, backend=name))
        times.append(time.perf_counter() - t0)
    run = runs[1]
    cycles = clocked(name, network, run.cycles)
    extra = cycles - clocked(name, network, runs[0].cycles)
    sim_rate = extra / max(times[1] - times[0], 1e-9)
    return Row(name, 1 + n, times[1], cycles, sim_rate, exact=exact(run.outputs, run.cycles, golden, run.model.total))


def compiled_backend(name, network, x, golden, pes, **kw):
    """A compiled backend: the build (first call, fresh cache), then the batch."""
    t0 = time.perf_counter()
    if kw:                              # a variant run_rtl does not offer (one lane): build and run directly
        engine, assignments = build_network_engine(network, pes)
        model = network_cycles(assignments)
        design = build_compiled(engine, n_in=network.n_in, n_out=network.n_out, x_bits=network.in_bits,
                                y_bits=network[-1].out_bits, timeout=4 * model.total + 64,
                                counters=(("cycles", 1), ("layer_cycles", len(network))), **kw)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        outputs, cycles, _ = design.run(x)
        wall = time.perf_counter() - t1
        stats, total = design.stats, model.total
    else:
        run_rtl(network, x[:1], pes=pes, backend=name)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        run = run_rtl(network, x, pes=pes, backend=name)
        wall = time.perf_counter() - t1
        outputs, cycles, stats, total = run.outputs, run.cycles, run.stats, run.model.total
    assert stats["lane_cycles"] == clocked(name, network, cycles)
    row = Row(name if not kw else f"{name}, {kw['lanes']} lane", len(x), wall, stats["lane_cycles"],
              stats["lane_cycles"] / stats["wall"], stats["lane_cycles"] / max(stats["cpu"], 1e-9),
              exact(outputs, cycles, golden, total), build)
    row.lanes = stats["lanes"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pes", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--amaranth-samples", type=int, default=3)
    ap.add_argument("--icarus-samples", type=int, default=3)
    ap.add_argument("--cxxrtl-samples", type=int, default=500)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    network, x = network_784_256_10(rng, args.batch)
    golden = network_forward(network, x)
    print(f"784-256-10 network, {sum(l.nnz for l in network)} weights, P={args.pes}, batch {args.batch}")
    print(f"{'backend':>18} {'samples':>7} {'build s':>7} {'wall s':>8} {'sim cycles':>12} {'end-to-end/s':>12} "
          f"{'simulation/s':>12}{'':<15} {'exact':>5}")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MAMHW_CACHE"] = cache
        rows = {}
        for name, n in (("amaranth", args.amaranth_samples), ("icarus", args.icarus_samples)):
            rows[name] = slow_backend(name, network, x, golden, args.pes, n)
            rows[name].print()
        rows["cxxrtl"] = compiled_backend("compiled-cxxrtl", network, x[:args.cxxrtl_samples], golden, args.pes)
        rows["cxxrtl"].print()
        rows["1 lane"] = compiled_backend("compiled", network, x, golden, args.pes, lanes=1)
        rows["1 lane"].print()
        rows["compiled"] = compiled_backend("compiled", network, x, golden, args.pes)
        rows["compiled"].print()
    c, a, i, one = rows["compiled"], rows["amaranth"], rows["icarus"], rows["1 lane"]
    print(f"\ncompiled ({c.lanes} lanes): {c.sim_rate / 1e6:.1f}M cycles/s simulation ({c.cpu_rate / 1e6:.1f}M per CPU "
          f"second), {c.rate / 1e6:.1f}M end to end (target >= 10M); one lane: {one.sim_rate / 1e6:.1f}M "
          f"({one.cpu_rate / 1e6:.1f}M per CPU second)")
    print(f"compiled / amaranth: {c.sim_rate / a.sim_rate:,.0f}x simulation, {c.rate / a.rate:,.0f}x end to end "
          f"(target >= 300x); one lane: {one.sim_rate / a.sim_rate:,.0f}x")
    print(f"compiled / icarus:   {c.sim_rate / i.sim_rate:,.0f}x simulation, {c.rate / i.rate:,.0f}x end to end")
    print(f"compiled / cxxrtl:   {c.sim_rate / rows['cxxrtl'].sim_rate:,.0f}x simulation; one lane / cxxrtl: "
          f"{one.sim_rate / rows['cxxrtl'].sim_rate:,.0f}x")
    print(f"whole batch of {args.batch} through the compiled backend: {c.build + c.wall:.1f} s including a "
          f"{c.build:.1f} s build (target < 60 s)")
    if not all(r.exact for r in rows.values()):
        print("MISMATCH: some backend's outputs or cycle counts differ from the golden and cycle models")


if __name__ == "__main__":
    import sys

    import measurements

    sys.exit(measurements.run("sim_backends", main))
