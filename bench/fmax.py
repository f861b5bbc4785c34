"""Fmax and utilization of the PEs, the engines and the full top level (engine + host link) on both families.

Every design is synthesized once (Yosys) and placed and routed with nextpnr over several seeds; the table gives
the median Fmax and its spread, logic cells (iCE40) or LUT4s (ECP5), DSPs and block RAMs, and whether the clock
targets are met (UP5K 48 MHz at P = 4, ECP5-85F 150 MHz at P = 8, the window engine's too). Timing must hold for
any network that fits, not one: every engine and top level is built for --networks random 64-32-10 networks (the
first with a trained network's ranges, the others with biases, multipliers and shifts drawn wider), and its row is
the worst network's.
It also prints each design's critical path. Run:
    python bench/fmax.py [--seeds 3] [--networks 3] [--only NAME ...] [--json out.json] [--record]
    python bench/fmax.py --quick      (a P = 1 engine on the UP5K for two networks, one seed: the tests)
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
from mamhw.hw.engines import build_window_engine
from mamhw.hw.specs import build_network_engine
from mamhw.plumbing import ToolError, save_text
from mamhw.sim.pe_amaranth import build_pe

TARGET_MHZ = {"up5k": 48.0, "ecp5-25f": 150.0, "ecp5-85f": 150.0}


def random_layer(rng, n_in, n_out, density, kind, relu=True, *, bias_bits=12, mult_bits=16, shift=22):
    """An 8-bit layer with the given fraction of nonzero weights; biases of `bias_bits` bits (signed) and a
    multiplier below 2**mult_bits (a trained layer's: 12 and 16)."""
    w = rng.integers(-127, 128, (n_out, n_in)) * (rng.random((n_out, n_in)) < density)
    half = 1 << (bias_bits - 1)
    return Layer.build(kind=kind, weight=w, bias=rng.integers(-half, half, n_out),
                       mult=int(rng.integers(1 << (mult_bits - 2), 1 << mult_bits)), shift=shift, relu=relu,
                       in_bits=8, w_bits=8, out_bits=8)


def network(kind, seed=0):
    """64-32-10 (the 8x8 digits' shape): a pruned hidden layer of `kind` and a MAC output layer. Seed 0 has a trained
    network's ranges; other seeds draw biases of 12 to 24 bits, multipliers of 12 to 16 bits (the contract's most)
    and shifts of 16 to 30, which change the widths of the PE's sum and requantization stages."""
    rng = np.random.default_rng(seed)
    ranges = {} if seed == 0 else {"bias_bits": int(rng.integers(12, 25)), "mult_bits": int(rng.integers(12, 17)),
                                   "shift": int(rng.integers(16, 31))}
    return Network([random_layer(rng, 64, 32, 0.1 if kind == "mam" else 0.3, kind, **ranges),
                    random_layer(rng, 32, 10, 0.5, "mac", relu=False, **ranges)])


def designs(networks, quick=False):
    """name -> (target, [builder per network]). Builders elaborate nothing until called."""
    out = {}
    for kind in ("mam", "mac"):
        layer = random_layer(np.random.default_rng(1), 64, 32, 0.2, kind)
        for target in ("up5k", "ecp5-25f"):
            dsp = get_target(target).dsp        # the bare PE keeps its unrolled fold on both families
            out[f"{kind} PE {target}"] = (target, [lambda layer=layer, dsp=dsp: build_pe(layer, dsp=dsp)])
        for target, pes in (("up5k", 4), ("ecp5-85f", 8)):
            opts = engine_options(get_target(target))
            out[f"{kind} engine P={pes} {target}"] = (target, [
                lambda kind=kind, pes=pes, opts=opts, seed=seed: build_network_engine(network(kind, seed), pes,
                                                                                      opts)[0]
                for seed in range(networks)])
    # The window engine (one copy of the activations, zero skipping) on the same networks, windows of 32.
    out["mam window engine P=8 W=32 ecp5-85f"] = ("ecp5-85f", [
        lambda seed=seed: build_window_engine(network("mam", seed), 8, 32, dsp=get_target("ecp5-85f").dsp)[0]
        for seed in range(networks)])
    for target, pes in (("up5k", 4), ("ecp5-85f", 8)):
        opts = engine_options(get_target(target))
        out[f"mam engine+link P={pes} {target}"] = (target, [
            lambda pes=pes, opts=opts, seed=seed: build_link_top(network("mam", seed), pes, divisor=16,
                                                                 timeout=100000, options=opts)
            for seed in range(networks)])
    if quick:
        opts = engine_options(get_target("up5k"))
        return {"mam engine P=1 up5k": ("up5k", [
            lambda seed=seed: build_network_engine(network("mam", seed), 1, opts)[0] for seed in range(networks)])}
    return out


def measure(name, target_name, build, seeds, workdir):
    target = get_target(target_name)
    t0 = time.time()
    try:
        rep = implement(build(), target, freq_mhz=TARGET_MHZ[target_name], seeds=seeds, workdir=workdir)
    except ToolError as e:
        if "legal placement" not in str(e):          # nextpnr's words for a design the device cannot take
            raise
        # A design that does not place on some seed is the worst case there is: 0 MHz, and why.
        return {"design": name, "target": target_name, "fmax_median": 0.0, "fmax_min": 0.0, "fmax_max": 0.0,
                "seeds": seeds, "logic": 0, "logic_available": 0, "dsp": 0, "bram": 0,
                "target_mhz": TARGET_MHZ[target_name], "met": False,
                "critical_path": f"not placed: {str(e).split(': ', 1)[-1].split(' (full log')[0]}",
                "seconds": round(time.time() - t0, 1)}
    util = rep["utilization"]
    logic = "ICESTORM_LC" if target.family == "ice40" else "TRELLIS_COMB"
    dsp = "ICESTORM_DSP" if target.family == "ice40" else "MULT18X18D"
    ram = "ICESTORM_RAM" if target.family == "ice40" else "DP16KD"
    return {"design": name, "target": target_name, "fmax_median": rep["fmax_mhz"]["median"],
            "fmax_min": rep["fmax_mhz"]["min"], "fmax_max": rep["fmax_mhz"]["max"], "seeds": seeds,
            "logic": util.get(logic, 0), "logic_available": rep["available"].get(logic, 0),
            "dsp": util.get(dsp, 0), "bram": util.get(ram, 0), "target_mhz": TARGET_MHZ[target_name],
            "met": rep["fmax_mhz"]["median"] >= TARGET_MHZ[target_name], "critical_path": rep["critical_path"],
            "placement_densities": rep["placement_densities"], "seconds": round(time.time() - t0, 1)}


def worst_of(runs):
    """One design's row over its networks: the network with the lowest median Fmax, with every network's median and
    the most logic any of them took."""
    medians = [r["fmax_median"] for r in runs]
    network = medians.index(min(medians))
    worst = dict(runs[network], network=network, medians=medians)
    worst["logic"] = max(r["logic"] for r in runs)
    worst["seconds"] = round(sum(r["seconds"] for r in runs), 1)
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="nextpnr seeds per design (default 3)")
    ap.add_argument("--networks", type=int, default=3,
                    help="random networks per engine and top level; the row is the worst (default 3)")
    ap.add_argument("--only", nargs="*", help="substrings of design names to run")
    ap.add_argument("--quick", action="store_true",
                    help="a P = 1 engine on the UP5K for two networks, one seed (what the tests run)")
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.networks = 1, 2
    if args.seeds < 1 or args.networks < 1:
        ap.error("--seeds and --networks must be at least 1")
    rows = []
    work = tempfile.mkdtemp(prefix="mam-fmax-")
    for i, (name, (target, builds)) in enumerate(designs(args.networks, args.quick).items()):
        if args.only and not any(s in name for s in args.only):
            continue
        runs = []
        for j, build in enumerate(builds):
            what = f"network {j + 1}/{len(builds)}, " if len(builds) > 1 else ""
            print(f"[{name}] synthesizing and placing ({what}{args.seeds} seeds) ...", file=sys.stderr, flush=True)
            runs.append(measure(name, target, build, args.seeds, os.path.join(work, f"d{i}n{j}")))
            print(f"[{name}] {runs[-1]['fmax_median']:.1f} MHz, path {runs[-1]['critical_path']} "
                  f"({runs[-1]['seconds']} s)", file=sys.stderr, flush=True)
        rows.append(worst_of(runs))
    print(f"Fmax over {args.seeds} seeds (median, min..max) of the worst of {args.networks} random networks (PEs: "
          f"one); clock target and whether the median meets it; every network's median")
    print(f"{'design':34} {'Fmax MHz':>8} {'range':>13} {'target':>6} {'met':>4} {'logic':>12} {'DSP':>4} {'BRAM':>4}"
          f"  networks")
    for r in rows:
        medians = " ".join(f"{m:.1f}" for m in r["medians"])
        print(f"{r['design']:34} {r['fmax_median']:8.1f} {r['fmax_min']:6.1f}..{r['fmax_max']:<6.1f} "
              f"{r['target_mhz']:6.0f} {'yes' if r['met'] else 'no':>4} {r['logic']:>5}/{r['logic_available']:<6} "
              f"{r['dsp']:>4} {r['bram']:>4}  {medians}")
    print("\ncritical paths (the worst network's slowest seed):")
    for r in rows:
        print(f"  {r['design']}: {r['critical_path']}")
    if args.json:
        save_text(args.json, json.dumps(rows, indent=2))


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("fmax", main))
