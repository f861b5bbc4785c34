"""Simulation backends side by side: simulated cycles per second on the same network engine and inputs.

Run: python bench/sim_backends.py [--networks 784-256-10 vit-mlp vgg-head] [--pes 4] [--skip BACKEND ...]
                                  [--repeat 3] [--record]
     python bench/sim_backends.py --quick        (a 64-32-10 network, a few samples per backend: what the test runs)

Networks (random int8 weights; every sample's outputs and cycle counts are checked against the golden model and the
cycle model, on every backend):

- 784-256-10: pruned to 2% (MAM hidden layer with ReLU, MAC output layer), requantization fitted to the inputs, as
  in bench/engine_scaling.py; thousands of samples for the compiled backends;
- vit-mlp: a ViT-B/16 MLP block 768-3072-768, every layer at 1% (fpga.estimate.random_network: MAM hidden layer,
  MAC output layer);
- vgg-head: VGG-16's classifier 25088-4096-4096-1000, every layer at 0.04%. These two run a few samples.

Backends: Amaranth's simulator and Icarus (cocotb, the emitted Verilog), both through mamhw.rtl.run_rtl; the
compiled backend's CXXRTL engine, its cycle model with one lane (one sample stream) and with four (four samples in
lockstep, the default); and Verilator 5 on the emitted Verilog (sim/verilator.py), when `verilator` is installed.
The compiled backends and Verilator are clocked by the same native driver, which counts what it clocks: every
sample loads each input through the write port (one cycle each), starts, runs until done, and reads each output
row through y_addr (the rows follow Y_LATENCY cycles behind their addresses). Amaranth's testbench places the
inputs and reads the outputs in zero cycles, so only its start and run cycles count.

Rates:
- native backends (compiled, Verilator): the driver's own cycle count over the CPU time it used, the best of
  --repeat runs of the batch (the machine is shared: wall time suffers from other jobs, CPU time much less); its
  wall-time rate beside it. Four lanes count the cycles of every lane.
- Amaranth and Icarus: the extra cycles of a longer run over its extra wall time (elaboration, compilation and
  start-up cancel out).
- build: seconds to build the simulator in a fresh cache (the compiled backends and Verilator cache builds).

The ratios that matter: compiled (one lane) / Verilator, one sample stream against one, target >= 3x on the two real
sizes; compiled (four lanes) / Verilator, what a batch gets.
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from engine_scaling import fitted_layer, pruned_weights
from mamhw.fpga.estimate import random_network
from mamhw.golden import Network, forward, network_forward
from mamhw.golden.cycles import network_cycles, plan_network
from mamhw.hw.network import NetworkEngine
from mamhw.hw.specs import build_network_engine
from mamhw.rtl import run_rtl
from mamhw.sim import verilator
from mamhw.sim.compiled import build_compiled

TARGET = 3.0                # compiled (one lane) / Verilator on the real sizes


@dataclass
class Workload:
    name: str
    title: str
    network: Network
    x: np.ndarray
    samples: dict           # backend -> samples it runs (Amaranth and Icarus: the extra samples of the longer run)
    real: bool              # a real size: the ratio target applies


def network_784_256_10(rng, samples):
    x = rng.integers(-128, 128, (samples, 784))
    hidden = fitted_layer("mam", pruned_weights(rng, 256, 784, 0.02), x[:500], True, rng)
    out = fitted_layer("mac", pruned_weights(rng, 10, 256, 0.02), forward(hidden, x[:500]), False, rng)
    return Network([hidden, out]), x


def network_64_32_10(rng, samples):
    x = rng.integers(-128, 128, (samples, 64))
    hidden = fitted_layer("mam", pruned_weights(rng, 32, 64, 0.1), x, True, rng)
    out = fitted_layer("mac", pruned_weights(rng, 10, 32, 0.2), forward(hidden, x), False, rng)
    return Network([hidden, out]), x


def random_sized(shape, density, rng, samples):
    network = random_network(shape, density=density, seed=1)
    return network, rng.integers(-128, 128, (samples, shape[0]))


def workloads(names, quick):
    rng = np.random.default_rng(0)
    if quick:
        network, x = network_64_32_10(rng, 8)
        yield Workload("64-32-10", "64-32-10 network at 10% / 20%", network, x,
                       dict(amaranth=1, icarus=1, cxxrtl=4, lanes1=8, lanes4=8, verilator=4), False)
        return
    for name in names:
        if name == "784-256-10":
            network, x = network_784_256_10(rng, 5000)
            yield Workload(name, "784-256-10 network at 2%", network, x,
                           dict(amaranth=3, icarus=3, cxxrtl=500, lanes1=5000, lanes4=5000, verilator=500), False)
        elif name == "vit-mlp":
            network, x = random_sized([768, 3072, 768], 0.01, rng, 32)
            yield Workload(name, "ViT-B/16 MLP block 768-3072-768 at 1%", network, x,
                           dict(amaranth=1, icarus=1, cxxrtl=8, lanes1=32, lanes4=32, verilator=8), True)
        elif name == "vgg-head":
            network, x = random_sized([25088, 4096, 4096, 1000], 0.0004, rng, 16)
            yield Workload(name, "VGG-16 classifier 25088-4096-4096-1000 at 0.04%", network, x,
                           dict(amaranth=1, icarus=1, cxxrtl=4, lanes1=16, lanes4=16, verilator=4), True)
        else:
            raise SystemExit(f"unknown network {name!r}")


@dataclass
class Row:
    label: str
    samples: int
    cycles: int             # simulated cycles the rate counts
    rate: float             # cycles per CPU second (native backends) or per wall second (the others)
    wall_rate: float = None
    build: float = None
    exact: bool = True
    note: str = ""

    def line(self):
        build = f"{self.build:8.1f}" if self.build is not None else f"{'-':>8}"
        wall = f"{self.wall_rate:>12,.0f}" if self.wall_rate is not None else f"{'-':>12}"
        kind = "cpu" if self.wall_rate is not None else "wall"
        return (f"  {self.label:<24} {self.samples:>7} {build} {self.cycles:>13,} {self.rate:>12,.0f} {kind:<4} "
                f"{wall} {'yes' if self.exact else 'NO':>5}{self.note}")


HEADER = (f"  {'backend':<24} {'samples':>7} {'build s':>8} {'sim cycles':>13} {'cycles/s':>12} {'of':<4} "
          f"{'wall c/s':>12} {'exact':>5}")


def clocked(network, cycles, y_latency, counts_io=True):
    """Cycles a backend clocks for samples that each took `cycles` from start to done."""
    n = len(cycles)
    if not counts_io:
        return int(cycles.sum()) + n                            # the start cycle, then the run
    return int(cycles.sum()) + n * (network.n_in + 1 + network.n_out + y_latency - 1)


def check(network, x, outputs, cycles, model_total):
    return bool(np.array_equal(outputs, network_forward(network, x)) and np.all(cycles == model_total))


def slow_backend(label, backend, w, pes, n, y_latency):
    """Amaranth or Icarus through run_rtl: 1 sample, then 1 + n; the rate from the difference (a first run builds
    what the backend caches)."""
    x = w.x[:1 + n]
    run_rtl(w.network, x[:1], pes=pes, backend=backend)
    times, runs = [], []
    for k in (1, 1 + n):
        t0 = time.perf_counter()
        runs.append(run_rtl(w.network, x[:k], pes=pes, backend=backend))
        times.append(time.perf_counter() - t0)
    io = backend != "amaranth"
    cycles = [clocked(w.network, r.cycles, y_latency, io) for r in runs]
    rate = (cycles[1] - cycles[0]) / max(times[1] - times[0], 1e-9)
    run = runs[1]
    return Row(label, 1 + n, cycles[1], rate, exact=check(w.network, x, run.outputs, run.cycles, run.model.total))


def native_backend(label, build, w, n, repeat, y_latency, model_total):
    """A backend run by the native driver: build (timed, fresh cache), then the batch `repeat` times."""
    t0 = time.perf_counter()
    design = build()
    build_s = time.perf_counter() - t0
    x = w.x[:n]
    best = None
    exact = True
    for _ in range(repeat):
        outputs, cycles, _ = design.run(x)
        exact = exact and check(w.network, x, outputs, cycles, model_total)
        stats = design.stats
        assert stats["lane_cycles"] == clocked(w.network, cycles, y_latency), (stats, cycles)
        if best is None or stats["cpu"] < best["cpu"]:
            best = stats
    note = f"  ({design.engine}, {design.note})" if design.note else ""
    return Row(label, n, best["lane_cycles"], best["lane_cycles"] / max(best["cpu"], 1e-9),
               best["lane_cycles"] / best["wall"], build_s, exact, note)


def run_workload(w, args):
    network, pes = w.network, args.pes
    model = network_cycles(plan_network(network, pes))
    y_latency = NetworkEngine.Y_LATENCY
    kw = dict(n_in=network.n_in, n_out=network.n_out, x_bits=network.in_bits, y_bits=network[-1].out_bits,
              counters=(("cycles", 1), ("layer_cycles", len(network))), timeout=4 * model.total + 64)
    print(f"\n{w.title}: {sum(layer.nnz for layer in network):,} weights, P = {pes}, {model.total:,} cycles from "
          f"start to done per sample (+ {network.n_in:,} to load, 1 to start, {network.n_out + y_latency - 1:,} to "
          "read)")
    print(HEADER, flush=True)

    def engine_of():                    # a component elaborates once: a fresh one per build
        return build_network_engine(network, pes)[0]

    rows = {}
    plan = [
        ("amaranth", "Amaranth simulator", lambda n: slow_backend("Amaranth simulator", "amaranth", w, pes, n,
                                                                  y_latency)),
        ("icarus", "Icarus (cocotb)", lambda n: slow_backend("Icarus (cocotb)", "icarus", w, pes, n, y_latency)),
        ("cxxrtl", "compiled, CXXRTL", lambda n: native_backend(
            "compiled, CXXRTL", lambda: build_compiled(engine_of(), engine="cxxrtl", **kw), w, n, args.repeat,
            y_latency, model.total)),
        ("lanes1", "compiled, 1 lane", lambda n: native_backend(
            "compiled, 1 lane", lambda: build_compiled(engine_of(), engine="cyclesim", lanes=1, **kw), w, n,
            args.repeat, y_latency, model.total)),
        ("lanes4", "compiled, 4 lanes", lambda n: native_backend(
            "compiled, 4 lanes", lambda: build_compiled(engine_of(), engine="cyclesim", lanes=4, **kw), w, n,
            args.repeat, y_latency, model.total)),
        ("verilator", "Verilator", lambda n: native_backend(
            "Verilator", lambda: verilator.build_verilator(engine_of(), **kw), w, n, args.repeat, y_latency,
            model.total)),
    ]
    for key, label, measure in plan:
        if key in args.skip:
            continue
        if key == "verilator" and verilator.version() is None:
            print(f"  {label:<24} skipped: verilator is not installed")
            continue
        rows[key] = measure(w.samples[key])
        print(rows[key].line(), flush=True)
    return rows


def ratios(w, rows):
    """The ratio lines of one workload, and whether a real size missed the target."""
    lines, missed = [], False

    def ratio(a, b):
        return rows[a].rate / rows[b].rate if a in rows and b in rows else None

    if "verilator" in rows:
        one, four = ratio("lanes1", "verilator"), ratio("lanes4", "verilator")
        if one is not None:
            verdict = ""
            if w.real:
                missed = one < TARGET
                verdict = f" (target >= {TARGET:.0f}x: {'MISSED' if missed else 'met'})"
            lines.append(f"  compiled 1 lane / Verilator: {one:.2f}x per CPU second{verdict}")
        if four is not None:
            lines.append(f"  compiled 4 lanes / Verilator: {four:.2f}x")
    for slow in ("amaranth", "icarus", "cxxrtl"):
        r = ratio("lanes4", slow)
        if r is not None:
            lines.append(f"  compiled 4 lanes / {rows[slow].label}: {r:,.0f}x")
    return lines, missed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", nargs="+", default=["784-256-10", "vit-mlp", "vgg-head"],
                    choices=["784-256-10", "vit-mlp", "vgg-head"])
    ap.add_argument("--pes", type=int, default=4)
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["amaranth", "icarus", "cxxrtl", "lanes1", "lanes4", "verilator"])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each native backend's batch (the best counts)")
    ap.add_argument("--quick", action="store_true", help="a 64-32-10 network and a few samples: seconds, not hours")
    args = ap.parse_args(argv)
    ver = verilator.version()
    print(f"Verilator: {ver.split(' rev')[0] if ver else 'not installed'}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    exact = True
    with tempfile.TemporaryDirectory(prefix="mamhw-bench-") as cache:
        os.environ["MAMHW_CACHE"] = cache
        for w in workloads(args.networks, args.quick):
            rows = run_workload(w, args)
            lines, _ = ratios(w, rows)
            print("\n".join(lines))
            exact = exact and all(r.exact for r in rows.values())
    if not exact:
        print("MISMATCH: a backend's outputs or cycle counts differ from the golden model and the cycle model")
        return 1
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("sim_backends", main))
