"""Layer/network engine scaling: cycles and efficiency on P = 1..16 PEs, from the exact cycle model, checked
against RTL simulation.

Run: python bench/engine_scaling.py [--pes 1 2 4 8 16] [--verify-pes 4 16] [--samples 1] [--no-verify]
     python bench/engine_scaling.py --quick      (392-128-10 and 256x256 layers, P = 1, 4, RTL at P = 2: seconds;
                                                  what the test runs)

Workloads: a 784-256-10 network pruned to 2% (MAM hidden layer with ReLU, MAC output layer, random int8 weights,
random pruning) and single 512x512 MAM layers at 1% and 10%. The cycle model (golden/cycles.py) is exact; the
RTL run at the end shows it for one configuration (Amaranth's simulator, so it is kept small).

Target: cycles <= 1.03 x ceil(entries / P) + L for layers of 2000+ entries, i.e. ratio = (cycles - L) /
ceil(entries / P) <= 1.03. "layer" is the layer engine alone (its 2 hand-over cycles included); "in network" adds
the sequencer's one cycle per layer.
"""

import argparse
import time

import numpy as np

from mamhw.golden import PE_LATENCY, Layer, Network, forward, network_forward
from mamhw.golden.cycles import ENGINE_OVERHEAD, NETWORK_LAYER_OVERHEAD, network_cycles, plan_network
from mamhw.sim.engine_amaranth import simulate_network

TARGET = 1.03
BIG = 2000


def pruned_weights(rng, n_out, n_in, density):
    """Random int8 weights (never 0) of which a random `density` fraction is kept."""
    w = rng.integers(-128, 128, (n_out, n_in))
    w[w == 0] = 1
    keep = np.zeros(w.size, dtype=bool)
    keep[rng.choice(w.size, int(round(density * w.size)), replace=False)] = True
    return np.where(keep.reshape(w.shape), w, 0)


def fitted_layer(kind, w, x, relu, rng, out_bits=8):
    """A layer whose requantization spreads the outputs of inputs `x` over the int8 range."""
    bias = rng.integers(-512, 512, w.shape[0])
    probe = Layer.build(kind=kind, weight=w, bias=bias, mult=1, shift=0, relu=False, out_bits=32)
    span = int(np.abs(forward(probe, x)).max()) + 1
    mult = int(np.clip(round((1 << (out_bits - 1)) / span * (1 << 20)), 1, 65535))
    return Layer.build(kind=kind, weight=w, bias=bias, mult=mult, shift=20, relu=relu, out_bits=out_bits)


def workloads(rng, samples, quick=False):
    n_in, hidden_w, square = (392, 128, 256) if quick else (784, 256, 512)
    x = rng.integers(-128, 128, (samples, n_in))
    hidden = fitted_layer("mam", pruned_weights(rng, hidden_w, n_in, 0.02), x, True, rng)
    out = fitted_layer("mac", pruned_weights(rng, 10, hidden_w, 0.02), forward(hidden, x), False, rng)
    yield f"{n_in}-{hidden_w}-10 @2%", Network([hidden, out]), x
    for d in (0.01, 0.10):
        x = rng.integers(-128, 128, (samples, square))
        layer = fitted_layer("mam", pruned_weights(rng, square, square, d), x, True, rng)
        yield f"{square}x{square} @{d:.0%}", Network([layer]), x


def report(name, network, pes_list):
    print(f"\n{name}: " + ", ".join(f"{l.kind} {l.n_in}->{l.n_out} ({l.nnz} nonzero)" for l in network))
    print(f"{'P':>3} {'layer':>5} {'entries':>7} {'max load':>8} {'ceil(E/P)':>9} {'cycles':>7} {'ratio':>6} "
          f"{'in network':>10} {'ratio':>6} {'eff':>6} {'target':>7}")
    shortfalls = []
    for pes in pes_list:
        t0 = time.perf_counter()
        model = network_cycles(plan_network(network, pes))
        ms = (time.perf_counter() - t0) * 1e3
        for k, layer in enumerate(network):
            e = int(model.entries[k])
            even = -(-e // pes)
            cyc, net = int(model.engine[k]), int(model.per_layer[k])
            ratio, net_ratio = (cyc - PE_LATENCY) / even, (net - PE_LATENCY) / even
            eff = e / (pes * cyc)
            if e >= BIG:
                verdict = "met" if net_ratio <= TARGET else "MISSED"
            else:
                verdict = "(small)"
                shortfalls.append((pes, k, e, int(model.load[k].max()), even, int((model.load[k] > 0).sum()),
                                   ratio))
            print(f"{pes:>3} {k:>5} {e:>7} {int(model.load[k].max()):>8} {even:>9} {cyc:>7} {ratio:>6.3f} "
                  f"{net:>10} {net_ratio:>6.3f} {eff:>6.1%} {verdict:>7}")
        print(f"{pes:>3} {'all':>5} {int(model.entries.sum()):>7} {'':>8} {'':>9} {'':>7} {'':>6} "
              f"{model.total:>10} {'':>6} {model.efficiency:>6.1%}   (model: {ms:.1f} ms)")
    return shortfalls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--verify-pes", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="smaller workloads, P = 1 and 4, the RTL check at P = 2 only: seconds")
    args = ap.parse_args()
    if args.quick:
        args.pes, args.verify_pes = [1, 4], [2]
    rng = np.random.default_rng(0)
    print(f"L = {PE_LATENCY} (PE pipeline latency), engine hand-over {ENGINE_OVERHEAD} and network "
          f"{NETWORK_LAYER_OVERHEAD} cycles per layer; "
          f"ratio = (cycles - L) / ceil(entries / P), target <= {TARGET} for layers of {BIG}+ entries")
    loads = list(workloads(rng, args.samples, args.quick))
    small = []
    for name, network, _ in loads:
        small += [(name, *s) for s in report(name, network, args.pes)]

    if small:
        print("\nSmall layers (< 2000 entries) fall short of the target as P grows: rows are dealt whole, so a layer")
        print("cannot finish before its heaviest row and a layer with fewer rows than PEs leaves PEs idle; their")
        overhead = ENGINE_OVERHEAD + NETWORK_LAYER_OVERHEAD
        print(f"efficiency also pays the fixed L + {overhead} cycles per layer, which a few-cycle layer cannot "
              "amortize.")
        for name, pes, k, e, load, even, active, ratio in small:
            if pes > 1:
                print(f"  {name} layer {k} on {pes} PEs: {e} entries, {active} PEs busy, heaviest PE {load} "
                      f"vs even share {even} (ratio {ratio:.2f})")

    if not args.no_verify:
        print("\nRTL check (Amaranth simulator): measured cycles, total and per layer, against the model")
        for name, network, x in loads[:2]:
            for pes in args.verify_pes:
                t0 = time.perf_counter()
                res = simulate_network(network, x, pes)
                wall = time.perf_counter() - t0
                exact = bool(np.array_equal(res.outputs, network_forward(network, x)))
                print(f"  {name}, P={pes}: measured {res.cycles.tolist()} (per layer {res.layer_cycles[0].tolist()})"
                      f", model {res.model_cycles} ({res.model_layer_cycles.tolist()}), "
                      f"cycle-exact {res.matches_model}, bit-exact {exact}, {wall:.1f} s wall")


if __name__ == "__main__":
    import sys

    import measurements

    sys.exit(measurements.run("engine_scaling", main))
