"""What several `mam` commands share on their command lines, defined once: the argument types (positive finite
numbers, counts, PE numbers, input and output paths) and the options --pes, --target, --board and --weights.

A type refuses a bad value while the command line is parsed, before any work, in one line (argparse names the
option: "mam synth: argument --freq: must be a positive finite number, got 'inf'"). Input and output paths are
marked by their type (:class:`InputFile`, :class:`OutputFile`, :class:`OutputDir`, all ``str``): `mam` checks
every output location against every input and every other output before the command runs (mamhw.paths).
"""

import argparse
import math
import re

from .golden import ContractError
from .golden.assign import MAX_PES
from .golden.engines import ENGINES
from .golden.window import WINDOW_SIZES

__all__ = ["MAX_PES", "positive_int", "nonnegative_int", "positive_float", "nonnegative_float", "pes", "layer_widths",
           "InputFile", "OutputFile", "OutputDir", "input_file", "output_file", "output_dir", "add_pes", "add_target",
           "add_board", "add_weights", "add_engine", "add_relative_indices", "relative_indices", "resolve_engine",
           "WEIGHTS", "WEIGHTS_HELP", "TARGETS_HELP"]

WEIGHTS = ("auto", "bram", "spram")
WEIGHTS_HELP = ("where the weights go: bram (block RAM, in the bitstream), spram (the UP5K's SPRAM, loaded over "
                "the host link) or auto (block RAM unless it overflows and the SPRAM holds them; default)")
TARGETS_HELP = "up5k, ecp5-25f or ecp5-85f"
BOARDS_HELP = "icebreaker or ulx3s-85f"


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_int(text):
    """A whole number >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def nonnegative_int(text):
    """A whole number >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def positive_float(text):
    """A finite number > 0 (not inf, not nan)."""
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def nonnegative_float(text):
    """A finite number >= 0 (not inf, not nan)."""
    value = _float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def pes(text):
    """A number of processing elements: 1..MAX_PES, the limit the row assignment states (golden/assign.py)."""
    value = _int(text)
    if not 1 <= value <= MAX_PES:
        raise argparse.ArgumentTypeError(f"must be in 1..{MAX_PES}, got {text!r}")
    return value


def layer_widths(text):
    """Layer widths such as 784,256,10 (or 784x256x10, 784-256-10): two or more whole numbers, each at least 1."""
    compact = str(text).replace(" ", "")
    if not re.fullmatch(r"\d+(?:[,x-]\d+)+", compact):
        raise argparse.ArgumentTypeError(f"expected two or more widths like 784,256,10, got {text!r}")
    widths = [int(w) for w in re.split(r"[,x-]", compact)]
    if min(widths) < 1:
        raise argparse.ArgumentTypeError(f"every width must be at least 1, got {text!r}")
    return widths


class InputFile(str):
    """A path the command reads."""


class OutputFile(str):
    """A path the command writes one file to (atomically: complete or absent)."""


class OutputDir(str):
    """A folder the command writes into; `names` are the patterns (fnmatch) of the files it writes there."""

    names = ()


def input_file(text):
    return InputFile(text)


def output_file(text):
    return OutputFile(text)


def output_dir(*names):
    """The type of a folder option whose command writes files matching `names` in it."""
    def output_dir(text):
        folder = OutputDir(text)
        folder.names = names
        return folder
    return output_dir


def add_pes(parser, default=1, what="processing elements"):
    parser.add_argument("--pes", type=pes, default=default, metavar="P",
                        help=f"{what}, 1..{MAX_PES}" + (f" (default: {default})" if default is not None else
                                                        " (default: what the board reports)"))


def add_target(parser):
    parser.add_argument("--target", required=True, help=TARGETS_HELP)


def add_board(parser, help=BOARDS_HELP):
    parser.add_argument("--board", required=True, help=help)


def add_weights(parser):
    parser.add_argument("--weights", default="auto", choices=list(WEIGHTS), help=WEIGHTS_HELP)


def add_engine(parser, auto=False):
    """--engine and --window: which engine runs the network (both behind the same host port); with `auto`, the
    choice "auto" too, the default: the command picks one (fpga.estimate.choose_engine) and says why."""
    parser.add_argument("--engine", default="auto" if auto else "row", choices=(["auto"] if auto else []) + list(ENGINES),
                        help="row: each PE reads any activation from its own copy of the layer input, rows dealt "
                             "whole (fast on small layers); window: one copy of the activations, read W at a time "
                             "by every PE (block RAM that does not grow with P: big layers)"
                             + ("; auto: the one that fits the target in the fewest cycles (row on a tie)"
                                if auto else "") + " (default: %(default)s)")
    parser.add_argument("--window", type=int, default=16, choices=list(WINDOW_SIZES), metavar="W",
                        help="activations per window of the window engine, a multiple of --pes: "
                             f"{', '.join(map(str, WINDOW_SIZES))} (default: %(default)s)")


def add_relative_indices(parser):
    """--relative-indices: the row engine's entries with relative indices of that many bits, as the UP5K's SPRAM
    builds take them when absolute ones overflow it (`mam estimate` says when)."""
    parser.add_argument("--relative-indices", type=int, default=0, metavar="BITS", choices=range(0, 17),
                        help="row engine: entries hold the step from the previous input in BITS bits, filler "
                             "entries of weight 0 bridging longer steps (as a UP5K build whose weights need them "
                             "in SPRAM); 0: absolute indices (default)")


def relative_indices(args, network):
    """``args.relative_indices`` checked against `network` on ``args.pes`` PEs of ``args.engine``: the bits, or
    ContractError saying why the format cannot hold it."""
    bits = args.relative_indices
    if not bits:
        return 0
    if args.engine != "row":
        raise ContractError("--relative-indices: only the row engine's entries take them (--engine row)")
    from .fpga.structure import relative_indices_misfit
    why = relative_indices_misfit(network, args.pes, bits)
    if why:
        raise ContractError(f"--relative-indices {bits} on {args.pes} PE(s): {why}")
    return bits


def resolve_engine(args, network, target):
    """``args.engine`` "auto" made a choice (fpga.estimate.choose_engine, for `target` on ``args.pes``):
    ``args.engine`` and ``args.window`` then name it. Returns why (None when the engine was given)."""
    if args.engine != "auto":
        return None
    from .fpga.estimate import choose_engine
    args.engine, window, reason, _ = choose_engine(network, args.pes, target, weights=args.weights)
    args.window = window if window is not None else args.window
    return reason
