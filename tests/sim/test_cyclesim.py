"""The cycle-model generator (sim/cyclesim/) against Amaranth's own simulator, cycle by cycle, on random
circuits: every operator the generator models, signed and unsigned, 1 to 100 bits, registers with enables and
resets, switches, memories with synchronous, transparent and asynchronous read ports and bytewise write enables;
the same with values of up to 260 bits (several machine words: ports, registers, memory words, shift amounts);
and the lane model (several copies, some inputs per copy) against the one-lane model."""

import functools
import operator
import os
import random
import subprocess

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mamhw.plumbing import run_tool
from mamhw.sim import cyclesim
from mamhw.sim.cyclesim.netlist import param


class RandomCircuit(wiring.Component):
    """A random synchronous circuit, the same for the same seed. `wide`: values of up to 260 bits too (an input,
    outputs, registers, memory words, shift amounts) and the operators on them."""

    def __init__(self, seed, wide=False):
        self.rng = rng = random.Random(seed)
        self.wide = wide
        self.top = 260 if wide else 100                 # the widest value
        self.in_shapes = [self._shape(rng.randint(1, 20)) for _ in range(rng.randint(2, 5))]
        if rng.random() < 0.3:
            self.in_shapes.append(self._shape(rng.randint(40, 64)))
        if wide:
            self.in_shapes.append(self._shape(rng.randint(65, self.top)))
        self.n_out = rng.randint(3, 8)
        self.out_shapes = [self._shape(rng.choice([rng.randint(1, 24), rng.randint(1, 64),
                                                   rng.randint(65, self.top)]))
                           for _ in range(self.n_out)] + [unsigned(self.top)]     # the last: all values xored
        super().__init__({**{f"in{i}": In(s) for i, s in enumerate(self.in_shapes)},
                          **{f"out{i}": Out(s) for i, s in enumerate(self.out_shapes)}})

    def _shape(self, width):
        return signed(width) if self.rng.random() < 0.5 else unsigned(width)

    def elaborate(self, platform):
        rng = self.rng
        m = Module()
        pool = [getattr(self, f"in{i}") for i in range(len(self.in_shapes))]

        def pick(max_width=64):
            fits = [v for v in pool if len(v) <= max_width]
            return rng.choice(fits) if fits else rng.choice(pool)[:max_width]

        big = self.top if self.wide else 64                # what a wide circuit stores and assigns

        def small(width=3):
            return pick()[:width]

        def select():                                  # two bits, for switches
            return Cat(small(1), small(1))

        def named(value):
            width = max(1, min(len(value), self.top))
            sig = Signal(signed(width) if rng.random() < 0.5 else unsigned(width))
            m.d.comb += sig.eq(value)
            pool.append(sig)
            return sig

        def value_of(shape):
            v = rng.getrandbits(shape.width)
            return v - (1 << shape.width) if shape.signed and v >> (shape.width - 1) else v

        regs = []
        for _ in range(rng.randint(1, 5)):
            shape = self._shape(rng.randint(1, 200 if self.wide else 48))
            reg = Signal(shape, init=value_of(shape), reset_less=rng.random() < 0.2)
            regs.append(reg)
            pool.append(reg)

        mems = []
        for _ in range(rng.randint(0, 2)):
            shape, depth = self._shape(rng.randint(1, 150 if self.wide else 20)), rng.randint(2, 12)
            if self.wide:
                # Every address in range: past the end Amaranth reads 0, where Yosys sees x (opt_mem may turn a
                # bit that is 1 in every word into a register that is 1 after any read).
                depth = 1 << (depth - 1).bit_length()
            width = shape.width
            mem = Memory(shape=shape, depth=depth,
                         init=[value_of(shape) for _ in range(depth)] if rng.random() < 0.7 else [])
            m.submodules[f"mem{len(mems)}"] = mem
            divisors = [g for g in range(1, width) if width % g == 0]
            gran = rng.choice([None, None, rng.choice(divisors)]) if divisors and not shape.signed else None
            wp = mem.write_port(granularity=gran)
            mems.append((mem, wp))
            for _ in range(rng.randint(1, 2)):
                kind = rng.choice(["sync", "transparent", "comb"])
                if kind == "comb":
                    rp = mem.read_port(domain="comb")
                else:
                    rp = mem.read_port(transparent_for=[wp] if kind == "transparent" else ())
                    m.d.comb += rp.en.eq(1 if rng.random() < 0.6 else small(1))
                m.d.comb += rp.addr.eq(small(4))        # before its data joins the pool: no loop
                pool.append(rp.data)
            m.d.comb += [wp.addr.eq(small(4)), wp.data.eq(pick(big)), wp.en.eq(pick(big)[:len(wp.en)])]

        ops = [
            lambda: pick(60) + pick(60), lambda: pick(60) - pick(60), lambda: pick(30) * pick(30),
            lambda: pick() & pick(), lambda: pick() | pick(), lambda: pick() ^ pick(), lambda: ~pick(),
            lambda: -pick(60), lambda: pick(56) << rng.randint(0, 8), lambda: pick() >> rng.randint(0, 8),
            lambda: pick(56) << small(3), lambda: pick() >> small(4), lambda: pick() == pick(),
            lambda: pick() != pick(), lambda: pick() < pick(), lambda: pick() <= pick(),
            lambda: pick() > pick(), lambda: pick() >= pick(), lambda: Mux(small(1), pick(), pick()),
            lambda: pick().bool(), lambda: pick().any(), lambda: pick().all(), lambda: pick().xor(),
            lambda: Cat(pick(30), pick(30)), lambda: pick().as_signed(), lambda: pick().as_unsigned(),
            lambda: abs(pick(60)), lambda: pick().rotate_left(rng.randint(0, 5)),
            lambda: pick(20).replicate(rng.randint(1, 3)), lambda: Array([pick(), pick(), pick()])[select()],
            lambda: pick()[rng.randint(0, 3):], lambda: pick(100) + pick(100), lambda: pick(100) ^ pick(100),
            lambda: pick(100) < pick(100), lambda: pick(64) * pick(64), lambda: pick(100) >> small(3),
            lambda: Cat(pick(64), pick(64))[:rng.randint(65, 100)],
        ]
        if self.wide:
            w = self.top
            ops += [
                lambda: pick(w) + pick(w), lambda: pick(w) - pick(w), lambda: pick(140) * pick(140),
                lambda: pick(w) & pick(w), lambda: pick(w) | pick(w), lambda: pick(w) ^ pick(w),
                lambda: ~pick(w), lambda: -pick(w), lambda: abs(pick(w)), lambda: pick(w).as_signed(),
                lambda: pick(w) == pick(w), lambda: pick(w) != pick(w), lambda: pick(w) < pick(w),
                lambda: pick(w) <= pick(w), lambda: pick(w) > pick(w), lambda: pick(w) >= pick(w),
                lambda: pick(w) << rng.randint(0, 70), lambda: pick(w) >> rng.randint(0, 130),
                lambda: pick(200) << small(4), lambda: pick(w) >> small(8),
                lambda: pick(w) >> pick(w)[:rng.randint(1, 80)],           # amounts of over 64 bits too
                # Cat: Amaranth 0.5's simulator sign-fills a bit_select of a signed value, even through
                # as_unsigned(), where its RTLIL (a $shift of an unsigned A) fills with 0.
                lambda: Cat(pick(w)).bit_select(small(7), rng.randint(1, 100)), lambda: pick(w).xor(),
                lambda: pick(w).bool(), lambda: pick(w).any(), lambda: pick(w).all(),
                lambda: Mux(small(1), pick(w), pick(w)), lambda: Array([pick(w), pick(w), pick(w)])[select()],
                lambda: Cat(pick(w), pick(w))[:rng.randint(65, w)], lambda: pick(w)[rng.randint(0, 100):],
                lambda: pick(w)[rng.randint(0, 60):][:rng.randint(1, 64)],  # a narrow slice across words
                lambda: pick(w).rotate_left(rng.randint(0, 100)), lambda: pick(100).replicate(2),
                lambda: pick(w).as_signed() >> pick(w)[:rng.randint(1, 10)],
            ]
        for _ in range(rng.randint(8, 24)):
            named(rng.choice(ops)())
        for _ in range(rng.randint(0, 2)):             # a switch: a parallel mux
            sig = Signal(self._shape(rng.randint(1, 200 if self.wide else 30)))
            with m.Switch(select()):
                for case in rng.sample(range(4), rng.randint(1, 3)):
                    with m.Case(case):
                        m.d.comb += sig.eq(pick(big))
                with m.Default():
                    if rng.random() < 0.5:
                        m.d.comb += sig.eq(pick(big))
            pool.append(sig)
        for reg in regs:                               # next values: plain, with an enable, or a switch
            how = rng.choice(["plain", "enable", "switch"])
            if how == "plain":
                m.d.sync += reg.eq(pick(big))
            elif how == "enable":
                with m.If(small(1)):
                    m.d.sync += reg.eq(pick(big))
            else:
                with m.Switch(select()):
                    with m.Case(0):
                        m.d.sync += reg.eq(pick(big))
                    with m.Case(1, 2):
                        m.d.sync += reg.eq(pick(big))
        for i in range(self.n_out):
            src = rng.choice(regs) if i < len(regs) else rng.choice(pool)
            m.d.comb += getattr(self, f"out{i}").eq(src)
        m.d.comb += getattr(self, f"out{self.n_out}").eq(functools.reduce(operator.xor, pool))   # all stay live
        return m


def _netlist(design, work):
    with open(os.path.join(work, "top.il"), "w") as f:
        f.write(rtlil.convert(design, name="top"))
    run_tool("YOSYS", ["-q", "-p", f"read_rtlil top.il; {cyclesim.YOSYS_PASSES}; write_json net.json"], work,
             "yosys.log")
    with open(os.path.join(work, "net.json")) as f:
        return f.read()


def _words(width):
    return (width + 63) // 64


def _harness(design, lanes, lane_inputs):
    """C++ main: per cycle, read every input (all its lanes, each as 64-bit words), tick, print every output (all
    lanes, as 32-bit chunks)."""
    lines = ['#include <cstdio>\n#include "model.h"\nusing namespace cyclesim;\nstatic Model top;\n',
             "static U lane(U v, int) { return v; }\n"]
    if lanes > 1:
        lines.append("static U lane(W v, int k) { return v[k]; }\n")
    n_words = max(_words(s.width) for s in design.in_shapes)
    lines.append("int main() {\n    long cycles;\n    if (scanf(\"%ld\", &cycles) != 1) return 1;\n"
                 f"    for (long t = 0; t < cycles; t++) {{\n        unsigned long long v[LANES][{n_words}];\n")
    for i, shape in enumerate(design.in_shapes):
        n = _words(shape.width)
        lines.append(f"        for (int k = 0; k < LANES; k++) for (int j = 0; j < {n}; j++) "
                     "if (scanf(\"%llu\", &v[k][j]) != 1) return 1;\n")
        vary = f"in{i}" in lane_inputs
        if n > 1 and vary:
            lines.append(f"        for (int k = 0; k < LANES; k++) for (int j = 0; j < {n}; j++) "
                         f"top.i_in{i}.w[j][k] = v[k][j];\n")
        elif n > 1:
            lines.append(f"        for (int j = 0; j < {n}; j++) top.i_in{i}.w[j] = v[0][j];\n")
        elif vary:
            lines.append(f"        {{ W w; for (int k = 0; k < LANES; k++) w[k] = v[k][0]; top.i_in{i} = w; }}\n")
        else:
            lines.append(f"        top.i_in{i} = v[0][0];\n")
    lines.append("        top.tick<false>();\n")
    for i, shape in enumerate(design.out_shapes):
        n = (shape.width + 31) // 32
        lines.append(f"        {{ W c[{n}]; top.o_out{i}_chunks(c); for (int k = 0; k < LANES; k++) "
                     f"for (int j = 0; j < {n}; j++) printf(\"%llu \", (unsigned long long)lane(c[j], k)); }}\n")
    lines.append("        printf(\"\\n\");\n    }\n    return 0;\n}\n")
    return "".join(lines)


def _build_model(design, netlist, folder, lanes=1, lane_inputs=()):
    os.makedirs(folder)
    with open(os.path.join(folder, "model.h"), "w") as f:
        f.write(cyclesim.generate(netlist, lanes=lanes, lane_inputs=lane_inputs))
    with open(os.path.join(folder, "main.cc"), "w") as f:
        f.write(_harness(design, lanes, lane_inputs))
    subprocess.run(["g++", "-std=c++14", "-O1", "-march=native", "-o", "sim", "main.cc"], cwd=folder, check=True)
    return folder


def _run_model(design, folder, stimulus, lanes):
    """Outputs [cycles][lane][output] (unsigned ints) of a built model on stimulus [cycles][lane][input]."""
    text = f"{len(stimulus)}\n" + "".join(
        " ".join(str((stimulus[t][k][i] >> (64 * j)) & ((1 << 64) - 1))
                 for i, shape in enumerate(design.in_shapes) for k in range(lanes) for j in range(_words(shape.width)))
        + "\n" for t in range(len(stimulus)))
    out = subprocess.run(["./sim"], cwd=folder, input=text, capture_output=True, text=True, check=True).stdout
    result = []
    for line in out.splitlines():
        words = [int(w) for w in line.split()]
        per_lane, pos = [[] for _ in range(lanes)], 0
        for shape in design.out_shapes:
            n = (shape.width + 31) // 32
            for k in range(lanes):
                per_lane[k].append(sum(words[pos + k * n + j] << (32 * j) for j in range(n)))
            pos += n * lanes
        result.append(per_lane)
    return result


def _run_amaranth(seed, wide, stimulus, lane):
    design = RandomCircuit(seed, wide)
    got = []

    async def testbench(ctx):
        for t in range(len(stimulus)):
            for i, shape in enumerate(design.in_shapes):
                v = stimulus[t][lane][i]
                if shape.signed and v >> (shape.width - 1):
                    v -= 1 << shape.width
                ctx.set(getattr(design, f"in{i}"), v)
            await ctx.tick()
            got.append([ctx.get(getattr(design, f"out{i}")) & ((1 << s.width) - 1)
                        for i, s in enumerate(design.out_shapes)])

    sim = Simulator(design)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return got


def _check_random_circuit(tmp_path_factory, seed, wide):
    """One lane against Amaranth's simulator (two stimuli), then four lanes against one."""
    work = str(tmp_path_factory.mktemp("circuit"))
    rng = random.Random(seed ^ 0x5EED)
    cycles, lanes = 24, 4
    design = RandomCircuit(seed, wide)
    netlist = _netlist(design, work)
    lane_inputs = [f"in{i}" for i in range(len(design.in_shapes)) if rng.random() < 0.6]
    shared = [[rng.getrandbits(s.width) for s in design.in_shapes] for _ in range(cycles)]
    stimulus = [[[rng.getrandbits(s.width) if f"in{i}" in lane_inputs else shared[t][i]
                  for i, s in enumerate(design.in_shapes)] for _ in range(lanes)] for t in range(cycles)]
    try:
        one = _build_model(design, netlist, os.path.join(work, "one"))
    except cyclesim.Unsupported as e:
        pytest.fail(f"the generator refused a circuit it should model: {e}")
    solo = [[c[0] for c in _run_model(design, one, [[stimulus[t][k]] for t in range(cycles)], 1)]
            for k in range(lanes)]
    for k in range(2):
        assert solo[k] == _run_amaranth(seed, wide, stimulus, k), f"stimulus {k}"
    many = _build_model(design, netlist, os.path.join(work, "many"), lanes, lane_inputs)
    got = _run_model(design, many, stimulus, lanes)
    for k in range(lanes):
        assert [c[k] for c in got] == solo[k], f"lane {k} of {lanes}"


@settings(max_examples=12)
@given(st.integers(0, 2**32 - 1))
@example(337388)            # a register bit with a constant D equal to its init, aliased: Yosys's opt stopped on it
def test_random_circuits_match_amaranth_cycle_by_cycle(tmp_path_factory, seed):
    _check_random_circuit(tmp_path_factory, seed, wide=False)


@settings(max_examples=12)
@given(st.integers(0, 2**32 - 1))
def test_wide_random_circuits_match_amaranth_cycle_by_cycle(tmp_path_factory, seed):
    _check_random_circuit(tmp_path_factory, seed, wide=True)


class Decoders(wiring.Component):
    """Case statements over a few bits, as the engine's output row map is: a row map of constants (one of them
    wider than 64 bits) over an unsigned select, whether any case was taken, and a signed select's cases."""

    sel: In(7)
    ssel: In(signed(4))
    row: Out(12)
    wide: Out(70)
    hit: Out(1)
    neg: Out(5)

    def elaborate(self, platform):
        m = Module()
        rng = random.Random(7)
        row, wide, hit, neg = Signal(12), Signal(70), Signal(), Signal(5)
        with m.Switch(self.sel):
            for case in range(0, 100, 3):
                with m.Case(case, case + 1) if case % 9 == 0 else m.Case(case):
                    m.d.comb += [row.eq(rng.getrandbits(12)), wide.eq(rng.getrandbits(70)), hit.eq(1)]
        with m.Switch(self.ssel):
            for case in (-8, -3, -1, 0, 5):
                with m.Case(case):
                    m.d.comb += neg.eq(case & 0x1f)
            with m.Default():
                m.d.comb += neg.eq(17)
        m.d.sync += [self.row.eq(row), self.wide.eq(wide), self.hit.eq(hit), self.neg.eq(neg)]   # registered
        return m


def test_decoders_become_tables_and_match_amaranth(tmp_path):
    """Every value of both selects, through the tables the generator makes of the case statements."""
    design = Decoders()
    netlist = _netlist(design, str(tmp_path))
    model = cyclesim.generate(netlist)
    assert model.count("// a decoder") >= 3                 # the row map, the wide map and `hit` are tables
    design.in_shapes = [unsigned(7), signed(4)]
    design.out_shapes = [unsigned(12), unsigned(70), unsigned(1), unsigned(5)]
    folder = str(tmp_path / "model")
    os.makedirs(folder)
    with open(os.path.join(folder, "model.h"), "w") as f:
        f.write(model)
    with open(os.path.join(folder, "main.cc"), "w") as f:
        f.write(_harness(design, 1, ()).replace("o_out0_", "o_row_").replace("o_out1_", "o_wide_")
                .replace("o_out2_", "o_hit_").replace("o_out3_", "o_neg_")
                .replace("i_in0", "i_sel").replace("i_in1", "i_ssel"))
    subprocess.run(["g++", "-std=c++14", "-O1", "-o", "sim", "main.cc"], cwd=folder, check=True)
    stimulus = [[[v, v % 16]] for v in range(128)]
    got = [c[0] for c in _run_model(design, folder, stimulus, 1)]
    dut, want = Decoders(), []

    async def testbench(ctx):
        for (v, sv), in stimulus:
            ctx.set(dut.sel, v)
            ctx.set(dut.ssel, sv - 16 if sv >= 8 else sv)
            await ctx.tick()
            want.append([ctx.get(dut.row), ctx.get(dut.wide), ctx.get(dut.hit), ctx.get(dut.neg)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert got == want and len({row for row, *_ in got}) > 30


class Banks(wiring.Component):
    """What the engine's buffers are: a case over a 2-bit bank number among computed values (a pick), a memory
    smaller than its address space (padded: writes past its end dropped, reads there 0) and one of 4 KiB
    (staggered by a cache line)."""

    in0: In(2)          # bank
    in1: In(8)          # data
    in2: In(12)         # address
    in3: In(1)          # write enable
    out0: Out(8)
    out1: Out(8)
    out2: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.small = small = Memory(shape=8, depth=5, init=[1, 2, 3, 4, 5])
        m.submodules.page = page = Memory(shape=8, depth=4096, init=[])
        ports = []
        for mem, addr in ((small, self.in2[:3]), (page, self.in2)):
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.addr.eq(addr), wp.data.eq(self.in1), wp.en.eq(self.in3), rp.addr.eq(addr + 1)]
            ports.append(rp)
        arms = [self.in1, self.in1 + 1, ports[0].data, ports[1].data]
        pick = Signal(8)
        with m.Switch(self.in0):
            for k, arm in enumerate(arms):
                with m.Case(k):
                    m.d.comb += pick.eq(arm)
        m.d.sync += self.out0.eq(pick)
        m.d.comb += [self.out1.eq(ports[0].data), self.out2.eq(ports[1].data)]
        return m


def test_picks_padded_and_staggered_memories_match_amaranth(tmp_path):
    design = Banks()
    design.in_shapes = [unsigned(2), unsigned(8), unsigned(12), unsigned(1)]
    design.out_shapes = [unsigned(8)] * 3
    netlist = _netlist(design, str(tmp_path))
    folder = _build_model(design, netlist, str(tmp_path / "model"))
    with open(os.path.join(folder, "model.h")) as f:
        model = f.read()
    assert "pick<U, 4>(" in model and "[8];   // small" in model and "[4160];   // page" in model
    rng = random.Random(3)
    stimulus = [[[rng.getrandbits(2), rng.getrandbits(8), rng.choice([rng.getrandbits(12), rng.getrandbits(3)]),
                  rng.getrandbits(1)]] for _ in range(200)]
    got = [c[0] for c in _run_model(design, folder, stimulus, 1)]
    dut, want = Banks(), []

    async def testbench(ctx):
        for (bank, data, addr, we), in stimulus:
            for port, v in zip((dut.in0, dut.in1, dut.in2, dut.in3), (bank, data, addr, we)):
                ctx.set(port, v)
            await ctx.tick()
            want.append([ctx.get(dut.out0), ctx.get(dut.out1), ctx.get(dut.out2)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert got == want


def test_refuses_what_it_does_not_model():
    with pytest.raises(cyclesim.Unsupported, match="no module"):
        cyclesim.generate({"modules": {}})
    netlist = {"modules": {"top": {"ports": {"clk": {"direction": "input", "bits": [2]}},
                                   "cells": {"d": {"type": "$divfloor", "parameters": {}, "connections": {}}},
                                   "netnames": {}}}}
    with pytest.raises(cyclesim.Unsupported, match="divfloor"):
        cyclesim.generate(netlist)
    assert param("01x1") == 0b0101 and param("") == 0 and param(6) == 6
