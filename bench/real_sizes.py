"""Real model sizes on the targets: where VGG-16's classifier and a ViT-B/16 MLP block fit today, and why not.

Run: python bench/real_sizes.py [--pes 1 2 4 8 16] [--targets up5k ecp5-25f ecp5-85f] [--workloads ...]
                                [--engines row window] [--windows 16 64] [--output-kind mac] [--seed 0] [--json FILE]
     python bench/real_sizes.py --quick        (the same densities at 1/16 of the widths: what the test runs)

Workloads (random int8 weights of those shapes, seeded; every layer at the stated density, kept positions chosen
uniformly at random, straight into CSR form):

- vgg-mam: VGG-16's classifier 25088-4096-4096-1000, every layer at 0.04% of its interconnections, MAM hidden
  layers, the output layer --output-kind (default MAC);
- vgg-mac: the same widths at 4.33% (where MAC pruning of VGG-16 lands), every layer MAC;
- vit-mam: a ViT-B/16 MLP block 768-3072-768 at 1%, MAM hidden layer, the output layer --output-kind.

For each engine (the row engine, and the window engine with each of --windows W), target and P: kept
weights, entries (the cycle model's: a row without weights is one entry), the bits of
the entry memories and the encoded weights, the activation buffers' bits, cycles per inference (exact, the cycle
model; the window engine's with no zero activation, the most it takes), the mean cycles of 8 inputs of which each
activation is 0 with probability 1/2 (seeded; the hidden layers' zeros are what the network's ReLUs make of them;
the window engine skips zero activations, the row engine's cycles do not depend on them), block RAMs, SPRAMs and DSPs against what the target has (exact: fpga/memory_map.py and fpga/dsp_map.py, as
Yosys maps them), whether they fit, and the logic cells of the calibrated area models, one per engine (an
estimate, far outside the configurations they were fitted on). On the UP5K the row engine's entry words go to SPRAM
when the block RAMs cannot hold them, with relative indices when absolute ones overflow it (the table says
"rel7": fillers are in its entries and cycles). Then, per engine and target, the largest P that fits and what the
next P runs out of.
Every estimate is timed: targets that build the same engine (the two ECP5s) share it (fpga.estimate.
estimate_targets), so the second of them takes milliseconds.
"""

import argparse
import itertools
import json
import sys
import time

import numpy as np

from mamhw.fpga.estimate import estimate, estimate_targets, random_network
from mamhw.golden import network_forward
from mamhw.golden.engines import sample_cycles
from mamhw.golden.window import WINDOW_SIZES
from mamhw.fpga.targets import TARGETS
from mamhw.plumbing import save_text

WORKLOADS = {
    "vgg-mam": ("VGG-16 classifier", [25088, 4096, 4096, 1000], 0.0004, "mam"),
    "vgg-mac": ("VGG-16 classifier", [25088, 4096, 4096, 1000], 0.0433, "mac"),
    "vit-mam": ("ViT-B/16 MLP block", [768, 3072, 768], 0.01, "mam"),
}
QUICK_DIVISOR = 16
PES = [1, 2, 4, 8, 16]
HALF_ZERO_SAMPLES = 8


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def workload(name, quick, output_kind, seed):
    """(description, widths, kinds, density, network) of workload `name`."""
    title, widths, density, kind = WORKLOADS[name]
    if quick:
        widths = [-(-w // QUICK_DIVISOR) for w in widths]
    n = len(widths) - 1
    kinds = ["mac"] * n if kind == "mac" else ["mam"] * (n - 1) + [output_kind]
    network = random_network(widths, density=density, kinds=kinds, seed=seed)
    return title, widths, kinds, density, network


def exact_misfits(rep):
    """What the target runs out of, counted exactly (block RAMs, SPRAMs, DSPs): not the logic estimate."""
    return [m for m in rep["does_not_fit"] if "logic cells" not in m]


def half_zero_inputs(network, seed):
    """HALF_ZERO_SAMPLES random int8 input vectors, each activation 0 with probability 1/2, and every layer's
    golden outputs for them."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (HALF_ZERO_SAMPLES, network.n_in))
    x[rng.random(x.shape) < 0.5] = 0
    return x, network_forward(network, x, return_all=True)


def row_of(rep, seconds, half_zero_cycles):
    avail = rep["available"]
    logic = rep.get("logic_cells") or rep.get("luts")
    return {
        "engine": f"window{rep['window']}" if rep.get("engine") == "window" else "row", "target": rep["target"], "pes": rep["pes"], "weights": sum(x["weights"] for x in rep["layers"]),
        "entries": rep["entries"], "cycles": rep["cycles"], "cycles_half_zero": half_zero_cycles,
        "efficiency": rep["efficiency"],
        "weight_memory_bits": rep["weight_memory_bits"], "encoded_weight_bits": rep["encoded_weight_bits"],
        "activation_buffer_bits": rep["activation_buffer_bits"], "bias_memory_bits": rep["bias_memory_bits"],
        "weights_in": rep["weights_in"], "delta_bits": rep.get("delta_bits", 0), "fillers": rep.get("fillers", 0),
        "block_rams": rep["block_rams"], "block_rams_available": avail["block_rams"],
        "block_rams_by_role": rep["block_rams_by_role"], "lut_rams": rep["lut_rams"],
        "sprams": rep["sprams"], "sprams_available": avail["sprams"],
        "dsps": rep["dsps"], "dsps_available": avail["dsps"],
        "logic_cells_estimate": logic, "logic_cells_available": avail["luts"],
        "fits": not exact_misfits(rep), "does_not_fit": exact_misfits(rep),
        "logic_over_estimate": logic is not None and logic > avail["luts"],
        "seconds": seconds,
    }


def largest_fit(rows, target, pes_list, engine="row"):
    """The largest P of `pes_list` whose exact counts fit `target` on `engine`, and what the next P (or P = 1)
    runs out of."""
    by_p = {r["pes"]: r for r in rows if r["target"] == target and r["engine"] == engine}
    ordered = sorted(p for p in pes_list if p in by_p)
    fitting = [p for p in ordered if by_p[p]["fits"]]
    if not fitting:
        return {"pes": None, "next_pes": ordered[0], "next_misfits": by_p[ordered[0]]["does_not_fit"]}
    best = fitting[-1]
    later = [p for p in ordered if p > best]
    out = {"pes": best, "next_pes": later[0] if later else None,
           "next_misfits": by_p[later[0]]["does_not_fit"] if later else [],
           "logic_over_estimate": by_p[best]["logic_over_estimate"]}
    return out


def fit_sentence(target, fit):
    if fit["pes"] is None:
        return f"{target}: fits at no P; at P={fit['next_pes']}: {'; '.join(fit['next_misfits'])}"
    s = f"{target}: P={fit['pes']}"
    if fit["next_pes"] is None:
        s += " (the largest P measured)"
    else:
        s += f"; P={fit['next_pes']} needs {'; '.join(fit['next_misfits'])}"
    if fit["logic_over_estimate"]:
        s += f" (at P={fit['pes']} the logic estimate is over the target's cells)"
    return s


def print_table(result):
    head = ("engine", "target", "P", "entries", "entry bits", "buffer bits", "cycles/inf", "x 50% 0", "BRAMs",
            "of which buf",
            "SPRAMs", "DSPs", "~logic cells", "fits", "s")
    table = [head]
    for r in result["rows"]:
        spram = f"{r['sprams']}/{r['sprams_available']}" if r["sprams_available"] else "-"
        logic = "n/a" if r["logic_cells_estimate"] is None else \
            f"~{r['logic_cells_estimate']:,}/{r['logic_cells_available']:,}" + ("!" if r["logic_over_estimate"] else "")
        where = ("spram" if r["weights_in"] == "spram" else "") + (f", rel{r['delta_bits']}" if r["delta_bits"] else "")
        table.append((r["engine"], r["target"] + (f" ({where})" if where else ""), str(r["pes"]),
                      f"{r['entries']:,}", f"{r['weight_memory_bits']:,}", f"{r['activation_buffer_bits']:,}",
                      f"{r['cycles']:,}", f"{r['cycles_half_zero']:,.0f}",
                      f"{r['block_rams']}/{r['block_rams_available']}",
                      str(r["block_rams_by_role"].get("buffer", 0)), spram, f"{r['dsps']}/{r['dsps_available']}",
                      logic, "yes" if r["fits"] else "NO", f"{r['seconds']:.1f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(v.rjust(widths[i]) if i > 1 else v.ljust(widths[i]) for i, v in enumerate(row)))
    print("largest P that fits (exact block RAM / SPRAM / DSP counts):")
    for key, fit in result["largest_fit"].items():
        engine, target = key.split("/")
        print(f"  {engine} engine, " + fit_sentence(target, fit))


def run_workload(name, args):
    t0 = time.perf_counter()
    title, widths, kinds, density, network = workload(name, args.quick, args.output_kind, args.seed)
    build_s = time.perf_counter() - t0
    weights = [layer.nnz for layer in network]
    result = {"name": name, "title": title, "widths": widths, "kinds": kinds, "density": density,
              "weights": weights, "interconnections": [layer.size for layer in network],
              "build_seconds": build_s, "rows": []}
    print(f"\n{name}: {title} {'-'.join(map(str, widths))} at {100 * density:.3g}% "
          f"({', '.join(k.upper() for k in kinds)}): {sum(weights):,} weights "
          f"({' + '.join(f'{w:,}' for w in weights)}), {sum(w * 8 for w in weights) / 1e6:.2f} Mbit of int8 "
          f"values; made in {build_s:.1f} s")
    built = {}                                    # the window engines made, for the other targets of the family
    x, outputs = half_zero_inputs(network, args.seed)
    half_zero = {}                                # (engine, P, W): mean cycles for x, the same on every target

    def half_zero_cycles(rep):
        key = (rep.get("engine", "row"), rep["pes"], rep.get("window"), rep.get("delta_bits", 0))
        if key not in half_zero:
            half_zero[key] = float(sample_cycles(network, x, key[1], key[0], key[2], outputs, key[3])
                                   .sum(axis=1).mean())
        return half_zero[key]

    for pes in args.pes:
        t = time.perf_counter()
        reps = itertools.chain(
            estimate_targets(network, pes, args.targets) if "row" in args.engines else (),
            (estimate(network, pes, target, engine="window", window=w, built=built) for w in args.windows
             if "window" in args.engines and w % pes == 0 for target in args.targets))
        for rep in reps:                          # made one at a time: each row's seconds are its own
            now = time.perf_counter()
            result["rows"].append(row_of(rep, now - t, half_zero_cycles(rep)))
            log(f"  {name} P={pes} {rep['target']} {rep.get('engine', 'row')}: {now - t:.1f} s")
            t = now
    engines = (["row"] if "row" in args.engines else []) + \
        ([f"window{w}" for w in args.windows] if "window" in args.engines else [])
    result["rows"].sort(key=lambda r: (engines.index(r["engine"]), args.targets.index(r["target"]), r["pes"]))
    result["encoded_weight_bits"] = result["rows"][0]["encoded_weight_bits"] if result["rows"] else None
    result["largest_fit"] = {f"{e}/{t}": largest_fit(result["rows"], t, args.pes, e)
                             for e in engines for t in args.targets}
    print_table(result)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"the widths divided by {QUICK_DIVISOR}: seconds")
    ap.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--targets", nargs="+", choices=list(TARGETS), default=["up5k", "ecp5-25f", "ecp5-85f"])
    ap.add_argument("--pes", type=int, nargs="+", default=PES)
    ap.add_argument("--engines", nargs="+", choices=["row", "window"], default=["row", "window"])
    ap.add_argument("--windows", type=int, nargs="+", choices=list(WINDOW_SIZES), default=[16, 64],
                    help="the window engine's W, each a row of its own (a P that does not divide W is skipped; "
                         "default: 16 64)")
    ap.add_argument("--output-kind", choices=["mac", "mam"], default="mac",
                    help="the output layer of the MAM workloads (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    args = ap.parse_args(argv)
    if any(not 1 <= p <= 16 for p in args.pes):
        ap.error("--pes: P is 1..16")
    args.pes = sorted(set(args.pes))
    t0 = time.perf_counter()
    print(f"Exact: entries, bits, cycles, block RAMs, SPRAMs, DSPs. Estimated (~): logic cells (!: more than the "
          f"target has). cycles/inf: with no zero activation; x 50% 0: the mean of {HALF_ZERO_SAMPLES} inputs half "
          f"0. s: seconds per estimate (the second ECP5 reuses the first's engine)."
          f"{' QUICK: widths / 16.' * args.quick}")
    results = [run_workload(name, args) for name in args.workloads]
    wall = time.perf_counter() - t0
    print(f"\n{wall:.0f} s in all")
    if args.json:
        save_text(args.json, json.dumps({"config": {k: v for k, v in vars(args).items() if k != "json"},
                                         "runtime_s": wall, "workloads": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("real_sizes", main))
