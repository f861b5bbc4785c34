"""How close `mam estimate` comes to real synthesis, on configurations the area model was not fitted to.

    python bench/estimate_accuracy.py [--families ice40,ecp5] [--record]

Synthesizes fpga/calibration.py's HELD_OUT configurations (none of them is in the fit grid) with the flow of
`mam synth` (Yosys, and nextpnr with one seed where the design fits the device; results cached with the fit's in
runs/area-fit/results.json), and prints the estimate against the measurement for every resource, the error per
family, and the targets: DSPs and block RAMs exact, LUTs and flip-flops within 10%, Fmax within 15%.
Misses are printed as measured, never hidden. Heavy: run it with `nice`. --record also writes the output into its
section of docs/measurements.md.
"""

import argparse
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import mamhw.hw.network  # noqa: E402,F401  (loaded before the source digest is taken)
import mamhw.hw.specs  # noqa: E402,F401
from mamhw.fpga.calibration import (FIT_TARGETS, GRID, HELD_OUT, ResultCache, config_families,  # noqa: E402
                                    config_key, config_network, config_weights, measure, measured_quantities,
                                    source_digest, tool_versions)
from mamhw.fpga.estimate import estimate  # noqa: E402

RUNS = os.path.join(ROOT, "runs", "area-fit")
EXACT_Q = ("dsps", "block_rams", "lut_rams", "sprams")
TARGETS = {"luts": 0.10, "ffs": 0.10, "logic_cells": 0.10, "fmax": 0.15}


def log(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="ice40,ecp5")
    p.add_argument("--cache", default=os.path.join(RUNS, "results.json"))
    p.add_argument("--work", default=os.path.join(RUNS, "work"))
    args = p.parse_args(argv)
    overlap = {config_key(c) for c in GRID} & {config_key(c) for c in HELD_OUT}
    assert not overlap, "held-out configurations must not be in the fit grid"
    start = time.monotonic()
    cache = ResultCache(args.cache)
    digest, versions = source_digest(), tool_versions()
    for fam in [f.strip() for f in args.families.split(",") if f.strip()]:
        target = FIT_TARGETS[fam]
        print(f"\n{fam} ({target}), {len([c for c in HELD_OUT if config_families(c, [fam])])} held-out "
              "configurations")
        head = f"{'configuration':<16} {'P':>2}  " + "  ".join(f"{q:>22}" for q in
                                                              ("DSPs", "block RAMs", "LUTs", "FFs", "logic cells",
                                                               "Fmax MHz"))
        print(head)
        errs = {q: [] for q in TARGETS}
        exact = {q: [0, 0] for q in EXACT_Q}
        for cfg in HELD_OUT:
            if fam not in config_families(cfg, [fam]):
                continue
            res = measure(cfg, fam, cache=cache, workdir=args.work, digest=digest, versions=versions, log=log)
            got = measured_quantities(res, fam)
            est = estimate(config_network(cfg), cfg["pes"], target, weights=config_weights(cfg))
            est["fmax"] = est["fmax_mhz"]
            cells = []
            for q in EXACT_Q:
                exact[q][0] += est[q] == got[q]
                exact[q][1] += 1
            for q in ("dsps", "block_rams"):
                cells.append(f"{est[q]} / {got[q]}" + ("" if est[q] == got[q] else " MISS"))
            for q in ("luts", "ffs", "logic_cells", "fmax"):
                if got[q] is None or est[q] is None:
                    cells.append("n/a" if got[q] is None else f"- / {got[q]:.0f}")
                    continue
                e = (est[q] - got[q]) / got[q]
                errs[q].append(e)
                cells.append(f"{est[q]:.0f} / {got[q]:.0f} ({100 * e:+.1f}%)")
            print(f"{cfg['name']:<16} {cfg['pes']:>2}  " + "  ".join(f"{c:>22}" for c in cells), flush=True)
        print("  (each cell: estimate / measured)")
        for q in EXACT_Q:
            ok, n = exact[q]
            print(f"  {q:<12} exact on {ok}/{n}" + ("" if ok == n else "   <- MISSES THE TARGET (exact)"))
        for q, bound in TARGETS.items():
            e = [abs(x) for x in errs[q]]
            if not e:
                print(f"  {q:<12} no measurement")
                continue
            within = sum(x <= bound for x in e)
            verdict = "meets" if within == len(e) else "MISSES"
            print(f"  {q:<12} mean |error| {100 * sum(e) / len(e):.1f}%, max {100 * max(e):.1f}%, within "
                  f"{100 * bound:.0f}% on {within}/{len(e)}: {verdict} the target")
    tools = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\n{time.monotonic() - start:.0f} s wall, {tools.ru_utime + tools.ru_stime:.0f} s of tool CPU time")
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("estimate_accuracy", main))
