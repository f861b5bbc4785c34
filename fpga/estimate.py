"""What a network would cost in hardware, without running any tool: cycles, memory, area and clock rate.

Exact parts: cycles (the golden cycle model), memory bits, block RAMs and LUT RAMs (fpga/memory_map.py: the
decisions Yosys makes for each memory) and DSPs (fpga/dsp_map.py). Calibrated parts: LUTs, flip-flops, logic
cells and Fmax (fpga/area_model.py, coefficients fitted to synthesis runs by scripts/fit_area.py). Everything is
read from the engine objects the hardware would be built from (fpga/structure.py), so the estimate follows the
hardware when it changes; only the calibration needs a refit.

The helpers that make and vary networks (random_network, magnitude_prune, kind_variant) work on the layers' CSR
arrays, never a dense matrix: a layer the size of VGG-16's first classifier layer (25088 x 4096) costs memory for
its kept weights only.
"""

import functools
import os

import numpy as np

from ..golden import MAX_ENTRIES, ContractError, Layer, Network
from ..golden.cycles import network_cycles
from ..golden.engines import AUTO_WINDOWS
from ..golden.assign import row_costs
from ..golden.encode import delta_entry_bits, entry_bits
from .area_model import design_features, load_model
from .digest import source_digest
from .dsp_map import engine_dsps
from ..hw.weight_ram import spram_delta_bits
from .memory_map import BLOCK_CELLS, map_engine
from .structure import build_structure, engine_options, relative_indices_misfit
from .targets import get_target

__all__ = ["EXACT", "estimate", "choose_engine", "estimate_targets", "format_estimate", "format_side_by_side", "magnitude_prune",
           "kind_variant", "random_network", "prunable_layers"]

EXACT = ("cycles", "weight_memory_bits", "block_rams", "lut_rams", "sprams", "dsps")
WEIGHTS = ("auto", "bram", "spram")


def estimate(network, pes, target, freq_mhz=None, model=None, weights="auto", engine="row", window=None,
             built=None):
    """The estimate of `network` on `pes` PEs for `target` (a name from fpga/targets.py), as a JSON-able dict.

    `freq_mhz`: the clock to compute latency and throughput at (default: the estimated Fmax). `weights`: where the
    entry words go: "bram" (block RAM, in the bitstream), "spram" (the target's SPRAM, loaded over the host link)
    or "auto" (block RAM, unless they overflow it and the SPRAM holds them). ``weights_in`` says which.
    `engine`: "row", or "window" with windows of `window` activations (fpga/window_estimate.py: exact parts only).
    `built`: a dict that keeps what an estimate made, for estimates of the same network on other targets."""
    if engine == "window":
        from .window_estimate import estimate_window
        return estimate_window(network, pes, window, target, freq_mhz, weights, built, model)
    return _estimate(network, pes, target, freq_mhz, model, weights, {})


def choose_engine(network, pes, target, weights="auto"):
    """The engine a command takes when asked for ``auto``: of the row engine and the window engine with each W of
    AUTO_WINDOWS that P divides, the one that fits `target` (exact block RAM, SPRAM and DSP counts) in the fewest
    cycles; the row engine on a tie, and when none fits. Returns (engine, window, reason, its estimate)."""
    target = get_target(target) if isinstance(target, str) else target
    row = estimate(network, pes, target, weights=weights)
    options = [("row", None, row)]
    if weights != "spram":
        options += [("window", w, estimate(network, pes, target, engine="window", window=w))
                    for w in AUTO_WINDOWS if w % pes == 0]

    def exact_misfits(rep):
        return [m for m in rep["does_not_fit"] if "logic cells" not in m]

    def name(engine, window):
        return f"the window engine (W = {window})" if engine == "window" else "the row engine"

    fitting = [o for o in options if not exact_misfits(o[2])]
    if not fitting:
        return "row", None, f"no engine fits {target.name} on {pes} PE(s); the row engine: " + \
            "; ".join(exact_misfits(row)), row
    engine, window, rep = min(fitting, key=lambda o: o[2]["cycles"])      # min keeps the first (row) on a tie
    def verdict(rep):
        misfits = exact_misfits(rep)
        return "needs " + "; ".join(misfits) if misfits else f"{rep['cycles']:,} cycles"

    others = [f"{name(e, w)} {verdict(r)}" for e, w, r in options if r is not rep]
    reason = f"{name(engine, window)}: {rep['cycles']:,} cycles on {target.name}" + \
        (f" ({'; '.join(others)})" if others else "")
    return engine, window, reason, rep


def estimate_targets(network, pes, targets, freq_mhz=None, model=None, weights="auto"):
    """``estimate(network, pes, t, ...)`` for each of `targets`, yielded in turn, each engine built and mapped
    once: targets whose engines are built alike (the two ECP5s) share one."""
    network = Network.of(network)
    built = {}
    for target in targets:
        yield _estimate(network, pes, target, freq_mhz, model, weights, built)


def _engine(network, pes, target, spram, built, delta_bits=0):
    """(structure, memory map) of `network`'s engine on `pes` PEs as `target` builds it (with relative indices of
    `delta_bits` bits if > 0), from `built` when an estimate already made it."""
    options = engine_options(target, spram=spram, delta_bits=delta_bits)
    key = (int(pes), target.family, options)
    if key not in built:
        structure = build_structure(network, pes, options=options)
        built[key] = (structure, map_engine(structure, target.family))
    return built[key]


def _estimate(network, pes, target, freq_mhz, model, weights, built):
    network = Network.of(network)
    target = get_target(target) if isinstance(target, str) else target
    if not 1 <= int(pes) <= 16:
        raise ContractError(f"--pes must be in 1..16, got {pes}")
    if freq_mhz is not None and not freq_mhz > 0:
        raise ContractError(f"--freq must be > 0, got {freq_mhz}")
    if weights not in WEIGHTS:
        raise ContractError(f"--weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
    family = target.family
    spram = weights == "spram"
    structure, memories = _engine(network, pes, target, spram, built)
    delta_bits, spram_misfits = 0, []
    if target.weight_ram and (weights == "auto" and _blocks(memories) > target.bram_blocks
                              or spram and _memory_misfits(memories, target)):
        # The SPRAM with absolute indices, else with relative ones (narrower words, and filler entries).
        for bits in (0, spram_delta_bits(network)):
            if bits is None or spram and not bits:
                continue
            name = "relative indices" if bits else "absolute indices"
            why_not = bits and relative_indices_misfit(network, pes, bits)
            if why_not:
                spram_misfits.append(f"{name}: {why_not}")
                continue
            tried = _engine(network, pes, target, True, built, bits)
            misfits = _memory_misfits(tried[1], target)
            spram_misfits += [f"{name}: {m}" for m in misfits]
            if not misfits:
                (structure, memories), spram, delta_bits, spram_misfits = tried, True, bits, []
                break
    cyc = network_cycles(structure.assignments)
    dsp = engine_dsps(structure, family)
    feats = design_features(structure, family, memories, dsp)

    entry = [(m, mp) for m, mp in memories if m.role == "entry"]
    bias = [(m, mp) for m, mp in memories if m.role == "bias"]
    buffers = [(m, mp) for m, mp in memories if m.role == "buffer" and mp.style != "removed"]
    block = _blocks(memories)
    rep = {
        "target": target.name, "family": family, "pes": int(pes),
        "layers": [{"kind": layer.kind, "n_in": layer.n_in, "n_out": layer.n_out,
                    "weights": layer.nnz, "density": layer.nnz / layer.size,
                    "entries": int(a.entries), "load": [int(x) for x in a.load], "cycles": int(c)}
                   for layer, a, c in zip(network, structure.assignments, cyc.per_layer)],
        "cycles": int(cyc.total), "entries": int(cyc.entries.sum()), "efficiency": float(cyc.efficiency),
        "weight_memory_bits": int(sum(m.bits for m, _ in entry)),
        "encoded_weight_bits": int(sum(int(a.entries) * (delta_entry_bits(layer.w_bits, delta_bits) if delta_bits
                                                         else entry_bits(layer))
                                       for layer, a in zip(network, structure.assignments))),
        "bias_memory_bits": int(sum(m.bits for m, _ in bias)),
        "activation_buffer_bits": int(sum(m.bits for m, _ in buffers)),
        "block_rams": int(block), "block_ram_cell": BLOCK_CELLS[family],
        "block_rams_by_role": {role: int(sum(mp.cells for m, mp in memories if m.role == role and
                                             mp.style == "block")) for role in ("entry", "bias", "buffer")},
        "lut_rams": int(sum(mp.cells for _, mp in memories if mp.style == "distributed")),
        "sprams": int(sum(mp.cells for _, mp in memories if mp.style == "spram")),
        "weights_in": "spram" if spram else "bram",
        "delta_bits": int(delta_bits),          # entries with relative indices of that many bits (0: absolute)
        "fillers": int(cyc.entries.sum()) - sum(int(row_costs(layer.row_nnz).sum()) for layer in network),
        "dsps": int(dsp["dsps"]), "dsp_cell": dsp["cell"],
        "available": {"luts": target.luts, "dsps": target.dsps, "block_rams": target.bram_blocks,
                      "sprams": target.spram_blocks},
        "exact": list(EXACT),
        "features": {k: float(v) for k, v in feats.items()},
    }
    area = load_model() if model is None else model
    rep.update(area.estimates(family, feats))
    rep["model_sources"] = area.data.get("source_digest")
    rep["model_current"] = rep["model_sources"] == _hardware_digest()
    rep["outside_fit"] = area.outside(family, feats) + (
        ["entry words in SPRAM"] if spram and "spram" not in area.fitted_weights(family) else []) + (
        # The fitted designs have neither (their slice adder and input ReLU are logic the model has not seen).
        ["splits or relu_in"] if not all(layer.plain for layer in network) else [])
    clock = freq_mhz if freq_mhz is not None else rep["fmax_mhz"]
    rep["clock_mhz"] = clock
    rep["clock_from"] = "given" if freq_mhz is not None else ("estimated Fmax" if clock else None)
    if clock:
        rep["latency_us"] = rep["cycles"] / clock
        rep["inferences_per_s"] = clock * 1e6 / rep["cycles"]
    else:
        rep["latency_us"] = rep["inferences_per_s"] = None
    rep["does_not_fit"] = _memory_misfits(memories, target) + _misfits(rep, target) + \
        [f"with the entry words in SPRAM: {m}" for m in spram_misfits]
    rep["fits"] = not rep["does_not_fit"]
    return rep


_STALE = ("STALE area model: fitted to other hardware sources than these; LUTs, flip-flops and Fmax may be off "
          "until scripts/fit_area.py refits it")
_BEYOND = "beyond the fitted configurations; LUTs, flip-flops and Fmax are extrapolated and may be far off"


@functools.cache
def _hardware_digest():
    """The digest of the hardware sources as they are now (read once per process; milliseconds)."""
    return source_digest()


def check_fit(network, pes, target, name, warn=None, weights="auto", engine="row", window=None):
    """Refuse (ContractError, one line with the numbers) a network whose engine on `pes` PEs needs more block RAMs,
    SPRAMs or DSPs than `target` has: exact counts, known before any tool runs. An estimated logic overflow is
    only passed to `warn`: the estimate has an error bar. Returns the estimate; its ``weights_in`` ("bram" or
    "spram") is where `weights` (see :func:`estimate`) put the entry words."""
    target = get_target(target) if isinstance(target, str) else target
    rep = estimate(network, pes, target, weights=weights, engine=engine, window=window)
    exact = [m for m in rep["does_not_fit"] if "logic cells" not in m]
    if exact:
        raise ContractError(f"{name}: does not fit {target.name} with {pes} PE(s): {'; '.join(exact)}")
    if rep["does_not_fit"] and warn is not None:
        warn(f"estimated {rep['does_not_fit'][0]} on {target.name}: place and route will likely fail")
    return rep


def _blocks(memories):
    return sum(mp.cells for _, mp in memories if mp.style == "block")


def _memory_misfits(memories, target):
    """The memories `target` cannot hold: block RAMs and SPRAMs."""
    out = []
    if _blocks(memories) > target.bram_blocks:
        out.append(f"{_blocks(memories)} block RAMs > {target.bram_blocks}")
    sprams = sum(mp.cells for _, mp in memories if mp.style == "spram")
    if sprams > target.spram_blocks:
        out.append(f"{sprams} SPRAMs > {target.spram_blocks}")
    return out


def _misfits(rep, target):
    out = []
    if rep["dsps"] > target.dsps:
        out.append(f"{rep['dsps']} DSPs > {target.dsps}")
    logic = rep.get("logic_cells") or rep.get("luts")
    if logic is not None and logic > target.luts:
        out.append(f"~{logic} logic cells > {target.luts}")
    return out


def _fmt_int(v):
    return "n/a" if v is None else f"{v:,}"


def _rows(rep):
    avail = rep["available"]
    err = rep.get("model_error", {})

    def calibrated(q, v, total=None):
        if v is None:
            return "n/a (no calibration of " + ("the window engine" if rep.get("engine") == "window" else
                                                 "the row engine") + " for this family: mam synth measures it)"
        e = err.get(q, {}).get("loo_mean_abs_rel_err")
        s = f"~{v:,}" + (f" / {total:,}" if total else "")
        return s + (f"  (model error ~{100 * e:.0f}%)" if e is not None else "")

    fmax = rep["fmax_mhz"]
    f_err = err.get("period", {}).get("loo_mean_abs_rel_err")
    split = ", ".join(f"layer {k + 1}'s in {s} parts" for k, s in enumerate(rep.get("splits", [])) if s > 1)
    rows = [("engine", (f"window, W = {rep['window']}, groups of {rep['group']} entries"
                        + (f", rows split: {split}" if split else "") + " (one copy of the activations)"
                        if rep.get("engine") ==
             "window" else "row (each PE reads its own copy of the activations)")
             + (f"; chosen: {rep['engine_choice']}" if rep.get("engine_choice") else ""))]
    worst = "at most: exact with no activation zero, which the window engine skips" if rep.get("engine") == \
        "window" else "exact"
    rows += [
        ("cycles / inference", f"{rep['cycles']:,} ({worst}; {rep['entries']:,} entries, efficiency "
                               f"{rep['efficiency']:.3f})"),
    ]
    given = rep.get("cycles_for_inputs")
    if given:
        rows.append((f"cycles for {os.path.basename(given['inputs'])}",
                     f"mean {given['mean']:,.1f}, std {given['std']:,.1f}, {given['min']:,}..{given['max']:,} over "
                     f"{given['samples']:,} sample{'s' if given['samples'] > 1 else ''} (exact for each)"))
        if "mean_by_engine" in given:
            rows.append(("  mean by engine", ", ".join(
                f"{'row' if k == 'row' else 'window W = ' + k[6:]} {v:,.1f}"
                for k, v in given["mean_by_engine"].items())
                + " (the choice above is by the most cycles, which do not depend on inputs)"))
    if rep["clock_mhz"]:
        rows += [(f"latency at {rep['clock_mhz']:.1f} MHz", f"{rep['latency_us']:.2f} us ({rep['clock_from']})"),
                 ("inferences / s", f"{rep['inferences_per_s']:,.0f}")]
    rows += [
        ("weight memory", f"{rep['weight_memory_bits']:,} bits in entry memories (exact; encoding "
                          f"{rep['encoded_weight_bits']:,} bits)"),
        ("bias / buffer memory", f"{rep['bias_memory_bits']:,} / {rep['activation_buffer_bits']:,} bits"
                                 + (f"; row state {rep['row_state_bits']:,} bits" if "row_state_bits" in rep else "")),
        ("block RAMs", f"{rep['block_rams']} / {avail['block_rams']} {rep['block_ram_cell']} (exact)"
                       + (f", {rep['lut_rams']} LUT RAMs" if rep["lut_rams"] else "")),
    ]
    if rep["weights_in"] == "spram" or avail["sprams"]:
        rows.append(("SPRAMs", f"{rep['sprams']} / {avail['sprams']} (exact)" + (
            "; entry words in SPRAM, loaded over the host link" if rep["weights_in"] == "spram" else "") + (
            f"; relative {rep['delta_bits']}-bit indices, {rep['fillers']:,} filler entries" if rep.get("delta_bits")
            else "")))
    rows += [
        ("DSPs", f"{rep['dsps']} / {avail['dsps']} {rep['dsp_cell']} (exact)"),
        ("LUTs", calibrated("luts", rep["luts"])),
        ("flip-flops", calibrated("ffs", rep["ffs"])),
        ("logic cells", calibrated("logic_cells", rep["logic_cells"], avail["luts"])),
        ("Fmax", "n/a (no calibration)" if fmax is None else
         f"~{fmax:.1f} MHz" + (f"  (model error ~{100 * f_err:.0f}%)" if f_err is not None else "")),
        ("fits " + rep["target"], "yes" if rep["fits"] else "NO: " + "; ".join(rep["does_not_fit"])),
    ]
    if not rep.get("model_current", True):
        rows.append(("area model", _STALE))
    if rep.get("outside_fit"):
        rows.append(("area model", _BEYOND + " (" + ", ".join(rep["outside_fit"][:3])
                     + (", ..." if len(rep["outside_fit"]) > 3 else "") + ")"))
    return rows


def format_estimate(rep, title=None):
    rows = _rows(rep)
    width = max(len(k) for k, _ in rows)
    head = title or f"{rep['target']}, {rep['pes']} PE(s): " + ", ".join(
        f"{layer['kind']} {layer['n_in']}x{layer['n_out']} {100 * layer['density']:.3g}%" for layer in rep["layers"])
    return "\n".join([head] + [f"  {k:<{width}}  {v}" for k, v in rows])


_SIDE = [("layers", lambda r: " + ".join(f"{x['kind']} {100 * x['density']:.3g}%" for x in r["layers"])),
         ("weights kept", lambda r: f"{sum(x['weights'] for x in r['layers']):,}"),
         ("cycles / inference", lambda r: f"{r['cycles']:,}"),
         ("weight memory (bits)", lambda r: f"{r['weight_memory_bits']:,}"),
         ("block RAMs", lambda r: f"{r['block_rams']} / {r['available']['block_rams']}"),
         ("DSPs", lambda r: f"{r['dsps']} / {r['available']['dsps']}"),
         ("LUTs", lambda r: _fmt_int(r["luts"])),
         ("flip-flops", lambda r: _fmt_int(r["ffs"])),
         ("logic cells", lambda r: _fmt_int(r["logic_cells"])),
         ("Fmax (MHz)", lambda r: "n/a" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}"),
         ("latency (us)", lambda r: "n/a" if r["latency_us"] is None else f"{r['latency_us']:.2f}"),
         ("inferences / s", lambda r: "n/a" if r["inferences_per_s"] is None else f"{r['inferences_per_s']:,.0f}"),
         ("fits", lambda r: "yes" if r["fits"] else "NO")]


def format_side_by_side(named_reports):
    """A table with one column per (name, report)."""
    names = [n for n, _ in named_reports]
    rows = [("", names)] + [(label, [f(r) for _, r in named_reports]) for label, f in _SIDE]
    lw = max(len(label) for label, _ in rows)
    cw = [max(len(str(vals[i])) for _, vals in rows) for i in range(len(names))]
    table = "\n".join(f"{label:<{lw}}  " + "  ".join(f"{v:>{cw[i]}}" for i, v in enumerate(vals))
                      for label, vals in rows)
    if not all(r.get("model_current", True) for _, r in named_reports):
        table += "\n" + _STALE
    beyond = [n for n, r in named_reports if r.get("outside_fit")]
    if beyond:
        table += f"\n{', '.join(beyond)}: {_BEYOND}"
    return table


def magnitude_prune(layer, density, kind=None):
    """`layer` with only its round(density * out * in) largest-magnitude weights kept (ties: lower flat index
    first); a layer that already has fewer keeps them all. `kind` changes the neuron kind too (a layer made MAC
    loses its ``splits``, which only a MAM layer has; ``relu_in`` stays).

    Works on the CSR arrays (whose order is the flat index order): no dense matrix, whatever the layer's size."""
    if not 0.0 <= density <= 1.0:
        raise ContractError(f"density must be in [0, 1], got {density}")
    keep = int(round(density * layer.size))
    indptr, indices, values = layer.indptr, layer.indices, layer.values
    if keep < layer.nnz:
        # A stable sort of the magnitudes in CSR order: equal magnitudes stay in flat index order.
        order = np.argsort(-np.abs(values.astype(np.int32)), kind="stable")[:keep]
        order.sort()
        rows = np.searchsorted(indptr, order, side="right") - 1
        indptr = np.zeros(layer.n_out + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=layer.n_out), out=indptr[1:])
        indices, values = indices[order], values[order]
    return _rebuilt(layer, kind or layer.kind, indptr, indices, values)


def _rebuilt(layer, kind, indptr, indices, values):
    """`layer` with other CSR weights and kind (its other fields kept; splits only on a MAM layer)."""
    return Layer.build(kind=kind, shape=layer.shape, indptr=indptr, indices=indices, values=values,
                       bias=layer.bias, mult=layer.mult, shift=layer.shift, relu=layer.relu, in_bits=layer.in_bits,
                       w_bits=layer.w_bits, out_bits=layer.out_bits,
                       splits=layer.splits if kind == "mam" else 1, relu_in=layer.relu_in)


def prunable_layers(network, which="hidden"):
    """Indices of the layers a sweep prunes: the hidden layers (all but the output layer; the one layer of a
    single-layer file), or all. `network`: the network, or anything as long (a range of its layer count)."""
    n = len(network)
    if which == "all" or n == 1:
        return list(range(n))
    if which == "hidden":
        return list(range(n - 1))
    raise ContractError(f"unknown layer selection {which!r} (hidden or all)")


def kind_variant(network, kind, density=None, which="hidden"):
    """The network with its prunable layers made `kind` ("mam": only those; "mac": every layer, the output layer
    included, as a MAC network is built) and pruned by magnitude to `density` (None: as they are)."""
    network = Network.of(network)
    chosen = set(prunable_layers(network, which))
    layers = []
    for k, layer in enumerate(network):
        new_kind = kind if (k in chosen or kind == "mac") else layer.kind
        if k in chosen and density is not None:
            layers.append(magnitude_prune(layer, density, kind=new_kind))
        elif new_kind != layer.kind:
            layers.append(_rebuilt(layer, new_kind, layer.indptr, layer.indices, layer.values))
        else:
            layers.append(layer)
    return Network(layers)


def random_network(shape, *, density=1.0, kinds=None, bits=8, seed=0):
    """A network of random weights of the given widths (e.g. [784, 256, 10]): what a sweep prunes when the weights
    are not known (magnitude pruning of random weights is random pruning).

    `density`: the fraction of each layer's interconnections that holds a weight (one number, or one per layer):
    round(density * out * in) positions chosen at random (seeded), each a random nonzero `bits`-bit weight. Built
    straight into CSR form, in memory for the kept weights only: a VGG-sized layer at 0.04% costs kilobytes."""
    shape = [int(s) for s in shape]
    if len(shape) < 2 or min(shape) < 1:
        raise ContractError(f"--shape needs at least two positive widths, got {shape}")
    n = len(shape) - 1
    densities = [float(density)] * n if np.ndim(density) == 0 else [float(d) for d in density]
    if len(densities) != n or not all(0.0 <= d <= 1.0 for d in densities):
        raise ContractError(f"density must be one fraction in [0, 1] or one per layer ({n}), got {density}")
    kept = [int(round(d * a * b)) for d, a, b in zip(densities, shape, shape[1:])]
    if sum(kept) > MAX_ENTRIES:
        raise ContractError(f"a random {'-'.join(map(str, shape))} network would hold {sum(kept):,} weights, beyond "
                            f"the size limit of {MAX_ENTRIES:,} (MAX_ENTRIES)")
    kinds = kinds or (["mam"] * (n - 1) + ["mac"] if n > 1 else ["mam"])
    rng = np.random.default_rng(seed)
    lim = (1 << (bits - 1)) - 1
    layers = []
    for k in range(n):
        n_out, n_in = shape[k + 1], shape[k]
        rows, cols = np.divmod(_random_positions(rng, n_out * n_in, kept[k]), n_in)
        values = rng.integers(-lim, lim + 1, kept[k])
        values[values == 0] = 1
        indptr = np.zeros(n_out + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
        layers.append(Layer.build(kind=kinds[k], shape=[n_out, n_in], indptr=indptr, indices=cols, values=values,
                                  bias=rng.integers(-(1 << 12), 1 << 12, n_out),
                                  mult=int(rng.integers(1 << 8, 1 << 16)), shift=16, relu=k < n - 1,
                                  in_bits=bits, w_bits=bits, out_bits=bits))
    return Network(layers)


def _random_positions(rng, n, k):
    """`k` distinct positions in [0, n), sorted int64, every k-subset equally likely (seeded by `rng`).

    Uniform draws, repeated until `k` distinct values are in: memory and time follow `k`, not `n`. Beyond half of
    `n`, the positions left out are drawn instead. (Every step commutes with a relabelling of [0, n), so each
    subset of k positions is equally likely.)"""
    if k > n // 2:
        mask = np.ones(n, dtype=bool)
        mask[_random_positions(rng, n, n - k)] = False
        return np.flatnonzero(mask).astype(np.int64)
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < k:
        both = np.concatenate([chosen, rng.integers(0, n, k - chosen.size, dtype=np.int64)])
        both.sort()                       # sort-based: NumPy's hashed np.unique takes a minute on 4M draws
        chosen = both[np.concatenate([[True], both[1:] != both[:-1]])]
    return chosen
