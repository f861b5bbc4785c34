"""The `mam` command: the list of its commands. Each command lives in its own module and defines its own arguments.

A command NAME listed in COMMANDS as (module, one-line help) is two functions of that module:

    add_NAME_arguments(parser)    its arguments (and parser.description); shared options and the argument types
                                  come from mamhw.options
    cmd_NAME(args)                runs it; returns the exit status

Only the module of the command being run is imported (`mam golden` does not pay for Amaranth). Before the command
runs, every path argument typed as an input or output (mamhw.options) is checked (mamhw.paths).
"""

import argparse
import importlib
import signal
import sys

from .golden import ContractError
from .plumbing import Terminated, terminate_like_interrupt

__all__ = ["main", "COMMANDS"]


COMMANDS = {
    "golden": (".commands", "golden (NumPy reference) outputs of a layer or network"),
    "sim": (".commands", "run the RTL in simulation and check it against the golden model"),
    "export": (".export_cmd", "write Verilog and RTLIL of the engine with the weights baked in"),
    "synth": (".synth_cmd", "synthesize, place and route the engine; utilization and Fmax"),
    "demo": (".demo", "train, prune and quantize a MAM and a MAC network, run them on the RTL, compare"),
    "train": (".train_cmd", "train, prune and quantize a network; write the network file the hardware takes"),
    "import": (".import_cmd", "a network trained elsewhere (PyTorch checkpoint) to a network file, quantized to int8"),
    "run": (".run_cmd", "run a batch on an FPGA board over its USB UART; check it against the golden model"),
    "build": (".build_cmd", "a bitstream for a board: the engine behind its UART host link, with a PLL"),
    "estimate": (".estimate_cmd", "cycles, memory, block RAMs, DSPs, LUTs and Fmax of the engine (no synthesis)"),
    "compare": (".estimate_cmd", "MAM against MAC of the same layer sizes, each at its own density"),
    "sweep": (".estimate_cmd", "estimates over densities, MAM and MAC: JSON, CSV and plots"),
}


class UsageError(Exception):
    """A bad command line: reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _module(name):
    return importlib.import_module(COMMANDS[name][0], __package__)


def _chosen(argv):
    """The command named on the command line (the first word that is not an option), or None."""
    for word in map(str, argv):
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _build_parser(argv):
    """The parser, and the sub-parser of the command argv names (None when it names none)."""
    p = _Parser(prog="mam", description="Hardware for pruned Multiply-And-Max/min neural-network layers.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    chosen, chosen_parser = _chosen(argv), None
    for name, (_, help_text) in COMMANDS.items():
        q = sub.add_parser(name, help=help_text)
        if name == chosen:
            getattr(_module(name), f"add_{name}_arguments")(q)
            chosen_parser = q
    return p, chosen_parser


def main(argv=None):
    """Run one command; returns the exit status: 0, 1 (a check failed), 2 (bad input: one line on stderr), 130
    (Ctrl-C) or 143 (SIGTERM). Ctrl-C and SIGTERM unwind the same way: tools ended, work folders removed."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    with terminate_like_interrupt():
        try:
            parser, command_parser = _build_parser(argv)
            args = parser.parse_args(argv)
            from .paths import check_paths, paths_of
            check_paths(paths_of(command_parser, args))
            return getattr(_module(args.command), f"cmd_{args.command}")(args)
        except (ContractError, UsageError) as e:
            print(f"mam: error: {e}" if isinstance(e, ContractError) else f"{e}", file=sys.stderr)
            return 2
        except Terminated:
            print("mam: terminated", file=sys.stderr)
            return 128 + signal.SIGTERM
        except KeyboardInterrupt:
            print("mam: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 1


if __name__ == "__main__":
    sys.exit(main())
