"""Run a model on the RTL, compare with the golden model and the cycle model, and build the report."""

import numpy as np

from .golden import network_forward
from .sim.pe_amaranth import simulate_pe

__all__ = ["check_against_golden", "format_report"]

MAX_LISTED_MISMATCHES = 20


def check_against_golden(network, x, *, vcd=None, progress=None):
    """Simulate `network` on inputs x (validated, [batch, in]); returns (rtl_outputs, report dict)."""
    if len(network) != 1:
        raise NotImplementedError("networks run on the network engine")
    layer = network[0]
    golden = network_forward(network, x)
    res = simulate_pe(layer, x, vcd=vcd, progress=progress)
    diff = np.argwhere(res.outputs != golden)
    cycles = res.cycles.tolist()
    report = {
        "backend": "amaranth",
        "pes": 1,
        "batch": int(x.shape[0]),
        "layers": [{
            "kind": layer.kind,
            "shape": [layer.n_out, layer.n_in],
            "nnz": layer.nnz,
            "density": layer.nnz / (layer.n_out * layer.n_in),
            "entries": res.entries,
            "model_cycles": res.model_cycles,
        }],
        "entries": res.entries,
        "model_cycles": res.model_cycles,
        "cycles_per_sample": cycles,
        "cycle_counter_per_sample": res.counter.tolist(),
        "cycles_match_model": bool(np.all(res.cycles == res.model_cycles) and np.all(res.counter == res.cycles)),
        "entries_per_cycle": res.entries / max(cycles),
        "mismatches": int(len(diff)),
        "mismatch_examples": [
            {"sample": int(s), "output": int(o), "rtl": int(res.outputs[s, o]), "golden": int(golden[s, o])}
            for s, o in diff[:MAX_LISTED_MISMATCHES]
        ],
    }
    return res.outputs, report


def format_report(report):
    """A few readable lines for the terminal."""
    cyc = report["cycles_per_sample"]
    lo, hi = min(cyc), max(cyc)
    cyc_text = f"{lo}" if lo == hi else f"{lo}..{hi}"
    lines = []
    for k, L in enumerate(report["layers"]):
        lines.append(f"layer {k}: {L['kind']} {L['shape'][0]}x{L['shape'][1]}, {L['nnz']} nonzero weights "
                     f"({100 * L['density']:.2f}%), {L['entries']} entries")
    verdict = "match" if report["cycles_match_model"] else "DIFFER FROM"
    lines.append(f"cycles per sample: {cyc_text} (model {report['model_cycles']}: {verdict} model), "
                 f"{report['entries_per_cycle']:.3f} entries/cycle")
    n = report["batch"] * report["layers"][-1]["shape"][0]
    if report["mismatches"]:
        lines.append(f"MISMATCH: {report['mismatches']} of {n} outputs differ from the golden model")
    else:
        lines.append(f"outputs: all {n} equal the golden model bit for bit ({report['batch']} samples)")
    return "\n".join(lines)
