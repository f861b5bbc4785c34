"""How close `mam estimate` comes to real synthesis, on configurations the area model was not fitted to.

    python bench/estimate_accuracy.py [--families ice40,ecp5] [--json FILE] [--record]
    python bench/estimate_accuracy.py --quick    (two held-out configurations on iCE40, Yosys only, in a temporary
                                                  folder with no cache: under a minute; what the test runs)

Synthesizes fpga/calibration.py's HELD_OUT configurations, and WINDOW_HELD_OUT for the window engine's own model
(none of them is in its fit grid), with the flow of
`mam synth` (Yosys, and nextpnr with one seed where the design fits the device; results cached with the fit's in
runs/area-fit/results.json), and prints the estimate against the measurement for every resource, the error per
family, and the targets: DSPs and block RAMs exact, LUTs and flip-flops within 10%, Fmax within 15%.
Misses are printed as measured, never hidden. Heavy: run it with `nice`. --record also writes the output into its
section of docs/measurements.md (never with --quick, whose figures check that the benchmark still runs: two
configurations are no measurement of the model). --json also writes every row: the whole estimate, the measured
quantities and Yosys's cell counts.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import mamhw.hw.network  # noqa: E402,F401  (loaded before the source digest is taken)
import mamhw.hw.specs  # noqa: E402,F401
from mamhw.fpga.calibration import (FIT_TARGETS, GRID, HELD_OUT, WINDOW_GRID, WINDOW_HELD_OUT,  # noqa: E402
                                    ResultCache, config_engine, config_families, config_key, config_network,
                                    config_weights, measure, measured_quantities, source_digest, tool_versions)
from mamhw.fpga.estimate import estimate  # noqa: E402
from mamhw.plumbing import save_text  # noqa: E402

RUNS = os.path.join(ROOT, "runs", "area-fit")
EXACT_Q = ("dsps", "block_rams", "lut_rams", "sprams")
TARGETS = {"luts": 0.10, "ffs": 0.10, "logic_cells": 0.10, "fmax": 0.15}
# --quick: a MAM and a MAC configuration of HELD_OUT, the smallest two (about ten seconds of Yosys each), and the
# smallest of WINDOW_HELD_OUT, on one family, without place and route.
QUICK_CONFIGS = ("h-p1-mam-6", "h-p3-mac-8", "h-w-p2-w32")
QUICK_FAMILIES = "ice40"


def log(message):
    print(message, file=sys.stderr, flush=True)


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", help="comma-separated (default: ice40,ecp5; with --quick: ice40)")
    p.add_argument("--cache", help="the results cache (default: runs/area-fit/results.json; with --quick: none, "
                                   "every configuration synthesized)")
    p.add_argument("--work", help="the tools' folders (default: runs/area-fit/work; with --quick: a temporary "
                                  "folder, removed at the end)")
    p.add_argument("--quick", action="store_true",
                   help=f"{' and '.join(QUICK_CONFIGS)} on {QUICK_FAMILIES}, Yosys only (what the test runs)")
    p.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    return p


def held_out(quick):
    """The configurations to measure: HELD_OUT and WINDOW_HELD_OUT, or with `quick` QUICK_CONFIGS of them without
    place and route."""
    if not quick:
        return HELD_OUT + WINDOW_HELD_OUT
    return [dict(cfg, pnr=False) for cfg in HELD_OUT + WINDOW_HELD_OUT if cfg["name"] in QUICK_CONFIGS]


def main(argv=None):
    args = parser().parse_args(argv)
    overlap = {config_key(c) for c in GRID + WINDOW_GRID} & {config_key(c) for c in HELD_OUT + WINDOW_HELD_OUT}
    assert not overlap, "held-out configurations must not be in the fit grid"
    with tempfile.TemporaryDirectory(prefix="mam-estimate-accuracy-") as tmp:
        if args.quick:
            cache = args.cache or os.path.join(tmp, "results.json")
            work = args.work or os.path.join(tmp, "work")
        else:
            cache = args.cache or os.path.join(RUNS, "results.json")
            work = args.work or os.path.join(RUNS, "work")
        families = args.families or (QUICK_FAMILIES if args.quick else "ice40,ecp5")
        families = [f.strip() for f in families.split(",") if f.strip()]
        kept = not args.quick or args.work is not None
        cached = not args.quick or args.cache is not None
        return accuracy(args, held_out(args.quick), families, ResultCache(cache), work, kept, cached)


def accuracy(args, configs, families, cache, work, kept, cached):
    """Measure `configs` on `families`, print the table and the verdicts, and write --json. `kept`, `cached`:
    whether the tools' folders and the cache outlive the run (recorded in the JSON only when they do)."""
    start = time.monotonic()
    digest, versions = source_digest(), tool_versions()
    if args.quick:
        print(f"QUICK: {', '.join(c['name'] for c in configs)}, Yosys only (no place and route: no logic cells, no "
              "Fmax)")
    report = {"config": {"families": families, "quick": args.quick, "cache": cache.path if cached else None,
                         "work": work if kept else None},
              "digest": digest, "tool_versions": versions, "families": []}
    for fam, engine in [(f, e) for f in families for e in ("row", "window")]:
        target = FIT_TARGETS[fam]
        group = [c for c in configs if config_families(c, [fam]) and config_engine(c)[0] == engine]
        if not group:
            continue
        print(f"\n{fam} ({target}), the {engine} engine, {len(group)} held-out configurations")
        head = f"{'configuration':<16} {'P':>2}  " + "  ".join(f"{q:>22}" for q in
                                                              ("DSPs", "block RAMs", "LUTs", "FFs", "logic cells",
                                                               "Fmax MHz"))
        print(head)
        errs = {q: [] for q in TARGETS}
        exact = {q: [0, 0] for q in EXACT_Q}
        rows = []
        for cfg in group:
            res = measure(cfg, fam, cache=cache, workdir=work, digest=digest, versions=versions, log=log)
            got = measured_quantities(res, fam)
            # `mam estimate NETWORK --target TARGET --pes P --weights W --engine E --window W`: the same call.
            est = estimate(config_network(cfg), cfg["pes"], target, weights=config_weights(cfg), engine=engine,
                           window=config_engine(cfg)[1])
            rows.append({"name": cfg["name"], "pes": cfg["pes"], "config": cfg, "target": target,
                         "weights": config_weights(cfg), "estimate": dict(est), "measured": got,
                         "cells": res["cells"], "cached": res["cached"], "placed": res["placed"],
                         "seconds": res["seconds"],
                         # measure's folder for this configuration: Yosys's netlist.json, stat.json, yosys.log
                         "work": os.path.join(work, f"{cfg['name']}-{fam}") if kept else None})
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
        report["families"].append({"family": fam, "engine": engine, "target": target, "rows": rows,
                                   "exact": {q: {"exact": ok, "of": n} for q, (ok, n) in exact.items()},
                                   "errors": errs})
    tools = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\n{time.monotonic() - start:.0f} s wall, {tools.ru_utime + tools.ru_stime:.0f} s of tool CPU time")
    if args.json:
        save_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    import measurements

    sys.exit(measurements.run("estimate_accuracy", main))
