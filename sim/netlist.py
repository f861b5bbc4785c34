"""Post-synthesis netlist simulation: Yosys maps the design to FPGA cells (DSPs, block RAM with its initial
contents, LUTs), writes the netlist as Verilog, and Icarus simulates it against Yosys's own cell models.

This checks what RTL simulation cannot: DSP and memory inference, initial values, the synthesis itself.
"""

import os

from amaranth.back import rtlil

from ..plumbing import run_tool
from .cache import building, cache_dir, design_key, publish, verified
from .cell_models import CELL_DEFINES, cell_models
from .icarus import run_icarus_sources

__all__ = ["synthesize_netlist", "run_netlist"]

# ABC9, the default LUT mapper, crashes inside the WebAssembly Yosys on the engines (it exits without a message);
# the netlist only has to be correct here, so the built-in LUT mapping is used. DSP and memory mapping are kept.
# ECP5 has no -noabc, so its script stops before the ABC9 step and maps LUTs with plain ABC. Its block RAM
# (DP16KD) has no behavioural model in Yosys, so memories go to LUT RAM (TRELLIS_DPR16X4, initial values kept).
NETLIST_SCRIPTS = {
    "ice40": "synth_ice40 -dsp -noabc -top top",
    "ecp5": "synth_ecp5 -nobram -top top -run begin:map_luts; abc -lut 4; clean; "
            "synth_ecp5 -nobram -top top -run map_cells:",
}

def synthesize_netlist(component, family):
    """Synthesize to a Verilog netlist of `family` cells (cached by design); returns its path."""
    if family not in NETLIST_SCRIPTS:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(NETLIST_SCRIPTS)}")
    design = rtlil.convert(component, name="top")
    folder = os.path.join(cache_dir("netlist"), design_key("1", family, NETLIST_SCRIPTS[family], design))
    netlist = os.path.join(folder, "netlist.v")
    if verified(folder, ["netlist.v"]):
        return netlist
    with building(os.path.dirname(folder)) as work:
        with open(os.path.join(work, "top.il"), "w") as f:
            f.write(design)
        script = f"read_rtlil top.il; {NETLIST_SCRIPTS[family]}; write_verilog -noattr netlist.v"
        run_tool("YOSYS", ["-q", "-p", script], work, "yosys.log")
        publish(work, folder, ["netlist.v"])
    return netlist


def run_netlist(component, x, *, family, n_out, counters=(("cycles", 1),), timeout=1 << 30):
    """Synthesize `component` for `family` and simulate the netlist on x; returns (outputs, cycles, counters)."""
    netlist = synthesize_netlist(component, family)
    return run_icarus_sources([netlist, *cell_models(family)], x, n_out=n_out, y_latency=component.Y_LATENCY,
                              counters=counters, timeout=timeout, defines=CELL_DEFINES[family])
