"""Event-driven simulation of the emitted Verilog: Icarus Verilog driven by cocotb (cocotb_tools.runner)."""

import os
import shutil
import tempfile

import numpy as np
from amaranth.back import verilog

from ..plumbing import ToolError
from .cache import cache_dir, design_key, seal, verified
from ..hw.weight_ram import SPRAM
from .cell_models import CELL_DEFINES, cell_models
from .dsp_model import mult18x18d_model_file

__all__ = ["run_icarus", "run_icarus_sources", "write_verilog"]


def write_verilog(component, path):
    text = verilog.convert(component, name="top")
    with open(path, "w") as f:
        f.write(text)
    return text


def run_icarus(component, x, *, n_out, counters=(("cycles", 1),), timeout=1 << 30, weights=None):
    """Simulate `component` (engine port convention; ``Y_LATENCY`` cycles from y_addr to y_data) on x [batch, in];
    returns (outputs, cycles, counters).
    `weights`: for an engine whose entry words are loaded at run time (hw/weight_ram.py), each PE's words (a list
    per PE, empty for a PE not built), written through its loading ports before the batch."""
    text = verilog.convert(component, name="top")
    folder = os.path.join(cache_dir("icarus"), design_key("2", text))
    src = os.path.join(folder, "top.v")
    if not verified(folder, ["top.v"]):
        os.makedirs(folder, exist_ok=True)
        with open(src, "w") as f:
            f.write(text)
        seal(folder, ["top.v"])
    # Compiled as Verilog-2005, the language Yosys writes. Under SystemVerilog rules (the runner's -g2012) a
    # variable's initializer raises no event, so an `always @*` block whose inputs all sit at their initial values
    # is never run: its output stays X (a decode of a register that starts at 0 and is loaded with 0), and X can
    # circulate through registers the hardware starts at known values.
    # A design with ECP5 DSP instances (hw/dsp.py) runs against their model, one with SPRAMs (hw/weight_ram.py)
    # against Yosys's iCE40 cell models.
    models, defines = [mult18x18d_model_file()] if "MULT18X18D" in text else [], {}
    if SPRAM in text:
        models += cell_models("ice40")
        defines.update(CELL_DEFINES["ice40"])
    return run_icarus_sources([src, *models], x, n_out=n_out, y_latency=component.Y_LATENCY, counters=counters,
                              timeout=timeout, build_args=["-g2005"], defines=defines, weights=weights)


def run_icarus_sources(sources, x, *, n_out, y_latency, counters=(("cycles", 1),), timeout=1 << 30, defines=None,
                       build_args=(), weights=None):
    """Run the cocotb engine testbench on Verilog `sources` whose top module is `top` (its y_data `y_latency`
    cycles after y_addr); `build_args` go to iverilog; `weights` as :func:`run_icarus` takes them."""
    if shutil.which("iverilog") is None:
        raise ToolError("the icarus backend needs Icarus Verilog: iverilog not found (apt-get install iverilog)")
    try:
        from cocotb_tools.runner import get_runner
    except ImportError:
        raise ToolError("the icarus backend needs cocotb 2.x (pip install -e '.[test]')") from None
    build = os.path.join(os.path.dirname(sources[0]), "sim_build")
    verified(build, ["sim.vvp"])                # a damaged build is removed, so the runner builds it again
    runner = get_runner("icarus")
    with tempfile.TemporaryDirectory(prefix="mamhw-icarus-") as tmp:
        job, result = os.path.join(tmp, "job.npz"), os.path.join(tmp, "result.npz")
        loads = [(p, a, w) for p, words in enumerate(weights or []) for a, w in enumerate(words)]
        np.savez(job, x=np.asarray(x, dtype=np.int64), n_out=n_out, y_latency=y_latency, timeout=timeout,
                 counters=np.array([(str(n), str(c)) for n, c in counters], dtype=str),
                 weights=np.array(loads, dtype=np.int64).reshape(-1, 3))
        runner.build(sources=sources, hdl_toplevel="top", build_dir=build, timescale=("1ns", "1ps"),
                     defines=dict(defines or {}), includes=sorted({os.path.dirname(p) for p in sources}),
                     build_args=list(build_args), log_file=os.path.join(tmp, "build.log"))
        seal(build, ["sim.vvp"])
        try:
            runner.test(hdl_toplevel="top", test_module="mamhw.sim.cocotb_engine", build_dir=build,
                        test_dir=tmp, extra_env={"MAMHW_COCOTB_IN": job, "MAMHW_COCOTB_OUT": result},
                        log_file=os.path.join(tmp, "test.log"))
        except SystemExit:
            pass                        # the runner exits on a failed test; the missing result says so below
        if not os.path.exists(result):
            log = _keep_log(tmp, build)
            raise RuntimeError(f"cocotb run produced no result ({_failure(log)}); see {log}")
        with np.load(result) as r:
            return r["outputs"], r["cycles"], r["counters"]


def _keep_log(tmp, build):
    dst = os.path.join(build, "last-test.log")
    src = os.path.join(tmp, "test.log")
    if os.path.exists(src):
        shutil.copy(src, dst)
    return dst


def _failure(log):
    if not os.path.exists(log):
        return "no log"
    with open(log, errors="replace") as f:
        for line in f:
            if "AssertionError:" in line:
                return line.split("AssertionError:", 1)[1].strip()
    return "the test failed"
