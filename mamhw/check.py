"""Run a model on the RTL, compare with the golden model and the cycle model, and build the report."""

import numpy as np

from .golden import network_forward
from .golden.assign import row_costs
from .golden.engines import sample_cycles
from .rtl import run_rtl

__all__ = ["check_against_golden", "format_report", "report_ok", "model_cycles_text", "spread"]

MAX_LISTED_MISMATCHES = 20


def spread(values):
    values = [int(v) for v in values]
    lo, hi = min(values), max(values)
    return {"min": lo, "max": hi, "mean": float(np.mean(values))}


def check_against_golden(network, x, *, pes=1, backend="amaranth", vcd=None, progress=None, log=None, engine="row",
                         window=None, delta_bits=0):
    """Simulate `network` on validated inputs x [batch, in] (on `engine`, with `window`, or the row engine's
    relative indices of `delta_bits` bits: mamhw.rtl.run_rtl); returns (rtl_outputs, report dict)."""
    outputs = network_forward(network, x, return_all=True)
    golden = outputs[-1]
    run = run_rtl(network, x, pes=pes, backend=backend, vcd=vcd, progress=progress, log=log, engine=engine,
                  window=window, delta_bits=delta_bits)
    model = run.model
    expected = sample_cycles(network, x, run.pes, engine, window, outputs, delta_bits)    # [batch, layers]
    diff = np.argwhere(run.outputs != golden)
    # Efficiency counts the layer's own entries: relative indices' fillers (weight 0) take cycles but do no work.
    fillers = [int(model.entries[k] - row_costs(layer.row_nnz).sum()) if delta_bits else 0
               for k, layer in enumerate(network)]
    layers = []
    for k, layer in enumerate(network):
        measured = run.layer_cycles[:, k]
        layers.append({
            "kind": layer.kind,
            "shape": [layer.n_out, layer.n_in],
            "nnz": layer.nnz,
            "density": layer.nnz / (layer.n_out * layer.n_in),
            "entries": int(model.entries[k]),
            **({"fillers": fillers[k]} if delta_bits else {}),
            "pe_load": [int(v) for v in model.load[k]],
            "model_cycles": int(model.per_layer[k]),
            "model_cycles_for_inputs": spread(expected[:, k]),
            "cycles": spread(measured),
            "cycles_match_model": bool(np.all(measured == expected[:, k])),
            "efficiency": (int(model.entries[k]) - fillers[k]) / (run.pes * int(model.per_layer[k])),
        })
    cycles_ok = bool(np.all(run.cycles == expected.sum(axis=1)) and np.all(run.counter == run.cycles)
                     and all(L["cycles_match_model"] for L in layers))
    report = {
        "backend": run.backend,
        "engine": engine,
        **({"window": window} if engine == "window" else {}),
        **({"delta_bits": int(delta_bits)} if delta_bits else {}),
        "pes": run.pes,
        "batch": int(x.shape[0]),
        "layers": layers,
        "entries": int(model.entries.sum()),
        **({"fillers": sum(fillers)} if delta_bits else {}),
        "model_cycles": int(model.total),
        "model_cycles_per_sample": [int(c) for c in expected.sum(axis=1)],
        "cycles_per_sample": [int(c) for c in run.cycles],
        "cycle_counter_per_sample": [int(c) for c in run.counter],
        "cycles_match_model": cycles_ok,
        "efficiency": float(model.entries.sum() - sum(fillers)) / (run.pes * max(int(run.cycles.max()), 1)),
        "mismatches": int(len(diff)),
        "mismatch_examples": [
            {"sample": int(s), "output": int(o), "rtl": int(run.outputs[s, o]), "golden": int(golden[s, o])}
            for s, o in diff[:MAX_LISTED_MISMATCHES]
        ],
    }
    return run.outputs, report


def _range(values):
    return f"{values['min']}" if values["min"] == values["max"] else f"{values['min']}..{values['max']}"


def model_cycles_text(counts, worst):
    """The cycle model's counts for some inputs (a :func:`spread`), and beside them the most any inputs take when
    the count depends on them (the window engine's zero skipping)."""
    if counts["min"] == counts["max"] == worst:
        return str(worst)
    return f"{_range(counts)} for these inputs, at most {worst}"


def report_ok(report):
    return report["mismatches"] == 0 and report["cycles_match_model"]


def format_report(report):
    """A few readable lines for the terminal."""
    engine = report.get("engine", "row")
    engine = f"window engine (W = {report['window']})" if engine == "window" else "row engine" + (
        f" (relative {report['delta_bits']}-bit indices)" if report.get("delta_bits") else "")
    lines = [f"backend {report['backend']}, {engine}, {report['pes']} PE{'s' if report['pes'] > 1 else ''}, "
             f"{report['batch']} sample{'s' if report['batch'] > 1 else ''}"]
    for k, L in enumerate(report["layers"]):
        c = L["cycles"]
        measured = f"{c['min']}" if c["min"] == c["max"] else f"{c['min']}..{c['max']}"
        load = "/".join(str(v) for v in L["pe_load"])
        lines.append(f"  layer {k}: {L['kind']} {L['shape'][0]}x{L['shape'][1]}, {L['nnz']} weights "
                     f"({100 * L['density']:.2f}%), {L['entries']} entries"
                     + (f" ({L['fillers']} fillers)" if L.get("fillers") else "") + f", PE load {load}: "
                     f"{measured} cycles (model {model_cycles_text(L['model_cycles_for_inputs'], L['model_cycles'])}), "
                     f"efficiency {L['efficiency']:.3f}")
    cyc, model = report["cycles_per_sample"], report["model_cycles_per_sample"]
    verdict = "match" if report["cycles_match_model"] else "DIFFER FROM"
    lines.append(f"cycles per sample: {_range(spread(cyc))} ({verdict} the model's "
                 f"{model_cycles_text(spread(model), report['model_cycles'])}), "
                 f"efficiency entries/(P*cycles) = {report['efficiency']:.3f}")
    n = report["batch"] * report["layers"][-1]["shape"][0]
    if report["mismatches"]:
        lines.append(f"MISMATCH: {report['mismatches']} of {n} outputs differ from the golden model")
    else:
        lines.append(f"outputs: all {n} equal the golden model bit for bit")
    return "\n".join(lines)
