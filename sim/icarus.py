"""Event-driven simulation of the emitted Verilog: Icarus Verilog driven by cocotb (cocotb_tools.runner)."""

import os
import shutil
import tempfile

import numpy as np
from amaranth.back import verilog

from ..fpga.toolchain import ToolError
from .cache import cache_dir, design_key

__all__ = ["run_icarus", "write_verilog"]


def write_verilog(component, path):
    text = verilog.convert(component, name="top")
    with open(path, "w") as f:
        f.write(text)
    return text


def run_icarus(component, x, *, n_out, counters=("cycles",), timeout=1 << 30):
    """Simulate `component` (engine port convention) on x [batch, in]; returns (outputs, cycles, counters)."""
    if shutil.which("iverilog") is None:
        raise ToolError("the icarus backend needs Icarus Verilog: iverilog not found (apt-get install iverilog)")
    try:
        from cocotb_tools.runner import get_runner
    except ImportError:
        raise ToolError("the icarus backend needs cocotb 2.x (pip install -e '.[test]')") from None
    text = verilog.convert(component, name="top")
    build = os.path.join(cache_dir("icarus"), design_key("1", text))
    os.makedirs(build, exist_ok=True)
    src = os.path.join(build, "top.v")
    if not os.path.exists(src):
        with open(src, "w") as f:
            f.write(text)
    runner = get_runner("icarus")
    with tempfile.TemporaryDirectory(prefix="mamhw-icarus-") as tmp:
        job, result = os.path.join(tmp, "job.npz"), os.path.join(tmp, "result.npz")
        np.savez(job, x=np.asarray(x, dtype=np.int64), n_out=n_out, timeout=timeout,
                 counters=np.array(counters, dtype=str))
        runner.build(sources=[src], hdl_toplevel="top", build_dir=build, timescale=("1ns", "1ps"), log_file=os.path.join(tmp, "build.log"))
        runner.test(hdl_toplevel="top", test_module="mamhw.sim.cocotb_engine", build_dir=build, test_dir=tmp,
                    extra_env={"MAMHW_COCOTB_IN": job, "MAMHW_COCOTB_OUT": result},
                    log_file=os.path.join(tmp, "test.log"))
        if not os.path.exists(result):
            raise RuntimeError(f"cocotb run produced no result; see {_keep_log(tmp, build)}")
        with np.load(result) as r:
            return r["outputs"], r["cycles"], r["counters"]


def _keep_log(tmp, build):
    dst = os.path.join(build, "last-test.log")
    src = os.path.join(tmp, "test.log")
    if os.path.exists(src):
        shutil.copy(src, dst)
    return dst
