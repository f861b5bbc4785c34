"""`mam train`: train, prune and quantize an MLP and write the network file the hardware flow takes as is."""

import json
import sys
import time
from dataclasses import replace

from .commands import check_output_paths
from .golden import ContractError, save_array, save_network
from .plumbing import save_text
from .model.quantize import quantization_report
from .model.train import blas_limit
from .model.prune import remaining
from .model.train import mlp
from .pipeline import (TrainConfig, check_method, hardware_figures, hidden_layers, load_split, lottery_model,
                       parse_kinds, prune_model, quantize, train_model)
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
    if fraction is not None:
        check_method(mlp(sizes, kinds, seed=0), args.method)      # refuse before training, not after
    _log(f"{args.dataset} {shape} ({'/'.join(kinds)}): {split.sizes()['train']} training, "
         f"{split.sizes()['test']} test samples")
    with blas_limit(1):
        if fraction is not None and args.method == "lottery":
            _log(f"lottery-ticket pruning to {100 * fraction:.4g}% in {cfg.lottery_rounds} rounds of "
                 f"{cfg.epochs} epochs")
            model = lottery_model(sizes, kinds, split, fraction, cfg, log=_log)
        else:
            _log(f"training, {cfg.epochs} epochs" + (f", vanishing contributes over "
                 f"{min(cfg.vanish_epochs, cfg.epochs)}" if "mam" in kinds else ""))
            model = train_model(sizes, kinds, split, cfg, log=_log)
            if fraction is not None and fraction < 1.0:
                _log(f"pruning the hidden layers to {100 * fraction:.4g}% ({args.method}), "
                     f"{cfg.finetune_epochs} fine-tuning epochs")
                prune_model(model, split, fraction, args.method, cfg, log=_log)
        kept, total = remaining(model, hidden_layers(model))
        _log("quantizing to int8")
        q = quantize(model, split)
        rep = quantization_report(model, q, split.x_test, split.y_test)
    hw = hardware_figures(q.network, args.pes)
    x_test = q.quantize_inputs(split.x_test)
    if args.output:
        save_network(q.network, args.output)
    if args.inputs_out:
        save_array(args.inputs_out, x_test)
    if args.labels_out:
        save_array(args.labels_out, split.y_test)
    what = "hidden-layer" if len(model) == 2 else "hidden-layers'"
    pruned = (f"pruned ({args.method}) to {100 * fraction:.4g}%" if fraction is not None and fraction < 1.0
              else "not pruned")
    lines = [
        f"{args.dataset} {shape} ({'/'.join(kinds)}), {pruned}: {kept} of {total} {what} interconnections remain "
        f"({100 * kept / total:.2f}%); {sum(rep['nnz'])} nonzero int8 weights in all",
        f"test accuracy ({split.sizes()['test']} samples): float {100 * rep['float_acc']:.1f}%, "
        f"int8 {100 * rep['int_acc']:.1f}% ({rep['gap_points']:+.1f} points float - int8)",
        f"hardware ({args.pes} PE{'s' if args.pes > 1 else ''}): {hw['entries']} entries, "
        f"{hw['weight_memory_bits']:,} weight-memory bits, {hw['cycles']} cycles per inference (cycle model)",
    ]
    files = [f for f in (args.output, args.inputs_out, args.labels_out, args.report) if f]
    if files:
        lines.append("wrote " + ", ".join(files))
    if args.report:
        report = {"dataset": args.dataset, "shape": sizes, "kinds": kinds, "samples": split.sizes(),
                  "prune": {"fraction": fraction, "method": args.method if fraction is not None else None,
                            "kept": kept, "total": total},
                  "float_acc": rep["float_acc"], "int8_acc": rep["int_acc"], "gap_points": rep["gap_points"],
                  "nnz": rep["nnz"], "out_bits": rep["out_bits"], "input_scale": q.input_scale,
                  "hardware": hw, "train_config": vars(cfg),
                  "files": {"network": args.output, "inputs": args.inputs_out, "labels": args.labels_out},
                  "seconds": round(time.monotonic() - t_start, 2)}
        save_text(args.report, json.dumps(report, indent=2) + "\n")
    print("\n".join(lines))
    return 0
