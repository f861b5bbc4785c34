"""`mam build`: a bitstream of the network engine and its host link for a board, with its reports."""

import contextlib
import json
import os
import sys

from .golden import load_model
from .options import (add_board, add_engine, add_pes, add_weights, input_file, output_dir, positive_float,
                      positive_int, resolve_engine)
from .plumbing import atomic_write_all
from .golden.engines import cycle_model
from .synth_cmd import WORK_FILES

__all__ = ["add_build_arguments", "cmd_build", "format_build"]

REPORTS = ("report.json", "report.txt")


def add_build_arguments(p):
    p.description = ("Synthesize, place and route the network engine and its host link for a board, with a PLL "
                     "making the engine clock, and write the bitstream (top.bin / top.bit) with the utilization and "
                     "timing reports. No bitstream is written unless timing closes.")
    p.add_argument("model", type=input_file, metavar="NETWORK.npz", help="layer or network file")
    add_board(p)
    p.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="build folder (never put it in git)",
                   type=output_dir(*WORK_FILES, "top.pcf", "top.lpf", "top.asc", "top.config", "top.bin", "top.bit",
                                   "pack.log", "report.json", "report.txt"))
    add_pes(p)
    p.add_argument("--freq", type=positive_float, metavar="MHZ", help="engine clock (default: the board's)")
    p.add_argument("--seeds", type=positive_int, default=3, metavar="N",
                   help="placement seeds to try until timing closes (default: %(default)s)")
    add_weights(p)
    add_engine(p, auto=True)


def format_build(rep):
    util, avail = rep["utilization"], rep["available"]
    logic = "ICESTORM_LC" if "ICESTORM_LC" in util else "TRELLIS_COMB"
    ram = "ICESTORM_RAM" if "ICESTORM_RAM" in util else "DP16KD"
    dsp = "ICESTORM_DSP" if "ICESTORM_DSP" in util else "MULT18X18D"
    rows = [
        ("board", f"{rep['board']} ({rep['target']}), {rep['pes']} PE(s), "
                  + (f"window engine (W = {rep['window']})" if rep.get("engine") == "window" else "row engine")),
        ("logic cells", f"{util.get(logic, 0)} / {avail.get(logic, 0)}"),
        ("DSPs", f"{util.get(dsp, 0)} / {avail.get(dsp, 0)}"),
        ("block RAMs", f"{util.get(ram, 0)} / {avail.get(ram, 0)}"),
    ] + ([("SPRAMs", f"{util.get('ICESTORM_SPRAM', 0)} / {avail.get('ICESTORM_SPRAM', 0)}: the weights, loaded "
                     "over the host link by `mam run`")] if rep.get("weights_in") == "spram" else []) + (
        [("engine chosen", rep["engine_choice"])] if rep.get("engine_choice") else []) + [
        ("engine clock", f"{rep['clock_mhz']:.2f} MHz (PLL from {rep['pll']['f_in_mhz']:g} MHz)"),
        ("Fmax", f"{rep['fmax_mhz']:.2f} MHz (seed {rep['seed']}, {rep['seeds_tried']} tried): "
                 + ("timing met" if rep["timing_met"] else "timing NOT met")),
        ("critical path", rep["critical_path"] or "-"),
    ] + ([("placement", f"cells spread to density {rep['placement_density']:g} (none placed at nextpnr's 0.9)")]
         if rep.get("placement_density") else []) + [
        ("UART", f"{rep['uart']['baud']} baud, {rep['uart']['divisor']} cycles per bit"),
        ("cycles per inference", f"{rep['cycles']} ({rep['cycles'] / rep['clock_mhz']:.1f} us)"),
        ("bitstream", rep["bitstream"] or "not written (timing not met)"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def cmd_build(args):
    from .fpga.boards import get_board
    from .fpga.build import build_bitstream, check_freq
    board = get_board(args.board)
    freq = board.engine_mhz if args.freq is None else args.freq
    check_freq(freq)
    network = load_model(args.model)
    choice = resolve_engine(args, network, board.target)
    from .fpga.estimate import check_fit
    fit = check_fit(network, args.pes, board.target, args.model, warn=_log, weights=args.weights,
                    engine=args.engine, window=args.window)
    spram = fit["weights_in"] == "spram"
    if spram:
        _log(f"entry words in {fit['sprams']} SPRAM(s), loaded over the host link by `mam run`"
             + (f"; relative {fit['delta_bits']}-bit indices, {fit['fillers']:,} filler entries"
                if fit.get("delta_bits") else ""))
    # The reports of an earlier build in this folder go first, so that a build that fails leaves none of its own
    # and no stale one (build_bitstream removes the old bitstream the same way).
    for name in REPORTS:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(args.out_dir, name))
    rep = build_bitstream(network, board, pes=args.pes, freq_mhz=freq, out_dir=args.out_dir, seeds=args.seeds,
                          log=_log, spram=spram, engine=args.engine, window=args.window,
                          delta_bits=fit.get("delta_bits", 0))
    rep["cycles"] = int(cycle_model(network, args.pes, args.engine, args.window, rep["delta_bits"]).total)
    if choice:
        rep["engine_choice"] = choice
    text = format_build(rep)
    atomic_write_all([(os.path.join(args.out_dir, "report.json"), _bytes(json.dumps(rep, indent=2) + "\n")),
                      (os.path.join(args.out_dir, "report.txt"), _bytes(text + "\n"))])
    print(text)
    if not rep["timing_met"]:
        print(f"mam: timing not met at {rep['clock_mhz']:.2f} MHz (Fmax {rep['fmax_mhz']:.2f} MHz): "
              "lower --freq or try more --seeds", file=sys.stderr)
        return 1
    return 0


def _bytes(text):
    data = text.encode()
    return lambda f: f.write(data)


def _log(message):
    print(f"mam: {message}", file=sys.stderr, flush=True)
