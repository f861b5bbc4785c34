"""Fmax and utilization of the PEs, the engines and the full top level (engine + host link) on both families.

Every design is synthesized once (Yosys) and placed and routed with nextpnr over several seeds; the table gives
the median Fmax and its spread, logic cells (iCE40) or LUT4s (ECP5), DSPs and block RAMs, and whether the clock
targets are met (UP5K 48 MHz at P = 4, ECP5-85F 150 MHz at P = 8). It also prints each design's critical
path. Run: python bench/fmax.py [--seeds 3] [--only NAME ...] [--json out.json] [--record]
(--record: also write the table into its section of docs/measurements.md)
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from mamhw.fpga.boards import build_link_top
from mamhw.fpga.pnr import implement
from mamhw.fpga.structure import engine_options
from mamhw.fpga.targets import get_target
from mamhw.golden import Layer, Network
from mamhw.hw.specs import build_network_engine
from mamhw.sim.pe_amaranth import build_pe

TARGET_MHZ = {"up5k": 48.0, "ecp5-25f": 150.0, "ecp5-85f": 150.0}


def random_layer(rng, n_in, n_out, density, kind, relu=True):
    """An 8-bit layer with the given fraction of nonzero weights and requantization of a trained layer."""
    w = rng.integers(-127, 128, (n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    return Layer.build(kind=kind, weight=w, bias=rng.integers(-2000, 2000, n_out), mult=int(rng.integers(20000, 65536)),
                       shift=22, relu=relu, in_bits=8, w_bits=8, out_bits=8)


def network(kind, seed=0):
    """64-32-10 (the 8x8 digits' shape): a pruned hidden layer of `kind` and a MAC output layer, as trained."""
    rng = np.random.default_rng(seed)
    return Network([random_layer(rng, 64, 32, 0.1 if kind == "mam" else 0.3, kind),
                    random_layer(rng, 32, 10, 0.5, "mac", relu=False)])


def designs():
    """name -> (target, builder). Builders elaborate nothing until called."""
    out = {}
    for kind in ("mam", "mac"):
        layer = random_layer(np.random.default_rng(1), 64, 32, 0.2, kind)
        for target in ("up5k", "ecp5-25f"):
            dsp = get_target(target).dsp        # the bare PE keeps its unrolled fold on both families
            out[f"{kind} PE {target}"] = (target, lambda layer=layer, dsp=dsp: build_pe(layer, dsp=dsp))
        for target, pes in (("up5k", 4), ("ecp5-85f", 8)):
            opts = engine_options(get_target(target))
            out[f"{kind} engine P={pes} {target}"] = (
                target, lambda kind=kind, pes=pes, opts=opts: build_network_engine(network(kind), pes, opts)[0])
    for target, pes in (("up5k", 4), ("ecp5-85f", 8)):
        opts = engine_options(get_target(target))
        out[f"mam engine+link P={pes} {target}"] = (
            target, lambda pes=pes, opts=opts: build_link_top(network("mam"), pes, divisor=16, timeout=100000,
                                                               options=opts))
    return out


def measure(name, target_name, build, seeds, workdir):
    target = get_target(target_name)
    t0 = time.time()
    rep = implement(build(), target, freq_mhz=TARGET_MHZ[target_name], seeds=seeds, workdir=workdir)
    util = rep["utilization"]
    logic = "ICESTORM_LC" if target.family == "ice40" else "TRELLIS_COMB"
    dsp = "ICESTORM_DSP" if target.family == "ice40" else "MULT18X18D"
    ram = "ICESTORM_RAM" if target.family == "ice40" else "DP16KD"
    return {"design": name, "target": target_name, "fmax_median": rep["fmax_mhz"]["median"],
            "fmax_min": rep["fmax_mhz"]["min"], "fmax_max": rep["fmax_mhz"]["max"], "seeds": seeds,
            "logic": util.get(logic, 0), "logic_available": rep["available"].get(logic, 0),
            "dsp": util.get(dsp, 0), "bram": util.get(ram, 0), "target_mhz": TARGET_MHZ[target_name],
            "met": rep["fmax_mhz"]["median"] >= TARGET_MHZ[target_name], "critical_path": rep["critical_path"],
            "seconds": round(time.time() - t0, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="substrings of design names to run")
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    rows = []
    work = tempfile.mkdtemp(prefix="mam-fmax-")
    for i, (name, (target, build)) in enumerate(designs().items()):
        if args.only and not any(s in name for s in args.only):
            continue
        print(f"[{name}] synthesizing and placing ({args.seeds} seeds) ...", file=sys.stderr, flush=True)
        row = measure(name, target, build, args.seeds, os.path.join(work, f"d{i}"))
        rows.append(row)
        print(f"[{name}] {row['fmax_median']:.1f} MHz, path {row['critical_path']} ({row['seconds']} s)",
              file=sys.stderr, flush=True)
    print(f"Fmax over {args.seeds} seeds (median, min..max); clock target and whether the median meets it")
    print(f"{'design':34} {'Fmax MHz':>8} {'range':>13} {'target':>6} {'met':>4} {'logic':>12} {'DSP':>4} {'BRAM':>4}")
    for r in rows:
        print(f"{r['design']:34} {r['fmax_median']:8.1f} {r['fmax_min']:6.1f}..{r['fmax_max']:<6.1f} "
              f"{r['target_mhz']:6.0f} {'yes' if r['met'] else 'no':>4} {r['logic']:>5}/{r['logic_available']:<6} "
              f"{r['dsp']:>4} {r['bram']:>4}")
    print("\ncritical paths (slowest seed):")
    for r in rows:
        print(f"  {r['design']}: {r['critical_path']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("fmax", main))
