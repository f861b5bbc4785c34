"""`mam import`: a network trained elsewhere (a PyTorch checkpoint or an .npz of float arrays) to a network file.

The checkpoint is read by mamhw.model.importer (wrappers, nn.Sequential names, torch prune masks, zeros as pruned,
fp16/bf16, BatchNorm1d folded; layer order from the names), quantized to int8 by mamhw.model.quantize and written
as the network file `mam golden`, `mam sim` and `mam export` take. What a state dict does not carry comes from the
command line or a small JSON file (--options):

    {"order": ["fc1", "bn1", "fc2"],
     "layers": {"fc1": {"kind": "mam", "splits": 2, "relu_in": true, "vcon_expand": true},
                "fc2": {"kind": "mac"},
                "*": {"eps": 1e-5}}}

"order" is --layers; "layers" maps a layer's name (or "*", every layer) to its options (kind, splits, relu_in,
vcon_expand, relu, gain, eps). The command line wins over the file.
"""

import argparse
import json
import os
import sys

import numpy as np

from .golden import ContractError, network_forward
from .model.importer import ALL, LAYER_OPTIONS, import_checkpoint, uniform_calibration
from .model.quantize import quantize_model
from .model.train import KINDS, forward
from .options import input_file, output_file, positive_int
from .paths import check_paths, paths_of
from .plumbing import atomic_write_all

__all__ = ["add_import_arguments", "cmd_import", "run_import", "import_network", "parse_options"]

SIDECAR_KEYS = ("order", "layers")


def add_import_arguments(p):
    p.description = ("Read a network trained elsewhere (a PyTorch checkpoint, loaded with weights_only=True, or an "
                     ".npz of float arrays), quantize it to int8 and write the network file the hardware flow takes. "
                     "Prints, per layer, its kind, shape, kept interconnections and the scales chosen.")
    p.add_argument("checkpoint", type=input_file, metavar="CHECKPOINT",
                   help="a state dict saved with torch.save (plain, or under 'model', 'state_dict' or "
                   "'model_state_dict'), or an .npz of float arrays")
    p.add_argument("-o", "--output", required=True, type=output_file, metavar="NET.npz", help="the network file")
    p.add_argument("--kinds", metavar="K[,K...]",
                   help="mam or mac per layer in network order, or one kind for all (default: each layer's kind "
                   "in --options, else mam hidden layers and a mac output layer, as mam train)")
    p.add_argument("--layers", metavar="NAME[,NAME...]",
                   help="the layers (and BatchNorms, each right after its layer) in network order, when their "
                   "names do not tell it (default: by the numbers in the names: fc1, fc2; layers.0, layers.1)")
    p.add_argument("--options", type=input_file, metavar="OPTIONS.json",
                   help="per-layer options a state dict does not carry: {\"order\": [...], \"layers\": {NAME or "
                   "\"*\": {\"kind\", \"splits\", \"relu_in\", \"vcon_expand\", \"relu\", \"gain\", \"eps\"}}}")
    p.add_argument("--splits", metavar="K | NAME=K[,NAME=K...]",
                   help="mamtorch splits: every MAM layer's, or named layers' (inputs cut into K contiguous slices, "
                   "max + min summed over them)")
    p.add_argument("--relu-in", metavar="all | NAME[,NAME...]", help="layers with a ReLU on their inputs")
    p.add_argument("--vcon-expand", metavar="all | NAME[,NAME...]",
                   help="mamtorch layers built with vcon_expand=True (MAM term x in/(2 splits), folded into the "
                   "weight scale); all: every MAM layer")
    p.add_argument("--calib", type=input_file, metavar="X.npy",
                   help="float calibration inputs [n, in] for the int8 scales (default: uniform random inputs in "
                   "--input-range, said so in the output)")
    p.add_argument("--input-range", default="0,1", metavar="LO,HI",
                   help="the inputs' range when there is no --calib, e.g. --input-range=-1,1 (default: %(default)s)")
    p.add_argument("--calib-samples", type=positive_int, default=1000, metavar="N",
                   help="calibration samples used (the first N of --calib; default: %(default)s)")
    p.add_argument("--check", type=input_file, metavar="X.npy",
                   help="float inputs [n, in]: report how often the float and the int8 network agree on the class")
    p.add_argument("--labels", type=input_file, metavar="Y.npy", help="labels [n] of --check: report accuracies too")
    p.add_argument("--inputs-out", type=output_file, metavar="XQ.npy",
                   help="the --check inputs quantized, the integers mam golden and mam sim take")
    p.add_argument("--report", type=output_file, metavar="R.json", help="write a JSON report")


def _names(text, what):
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise ContractError(f"{what} names no layer: {text!r}")
    return names


def _flag_spec(text, key, what):
    """{"*": {key: True}} for "all", else {name: {key: True}} for each listed name."""
    if str(text).strip().lower() == "all":
        return {ALL: {key: True}}
    return {name: {key: True} for name in _names(text, what)}


def _splits_spec(text):
    """{"*": {"splits": K}} for "K", else {name: {"splits": K}} for "NAME=K,..."."""
    def count(v):
        try:
            k = int(v)
        except ValueError:
            k = 0
        if k < 1:
            raise ContractError(f"--splits: a split count must be a whole number >= 1, got {v!r}")
        return k
    text = str(text).strip()
    if "=" not in text:
        return {ALL: {"splits": count(text)}}
    out = {}
    for item in _names(text, "--splits"):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ContractError(f"--splits: give K or NAME=K[,NAME=K...], got {text!r}")
        out[name.strip()] = {"splits": count(value.strip())}
    return out


def _read_sidecar(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError) as e:
        raise ContractError(f"{path}: cannot read ({e.__class__.__name__})") from None
    except json.JSONDecodeError as e:
        raise ContractError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path}: must hold a JSON object with {' and/or '.join(SIDECAR_KEYS)}")
    bad = sorted(set(data) - set(SIDECAR_KEYS))
    if bad:
        raise ContractError(f"{path}: unknown key(s) {', '.join(bad)}: expected {', '.join(SIDECAR_KEYS)}")
    order = data.get("order")
    if order is not None and not (isinstance(order, list) and order and all(isinstance(n, str) for n in order)):
        raise ContractError(f"{path}: order must be a list of layer names")
    layers = data.get("layers", {})
    if not isinstance(layers, dict) or not all(isinstance(v, dict) for v in layers.values()):
        raise ContractError(f"{path}: layers must map layer names to objects of options "
                            f"({', '.join(LAYER_OPTIONS)})")
    return order, layers


def parse_options(args):
    """``(kinds, layers, options)`` for import_checkpoint from the command line over the --options file."""
    order, options = (None, {}) if args.options is None else _read_sidecar(args.options)
    options = {name: dict(opts) for name, opts in options.items()}
    for spec in ([_splits_spec(args.splits)] if args.splits else []) + \
            ([_flag_spec(args.relu_in, "relu_in", "--relu-in")] if args.relu_in else []) + \
            ([_flag_spec(args.vcon_expand, "vcon_expand", "--vcon-expand")] if args.vcon_expand else []):
        for name, opts in spec.items():
            options.setdefault(name, {}).update(opts)
    layers = _names(args.layers, "--layers") if args.layers else order
    kinds = None
    if args.kinds:
        kinds = [k.strip().lower() for k in args.kinds.split(",") if k.strip()]
        if not kinds or any(k not in KINDS for k in kinds):
            raise ContractError(f"--kinds: layer kinds must be mam or mac, got {args.kinds!r}")
        kinds = kinds[0] if len(kinds) == 1 else kinds
    return kinds, layers, options


def _input_range(text):
    try:
        lo, hi = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ContractError(f"--input-range must be LO,HI, e.g. 0,1 or -1,1, got {text!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ContractError(f"--input-range must be finite with LO < HI, got {text!r}")
    return lo, hi


def _read_npy(path, option):
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ContractError(f"{path}: not a NumPy .npy file ({str(e).strip().splitlines()[0]}) ({option})") from None
    if not isinstance(x, np.ndarray):
        raise ContractError(f"{path}: an .npz archive, not an .npy array ({option})")
    return x


def load_float_inputs(path, n_in, option):
    """A float .npy [n, n_in] (or [n_in]), or one line naming what is wrong with it."""
    x = _read_npy(path, option)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] < 1:
        raise ContractError(f"{path}: {option} inputs must be [n >= 1, {n_in}], got {list(x.shape)}")
    if x.dtype.kind not in "fiub":
        raise ContractError(f"{path}: {option} inputs must hold numbers, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ContractError(f"{path}: {option} inputs hold NaN or infinity")
    return x


def _load_labels(path, n, n_classes):
    y = _read_npy(path, "--labels")
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ContractError(f"{path}: --labels must be integers [{n}] (one per --check sample)")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ContractError(f"{path}: labels must be in 0..{n_classes - 1} (the network's outputs)")
    return y.astype(np.int64)


def _layer_line(k, name, dense, layer, s_w, s_out, notes):
    extras = []
    if dense.splits != 1:
        extras.append(f"splits {dense.splits}")
    if dense.relu_in:
        extras.append("relu_in")
    if dense.relu:
        extras.append("relu")
    kept, total = dense.remaining, dense.size
    text = (f"  layer {k} {name or '<root>'}: {dense.kind} {dense.n_out}x{dense.n_in}"
            + (f" ({', '.join(extras)})" if extras else "")
            + f"; kept {kept} / {total} interconnections ({100 * kept / total:.2f}%), {layer.nnz} nonzero int8"
            + f"; scales: weight {s_w:.4g}, output {s_out:.4g} (mult {layer.mult} >> {layer.shift}, "
            + f"out_bits {layer.out_bits})")
    return text + "".join(f"; {n}" for n in notes)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ContractError(f"{self.prog}: {message}")


def run_import(argv):
    """`mam import` with the command line ``argv`` (without the command's name), called from Python: prints what
    the command prints and returns its JSON report as a dict."""
    parser = _Parser(prog="mam import")
    add_import_arguments(parser)
    args = parser.parse_args([os.fspath(a) for a in argv])
    check_paths(paths_of(parser, args))
    return import_network(args)


def cmd_import(args):
    import_network(args)
    return 0


def import_network(args):
    """The command's work; returns the report."""
    kinds, layers, options = parse_options(args)
    if args.labels and not args.check:
        raise ContractError("--labels goes with --check (labels of the --check inputs)")
    if args.inputs_out and not args.check:
        raise ContractError("--inputs-out writes the quantized --check inputs: give --check")
    imp = import_checkpoint(args.checkpoint, kinds, layers=layers, options=options)
    model = imp.model
    if args.calib:
        x_calib = load_float_inputs(args.calib, model.n_in, "--calib")[:args.calib_samples]
        basis = (f"scales rest on {x_calib.shape[0]} calibration samples of {args.calib} (inputs range "
                 f"{float(x_calib.min()):.4g}..{float(x_calib.max()):.4g})")
    else:
        lo, hi = _input_range(args.input_range)
        x_calib = uniform_calibration(model.n_in, lo, hi, samples=args.calib_samples)
        basis = (f"no --calib: the scales rest on {args.calib_samples} uniform random inputs in [{lo:g}, {hi:g}] "
                 f"(--input-range), not on real data; give --calib X.npy for scales that fit your inputs")
    x_check = load_float_inputs(args.check, model.n_in, "--check") if args.check else None
    y_check = _load_labels(args.labels, x_check.shape[0], model.n_out) if args.labels else None
    q = quantize_model(model, x_calib)
    shape = "-".join(str(n) for n in [model.n_in] + [d.n_out for d in model])
    lines = [f"{args.checkpoint}: {len(model)} layer{'s' if len(model) > 1 else ''} "
             f"({' -> '.join(n or '<root>' for n in imp.names)}), {shape}, kinds {','.join(d.kind for d in model)}"
             + ("" if imp.kinds_given else " (mam train's default: --kinds to set)")]
    for k, (name, dense, layer) in enumerate(zip(imp.names, model, q.network)):
        lines.append(_layer_line(k, name, dense, layer, q.weight_scales[k], q.scales[k], imp.notes[k]))
    if imp.ignored:
        lines.append("left out (they do not change the outputs): " + ", ".join(imp.ignored))
    lines.append(basis)
    lines.append(f"input scale {q.input_scale:.4g}: x_int = clamp(round(x / {q.input_scale:.4g})) in "
                 f"{q.in_bits} bits")
    report = {"checkpoint": os.fspath(args.checkpoint), "layers": [], "ignored": imp.ignored,
              "input_scale": q.input_scale, "calibration": basis, "kinds_given": imp.kinds_given}
    for k, (name, dense, layer) in enumerate(zip(imp.names, model, q.network)):
        report["layers"].append({"name": name, "kind": dense.kind, "shape": [dense.n_out, dense.n_in],
                                 "splits": dense.splits, "relu_in": dense.relu_in, "relu": dense.relu,
                                 "kept": dense.remaining, "total": dense.size, "nnz_int8": layer.nnz,
                                 "weight_scale": q.weight_scales[k], "output_scale": q.scales[k],
                                 "mult": layer.mult, "shift": layer.shift, "notes": imp.notes[k]})
    xq = None if x_check is None else q.quantize_inputs(x_check)
    if x_check is not None:
        f_pred = forward(model, x_check).argmax(axis=1)
        q_pred = network_forward(q.network, xq).argmax(axis=1)
        agree = float(np.mean(f_pred == q_pred))
        check = {"samples": int(x_check.shape[0]), "agreement": agree}
        text = (f"check on {x_check.shape[0]} samples of {args.check}: float and int8 agree on the class of "
                f"{100 * agree:.1f}%")
        if y_check is not None:
            check.update(float_acc=float(np.mean(f_pred == y_check)), int8_acc=float(np.mean(q_pred == y_check)))
            text += f"; accuracy float {100 * check['float_acc']:.1f}%, int8 {100 * check['int8_acc']:.1f}%"
        lines.append(text)
        report["check"] = check
    # The network in the sparse layer format (CSR keys); every output lands together or none does.
    arrays = q.network.file_arrays(sparse=True)
    text = json.dumps(report, indent=2) + "\n"
    atomic_write_all([(args.output, lambda f: np.savez(f, **arrays))]
                     + ([(args.inputs_out, lambda f: np.save(f, xq))] if args.inputs_out else [])
                     + ([(args.report, lambda f: f.write(text.encode()))] if args.report else []))
    files = [f for f in (args.output, args.inputs_out, args.report) if f]
    lines.append("wrote " + ", ".join(map(str, files)))
    print("\n".join(lines))
    sys.stdout.flush()
    return report
