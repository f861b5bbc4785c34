"""The `mam` command."""

import argparse
import sys

from .golden import ContractError
from .rtl import BACKENDS

__all__ = ["main"]


class UsageError(Exception):
    """A bad command line: reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


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

    d = sub.add_parser("demo", help="run a built-in example end to end")
    d.add_argument("-o", "--out-dir", default="mam-demo", metavar="DIR",
                   help="folder for the demo's files and report (default: %(default)s)")
    d.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    d.add_argument("--backend", default="amaranth", choices=list(BACKENDS), help="simulator (default: %(default)s)")
    return p


def main(argv=None):
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "golden":
            from .commands import cmd_golden
            return cmd_golden(args)
        if args.command == "sim":
            from .commands import cmd_sim
            return cmd_sim(args)
        if args.command == "export":
            from .export_cmd import cmd_export
            return cmd_export(args)
        if args.command == "demo":
            from .demo import cmd_demo
            return cmd_demo(args)
        raise UsageError(f"mam: unknown command {args.command}")
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
