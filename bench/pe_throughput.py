"""PE throughput: entries per cycle on a 256x256 layer at 1%, 10% and 100% density, and simulator speed.

Run: python bench/pe_throughput.py [--size 256] [--samples 1] [--densities 0.01 0.1 1.0] [--seed 0] [--json FILE]
                                   [--record]
     python bench/pe_throughput.py --quick     (a 64x64 layer, two samples: seconds; what the test runs)
(--record: also write the table into its section of docs/measurements.md; never with --quick, whose figures are a
check that the benchmark still runs, not measurements)

Each layer: random int8 weights (never 0) of which a random `density` fraction is kept, seeded; random int8 inputs.
The PE runs in Amaranth's simulator; cycles (start to done, counted by the testbench) are compared with the cycle
model (golden pe_cycles: one cycle per entry, an empty row being one entry, plus the PE latency L) and the outputs
with the golden model (bit-exact). The one-entry-per-cycle limit is 1.0; the PE's only loss is its fixed pipeline
latency per run. --json also writes every row (with the RTL's outputs) as JSON.
"""

import argparse
import json
import sys
import time

import numpy as np

from mamhw.golden import Layer, encode, forward, pe_cycles
from mamhw.hw.pe import PE
from mamhw.plumbing import save_text
from mamhw.sim.pe_amaranth import simulate_pe

QUICK = {"size": 64, "samples": 2}


def layer_at(density, size, rng):
    w = rng.integers(-128, 128, (size, size))
    w[w == 0] = 1
    w[rng.random(w.shape) >= density] = 0
    return Layer.build(kind="mam", weight=w, bias=rng.integers(-999, 999, size), mult=77, shift=14, relu=True)


def workloads(densities, size, samples, seed):
    """(density, layer, inputs [samples, size]) for each density in turn, all drawn from one generator seeded
    `seed`: the same arguments give the same layers and inputs."""
    rng = np.random.default_rng(seed)
    for d in densities:
        layer = layer_at(d, size, rng)
        yield d, layer, rng.integers(-128, 128, (samples, size))


def parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--densities", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true",
                    help=f"a {QUICK['size']}x{QUICK['size']} layer, {QUICK['samples']} samples (what the test runs)")
    ap.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    return ap


def main(argv=None):
    ap = parser()
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.samples = QUICK["size"], QUICK["samples"]
    if args.size < 1 or args.samples < 1 or any(not 0 < d <= 1 for d in args.densities):
        ap.error("--size and --samples are at least 1, densities in (0, 1]")
    print(f"{'density':>8} {'entries':>8} {'cycles':>8} {'model':>8} {'entries/cycle':>14} "
          f"{'sim cycles/s':>13} {'bit-exact':>9}")
    rows = []
    for d, layer, x in workloads(args.densities, args.size, args.samples, args.seed):
        enc = encode(layer)
        t0 = time.perf_counter()
        res = simulate_pe(layer, x)
        wall = time.perf_counter() - t0
        exact = bool(np.array_equal(res.outputs, forward(layer, x)))
        cyc = int(res.cycles[0])
        model = pe_cycles(enc.row_nnz, PE.LATENCY)
        rate = res.cycles.sum() / wall
        print(f"{d:>8.0%} {enc.entries:>8} {cyc:>8} {model:>8} {enc.entries / cyc:>14.4f} {rate:>13,.0f} "
              f"{str(exact):>9}")
        rows.append({"density": d, "entries": int(enc.entries), "cycles": cyc,
                     "cycles_per_sample": res.cycles.tolist(), "model": model,
                     "entries_per_cycle": enc.entries / cyc, "sim_cycles_per_s": float(rate), "seconds": wall,
                     "bit_exact": exact, "outputs": res.outputs.tolist()})
    print(f"target: >= 0.99 entries/cycle on the largest layer; PE latency L = {PE.LATENCY} cycles per run"
          f"{'; QUICK: a ' + str(args.size) + 'x' + str(args.size) + ' layer' if args.quick else ''}")
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        save_text(args.json, json.dumps({"config": config, "latency": PE.LATENCY, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("pe_throughput", main))
