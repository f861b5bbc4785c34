"""Verilator on the emitted Verilog of an engine, clocked by the compiled backend's own native driver
(compiled_driver.cc): the yardstick bench/sim_backends.py measures the compiled backend against. Not a backend of
`mam sim`; it runs only where `verilator` is installed.

The Verilog is what `mam export` writes (Amaranth's Verilog of the same engine). Verilator translates it with -O3,
two-state (x made 0 fast: --x-assign fast --x-initial fast) and no assertions, single-threaded; its C++ and the
driver are compiled with -O3 -march=native, as the compiled backend's cycle model is. Builds are cached by a hash of
everything that goes into them, as the compiled backend's are.
"""

import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources

from amaranth.back import verilog

from ..plumbing import ToolError
from .cache import cache_dir, design_key
from .compiled import CompiledDesign, sizes_header
from .cxxrtl import counter_reads

__all__ = ["VERILATOR_FLAGS", "CXXFLAGS", "version", "build_verilator"]

VERILATOR_FLAGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint",
                   "-Wno-style"]
CXXFLAGS = "-O3 -march=native"


def version():
    """Verilator's version line ("Verilator 5.006 2023-01-22 ..."), or None when it is not installed."""
    if shutil.which("verilator") is None:
        return None
    try:
        out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.strip() or None


def _ports_header(counters):
    """The driver's sim_* functions on Verilator's model of `top` (one lane). A port over 64 bits is a VlWide of
    32-bit words; a counter port holds its counters as 32-bit chunks."""
    reads = counter_reads(counters, lambda name, i: f"chunk(top->{name}, {i})")
    return (
        '#include "Vtop.h"\n#include "verilated.h"\n'
        "constexpr int LANES = 1;\n"
        "static VerilatedContext context;\n"
        "static Vtop *top = new Vtop{&context};\n"
        "template<class T> static uint32_t chunk(const T &v, int i) { return (uint32_t)((uint64_t)v >> (32 * i)); }\n"
        "template<std::size_t N> static uint32_t chunk(const VlWide<N> &v, int i) { return v[i]; }\n"
        "static inline void sim_tick() { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }\n"
        "static inline void sim_reset() { top->rst = 1; sim_tick(); top->rst = 0; sim_tick(); }\n"
        "static inline void sim_set_x_we(uint64_t v) { top->x_we = v; }\n"
        "static inline void sim_set_x_addr(uint64_t v) { top->x_addr = v; }\n"
        "static inline void sim_set_x_data(const uint64_t *v) { top->x_data = v[0]; }\n"
        "static inline void sim_set_start(uint64_t v) { top->start = v; }\n"
        "static inline void sim_set_y_addr(uint64_t v) { top->y_addr = v; }\n"
        "static inline bool sim_done(int) { return top->done; }\n"
        "static inline uint64_t sim_y_data(int) { return top->y_data; }\n"
        f"static inline void sim_counters(int, int64_t *dst) {{\n    (void)dst;\n{''.join(reads)}}}\n"
    )


def build_verilator(component, *, n_in, n_out, x_bits, y_bits, counters=(("cycles", 1),), timeout=1 << 40,
                    log=None):
    """Verilate `component` (an engine) with the compiled backend's driver, or reuse the cached build; a
    CompiledDesign (engine "verilator") whose run() streams a batch as the compiled backend's does."""
    ver = version()
    if ver is None:
        raise ToolError("Verilator not found (apt-get install verilator)")
    text = verilog.convert(component, name="top")
    driver = resources.files(__package__).joinpath("compiled_driver.cc").read_text()
    sizes = sizes_header(n_in, n_out, x_bits, y_bits, component.Y_LATENCY, counters, timeout)
    header = sizes + _ports_header(counters)
    key = design_key("verilator", ver, " ".join(VERILATOR_FLAGS), CXXFLAGS, text, driver, header)
    folder = os.path.join(cache_dir("verilator"), key)
    exe = os.path.join(folder, "sim")
    result = dict(n_in=n_in, n_out=n_out, counters=tuple(counters), engine="verilator", lanes=1)
    if os.path.exists(exe):
        return CompiledDesign(exe, cached=True, **result)
    root = os.path.dirname(folder)
    os.makedirs(root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=root)
    try:
        for name, content in (("top.v", text), ("driver.cc", driver), ("design_ports.h", header)):
            with open(os.path.join(work, name), "w") as f:
                f.write(content)
        if log:
            log("translating the Verilog (verilator)")
        _run(["verilator", "--cc", "--exe", *VERILATOR_FLAGS, "--top-module", "top", "-CFLAGS", f"-I{work}",
              "-o", "sim", "top.v", "driver.cc"], work, "verilator.log")
        if log:
            log("compiling Verilator's C++ (make, g++)")
        opt = f"OPT_FAST={CXXFLAGS}", f"OPT_SLOW={CXXFLAGS}", f"OPT_GLOBAL={CXXFLAGS}"
        _run(["make", "-C", "obj_dir", "-f", "Vtop.mk", *opt], work, "make.log")
        shutil.copy(os.path.join(work, "obj_dir", "sim"), os.path.join(work, "sim"))
        shutil.rmtree(os.path.join(work, "obj_dir"), ignore_errors=True)
    except ToolError:
        raise                           # keep the folder: the error message points at its log
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        os.replace(work, folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)      # another process published the same build first
    return CompiledDesign(exe, cached=False, **result)


def _run(cmd, cwd, log_name):
    path = os.path.join(cwd, log_name)
    with open(path, "w") as log:
        proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if re.search(r"error", line, re.I)]
        raise ToolError(f"{cmd[0]} failed (exit {proc.returncode}): {lines[0] if lines else 'see log'} "
                        f"(full log: {path})")
