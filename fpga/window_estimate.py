"""What the window engine (hw/window_engine.py) costs on a target, without running any tool.

Exact: cycles (golden/window.py), memory bits and block RAMs (each memory mapped as Yosys maps it, fpga/memory_map
.py) and DSPs (fpga/dsp_map.py, from one PE's RTLIL). Calibrated: LUTs, flip-flops, logic cells and Fmax, from a
linear model of their own (fpga/area_model.py, family key ``<family>-window``) fitted by scripts/fit_area.py to
synthesis runs of the window engine (fpga/calibration.py's WINDOW_GRID) on features of the design: one PE's
operators times P, the window picks, memories left to logic, LUT RAMs, DSPs and ports. The report has the keys of
fpga/estimate.py's.
"""

import functools
import math

import numpy as np
from amaranth.hdl import Shape

from ..golden import ContractError, Network
from ..golden.window import WindowSegment, plan_window_network, window_network_cycles
from ..hw.dsp import FAMILY_DSP
from ..hw.window_engine import WindowEngine
from ..hw.window_pe import WindowPE
from .area_model import _port_bits, load_model, rtlil_operator_bits
from .digest import WINDOW_ROOTS, source_digest
from .dsp_map import pes_dsps, rtlil_multipliers
from .memory_map import BLOCK_CELLS, MemoryInfo, _lanes, map_memory
from .structure import silence
from .targets import get_target

__all__ = ["WINDOW_FEATURES", "WINDOW_FMAX_FEATURES", "window_memories", "window_dsps", "window_features",
           "estimate_window", "model_family"]

WINDOW_FEATURES = ("one", "pes", "pe_arith", "pe_mux", "pe_dff", "pe_shift", "window_mux", "logic_rom_bits",
                   "logic_ram_bits", "lut_rams", "dsps", "io_bits")
WINDOW_FMAX_FEATURES = ("one", "log2_pes", "log2_window", "max_carry", "layers", "block_reads")


@functools.cache
def _window_digest():
    return source_digest(WINDOW_ROOTS)


def model_family(family):
    """The area model's key for the window engine on `family`."""
    return f"{family}-window"


def window_memories(engine, family):
    """[(MemoryInfo, Mapping)] for every memory of a WindowEngine: per PE its entry ROM, bias ROM and row-state
    RAM; per lane its activation RAM."""
    out = []
    for q, pe in enumerate(engine.pe):
        for role, name, words, width in (("entry", "entry_mem", pe.entry_words, pe.entry_shape.size),
                                         ("bias", "bias_mem", pe.bias_words, pe.bias_shape.size)):
            out.append(MemoryInfo(f"pe{q}.{name}", role, len(words), width, _lanes(words, width), writable=False))
        width = pe.state_shape.size
        out.append(MemoryInfo(f"pe{q}.state_mem", "state", pe.rows, width, width, writable=True))
    width = Shape.cast(engine.lane_shape).width
    lanes = [MemoryInfo(f"lane{q}", "buffer", engine.lane_depth, width, width, writable=True)
             for q in range(engine.pes)]
    # A lane is written one activation at a time (its write port's granularity).
    return [(m, map_memory(m.depth, m.lanes, m.writable, family)) for m in out] + \
        [(m, map_memory(m.depth, m.lanes, m.writable, family, granule=engine.act_bits)) for m in lanes]


def window_dsps(engine, family, text=None):
    """DSP cells of a WindowEngine (its PEs' multipliers, all PEs alike), as fpga/dsp_map.py counts them, from
    `text` (:func:`stand_in_rtlil`, made when not given)."""
    return pes_dsps(rtlil_multipliers(stand_in_rtlil(engine) if text is None else text), engine.pes, family)


def stand_in_rtlil(engine):
    """RTLIL of a stand-in for the engine's PEs: the same widths with one entry per layer (converting a PE of a big
    layer would write its whole entry ROM out as text, minutes for millions of entries)."""
    from .registers import component_rtlil
    pe = engine.pe[0]
    one = WindowSegment(weight=np.ones((1, pe.group), np.int64), col=np.zeros((1, pe.group), np.int64),
                        row=np.zeros((1, pe.group), np.int64), wend=np.ones(1, bool), bias=np.zeros(1, np.int64),
                        dense=np.zeros(1, bool))
    stand_in = WindowPE(segments=[one] * pe.n_layers, kinds=pe.kinds, shifts=pe.shifts,
                        clamps=[{"lo": lo, "hi": hi} for lo, hi in zip(pe.los, pe.his)], act_bits=pe.act_bits,
                        w_bits=pe.w_bits, out_bits=pe.out_bits, window=pe.window_size, rows=pe.rows,
                        hi_shape=pe.hi_shape, lo_shape=pe.lo_shape, v_shape=pe.v_shape, dsp=pe.dsp)
    return component_rtlil(stand_in, "pe")


def window_features(engine, memories, dsp, text):
    """Named features of a WindowEngine (see the module docstring); `text`: :func:`stand_in_rtlil`."""
    ops = rtlil_operator_bits(text)
    n, act = engine.pes, engine.pe[0].act_bits
    f = dict.fromkeys(WINDOW_FEATURES + WINDOW_FMAX_FEATURES, 0.0)
    f.update(one=1.0, pes=n, pe_arith=n * ops["arith"], pe_mux=n * ops["mux"], pe_dff=n * ops["dff"],
             pe_shift=n * ops["shift"], dsps=dsp["dsps"],
             window_mux=n * engine.window * act,          # each PE picks its activations out of a window
             max_carry=ops["max_carry"], log2_pes=math.log2(n), log2_window=math.log2(engine.window),
             layers=engine.n_layers, block_reads=float(any(mp.style == "block" for _m, mp in memories)))
    for m, mp in memories:
        if mp.style == "logic":
            f["logic_ram_bits" if m.writable else "logic_rom_bits"] += m.depth * m.lanes
        elif mp.style == "distributed":
            f["lut_rams"] += mp.cells
    ins, outs = _port_bits(engine)
    f["io_bits"] = ins + outs
    return f


def estimate_window(network, pes, window, target, freq_mhz=None, weights="auto", built=None, model=None):
    """The estimate of `network` on the window engine with `pes` PEs and windows of `window`, for `target`.
    `built`: a dict that keeps the plans and engines made, for estimates of the same network on other targets."""
    network = Network.of(network)
    target = get_target(target) if isinstance(target, str) else target
    if weights == "spram":
        raise ContractError("the window engine keeps its entry words in block RAM (--weights spram is for the row "
                            "engine)")
    family = target.family
    built = {} if built is None else built
    key = (int(pes), int(window), family)
    if key not in built:
        plans = plan_window_network(network, pes, window)
        engine = WindowEngine(plans, dsp=FAMILY_DSP[family])
        silence(engine)                             # built to be measured, never elaborated
        memories, text = window_memories(engine, family), stand_in_rtlil(engine)
        dsp = window_dsps(engine, family, text)
        built[key] = plans, engine, memories, dsp, window_features(engine, memories, dsp, text)
    plans, engine, memories, dsp, feats = built[key]
    cyc = window_network_cycles(plans)
    block = sum(mp.cells for _, mp in memories if mp.style == "block")

    def bits(role):
        return int(sum(m.bits for m, _ in memories if m.role == role))

    rep = {
        "target": target.name, "family": family, "pes": int(pes), "engine": "window", "window": int(window),
        "group": int(plans[0].group), "splits": [int(plan.split) for plan in plans],
        "layers": [{"kind": layer.kind, "n_in": layer.n_in, "n_out": layer.n_out, "weights": layer.nnz,
                    "density": layer.nnz / layer.size, "entries": int(plan.kept),
                    "empty_slots": int(plan.slots - plan.kept), "windows": plan.n_windows, "split": int(plan.split),
                    "load": [int(s.kept) for s in plan.segments], "cycles": int(plan.cycles)}
                   for layer, plan in zip(network, plans)],
        "cycles": int(cyc.total), "entries": int(cyc.entries.sum()), "efficiency": float(cyc.efficiency),
        "weight_memory_bits": bits("entry"),
        "encoded_weight_bits": int(sum(s.groups for plan in plans for s in plan.segments)
                                   * engine.pe[0].entry_shape.size),
        "bias_memory_bits": bits("bias"), "row_state_bits": bits("state"), "activation_buffer_bits": bits("buffer"),
        "block_rams": int(block), "block_ram_cell": BLOCK_CELLS[family],
        "block_rams_by_role": {role: int(sum(mp.cells for m, mp in memories if m.role == role and
                                             mp.style == "block")) for role in ("entry", "bias", "state", "buffer")},
        "lut_rams": int(sum(mp.cells for _, mp in memories if mp.style == "distributed")),
        "sprams": 0, "weights_in": "bram",
        "dsps": int(dsp["dsps"]), "dsp_cell": dsp["cell"],
        "available": {"luts": target.luts, "dsps": target.dsps, "block_rams": target.bram_blocks,
                      "sprams": target.spram_blocks},
        "exact": ["cycles", "weight_memory_bits", "block_rams", "lut_rams", "dsps"],
        "features": {k: float(v) for k, v in feats.items()},
    }
    area, fam = load_model() if model is None else model, model_family(family)
    rep.update(area.estimates(fam, feats))
    rep["model_sources"] = area.data.get("window_source_digest")
    rep["model_current"] = rep["model_sources"] == _window_digest() if area.has(fam, "luts") else True
    rep["outside_fit"] = area.outside(fam, feats) if area.has(fam, "luts") else []
    if not area.has(fam, "luts"):
        rep["not_modelled"] = f"LUTs, flip-flops, logic cells and Fmax of the window engine on {family}"
    clock = freq_mhz if freq_mhz is not None else rep["fmax_mhz"]
    rep["clock_mhz"] = clock
    rep["clock_from"] = "given" if freq_mhz is not None else ("estimated Fmax" if clock else None)
    rep["latency_us"] = rep["cycles"] / clock if clock else None
    rep["inferences_per_s"] = clock * 1e6 / rep["cycles"] if clock else None
    misfits = []
    if block > target.bram_blocks:
        misfits.append(f"{block} block RAMs > {target.bram_blocks}")
    if rep["dsps"] > target.dsps:
        misfits.append(f"{rep['dsps']} DSPs > {target.dsps}")
    logic = rep.get("logic_cells") or rep.get("luts")
    if logic is not None and logic > target.luts:
        misfits.append(f"~{logic} logic cells > {target.luts}")
    rep["does_not_fit"] = misfits
    rep["fits"] = not misfits
    return rep
