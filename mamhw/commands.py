"""The `mam golden` and `mam sim` commands."""

import json
import os
import sys

from .check import check_against_golden, format_report, report_ok
from .golden import ContractError, load_inputs, load_model, network_forward, save_array
from .plumbing import save_text
from .progress import Progress

__all__ = ["cmd_golden", "cmd_sim", "check_output_paths"]


def check_output_paths(*paths):
    """Refuse unwritable destinations before any work, so nothing runs for minutes and then fails."""
    for path in paths:
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ContractError(f"{path}: folder {folder} does not exist")
        if os.path.isdir(path):
            raise ContractError(f"{path}: is a directory")


def cmd_golden(args):
    check_output_paths(args.output)
    network = load_model(args.model)
    x = load_inputs(args.inputs, network.n_in, network.in_bits)
    save_array(args.output, network_forward(network, x))
    return 0


def cmd_sim(args):
    check_output_paths(args.output, args.report, args.vcd)
    network = load_model(args.model)
    x = load_inputs(args.inputs, network.n_in, network.in_bits)
    outputs, report = check_against_golden(network, x, pes=args.pes, backend=args.backend, vcd=args.vcd,
                                           progress=Progress("simulating samples"), log=_log)
    report["model"] = os.fspath(args.model)
    report["inputs"] = os.fspath(args.inputs)
    save_array(args.output, outputs)
    if args.report:
        save_text(args.report, json.dumps(report, indent=2) + "\n")
    print(format_report(report))
    return 0 if report_ok(report) else 1


def _log(message):
    print(f"mam: {message}", file=sys.stderr, flush=True)
