"""Place and route with nextpnr: utilization and Fmax from nextpnr's own JSON report, over several seeds."""

import json
import os
import statistics

from amaranth.back import rtlil

from .observe import ObservableTop
from ..plumbing import ToolError, run_tool

__all__ = ["SYNTH_SCRIPTS", "synthesize_json", "place_and_route", "implement"]

# ABC9, Yosys's default LUT mapper for both families, stops without a message inside the WebAssembly Yosys on
# the engines; these flows map LUTs with the classic ABC instead and otherwise follow synth_ice40 / synth_ecp5.
SYNTH_SCRIPTS = {
    "ice40": ("synth_ice40 -dsp -top top -run begin:map_luts; techmap -map +/ice40/latches_map.v; abc -lut 4; "
              "ice40_wrapcarry -unwrap; techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40; "
              "synth_ice40 -dsp -top top -run map_cells:"),
    "ecp5": "synth_ecp5 -top top -run begin:map_luts; abc -lut 4; clean; synth_ecp5 -top top -run map_cells:",
}
NEXTPNR = {"ice40": "NEXTPNR_ICE40", "ecp5": "NEXTPNR_ECP5"}
# The placer's densities tried in turn. nextpnr's analytic placer spreads cells to at most 0.9 of a region's room by
# default; at ~85% of the UP5K's logic cells its legaliser can then fail where a sparser spread places (seen: the
# engine + host link at P = 4). A failure at every density is the design not fitting.
PLACEMENT_DENSITIES = (None, 0.8, 0.7)


def synthesize_json(component, family, workdir):
    """Wrap `component` so it keeps all its logic on two pins, synthesize; returns (netlist path, cell counts)."""
    os.makedirs(workdir, exist_ok=True)
    top = ObservableTop(component)
    with open(os.path.join(workdir, "top.il"), "w") as f:
        f.write(rtlil.convert(top, name="top", ports=[top.sin, top.sout]))
    script = f"read_rtlil top.il; {SYNTH_SCRIPTS[family]}; tee -q -o stat.json stat -json; write_json netlist.json"
    run_tool("YOSYS", ["-q", "-p", script], workdir, "yosys.log")
    with open(os.path.join(workdir, "stat.json")) as f:
        cells = json.load(f)["design"]["num_cells_by_type"]
    return os.path.join(workdir, "netlist.json"), {k: v for k, v in cells.items() if not k.startswith("$")}


def place_and_route(netlist, target, freq_mhz, seed, workdir, extra=(), densities=PLACEMENT_DENSITIES):
    """One nextpnr run, tried at each of `densities` in turn while the placer finds no legal placement; returns
    {"fmax": MHz, "utilization": {bel: used}, "available": {bel: total}, "placement_density": the density that
    placed (None: nextpnr's default)}.

    `extra`: more nextpnr arguments (pin constraints, the placed design's output file)."""
    # Relative names: the WebAssembly tools see the working folder, not arbitrary absolute paths.
    report = f"report-seed{seed}.json"
    args = [*target.nextpnr_args, "--json", os.path.relpath(netlist, workdir), "--freq", str(freq_mhz), "--seed", str(seed),
            "--report", report, "--timing-allow-fail", "--pcf-allow-unconstrained" if target.family == "ice40"
            else "--lpf-allow-unconstrained", "-q", *extra]
    for density in densities:
        spread = [] if density is None else ["--placer-heap-beta", str(density)]
        try:
            run_tool(NEXTPNR[target.family], args + spread, workdir, f"nextpnr-seed{seed}.log")
            break
        except ToolError as e:
            if "legal placement" not in str(e) or density == densities[-1]:
                raise
    with open(os.path.join(workdir, report)) as f:
        rep = json.load(f)
    clocks = [v["achieved"] for k, v in rep["fmax"].items() if "clk" in k and "PACKER" not in k]
    if not clocks:
        raise ToolError(f"nextpnr report {report} has no clock")
    return {"fmax": min(clocks), "critical_path": _critical_path(rep), "placement_density": density,
            "utilization": {k: v["used"] for k, v in rep["utilization"].items()},
            "available": {k: v["available"] for k, v in rep["utilization"].items()}}


def implement(component, target, *, freq_mhz, seeds, workdir, log=None):
    """Synthesize once and place-and-route with `seeds` seeds; returns a report dict."""
    netlist, cells = synthesize_json(component, target.family, workdir)
    runs = []
    for seed in range(1, seeds + 1):
        if log:
            log(f"nextpnr seed {seed}/{seeds}")
        runs.append(place_and_route(netlist, target, freq_mhz, seed, workdir))
    fmax = [r["fmax"] for r in runs]
    median = statistics.median(fmax)
    return {"target": target.name, "freq_mhz": freq_mhz, "seeds": seeds, "cells": cells,
            "utilization": runs[0]["utilization"], "available": runs[0]["available"],
            "fmax_mhz": {"median": median, "min": min(fmax), "max": max(fmax), "all": fmax},
            "placement_densities": [r["placement_density"] for r in runs],
            "critical_path": min(runs, key=lambda r: r["fmax"])["critical_path"],
            "timing_met": median >= freq_mhz}


def _critical_path(rep):
    """The slowest clocked path of nextpnr's report as "from -> to (ns)", cell names shortened. Paths from or to a
    pin (``<async>``: the bench wrapper's reset and data pins) do not limit the clock and are left out."""
    paths = rep.get("critical_paths") or []
    paths = [p for p in paths if "<async>" not in (p.get("from"), p.get("to"))] or paths
    if not paths:
        return None
    worst = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))
    steps = worst["path"]
    total = sum(s["delay"] for s in steps)

    def name(step, end):
        cell = step.get(end, {}).get("cell", "?")
        for cut in ("_SB_", "_TRELLIS", "_DFF", "_LUT4", "_CCU2", "$CARRY"):
            cell = cell.split(cut)[0]
        return cell
    return f"{name(steps[0], 'from')} -> {name(steps[-1], 'to')} ({total:.1f} ns)"
