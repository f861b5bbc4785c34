"""PE throughput: entries per cycle on a 256x256 layer at 1%, 10% and 100% density, and simulator speed.

Run: python bench/pe_throughput.py [--size 256] [--samples 1] [--record]
(--record: also write the table into its section of docs/measurements.md)
The one-entry-per-cycle limit is 1.0; the PE's only loss is its fixed pipeline latency per run.
"""

import argparse
import time

import numpy as np

from mamhw.golden import Layer, encode, forward, pe_cycles
from mamhw.hw.pe import PE
from mamhw.sim.pe_amaranth import simulate_pe


def layer_at(density, size, rng):
    w = rng.integers(-128, 128, (size, size))
    w[w == 0] = 1
    w[rng.random(w.shape) >= density] = 0
    return Layer.build(kind="mam", weight=w, bias=rng.integers(-999, 999, size), mult=77, shift=14, relu=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--densities", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'density':>8} {'entries':>8} {'cycles':>8} {'model':>8} {'entries/cycle':>14} "
          f"{'sim cycles/s':>13} {'bit-exact':>9}")
    for d in args.densities:
        layer = layer_at(d, args.size, rng)
        x = rng.integers(-128, 128, (args.samples, args.size))
        enc = encode(layer)
        t0 = time.perf_counter()
        res = simulate_pe(layer, x)
        wall = time.perf_counter() - t0
        exact = bool(np.array_equal(res.outputs, forward(layer, x)))
        cyc = int(res.cycles[0])
        print(f"{d:>8.0%} {enc.entries:>8} {cyc:>8} {pe_cycles(enc.row_nnz, PE.LATENCY):>8} "
              f"{enc.entries / cyc:>14.4f} {res.cycles.sum() / wall:>13,.0f} {str(exact):>9}")
    print(f"target: >= 0.99 entries/cycle on the largest layer; PE latency L = {PE.LATENCY} cycles per run")


if __name__ == "__main__":
    import sys

    import measurements

    sys.exit(measurements.run("pe_throughput", main))
