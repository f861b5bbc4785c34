"""Engine configurations synthesized to calibrate the area model, and the cached measurements of them.

A configuration is a small dict (PEs, input width, and per layer: kind, outputs, density, weight and output bits)
that :func:`config_network` turns into a deterministic random network. :func:`measure` runs the same flow as
`mam synth` (fpga/pnr.py: Yosys, then nextpnr with one seed when the design fits the device) and caches the raw
results in a JSON file keyed by the configuration, the target, the tools and a digest of the hardware sources,
so that a rerun synthesizes only what changed. scripts/fit_area.py fits on GRID; bench/estimate_accuracy.py
checks the fit on HELD_OUT, which shares no configuration with GRID.
"""

import hashlib
import json
import os
import time

import numpy as np

from ..golden import Layer, Network
from ..plumbing import ToolError, save_text
from .digest import WINDOW_ROOTS, digest_sources, source_digest

__all__ = ["FIT_TARGETS", "PNR_FREQ", "GRID", "HELD_OUT", "WINDOW_GRID", "WINDOW_HELD_OUT", "sampled_configs",
           "config_network", "config_key", "config_families", "config_weights", "config_engine", "config_digest",
           "source_digest", "digest_sources", "tool_versions", "ResultCache", "measure", "measured_quantities"]

# One device per family for place and route (the area counts are Yosys's and hold for the whole family).
FIT_TARGETS = {"ice40": "up5k", "ecp5": "ecp5-25f"}
PNR_FREQ = {"ice40": 48.0, "ecp5": 150.0}       # the project's clock goals, as `mam synth --freq`


def _cfg(name, pes, n_in, layers, in_bits=8, seed=0, pnr=True, weights=None, window=None):
    cfg = {"name": name, "pes": pes, "n_in": n_in, "in_bits": in_bits, "seed": seed,
           "layers": [dict(zip(("kind", "n_out", "density", "w_bits", "out_bits"), spec)) for spec in layers]}
    if window:
        cfg["window"] = window                      # the window engine with windows of that many activations
    if not pnr:
        cfg["pnr"] = False                          # area only: place and route is what makes a fit run long
    if weights:
        cfg["weights"] = weights                    # "spram": entry words in the UP5K's SPRAM (hw/weight_ram.py)
    return cfg


def config_weights(cfg):
    """Where the configuration's entry words go (estimate's `weights`): block RAM unless it says SPRAM."""
    return cfg.get("weights", "bram")


def config_families(cfg, families):
    """The families of `families` a configuration is measured on: an SPRAM build only where there is SPRAM."""
    return [f for f in families if config_weights(cfg) != "spram" or f == "ice40"]


def sampled_configs(n, seed, prefix):
    """`n` random configurations over the same space as the hand-picked ones (P 1..8, 1-3 layers of 16..128
    inputs, mam/mac, 4..12-bit widths, densities 2%..100%), for Yosys only."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        pes = int(rng.choice([1, 2, 3, 4, 6, 8]))
        n_layers = int(rng.choice([1, 1, 2, 2, 3]))
        n_in = int(rng.integers(16, 129))
        in_bits = int(rng.choice([4, 6, 8, 8, 10, 12]))
        layers = []
        for _ in range(n_layers):
            bits = int(rng.choice([4, 6, 8, 8, 10, 12]))
            layers.append((str(rng.choice(["mam", "mac"])), int(rng.integers(8, 65)),
                           float(rng.choice([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0])), bits, bits))
        out.append(_cfg(f"{prefix}{i:02d}-p{pes}", pes, n_in, layers, in_bits=in_bits, seed=seed * 1000 + i,
                        pnr=False))
    return out


# The fit grid: P 1/2/4/8, mam/mac/mixed, 4/8/12-bit widths, 1-3 layers of 16..128 inputs, densities from a few
# entries per row (ROMs in logic) to dense (ROMs in block RAM); placed and routed (for Fmax and logic cells) but
# for the five largest, whose nextpnr runs take many minutes. Then random configurations over the same space,
# synthesized only (LUTs, flip-flops): synthesis takes seconds, place and route most of the run time.
GRID = [
    _cfg("p1-mam-8", 1, 64, [("mam", 32, 0.1, 8, 8)], seed=1),
    _cfg("p1-mac-8", 1, 64, [("mac", 32, 0.1, 8, 8)], seed=2),
    _cfg("p1-mam-4", 1, 32, [("mam", 16, 0.3, 4, 4)], in_bits=4, seed=3),
    _cfg("p1-mac-12", 1, 48, [("mac", 24, 0.3, 12, 12)], in_bits=12, seed=4),
    _cfg("p1-mix-2l", 1, 128, [("mam", 32, 0.05, 8, 8), ("mac", 10, 0.5, 8, 8)], seed=5),
    _cfg("p1-mam-dense", 1, 64, [("mam", 24, 1.0, 8, 8)], seed=6),
    _cfg("p1-mix-3l", 1, 32, [("mam", 24, 0.2, 8, 8), ("mam", 16, 0.2, 8, 8), ("mac", 8, 0.5, 8, 8)], seed=7),
    _cfg("p2-mam-8", 2, 64, [("mam", 32, 0.1, 8, 8)], seed=8),
    _cfg("p2-mac-8", 2, 96, [("mac", 16, 0.2, 8, 8)], seed=9),
    _cfg("p2-mam-12", 2, 32, [("mam", 16, 0.3, 12, 12)], in_bits=12, seed=10),
    _cfg("p2-mix-2l", 2, 128, [("mam", 48, 0.03, 8, 8), ("mac", 10, 0.3, 8, 8)], seed=11),
    _cfg("p2-mac-4-3l", 2, 48, [("mac", 24, 0.2, 4, 4), ("mac", 16, 0.3, 4, 4), ("mac", 8, 0.5, 4, 4)],
         in_bits=4, seed=12),
    _cfg("p2-mam-dense", 2, 48, [("mam", 32, 0.7, 8, 8)], seed=13),
    _cfg("p4-mam-8", 4, 64, [("mam", 32, 0.1, 8, 8)], seed=14),
    _cfg("p4-mac-8", 4, 64, [("mac", 32, 0.1, 8, 8)], seed=15),
    _cfg("p4-mam-4", 4, 128, [("mam", 64, 0.02, 4, 4)], in_bits=4, seed=16),
    _cfg("p4-mix-2l", 4, 96, [("mam", 32, 0.05, 8, 8), ("mac", 12, 0.4, 8, 8)], seed=17, pnr=False),
    _cfg("p4-mac-12-2l", 4, 32, [("mac", 24, 0.3, 12, 12), ("mac", 8, 0.5, 12, 12)], in_bits=12, seed=18,
         pnr=False),
    _cfg("p4-mam-3l", 4, 64, [("mam", 32, 0.1, 8, 8), ("mam", 16, 0.2, 8, 8), ("mam", 10, 0.3, 8, 8)], seed=19,
         pnr=False),
    _cfg("p8-mam-8", 8, 64, [("mam", 32, 0.1, 8, 8)], seed=20),
    _cfg("p8-mac-4", 8, 32, [("mac", 32, 0.2, 4, 4)], in_bits=4, seed=21),
    _cfg("p8-mix-2l", 8, 128, [("mam", 64, 0.02, 8, 8), ("mac", 10, 0.3, 8, 8)], seed=22, pnr=False),
    _cfg("p8-mam-12", 8, 32, [("mam", 16, 0.2, 12, 12)], in_bits=12, seed=23, pnr=False),
    _cfg("p3-mix-8", 3, 80, [("mam", 30, 0.1, 8, 8), ("mac", 12, 0.3, 8, 8)], seed=24),
    # Entry words in SPRAM (iCE40 only): the loading ports and their address mux instead of ROMs.
    _cfg("p1-mac-spram", 1, 128, [("mac", 32, 0.5, 8, 8)], seed=25, weights="spram"),
    _cfg("p2-mam-spram", 2, 64, [("mam", 32, 0.1, 8, 8)], seed=26, weights="spram"),
    _cfg("p4-mix-spram", 4, 48, [("mam", 24, 0.2, 8, 8), ("mac", 10, 0.5, 8, 8)], seed=27, weights="spram"),
    # A ViT-B/16 MLP block at 1%: more entries than absolute indices fit in SPRAM, so relative ones (hw/pe.py).
    _cfg("p1-vit-spram", 1, 768, [("mam", 3072, 0.01, 8, 8), ("mac", 768, 0.01, 8, 8)], seed=28, weights="spram"),
] + sampled_configs(20, 7, "s")

# Held out of the fit: other sizes, P, widths and mixes.
HELD_OUT = [
    _cfg("h-p1-mam-6", 1, 100, [("mam", 40, 0.05, 6, 6)], in_bits=6, seed=101),
    _cfg("h-p2-mix-2l", 2, 80, [("mam", 24, 0.1, 8, 8), ("mac", 10, 0.5, 8, 8)], seed=102),
    _cfg("h-p3-mac-8", 3, 40, [("mac", 24, 0.2, 8, 8)], seed=103),
    _cfg("h-p4-mam-10", 4, 56, [("mam", 28, 0.15, 10, 10)], in_bits=10, seed=104),
    _cfg("h-p6-mix-3l", 6, 64, [("mam", 36, 0.05, 8, 8), ("mam", 18, 0.2, 8, 8), ("mac", 10, 0.4, 8, 8)],
         seed=105),
    _cfg("h-p8-mac-8", 8, 48, [("mac", 40, 0.1, 8, 8)], seed=106),
    _cfg("h-p2-mam-dense", 2, 24, [("mam", 20, 1.0, 8, 8)], seed=107),
    _cfg("h-p5-mam-4", 5, 112, [("mam", 50, 0.03, 4, 4)], in_bits=4, seed=108),
    _cfg("h-p3-mac-spram", 3, 40, [("mac", 20, 0.3, 6, 6)], in_bits=6, seed=109, weights="spram"),
]


# The window engine's own grid (its LUTs, flip-flops and Fmax have a model of their own), and held-out designs.
WINDOW_GRID = [
    _cfg("w-p1-w4", 1, 32, [("mam", 16, 0.2, 8, 8)], seed=201, window=4),
    _cfg("w-p2-w8", 2, 48, [("mam", 24, 0.1, 8, 8), ("mac", 10, 0.5, 8, 8)], seed=202, window=8),
    _cfg("w-p4-w16", 4, 64, [("mam", 32, 0.1, 8, 8), ("mac", 10, 0.3, 8, 8)], seed=203, window=16),
    _cfg("w-p4-w64", 4, 128, [("mam", 32, 0.05, 8, 8)], seed=204, window=64),
    _cfg("w-p8-w32", 8, 64, [("mam", 32, 0.1, 8, 8), ("mac", 10, 0.1, 8, 8)], seed=205, window=32),
    _cfg("w-p8-w8-4", 8, 96, [("mac", 24, 0.2, 4, 4)], in_bits=4, seed=206, window=8),
    _cfg("w-p2-w16-3l", 2, 64, [("mam", 24, 0.1, 8, 8), ("mam", 16, 0.2, 8, 8), ("mac", 10, 0.5, 8, 8)], seed=207,
         window=16),
    _cfg("w-p16-w64", 16, 128, [("mam", 64, 0.05, 8, 8), ("mac", 10, 0.2, 8, 8)], seed=208, window=64),
    _cfg("w-p4-w32-12", 4, 64, [("mam", 24, 0.1, 12, 12)], in_bits=12, seed=209, window=32),
    _cfg("w-p1-w16-dense", 1, 24, [("mam", 20, 1.0, 8, 8)], seed=210, window=16),
    _cfg("w-p8-w64", 8, 256, [("mam", 64, 0.02, 8, 8), ("mac", 10, 0.3, 8, 8)], seed=211, window=64),
    _cfg("w-p2-w4-6", 2, 40, [("mac", 16, 0.3, 6, 6)], in_bits=6, seed=212, window=4),
    _cfg("w-p16-w16", 16, 64, [("mam", 48, 0.1, 8, 8)], seed=213, window=16),
    _cfg("w-p4-w8-3l", 4, 48, [("mam", 32, 0.1, 8, 8), ("mam", 24, 0.1, 8, 8), ("mac", 10, 0.3, 8, 8)], seed=214,
         window=8),
    # MAC-only 8-bit layers, more mid-sized P and windows, and entry ROMs big enough for the ECP5's block RAMs (the
    # larger of those two is area only: its place and route on the ECP5-25F ran past 20 minutes).
    _cfg("w-p2-w32-mac", 2, 96, [("mac", 24, 0.15, 8, 8)], seed=215, window=32),
    _cfg("w-p4-w16-2mac", 4, 64, [("mac", 32, 0.2, 8, 8), ("mac", 10, 0.3, 8, 8)], seed=216, window=16),
    _cfg("w-p8-w16", 8, 72, [("mam", 40, 0.08, 8, 8)], seed=217, window=16),
    _cfg("w-p4-w8-mix", 4, 40, [("mam", 24, 0.15, 8, 8), ("mac", 12, 0.4, 8, 8)], seed=218, window=8),
    _cfg("w-p1-w32", 1, 64, [("mam", 16, 0.1, 8, 8), ("mac", 8, 0.5, 8, 8)], seed=219, window=32),
    _cfg("w-p8-w8", 8, 32, [("mam", 32, 0.2, 8, 8)], seed=220, window=8),
    _cfg("w-p4-w64-bram", 4, 512, [("mam", 128, 0.05, 8, 8)], seed=221, window=64),
    _cfg("w-p8-w64-bram", 8, 1024, [("mam", 256, 0.03, 8, 8), ("mac", 10, 0.2, 8, 8)], seed=222, window=64,
         pnr=False),
]
WINDOW_HELD_OUT = [
    _cfg("h-w-p4-w8", 4, 56, [("mam", 28, 0.1, 8, 8), ("mac", 10, 0.4, 8, 8)], seed=301, window=8),
    _cfg("h-w-p8-w16", 8, 80, [("mam", 40, 0.05, 8, 8)], seed=302, window=16),
    _cfg("h-w-p2-w32", 2, 100, [("mac", 30, 0.1, 8, 8)], seed=303, window=32),
]


def config_engine(cfg):
    """(engine, window) of a configuration: the row engine unless it names a window."""
    return ("window", cfg["window"]) if cfg.get("window") else ("row", None)


def config_network(cfg):
    """The deterministic random network of a configuration: weights of both signs within w_bits, pruned to the
    density at random, biases within +-2**12, requantization that spreads values over the output range."""
    rng = np.random.default_rng(cfg["seed"])
    n_in, in_bits, layers = cfg["n_in"], cfg["in_bits"], []
    for spec in cfg["layers"]:
        wb, n_out = spec["w_bits"], spec["n_out"]
        lim = (1 << (wb - 1)) - 1
        w = rng.integers(-lim, lim + 1, (n_out, n_in))
        w[rng.random(w.shape) >= spec["density"]] = 0
        bias = rng.integers(-(1 << 12), 1 << 12, n_out)
        layers.append(Layer.build(kind=spec["kind"], weight=w, bias=bias, mult=int(rng.integers(1 << 8, 1 << 16)),
                                  shift=int(rng.integers(8, 24)), relu=bool(rng.integers(2)), in_bits=in_bits,
                                  w_bits=wb, out_bits=spec["out_bits"]))
        n_in, in_bits = n_out, spec["out_bits"]
    return Network(layers)


def config_key(cfg):
    return json.dumps({k: cfg[k] for k in sorted(cfg) if k != "name"}, sort_keys=True)


def tool_versions():
    from ..plumbing import run_process, tool
    out = {}
    for var in ("YOSYS", "NEXTPNR_ICE40", "NEXTPNR_ECP5"):
        try:
            proc = run_process([tool(var), "--version"], capture_output=True, text=True, timeout=600)
            # YoWASP's first run on a machine compiles the tool (minutes: hence the long timeout) and prints a
            # "Preparing to run ..." line before the version. Either, recorded, would key the cache to a non-version.
            lines = [ln for ln in (proc.stdout + proc.stderr).strip().splitlines()
                     if ln.strip() and not ln.startswith("Preparing to run")]
            out[var] = lines[0] if lines else "?"
        except Exception as e:                      # a missing tool is reported by the synthesis run itself
            out[var] = f"unavailable ({e})"
    return out


class ResultCache:
    """Raw synthesis results in one JSON file: {key: result}. Written atomically after every new result."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.data = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.data = json.load(f)

    def get(self, key):
        return self.data.get(key)

    def put(self, key, result):
        self.data[key] = result
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        save_text(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")


def _cache_key(cfg, family, digest, versions):
    return hashlib.sha256(json.dumps([config_key(cfg), family, FIT_TARGETS[family], PNR_FREQ[family], digest,
                                      versions], sort_keys=True).encode()).hexdigest()[:24]


def config_digest(cfg, digest):
    """The digest of the hardware sources a configuration's engine is built from: `digest` (the row engine's) or
    the window engine's (fpga/digest.py)."""
    return source_digest(WINDOW_ROOTS) if cfg.get("window") else digest


def measure(cfg, family, *, cache, workdir, digest, versions, log=None):
    """Synthesize (and place and route, when it fits the family's device) one configuration; cached.

    Returns {"cells": Yosys cell counts, "fmax": MHz or None, "utilization": nextpnr's or None, "fits": bool,
    "placed": bool, "seconds": wall time of the tools, "cached": bool}."""
    from ..hw.specs import build_network_engine
    from .estimate import estimate
    from .pnr import place_and_route, synthesize_json
    from .structure import engine_options
    from .targets import TARGETS

    key = _cache_key(cfg, family, config_digest(cfg, digest), versions)
    hit = cache.get(key)
    if hit is not None:
        return dict(hit, cached=True)
    network = config_network(cfg)
    target = TARGETS[FIT_TARGETS[family]]
    kind, window = config_engine(cfg)
    pre = estimate(network, cfg["pes"], target.name, weights=config_weights(cfg), engine=kind, window=window)
    work = os.path.join(workdir, f"{cfg['name']}-{family}")
    t0 = time.monotonic()
    if kind == "window":
        from ..hw.dsp import FAMILY_DSP
        from ..hw.engines import build_window_engine
        engine, _ = build_window_engine(network, cfg["pes"], window, dsp=FAMILY_DSP[family])
    else:
        engine, _ = build_network_engine(network, cfg["pes"], options=engine_options(
            target, spram=pre["weights_in"] == "spram", delta_bits=pre["delta_bits"]))
    netlist, cells = synthesize_json(engine, family, work)
    fits = pre["dsps"] <= target.dsps and pre["block_rams"] <= target.bram_blocks and \
        pre["sprams"] <= target.spram_blocks and _luts(cells, family) <= 0.9 * target.luts
    placed = fits and cfg.get("pnr", True)
    res = {"name": cfg["name"], "family": family, "target": target.name, "cells": cells, "fits": bool(fits),
           "placed": bool(placed), "fmax": None, "utilization": None}
    if placed:
        if log:
            log(f"{cfg['name']} on {target.name}: nextpnr")
        try:
            pnr = place_and_route(netlist, target, PNR_FREQ[family], 1, work)
            res.update(fmax=pnr["fmax"], utilization=pnr["utilization"])
        except ToolError as e:              # more cells than the device has after packing: Yosys's counts only
            res.update(placed=False, pnr_error=str(e).splitlines()[0])
    res["seconds"] = round(time.monotonic() - t0, 1)
    cache.put(key, res)
    return dict(res, cached=False)


def _luts(cells, family):
    if family == "ice40":
        return cells.get("SB_LUT4", 0)
    return cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)


def measured_quantities(res, family):
    """The quantities the model predicts, from one measurement: luts, ffs, dsps, block_rams, lut_rams and, after
    place and route, logic_cells and fmax (None otherwise)."""
    cells = res["cells"]
    ffs = sum(n for c, n in cells.items() if c.startswith(("SB_DFF", "TRELLIS_FF")))
    util = res.get("utilization") or {}
    logic = util.get("ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB")
    return {"luts": _luts(cells, family), "ffs": ffs,
            "dsps": cells.get("SB_MAC16", 0) + cells.get("MULT18X18D", 0),
            "block_rams": cells.get("SB_RAM40_4K", 0) + cells.get("DP16KD", 0),
            "lut_rams": cells.get("TRELLIS_DPR16X4", 0), "sprams": cells.get("SB_SPRAM256KA", 0),
            "logic_cells": logic, "fmax": res.get("fmax")}
