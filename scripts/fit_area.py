"""Refit the area and Fmax model (fpga/area_model.json) to real synthesis runs of the engine.

    python scripts/fit_area.py                     # both families, the whole grid (~30 min on one core)
    python scripts/fit_area.py --families ice40    # one family
    python scripts/fit_area.py --limit 6           # the first 6 configurations only (a quick look)
    python scripts/fit_area.py --engines window    # the window engine's part only (WINDOW_GRID)

Synthesizes every configuration of fpga/calibration.py's GRID (the row engine; WINDOW_GRID for the window engine's
own model, kept as family "<family>-window") for each family with the flow of `mam synth`
(Yosys; nextpnr with one seed when the design fits the family's device), caching raw results in
runs/area-fit/results.json (ignored by git) keyed by configuration, tools and a digest of the hardware sources:
a rerun synthesizes only what changed. Then checks the exact counts (block RAMs, LUT RAMs, DSPs) against Yosys,
fits LUTs, flip-flops, logic cells and the clock period by non-negative least squares, and writes the
coefficients with their fit and leave-one-out errors. Run it after any change to hw/ (heavy: `nice` it).
"""

import argparse
import datetime
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from mamhw.fpga.area_model import (AREA_QUANTITIES, FEATURES, FF_FEATURES, FMAX_FEATURES, MODEL_PATH,  # noqa: E402
                                   select_features)
from mamhw.fpga.calibration import (FIT_TARGETS, GRID, PNR_FREQ, WINDOW_GRID, ResultCache,  # noqa: E402
                                    config_engine, config_families, config_network, config_weights, measure,
                                    measured_quantities, source_digest, tool_versions)
from mamhw.fpga.digest import WINDOW_ROOTS  # noqa: E402
from mamhw.fpga.window_estimate import WINDOW_FEATURES, WINDOW_FMAX_FEATURES, model_family  # noqa: E402
from mamhw.fpga.estimate import EXACT, estimate  # noqa: E402
from mamhw.plumbing import save_text  # noqa: E402
from mamhw.progress import Progress  # noqa: E402
import mamhw.hw.network  # noqa: E402,F401  (loaded before the source digest is taken)
import mamhw.hw.specs  # noqa: E402,F401

RUNS = os.path.join(ROOT, "runs", "area-fit")


def log(message):
    print(message, file=sys.stderr, flush=True)


def collect(configs, family, cache, digest, versions, workdir):
    """Rows of features and measured quantities, one per configuration, and the exact-count mismatches."""
    rows, mismatches = [], []
    progress = Progress(f"synthesis {family}", interval=0.0)
    for i, cfg in enumerate(configs):
        res = measure(cfg, family, cache=cache, workdir=workdir, digest=digest, versions=versions, log=log)
        log(f"  {cfg['name']:<16} " + ("cached" if res["cached"] else f"{res['seconds']:.0f} s")
            + ("" if res.get("placed") else " (Yosys only)" if res["fits"] else
               f" (does not fit {res['target']}: Yosys only)"))
        measured = measured_quantities(res, family)
        engine, window = config_engine(cfg)
        est = estimate(config_network(cfg), cfg["pes"], FIT_TARGETS[family], weights=config_weights(cfg),
                       engine=engine, window=window)
        for q in ("block_rams", "lut_rams", "sprams", "dsps"):
            if est[q] != measured[q]:
                mismatches.append(f"{cfg['name']}: {q} estimated {est[q]}, Yosys {measured[q]}")
        row = dict(est["features"], name=cfg["name"], **measured)
        if measured["fmax"]:
            row["period"] = 1000.0 / measured["fmax"]
        rows.append(row)
        progress(i + 1, len(configs))
    return rows, mismatches


# Per engine: (its grid, area features, flip-flop features, clock period features, the key of its model's family).
ENGINES = {
    "row": (GRID, FEATURES, FF_FEATURES, FMAX_FEATURES, lambda fam: fam),
    "window": (WINDOW_GRID, WINDOW_FEATURES, WINDOW_FEATURES, WINDOW_FMAX_FEATURES, model_family),
}


def fit_family(rows, features, ff_features, fmax_features):
    models = {}
    for q in AREA_QUANTITIES:
        usable = [r for r in rows if r.get(q) is not None]
        if len(usable) >= 4:
            models[q] = select_features(usable, q, ff_features if q == "ffs" else features).to_json()
    timed = [r for r in rows if r.get("period")]
    if len(timed) >= 4:
        models["period"] = select_features(timed, "period", fmax_features).to_json()
    return models


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="ice40,ecp5", help="comma-separated (default: %(default)s)")
    p.add_argument("--engines", default="row,window", help="comma-separated (default: %(default)s)")
    p.add_argument("--limit", type=int, help="only the first N configurations of the grid")
    p.add_argument("--cache", default=os.path.join(RUNS, "results.json"), help="raw results (default: %(default)s)")
    p.add_argument("--work", default=os.path.join(RUNS, "work"), help="tool work folders (default: %(default)s)")
    p.add_argument("-o", "--output", default=MODEL_PATH, help="coefficients file (default: %(default)s)")
    args = p.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    for fam in families:
        if fam not in FIT_TARGETS:
            p.error(f"unknown family {fam!r}; choose from {', '.join(FIT_TARGETS)}")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            p.error(f"unknown engine {e!r}; choose from {', '.join(ENGINES)}")
    start = time.monotonic()
    cache = ResultCache(args.cache)
    digest, versions = source_digest(), tool_versions()
    log(f"hardware sources {digest}; engines {', '.join(engines)} x {len(families)} families")

    out = {"families": {}}
    if os.path.exists(args.output):                      # keep what is not refitted this time
        with open(args.output) as f:
            out = json.load(f)
    out.update(generated_by="scripts/fit_area.py", date=datetime.date.today().isoformat(), tools=versions)
    if "row" in engines:
        out.update(source_digest=digest, features=list(FEATURES), fmax_features=list(FMAX_FEATURES))
    if "window" in engines:
        out.update(window_source_digest=source_digest(WINDOW_ROOTS), window_features=list(WINDOW_FEATURES),
                   window_fmax_features=list(WINDOW_FMAX_FEATURES))
    for engine, fam in [(e, f) for e in engines for f in families]:
        grid, features, ff_features, fmax_features, key_of = ENGINES[engine]
        configs = grid[:args.limit] if args.limit else grid
        key = key_of(fam)
        t0 = time.monotonic()
        log(f"{key}: synthesizing on {FIT_TARGETS[fam]} at {PNR_FREQ[fam]} MHz")
        rows, mismatches = collect([c for c in configs if config_families(c, [fam])], fam, cache, digest, versions,
                                   args.work)
        # The rows (features and measurements) beside the cache, to study the fit without rerunning anything.
        save_text(os.path.join(os.path.dirname(os.path.abspath(args.cache)), f"rows-{key}.json"),
                  json.dumps(rows, indent=1) + "\n")
        models = fit_family(rows, features, ff_features, fmax_features)
        # The span of every feature over the fitted configurations: estimates beyond it are flagged as extrapolated.
        ranges = {f: [min(float(r[f]) for r in rows), max(float(r[f]) for r in rows)]
                  for f in dict.fromkeys(features + fmax_features)}
        weights = sorted({config_weights(c) for c in configs if config_families(c, [fam])})
        out["families"][key] = {"target": FIT_TARGETS[fam], "freq_mhz": PNR_FREQ[fam], "configurations": len(rows),
                                "exact_mismatches": mismatches, "models": models, "ranges": ranges,
                                "weights": weights}
        print(f"{key}: {len(rows)} configurations, {time.monotonic() - t0:.0f} s")
        for m in mismatches:
            print(f"  EXACT COUNT MISMATCH {m}")
        if not mismatches:
            print(f"  exact counts ({', '.join(q for q in EXACT if q not in ('cycles', 'weight_memory_bits'))}) "
                  f"equal Yosys's on every configuration")
        for q, m in models.items():
            s = m["stats"]
            print(f"  {q:<12} n={s['n']:<3} fit error mean {100 * s['mean_abs_rel_err']:.1f}% max "
                  f"{100 * s['max_abs_rel_err']:.1f}%; leave-one-out mean {100 * s['loo_mean_abs_rel_err']:.1f}% "
                  f"max {100 * s['loo_max_abs_rel_err']:.1f}%")
    save_text(args.output, json.dumps(out, indent=1) + "\n")
    tools = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"wrote {os.path.relpath(args.output, ROOT)}; total {time.monotonic() - start:.0f} s wall, "
          f"{tools.ru_utime + tools.ru_stime:.0f} s of tool CPU time (a shared machine stretches the wall time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
