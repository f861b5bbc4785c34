"""The calibrated part of the estimates: LUTs, flip-flops, logic cells and Fmax from features of the design.

Features come from the live design, not from a description of it: the operators of one PE as Amaranth hands them to
Yosys (bits of adders, comparators, multiplexers, registers and variable shifts in its RTLIL, and the register bits
synthesis keeps, from :mod:`.registers`; times the number of PEs), the memory decisions of :mod:`.memory_map`
(memory bits left to logic, block RAMs that need read-first emulation, LUT RAMs), the multiplier pieces
:mod:`.dsp_map` leaves to logic, and the engine's own wiring from its BufferPlan and ports. A linear model per
family and quantity maps features to Yosys's counts; its coefficients are fitted (non-negative least squares on
relative error) to real synthesis runs by scripts/fit_area.py and stored in area_model.json beside this file. Fmax
is modelled as a clock period that grows with the longest carry chain, the bank-select depth, the PE count and
whether a block RAM is read.
"""

import json
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from .dsp_map import engine_dsps
from .memory_map import map_engine
from .registers import component_ports
from .structure import pe_live_registers, pe_rtlil

__all__ = ["MODEL_PATH", "AREA_QUANTITIES", "FEATURES", "FF_FEATURES", "FMAX_FEATURES", "rtlil_operator_bits",
           "design_features", "LinearModel", "AreaModel", "load_model", "nnls", "fit_linear", "select_features"]

MODEL_PATH = os.path.join(os.path.dirname(__file__), "area_model.json")
AREA_QUANTITIES = ("luts", "ffs", "logic_cells")

FEATURES = ("one", "pes", "mam_pes", "mac_pes", "pe_arith", "pe_mux", "pe_dff", "pe_live_dff", "pe_shift",
            "pe_softmul", "dsps", "bank_mux", "buffer_ports", "logic_rom_bits", "logic_ram_bits", "logic_mem_lanes",
            "bram_emu_bits", "lut_rams", "config_bits", "io_bits")
# Flip-flops are fitted on their sources only: the PE registers synthesis keeps, the storage of memories left to
# flip-flops and their registered read data, read-first emulation, the engine's per-layer configuration, ports and
# bank selects, and DSPs (which absorb registers). Chosen from all features, the fit picked operator counts that
# follow the grid but not designs outside it (held-out: iCE40 9.2% mean error, 4 of 8 within 10%; ECP5 7.3%, 6 of 8).
FF_FEATURES = ("one", "pes", "pe_live_dff", "logic_ram_bits", "logic_mem_lanes", "bram_emu_bits", "lut_rams",
               "config_bits", "io_bits", "dsps", "bank_mux")
FMAX_FEATURES = ("one", "max_carry", "bank_levels", "log2_pes", "pes", "layers", "has_mam", "has_mac",
                 "block_reads")

_CELL = re.compile(r"  cell (\S+) \S+\n(.*?)\n  end", re.S)
_PARAM = re.compile(r"parameter \\(\w+) (-?\d+)\b")
_CONNECT_B = re.compile(r"connect \\B (\S+)")

_ARITH = {"$add", "$sub", "$neg", "$lt", "$le", "$gt", "$ge", "$alu", "$macc"}
_MUXLIKE = {"$mux", "$pmux", "$bmux", "$eq", "$ne", "$and", "$or", "$xor", "$xnor", "$not", "$logic_and",
            "$logic_or", "$logic_not", "$reduce_and", "$reduce_or", "$reduce_xor", "$reduce_bool"}
_REGS = {"$dff", "$adff", "$sdff", "$dffe", "$sdffe", "$adffe", "$aldff"}
_SHIFTS = {"$shl", "$shr", "$sshl", "$sshr", "$shift", "$shiftx"}


_PROCESS = re.compile(r"\n  process \S+\n(.*?)\n  end\n", re.S)
_ASSIGN = re.compile(r"^( +)assign (\S+)(?: \[(\d+)(?::(\d+))?\])? ")


def _process_mux_bits(text):
    """Bits assigned under a condition in Amaranth's processes (If / Switch: multiplexers once Yosys has run
    `proc`), the reset branches left out."""
    bits = 0
    for m in _PROCESS.finditer(text):
        in_reset = None
        for line in m.group(1).splitlines():
            depth = len(line) - len(line.lstrip())
            if line.strip().startswith("switch "):
                if depth == 4:
                    in_reset = line.strip() == "switch \\rst [0]"
                continue
            a = _ASSIGN.match(line)
            if a and depth > 4 and not in_reset:
                hi, lo = a.group(3), a.group(4)
                bits += 1 if hi is None else (int(hi) - int(lo) + 1 if lo is not None else 1)
    return bits


def rtlil_operator_bits(text):
    """Bits per operator class in an RTLIL module: arith (adders, comparators), mux (multiplexers, equality,
    bitwise logic, and conditional assignments in processes), dff (registers), shift (shifts by a variable
    amount: a shift by a constant is wiring), and max_carry (the widest adder or comparator)."""
    out = {"arith": 0, "mux": _process_mux_bits(text), "dff": 0, "shift": 0, "max_carry": 0}
    for m in _CELL.finditer(text):
        kind, body = m.group(1), m.group(2)
        p = {k: int(v) for k, v in _PARAM.findall(body)}
        if kind in _ARITH:
            w = max(p.get("A_WIDTH", 0), p.get("B_WIDTH", 0), p.get("Y_WIDTH", 0) if kind in ("$add", "$sub", "$neg")
                    else 0)
            out["arith"] += w
            out["max_carry"] = max(out["max_carry"], w)
        elif kind in _MUXLIKE:
            w = p.get("WIDTH", max(p.get("A_WIDTH", 0), p.get("Y_WIDTH", 0)))
            out["mux"] += w * max(1, p.get("S_WIDTH", 1)) if kind == "$pmux" else w
        elif kind in _REGS:
            out["dff"] += p.get("WIDTH", 0)
        elif kind in _SHIFTS:
            b = _CONNECT_B.search(body)
            if b and not re.fullmatch(r"\d+'[01xz]+|\{\s*\}", b.group(1)):
                out["shift"] += p.get("Y_WIDTH", 0) * max(1, p.get("B_WIDTH", 1))
    return out


def _port_bits(component):
    """(input bits, output bits) of a component's ports; a constant member (an always-ready stream's ``ready``) is
    no port."""
    ins = outs = 0
    for value, direction in component_ports(component).values():
        if direction.name == "In":                        # wiring.In
            ins += len(value)
        else:
            outs += len(value)
    return ins, outs


def design_features(structure, family, memories=None, dsp=None):
    """Named features of the engine in `structure` for `family` (see the module docstring)."""
    memories = map_engine(structure, family) if memories is None else memories
    dsp = engine_dsps(structure, family) if dsp is None else dsp
    ops = rtlil_operator_bits(pe_rtlil(structure))
    plan = structure.plan
    n = len(structure.built_pes)
    act = plan.act_bits
    # Paired buffers (hw/engine.py) are one memory per (replica, bank), the buffer its top address bit: no pick
    # between the buffers.
    paired = int(structure.engine.paired)
    read_buffers = structure.engine.fetched_buffers
    bank_mux = n * sum(act * (plan.banks[b] - 1) for b in read_buffers) + n * act * (len(read_buffers) - 1)
    buffer_ports = sum(plan.local_bits + paired + act
                       for m, mp in memories if m.role == "buffer" and mp.style != "removed")
    f = dict.fromkeys(FEATURES, 0.0)
    kinds = {sp.kind for sp in structure.specs}
    f.update(one=1.0, pes=n, mam_pes=n * ("mam" in kinds), mac_pes=n * ("mac" in kinds), pe_arith=n * ops["arith"],
             pe_mux=n * ops["mux"], pe_dff=n * ops["dff"], pe_live_dff=n * pe_live_registers(structure),
             pe_shift=n * ops["shift"],
             pe_softmul=n * dsp["soft_bits"], dsps=dsp["dsps"], bank_mux=bank_mux, buffer_ports=buffer_ports)
    for m, mp in memories:
        if mp.style == "logic":
            f["logic_ram_bits" if m.writable else "logic_rom_bits"] += m.depth * m.lanes
            f["logic_mem_lanes"] += m.lanes                 # its registered read data
        elif mp.style == "block" and m.writable:
            f["bram_emu_bits"] += m.lanes + max(1, (m.depth - 1).bit_length())
        elif mp.style == "distributed":
            f["lut_rams"] += mp.cells
    # Per-layer configuration: every PE input but the activation is loaded per layer and held in registers.
    pe_in, _ = _port_bits(structure.built_pes[0])
    f["config_bits"] = (pe_in - act) * len(structure.specs)
    ins, outs = _port_bits(structure.top)
    f["io_bits"] = ins + outs
    f["max_carry"] = ops["max_carry"]
    f["bank_levels"] = max([math.ceil(math.log2(plan.banks[b])) for b in read_buffers if plan.banks[b] > 1],
                           default=0)
    f["log2_pes"] = math.log2(max(1, n))
    f["layers"] = len(structure.specs)
    f["has_mam"], f["has_mac"] = float("mam" in kinds), float("mac" in kinds)
    # A block RAM read straight into the fabric (no output register): the ECP5's DP16KD alone is ~5.8 ns of
    # clock-to-output, the slowest path of most ECP5 designs that have one.
    f["block_reads"] = float(any(mp.style == "block" for _m, mp in memories))
    return f


@dataclass
class LinearModel:
    """y = coef . features (for Fmax: the clock period in ns)."""

    features: tuple
    coef: tuple
    stats: dict

    def predict(self, feats):
        return float(sum(c * float(feats[name]) for name, c in zip(self.features, self.coef)))

    def to_json(self):
        return {"features": list(self.features), "coef": [float(c) for c in self.coef], "stats": self.stats}

    @classmethod
    def from_json(cls, d):
        return cls(tuple(d["features"]), tuple(d["coef"]), dict(d.get("stats", {})))


class AreaModel:
    """The fitted models per family: ``models[family][quantity]`` with quantity in AREA_QUANTITIES or "period"."""

    def __init__(self, data):
        self.data = data
        self.models = {fam: {q: LinearModel.from_json(m) for q, m in d["models"].items()}
                       for fam, d in data.get("families", {}).items()}

    def has(self, family, quantity):
        return quantity in self.models.get(family, {})

    def predict(self, family, quantity, feats):
        return self.models[family][quantity].predict(feats)

    def fmax(self, family, feats):
        period = self.predict(family, "period", feats)
        return 1000.0 / period if period > 0 else float("nan")

    def stats(self, family, quantity):
        return self.models[family][quantity].stats

    def estimates(self, family, feats):
        """The calibrated part of an estimate: LUTs, flip-flops, logic cells (rounded), Fmax (MHz, one decimal) and
        the model's errors, each None (absent from the errors) where `family` has no fit of it."""
        out = {q: int(round(self.predict(family, q, feats))) if self.has(family, q) else None
               for q in AREA_QUANTITIES}
        fmax = self.fmax(family, feats) if self.has(family, "period") else None
        out["fmax_mhz"] = None if fmax is None else round(float(fmax), 1)
        out["model_error"] = {q: self.stats(family, q) for q in AREA_QUANTITIES + ("period",) if self.has(family, q)}
        return out

    def fitted_weights(self, family):
        """Where the fitted configurations kept their entry words ("bram", "spram")."""
        return self.data.get("families", {}).get(family, {}).get("weights", ["bram"])

    def outside(self, family, feats, slack=0.1):
        """The features of `feats` beyond the range of the configurations the model was fitted on (by more than
        `slack` of that range's top), as "name value > top" strings: the estimate there is an extrapolation."""
        ranges = self.data.get("families", {}).get(family, {}).get("ranges", {})
        out = []
        for name, (lo, hi) in sorted(ranges.items()):
            v = float(feats.get(name, 0.0))
            if v > hi + slack * abs(hi):
                out.append(f"{name} {v:g} > {hi:g}")
            elif v < lo - slack * abs(hi):
                out.append(f"{name} {v:g} < {lo:g}")
        return out


_cache = {}


def load_model(path=MODEL_PATH):
    """The stored coefficients (cached); an empty model when the file does not exist yet."""
    path = os.fspath(path)
    if path not in _cache:
        data = {"families": {}}
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
        _cache[path] = AreaModel(data)
    return _cache[path]


def nnls(A, b, tol=1e-10):
    """min ||A x - b|| subject to x >= 0 (Lawson and Hanson's active-set method)."""
    m, n = A.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    for _ in range(3 * n + 10):
        grad = A.T @ (b - A @ x)
        free = ~passive & (grad > tol)
        if not free.any():
            break
        passive[np.argmax(np.where(free, grad, -np.inf))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], b, rcond=None)[0]
            if (z[passive] > tol).all():
                x = z
                break
            neg = passive & (z <= tol)
            alpha = np.min(x[neg] / np.maximum(x[neg] - z[neg], 1e-300))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
    return x


def select_features(rows, target, features, keep=("one",), tol=0.002):
    """Greedy backward elimination: drop features while the leave-one-out mean relative error does not grow by
    more than `tol`. Returns the fitted LinearModel on the features kept."""
    feats = list(features)
    best = fit_linear(rows, target, feats)
    while len(feats) > len(keep) + 1:
        trials = [(fit_linear(rows, target, [x for x in feats if x != f]), f) for f in feats if f not in keep]
        model, drop = min(trials, key=lambda t: t[0].stats["loo_mean_abs_rel_err"])
        if model.stats["loo_mean_abs_rel_err"] > best.stats["loo_mean_abs_rel_err"] + tol:
            break
        feats.remove(drop)
        best = model
    return best


def fit_linear(rows, target, features):
    """Non-negative least squares of `target` on `features` over `rows` (dicts), on relative error (each row is
    weighted by 1/target), with leave-one-out errors. Returns a LinearModel."""
    X = np.array([[float(r[f]) for f in features] for r in rows])
    y = np.array([float(r[target]) for r in rows])
    w = 1.0 / np.maximum(np.abs(y), 1e-9)
    # Scale columns so that NNLS is well conditioned; coefficients are scaled back.
    scale = np.maximum(np.abs(X * w[:, None]).max(axis=0), 1e-12)

    def solve(idx):
        A = X[idx] * w[idx, None] / scale
        c = nnls(A, y[idx] * w[idx])
        return c / scale

    coef = solve(np.arange(len(y)))
    pred = X @ coef
    loo = []
    for i in range(len(y)):
        idx = np.array([j for j in range(len(y)) if j != i])
        loo.append(float(X[i] @ solve(idx)))
    rel = np.abs(pred - y) / np.abs(y)
    rel_loo = np.abs(np.array(loo) - y) / np.abs(y)
    stats = {"n": int(len(y)), "mean_abs_rel_err": float(rel.mean()), "max_abs_rel_err": float(rel.max()),
             "loo_mean_abs_rel_err": float(rel_loo.mean()), "loo_max_abs_rel_err": float(rel_loo.max())}
    return LinearModel(tuple(features), tuple(float(c) for c in coef), stats)
