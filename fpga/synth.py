"""Yosys synthesis of a design to cells, with the cell counts from Yosys's own `stat -json`."""

import json
import os

from amaranth.back import rtlil

from ..plumbing import run_tool

__all__ = ["FAMILIES", "synthesize", "write_rtlil"]

# Yosys synthesis script per FPGA family; iCE40 needs -dsp to map multiplies to SB_MAC16.
FAMILIES = {
    "ice40": "synth_ice40 -dsp -top top",
    "ecp5": "synth_ecp5 -top top",
}


def write_rtlil(component, path):
    """RTLIL of a component; its ports become top-level ports, so the outputs are observable and kept."""
    with open(path, "w") as f:
        f.write(rtlil.convert(component, name="top"))


def synthesize(component, family, workdir):
    """Synthesize `component` for `family` in `workdir`; returns {cell type: count} from Yosys's stat."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    os.makedirs(workdir, exist_ok=True)
    write_rtlil(component, os.path.join(workdir, "top.il"))
    script = f"read_rtlil top.il; {FAMILIES[family]}; tee -q -o stat.json stat -json"
    run_tool("YOSYS", ["-q", "-p", script], workdir, "yosys.log")
    with open(os.path.join(workdir, "stat.json")) as f:
        stat = json.load(f)
    return dict(stat["design"]["num_cells_by_type"])
