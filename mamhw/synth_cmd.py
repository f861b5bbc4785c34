"""`mam synth`: Yosys and nextpnr on the engine with the weights baked in; utilization and Fmax over seeds."""

import contextlib
import json
import os
import sys
import tempfile

from .golden import load_model
from .options import (add_engine, add_pes, add_target, add_weights, input_file, output_dir, output_file,
                      positive_float, positive_int, resolve_engine)
from .paths import output_folder
from .plumbing import removed_after, save_text
from .golden.cycles import plan_network
from .golden.encode import entry_bits
from .fpga.targets import get_target

__all__ = ["add_synth_arguments", "cmd_synth", "weight_memory_bits", "format_synth", "WORK_FILES"]

FF_CELLS = ("SB_DFF", "TRELLIS_FF")
DSP_CELLS = ("SB_MAC16", "MULT18X18D")
BRAM_CELLS = ("SB_RAM40_4K", "DP16KD")
# What a synthesis writes in its work folder (fpga/pnr.py).
WORK_FILES = ("top.il", "yosys.log", "stat.json", "netlist.json", "nextpnr-seed*.log", "report-seed*.json")


def add_synth_arguments(p):
    p.add_argument("model", type=input_file, metavar="LAYER_OR_NETWORK.npz", help="layer or network file")
    add_target(p)
    add_pes(p)
    p.add_argument("--freq", type=positive_float, default=48.0, metavar="MHZ", help="clock constraint (default: 48)")
    p.add_argument("--seeds", type=positive_int, default=3, help="nextpnr seeds (default: 3)")
    add_weights(p)
    add_engine(p, auto=True)
    p.add_argument("--report", type=output_file, metavar="R.json", help="write the report as JSON")
    p.add_argument("-o", "--out-dir", type=output_dir(*WORK_FILES), metavar="DIR",
                   help="keep the work files (netlist, logs) here")


def weight_memory_bits(network, assignments):
    """Bits of entry memory the engine needs for all layers."""
    return sum(int(a.entries) * entry_bits(layer) for layer, a in zip(network, assignments))


def _count(cells, prefixes):
    return sum(n for name, n in cells.items() if name.startswith(prefixes))


def format_synth(rep):
    f = rep["fmax_mhz"]
    cells = rep["cells"]
    util, avail = rep["utilization"], rep["available"]
    logic = "ICESTORM_LC" if "ICESTORM_LC" in util else "TRELLIS_COMB"
    rows = [
        ("logic cells", f"{util.get(logic, 0)} / {avail.get(logic, 0)}"),
        ("flip-flops", str(_count(cells, FF_CELLS))),
        ("DSPs", f"{_count(cells, DSP_CELLS)}"),
        ("block RAMs", f"{_count(cells, BRAM_CELLS)}"),
        ("SPRAMs", str(cells.get("SB_SPRAM256KA", 0))),
        ("Fmax (MHz)", f"{f['median']:.1f} median of {rep['seeds']} seed(s), {f['min']:.1f}..{f['max']:.1f}"),
        (f"timing at {rep['freq_mhz']} MHz", "met" if rep["timing_met"] else "NOT met"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def cmd_synth(args):
    target = get_target(args.target)
    network = load_model(args.model)
    choice = resolve_engine(args, network, target)
    from .fpga.estimate import check_fit
    fit = check_fit(network, args.pes, target, args.model, warn=_log, weights=args.weights, engine=args.engine,
                    window=args.window)
    delta_bits = fit.get("delta_bits", 0)
    need = fit["weight_memory_bits"] if args.engine == "window" or delta_bits else \
        weight_memory_bits(network, plan_network(network, args.pes))
    spram = fit["weights_in"] == "spram"
    if spram:
        _log(f"entry words in {fit['sprams']} SPRAM(s): a bitstream of this design loads them over the host link"
             + (f"; relative {delta_bits}-bit indices, {fit['fillers']:,} filler entries" if delta_bits else ""))
    from .fpga.pnr import implement
    from .hw.engines import build_engine
    from .fpga.structure import engine_options
    engine, model = build_engine(network, args.pes, engine=args.engine, window=args.window,
                                 options=engine_options(target, spram=spram, delta_bits=delta_bits))
    with _work_folder(args.out_dir) as work:
        _log(f"synthesizing for {target.name} (yosys), work folder {work}")
        rep = implement(engine, target, freq_mhz=args.freq, seeds=args.seeds, workdir=work, log=_log)
    rep.update(model=os.fspath(args.model), pes=args.pes, engine=args.engine, weight_memory_bits=need,
               weights_in=fit["weights_in"], delta_bits=delta_bits, cycles=int(model.total),
               **({"window": args.window} if args.engine == "window" else {}),
               **({"engine_choice": choice} if choice else {}))
    if args.report:
        save_text(args.report, json.dumps(rep, indent=2) + "\n")
    engine = f"window engine (W = {args.window})" if args.engine == "window" else "row engine"
    print(f"{args.model} on {target.name}, {args.pes} PE(s), {engine}, {rep['cycles']} cycles per inference")
    if choice:
        print(f"engine chosen: {choice}")
    print(format_synth(rep))
    return 0


@contextlib.contextmanager
def _work_folder(out_dir):
    """-o DIR: that folder, kept. Otherwise a temporary folder, removed at the end, also on Ctrl-C or SIGTERM; kept
    only after a tool error, whose message names the log in it."""
    if out_dir:
        with output_folder(out_dir):
            yield out_dir
        return
    with removed_after(tempfile.mkdtemp(prefix="mam-synth-")) as work:
        yield work


def _log(message):
    print(f"mam: {message}", file=sys.stderr, flush=True)
