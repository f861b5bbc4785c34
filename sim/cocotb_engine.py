"""cocotb testbench for an engine's emitted Verilog: load the entry words if the engine takes them at run time,
then load each input vector through the write port, start, count cycles to `done`, read the results back. Inputs
and outputs travel through the .npz files named by the environment variables MAMHW_COCOTB_IN and MAMHW_COCOTB_OUT
(written by mamhw.sim.icarus)."""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


async def _edge(dut):
    """One clock edge, then settle: values read afterwards are those the edge produced."""
    await RisingEdge(dut.clk)
    await ReadOnly()


@cocotb.test()
async def run_batch(dut):
    job = np.load(os.environ["MAMHW_COCOTB_IN"])
    x, n_out, timeout, latency = job["x"], int(job["n_out"]), int(job["timeout"]), int(job["y_latency"])
    counters = [(str(name), int(count)) for name, count in job["counters"]]
    batch = x.shape[0]
    outputs = np.zeros((batch, n_out), dtype=np.int64)
    cycles = np.zeros(batch, dtype=np.int64)
    counts = np.zeros((batch, sum(c for _, c in counters)), dtype=np.int64)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("x_we", "start", "x_addr", "x_data", "y_addr"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await _edge(dut)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    # Entry words of an engine that loads them at run time (pe, address, word), one per cycle.
    if len(job["weights"]):
        dut.w_we.value = 1
        for pe, address, word in job["weights"].tolist():
            dut.w_pe.value, dut.w_addr.value, dut.w_data.value = pe, address, word
            await FallingEdge(dut.clk)
        dut.w_we.value = 0

    for s in range(batch):
        dut.x_we.value = 1
        for i, v in enumerate(x[s]):
            dut.x_addr.value = i
            dut.x_data.value = int(v)
            await FallingEdge(dut.clk)
        dut.x_we.value = 0
        dut.start.value = 1
        await _edge(dut)                              # the edge that takes `start`
        await FallingEdge(dut.clk)
        dut.start.value = 0
        n = 0
        while True:
            await _edge(dut)
            n += 1
            if int(dut.done.value):
                break
            assert n < timeout, f"no done within {timeout} cycles"
        cycles[s] = n
        counts[s] = [(int(getattr(dut, name).value) >> (32 * i)) & 0xFFFFFFFF
                     for name, count in counters for i in range(count)]
        for t in range(n_out + latency - 1):          # row t addressed, row t - latency + 1 read
            await FallingEdge(dut.clk)
            dut.y_addr.value = min(t, n_out - 1)
            await _edge(dut)
            if t >= latency - 1:
                outputs[s, t - latency + 1] = dut.y_data.value.to_signed()
        await FallingEdge(dut.clk)
    np.savez(os.environ["MAMHW_COCOTB_OUT"], outputs=outputs, cycles=cycles, counters=counts)
