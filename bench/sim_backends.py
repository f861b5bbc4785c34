"""Simulation backends side by side: simulated cycles per second on the same network engine and inputs.

Run: python bench/sim_backends.py [--pes 4] [--batch 5000] [--amaranth-samples 3] [--icarus-samples 3]

The network is 784-256-10 pruned to 2% (MAM hidden layer with ReLU, MAC output layer), int8, as in
bench/engine_scaling.py. Every backend runs the whole engine (loading each input through the write port,
computing, reading the outputs back); simulated cycles count all of it. The slow backends run a few samples, the
compiled one the whole batch; outputs are checked against the golden model on every sample each backend ran.
Targets: compiled >= 10M cycles/s and >= 300x Amaranth's simulator; the whole batch in under a minute including
the build (a fresh cache folder is used so that the build is really timed).
"""

import argparse
import os
import tempfile
import time

import numpy as np

from engine_scaling import fitted_layer, pruned_weights
from mamhw.golden import Network, forward, network_forward
from mamhw.rtl import run_rtl


def network_784_256_10(rng, samples):
    x = rng.integers(-128, 128, (samples, 784))
    hidden = fitted_layer("mam", pruned_weights(rng, 256, 784, 0.02), x[:500], True, rng)
    out = fitted_layer("mac", pruned_weights(rng, 10, 256, 0.02), forward(hidden, x[:500]), False, rng)
    return Network([hidden, out]), x


def simulated_cycles(network, run, samples):
    """Cycles the simulator advanced: per sample, the input load, the run and the output read-back."""
    return int(run.cycles[:samples].sum()) + samples * (network.n_in + network.n_out + 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pes", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--amaranth-samples", type=int, default=3)
    ap.add_argument("--icarus-samples", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    network, x = network_784_256_10(rng, args.batch)
    golden = network_forward(network, x)
    print(f"784-256-10 network, {sum(l.nnz for l in network)} weights, P={args.pes}, batch {args.batch}")
    print(f"{'backend':>9} {'samples':>8} {'wall s':>8} {'sim cycles':>12} {'cycles/s':>12} {'bit-exact':>9}")
    rates = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MAMHW_CACHE"] = cache
        for backend, n in (("amaranth", args.amaranth_samples), ("icarus", args.icarus_samples),
                           ("compiled", args.batch)):
            t0 = time.perf_counter()
            if backend == "compiled":
                run = run_rtl(network, x[:1], pes=args.pes, backend=backend)       # the build, timed apart
                build = time.perf_counter() - t0
                t1 = time.perf_counter()
                run = run_rtl(network, x[:n], pes=args.pes, backend=backend)
                wall = time.perf_counter() - t1
                total = time.perf_counter() - t0
            else:
                run = run_rtl(network, x[:n], pes=args.pes, backend=backend)
                wall = time.perf_counter() - t0
            cyc = simulated_cycles(network, run, n)
            rates[backend] = cyc / wall
            exact = np.array_equal(run.outputs, golden[:n]) and bool(np.all(run.cycles == run.model.total))
            print(f"{backend:>9} {n:>8} {wall:>8.2f} {cyc:>12,} {rates[backend]:>12,.0f} {str(exact):>9}")
    print(f"\ncompiled / amaranth: {rates['compiled'] / rates['amaranth']:,.0f}x (target >= 300x)")
    print(f"compiled / icarus:   {rates['compiled'] / rates['icarus']:,.0f}x")
    print(f"compiled: {rates['compiled'] / 1e6:.1f}M cycles/s (target >= 10M)")
    print(f"whole batch of {args.batch} through the compiled backend: {total:.1f} s including a {build:.1f} s build "
          f"(target < 60 s)")


if __name__ == "__main__":
    main()
