"""`mam estimate`, `mam compare`, `mam sweep`: cycles, memory, area and clock of a network in hardware, MAM
against MAC, without running any tool (fpga/estimate.py)."""

import csv
import io
import json
import os
import sys

import numpy as np

from .golden import ContractError, load_inputs, load_model
from .limits import check_sweep_memory
from .options import (add_engine, add_pes, add_target, add_weights, input_file, layer_widths, output_dir,
                      output_file, positive_float)
from .paths import output_folder
from .plumbing import atomic_write_all, save_text

__all__ = ["add_estimate_arguments", "cmd_estimate", "add_compare_arguments", "cmd_compare", "add_sweep_arguments",
           "cmd_sweep", "parse_densities"]

MODEL_HELP = "layer or network file"


def _estimate_options(p, auto=False):
    add_target(p)
    add_pes(p)
    p.add_argument("--freq", type=positive_float, metavar="MHZ",
                   help="clock for latency and throughput (default: the estimated Fmax)")
    add_weights(p)
    add_engine(p, auto=auto)


def _prune_layers(p):
    p.add_argument("--prune-layers", default="hidden", choices=["hidden", "all"],
                   help="layers the densities apply to (default: %(default)s; a one-layer file: that layer)")


def _density_options(p):
    p.add_argument("--mam-density", metavar="D", help="prune the MAM variant's hidden layers to D (e.g. 0.03 or 3%%)")
    p.add_argument("--mac-density", metavar="D", help="prune the MAC variant's hidden layers to D")
    _prune_layers(p)


def _report_options(p):
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    p.add_argument("--report", type=output_file, metavar="R.json", help="write the JSON report")


def add_estimate_arguments(p):
    p.description = ("Estimate what the engine of a layer or network costs on a target without running any tool: "
                     "exact cycles (cycle model), memory bits, block RAMs and DSPs (as Yosys maps them), LUTs, "
                     "flip-flops, logic cells and Fmax from a model calibrated on real synthesis runs.")
    p.add_argument("model", type=input_file, metavar="LAYER_OR_NETWORK.npz", help=MODEL_HELP)
    _estimate_options(p, auto=True)
    p.add_argument("--inputs", type=input_file, metavar="X.npy",
                   help="inputs [batch, in]: the exact cycles of each (the window engine skips zero activations, "
                        "so its cycles depend on them), their mean and spread")
    p.add_argument("--vs-mac", action="store_true", help="side by side: the file as MAM and as MAC (mam compare)")
    _density_options(p)
    _report_options(p)


def add_compare_arguments(p):
    p.description = ("Estimates side by side: the layer sizes of one file as MAM (hidden layers MAM) and as MAC "
                     "(every layer MAC), each pruned by magnitude to its own density; or two files.")
    p.add_argument("model", type=input_file, metavar="LAYER_OR_NETWORK.npz", help=MODEL_HELP + " (the MAM side)")
    p.add_argument("other", nargs="?", type=input_file, metavar="OTHER.npz",
                   help="a second file to put beside the first, as is")
    _estimate_options(p)
    _density_options(p)
    _report_options(p)


SWEEP_FILES = ("sweep.json", "sweep.csv", "cycles.png", "memory.png", "luts.png")


def add_sweep_arguments(p):
    p.description = ("For each density, prune the hidden layers by magnitude (with --shape: random weights, the "
                     "pruned layers made at the highest density, kept positions chosen at random), "
                     "estimate the MAM and the MAC network, and write sweep.json, sweep.csv and plots of cycles, "
                     "weight memory and LUTs against remaining interconnections (cycles.png, memory.png, luts.png).")
    p.add_argument("model", nargs="?", type=input_file, metavar="LAYER_OR_NETWORK.npz",
                   help=MODEL_HELP + " (or --shape)")
    p.add_argument("--shape", type=layer_widths, metavar="W0,W1,...",
                   help="layer widths of a random network, e.g. 784,256,10")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights of --shape (default: 0)")
    p.add_argument("--densities", nargs="+", required=True, metavar="D",
                   help="fractions of the interconnections to keep, e.g. 0.001 0.01 0.1 or 0.1%%,1%%,10%%")
    _estimate_options(p)
    _prune_layers(p)
    p.add_argument("-o", "--out-dir", required=True, type=output_dir(*SWEEP_FILES), metavar="DIR",
                   help="folder for the JSON, CSV and PNG files")


def _estimate(network, args):
    from .fpga.estimate import choose_engine, estimate
    if args.engine == "auto":
        engine, window, reason, rep = choose_engine(network, args.pes, args.target,
                                                    weights=getattr(args, "weights", "auto"))
        if args.freq is not None:
            rep = estimate(network, args.pes, args.target, freq_mhz=args.freq, weights=args.weights, engine=engine,
                           window=window)
        return dict(rep, engine=engine, engine_choice=reason)
    return estimate(network, args.pes, args.target, freq_mhz=args.freq, weights=getattr(args, "weights", "auto"),
                    engine=args.engine, window=args.window)


def _emit(args, payload, text):
    """The table on stdout (or the JSON with --json), and the JSON in --report when given."""
    if getattr(args, "report", None):
        save_text(args.report, json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2) if getattr(args, "json", False) else text)


def _density(value, option):
    if value is None:
        return None
    d = parse_densities([value], option)[0]
    return d


def cmd_estimate(args):
    from .fpga.estimate import format_estimate
    network = load_model(args.model)
    if args.vs_mac:
        return _compare_variants(args, network, args.mam_density, args.mac_density)
    if args.mam_density is not None or args.mac_density is not None:
        raise ContractError("--mam-density and --mac-density go with --vs-mac")
    x = load_inputs(args.inputs, network.n_in, network.in_bits) if args.inputs else None
    rep = _estimate(network, args)
    rep["model"] = os.fspath(args.model)
    if x is not None:
        from .golden import network_forward
        from .golden.engines import AUTO_WINDOWS, cycles_for_inputs
        outputs = network_forward(network, x, return_all=True)      # once, for every engine's count
        engine = rep.get("engine", "row")
        rep["cycles_for_inputs"] = dict(cycles_for_inputs(network, x, rep["pes"], engine, rep.get("window"), outputs),
                                        inputs=os.fspath(args.inputs))
        if args.engine == "auto":               # the choice is by the most cycles; these inputs' mean beside it
            rep["cycles_for_inputs"]["mean_by_engine"] = {
                "row": cycles_for_inputs(network, x, rep["pes"], outputs=outputs)["mean"]} | {
                f"window{w}": cycles_for_inputs(network, x, rep["pes"], "window", w, outputs)["mean"]
                for w in AUTO_WINDOWS if w % rep["pes"] == 0}
    _emit(args, rep, format_estimate(rep, title=f"{args.model} on {rep['target']}, {rep['pes']} PE(s)"))
    return 0


def cmd_compare(args):
    if args.other:
        if args.mam_density is not None or args.mac_density is not None:
            raise ContractError("give either two files or one file with --mam-density/--mac-density, not both")
        a, b = load_model(args.model), load_model(args.other)
        names = [os.path.basename(os.fspath(args.model)), os.path.basename(os.fspath(args.other))]
        return _side_by_side(args, [(names[0], a), (names[1], b)])
    return _compare_variants(args, load_model(args.model), args.mam_density, args.mac_density)


def _compare_variants(args, network, mam_density, mac_density):
    from .fpga.estimate import kind_variant
    which = getattr(args, "prune_layers", "hidden")
    mam = kind_variant(network, "mam", _density(mam_density, "--mam-density"), which)
    mac = kind_variant(network, "mac", _density(mac_density, "--mac-density"), which)
    return _side_by_side(args, [("MAM", mam), ("MAC", mac)])


def _side_by_side(args, named):
    from .fpga.estimate import format_side_by_side
    reps = [(name, _estimate(net, args)) for name, net in named]
    text = format_side_by_side(reps)
    (na, ra), (nb, rb) = reps
    ratios = []
    for label, key in (("cycles", "cycles"), ("weight memory", "weight_memory_bits"), ("LUTs", "luts")):
        if ra.get(key) and rb.get(key):
            ratios.append(f"{label} x{rb[key] / ra[key]:.2f}")
    if ratios:
        text += f"\n{nb} / {na}: " + ", ".join(ratios)
    _emit(args, {"target": ra["target"], "pes": ra["pes"], "columns": [{"name": n, **r} for n, r in reps]}, text)
    return 0


def parse_densities(values, option="--densities"):
    """Densities from arguments like ``0.01 0.03``, ``0.01,0.03`` or ``1% 3%``: fractions in (0, 1]."""
    out = []
    for v in values:
        for part in str(v).replace(",", " ").split():
            try:
                d = float(part[:-1]) / 100 if part.endswith("%") else float(part)
            except ValueError:
                raise ContractError(f"{option}: not a number: {part!r}") from None
            if not 0.0 < d <= 1.0 or not np.isfinite(d):
                raise ContractError(f"{option}: densities must be in (0, 1] (or 0%..100%), got {part}")
            out.append(d)
    if not out:
        raise ContractError(f"{option}: give at least one density")
    return out


SWEEP_COLUMNS = ("density", "kind", "remaining", "total", "cycles", "weight_memory_bits", "encoded_weight_bits",
                 "block_rams", "lut_rams", "dsps", "luts", "ffs", "logic_cells", "fmax_mhz", "latency_us", "fits")
PLOTS = (("cycles.png", "cycles", "cycles per inference"),
         ("memory.png", "weight_memory_bits", "weight memory (bits)"),
         ("luts.png", "luts", "LUTs (estimated)"))


def cmd_sweep(args):
    from .fpga.estimate import kind_variant, prunable_layers, random_network
    from .progress import Progress
    densities = parse_densities(args.densities)
    if (args.model is None) == (args.shape is None):
        raise ContractError("give a layer or network file, or --shape (random weights), not both")
    plt = _pyplot()
    if args.model is not None:
        network, source = load_model(args.model), os.fspath(args.model)
        check_sweep_memory(sum(layer.nnz for layer in network), f"a sweep of {source}")
    else:
        # The pruned layers are made at the highest density asked for (random positions: what magnitude pruning of
        # random weights gives), the others whole; every density's variant is pruned from that network.
        shape = args.shape
        source = f"random {'-'.join(map(str, shape))}"
        sizes = [a * b for a, b in zip(shape, shape[1:])]
        pruned = prunable_layers(sizes, args.prune_layers)
        density = [max(densities) if k in pruned else 1.0 for k in range(len(sizes))]
        check_sweep_memory(sum(round(d * n) for d, n in zip(density, sizes)), f"a sweep of a {source} network")
        network = random_network(shape, density=density, seed=args.seed)
    chosen = prunable_layers(network, args.prune_layers)
    total = int(sum(network[k].size for k in chosen))
    rows = []
    progress = Progress("sweep")
    steps = [(d, kind) for d in densities for kind in ("mam", "mac")]
    for i, (d, kind) in enumerate(steps):
        variant = kind_variant(network, kind, d, args.prune_layers)
        rep = _estimate(variant, args)
        remaining = int(sum(variant[k].nnz for k in chosen))
        rows.append({"density": d, "kind": kind, "remaining": remaining, "total": total,
                     **{c: rep[c] for c in SWEEP_COLUMNS if c in rep}})
        progress(i + 1, len(steps))
    have = int(sum(network[k].nnz for k in chosen))
    if max(densities) * total > have + 0.5:
        print(f"mam: note: {source} keeps {have} of {total} interconnections ({100 * have / total:.3g}%); "
              "magnitude pruning cannot add any, so higher densities give its own weights", file=sys.stderr)
    meta = {"source": source, "target": args.target, "pes": args.pes, "freq_mhz": args.freq,
            "pruned_layers": chosen, "rows": rows}
    files = _sweep_files(meta, rows, plt)
    with output_folder(args.out_dir):           # all five files land together, or none does
        atomic_write_all((os.path.join(args.out_dir, name), write) for name, write in files.items())
    _print_sweep(rows, source, args)
    print(f"wrote {', '.join(sorted(files))} to {args.out_dir}")
    return 0


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ContractError("mam sweep draws its plots with matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _sweep_files(meta, rows, plt):
    """Every output of a sweep as {file name: writer}, all computed before any is written."""
    files = {"sweep.json": _bytes(json.dumps(meta, indent=2) + "\n")}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SWEEP_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in SWEEP_COLUMNS})
    files["sweep.csv"] = _bytes(buf.getvalue())
    for name, key, label in PLOTS:
        files[name] = _bytes(_plot(plt, rows, key, label, meta))
    return files


def _bytes(data):
    data = data.encode() if isinstance(data, str) else data
    return lambda f: f.write(data)


def _plot(plt, rows, key, label, meta):
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    series = []
    for kind, style in (("mam", "o-"), ("mac", "s--")):
        pts = sorted((r["remaining"], r[key]) for r in rows if r["kind"] == kind and r.get(key) is not None)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=kind.upper())
            series.append(kind.upper())
    ax.set_xscale("log")
    ax.set_xlabel("remaining interconnections (pruned layers)")
    ax.set_ylabel(label)
    ax.set_title(f"{meta['source']} on {meta['target']}, {meta['pes']} PE(s)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend()
    fig.tight_layout()
    out = io.BytesIO()
    # The series names travel in the PNG's text chunks, so a reader can tell what the plot holds.
    fig.savefig(out, format="png", metadata={"Title": label, "Description": "series: " + ", ".join(series)})
    plt.close(fig)
    return out.getvalue()


def _print_sweep(rows, source, args):
    print(f"{source} on {args.target}, {args.pes} PE(s)")
    head = ("density", "kind", "remaining", "cycles", "weight bits", "BRAMs", "DSPs", "LUTs", "Fmax")
    table = [head]
    for r in rows:
        table.append((f"{100 * r['density']:.3g}%", r["kind"], f"{r['remaining']:,}", f"{r['cycles']:,}",
                      f"{r['weight_memory_bits']:,}", str(r["block_rams"]), str(r["dsps"]),
                      "n/a" if r.get("luts") is None else f"{r['luts']:,}",
                      "n/a" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(v.rjust(widths[i]) for i, v in enumerate(row)))
