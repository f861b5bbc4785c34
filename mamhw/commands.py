"""The `mam golden` and `mam sim` commands."""

import contextlib
import json
import os
import sys

import numpy as np

from .check import check_against_golden, format_report, report_ok
from .golden import load_inputs, load_model, network_forward, save_array
from .options import add_engine, add_pes, add_relative_indices, input_file, output_file, relative_indices
from .paths import check_output_paths       # also for the commands that check plain paths themselves
from .plumbing import atomic_write_all
from .progress import Progress
from .rtl import BACKENDS

__all__ = ["add_golden_arguments", "cmd_golden", "add_sim_arguments", "cmd_sim", "check_output_paths"]


def _model_and_inputs(p):
    p.add_argument("model", type=input_file, metavar="LAYER.npz", help="layer or network file")
    p.add_argument("inputs", type=input_file, metavar="INPUTS.npy", help="integers [batch, in] or [in]")


def add_golden_arguments(p):
    _model_and_inputs(p)
    p.add_argument("-o", "--output", required=True, type=output_file, metavar="OUT.npy",
                   help="where to write [batch, out]")


def add_sim_arguments(p):
    _model_and_inputs(p)
    p.add_argument("-o", "--output", required=True, type=output_file, metavar="OUT.npy",
                   help="where to write the RTL's outputs")
    p.add_argument("--report", type=output_file, metavar="R.json", help="write a JSON report")
    p.add_argument("--vcd", type=output_file, metavar="W.vcd",
                   help="write a waveform of the whole run (amaranth backend)")
    add_pes(p)
    add_engine(p)
    add_relative_indices(p)
    p.add_argument("--backend", default="amaranth", choices=list(BACKENDS),
                   help="simulator: " + "; ".join(f"{k}: {v}" for k, v in BACKENDS.items())
                   + " (default: %(default)s)")


def cmd_golden(args):
    network = load_model(args.model)
    x = load_inputs(args.inputs, network.n_in, network.in_bits)
    save_array(args.output, network_forward(network, x))
    return 0


def cmd_sim(args):
    network = load_model(args.model)
    x = load_inputs(args.inputs, network.n_in, network.in_bits)
    delta_bits = relative_indices(args, network)
    with _staged(args.vcd) as vcd:              # the waveform is written as the simulation runs
        outputs, report = check_against_golden(network, x, pes=args.pes, backend=args.backend, vcd=vcd,
                                               progress=Progress("simulating samples"), log=_log,
                                               engine=args.engine, window=args.window, delta_bits=delta_bits)
        report["model"] = os.fspath(args.model)
        report["inputs"] = os.fspath(args.inputs)
        text = json.dumps(report, indent=2) + "\n"
        atomic_write_all([(args.output, lambda f: np.save(f, outputs))]
                         + ([(args.report, lambda f: f.write(text.encode()))] if args.report else []))
    print(format_report(report))
    return 0 if report_ok(report) else 1


@contextlib.contextmanager
def _staged(path):
    """A temporary name beside `path` (None: None) for a file a tool writes as it goes; renamed to `path` when the
    block succeeds, removed when it fails."""
    if path is None:
        yield None
        return
    real = os.path.realpath(path)
    tmp = os.path.join(os.path.dirname(real), f".tmp-{os.getpid()}-{os.path.basename(real)}")
    try:
        yield tmp
        os.replace(tmp, real)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _log(message):
    print(f"mam: {message}", file=sys.stderr, flush=True)
