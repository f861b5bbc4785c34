"""Run a layer on the PE in Amaranth's simulator: outputs and measured cycles for each input vector."""

from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from ..golden import encode, pe_cycles
from ..hw.single_pe import SinglePE

__all__ = ["build_pe", "SimResult", "simulate_pe", "write_inputs", "run_testbench"]

CLOCK_PERIOD = 1e-8        # 100 MHz, only for the time axis of waveforms


def build_pe(layer, encoding=None, **options):
    """Elaborate-ready PE with its memories (hw/single_pe.py) for a validated layer, weights baked in from the sparse
    encoding; `options` go to it (``unroll``, ``dsp``, ``pe_class``)."""
    enc = encode(layer) if encoding is None else encoding
    return SinglePE(kind=layer.kind, in_bits=layer.in_bits, w_bits=layer.w_bits, out_bits=layer.out_bits,
                    mult=layer.mult, shift=layer.shift, relu=layer.relu, n_in=layer.n_in,
                    weight=enc.weight, index=enc.index, last=enc.last, dense=enc.dense, bias=layer.bias,
                    slice_last=enc.slice_last, relu_in=layer.relu_in, **options)


@dataclass
class SimResult:
    outputs: np.ndarray         # int64 [batch, out]
    cycles: np.ndarray          # int64 [batch]: cycles from start to done, counted by the testbench
    counter: np.ndarray         # int64 [batch]: the PE's own cycle counter
    entries: int
    model_cycles: int           # the cycle model's prediction for one sample


def simulate_pe(layer, x, *, vcd=None, load_via_port=False, progress=None):
    """Run every row of x ([batch, in], already validated) through the PE.

    Activations are placed in the buffer directly (zero cycles) unless `load_via_port`, which drives the write
    port one value per cycle as a host would. The loading is not part of the counted cycles either way.
    """
    enc = encode(layer)
    pe = build_pe(layer, enc)
    model = pe_cycles(enc.row_nnz, SinglePE.LATENCY)
    batch = x.shape[0]
    outputs = np.zeros((batch, layer.n_out), dtype=np.int64)
    cycles = np.zeros(batch, dtype=np.int64)
    counter = np.zeros(batch, dtype=np.int64)
    timeout = 4 * model + 64

    async def testbench(ctx):
        for s in range(batch):
            if load_via_port:
                await write_inputs(ctx, pe, x[s])
            else:
                for i, v in enumerate(x[s]):
                    ctx.set(pe.act_mem.data[i], int(v))
            ctx.set(pe.start, 1)
            await ctx.tick()
            ctx.set(pe.start, 0)
            cycles[s] = await _cycles_to_done(ctx, pe, model, timeout)
            counter[s] = ctx.get(pe.cycles)
            for r in range(layer.n_out):
                outputs[s, r] = ctx.get(pe.out_mem.data[r])
            if progress is not None:
                progress(s + 1, batch)

    run_testbench(pe, testbench, vcd)
    return SimResult(outputs=outputs, cycles=cycles, counter=counter, entries=enc.entries, model_cycles=model)


async def write_inputs(ctx, dut, values):
    """Drive `dut`'s input write port (``x_we``/``x_addr``/``x_data``) with one value per cycle, as a host does."""
    ctx.set(dut.x_we, 1)
    for i, v in enumerate(values):
        ctx.set(dut.x_addr, i)
        ctx.set(dut.x_data, int(v))
        await ctx.tick()
    ctx.set(dut.x_we, 0)


async def start_and_wait(ctx, dut, timeout, expected=0):
    """Pulse `dut`'s ``start`` for a cycle and wait for ``done``; returns the cycles from the start edge to done
    (:func:`_cycles_to_done`; `expected`, the cycle model's count, lets it jump ahead)."""
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    return await _cycles_to_done(ctx, dut, expected, timeout)


async def read_outputs(ctx, dut, out):
    """Read every output through `dut`'s host port (``y_addr``, then ``y_data`` Y_LATENCY cycles later), one row
    per cycle, into `out` [n_out]."""
    lag = dut.Y_LATENCY
    for t in range(len(out) + lag):
        ctx.set(dut.y_addr, min(t, len(out) - 1))
        if t >= lag:
            out[t - lag] = ctx.get(dut.y_data)
        await ctx.tick()


def run_testbench(dut, testbench, vcd=None):
    """Clock `dut` and run `testbench` to its end in Amaranth's simulator, with an optional VCD of everything."""
    sim = Simulator(dut)
    sim.add_clock(CLOCK_PERIOD)
    sim.add_testbench(testbench)
    if vcd is None:
        sim.run()
    else:
        with sim.write_vcd(str(vcd)):
            sim.run()


async def _cycles_to_done(ctx, dut, expected, timeout):
    """Cycles from the start edge until `done`, counted by the testbench independently of the DUT's counter.

    Jumping straight to the expected cycle is about 1.5x faster than testing `done` after every tick. `done` is
    a level that stays high, so a run that ends early is still seen; its exact length is then the DUT's own
    counter, and the result differs from `expected` either way.
    """
    if expected > 1:
        await ctx.tick().repeat(expected - 1)
        if ctx.get(dut.done):
            return int(ctx.get(dut.cycles))           # ended early: report what the hardware counted
    n = max(expected - 1, 0)
    while not ctx.get(dut.done):
        if n >= timeout:
            raise RuntimeError(f"no `done` within {timeout} cycles" + (f" (model: {expected})" if expected else ""))
        await ctx.tick()
        n += 1
    return n
