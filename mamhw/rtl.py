"""Run a network on the network engine with any simulation backend, the same way for all of them."""

from dataclasses import dataclass

import numpy as np

from .golden import ContractError
from .golden.assign import MAX_PES                # the limit the row assignment states
from .golden.cycles import NetworkCycles

__all__ = ["BACKENDS", "MAX_PES", "RtlRun", "run_rtl"]

BACKENDS = {
    "amaranth": "Amaranth's Python simulator",
    "compiled": "native code, cached per design: a cycle model of the Yosys netlist (several samples at once), "
                "or CXXRTL for a design it does not model",
    "compiled-cxxrtl": "Yosys CXXRTL + g++, native code, cached per design",
    "icarus": "cocotb + Icarus Verilog on the emitted Verilog",
    "netlist-ice40": "cocotb + Icarus on the iCE40 netlist synthesized by Yosys (SB_MAC16, block RAM models)",
    "netlist-ecp5": "cocotb + Icarus on the ECP5 netlist synthesized by Yosys (MULT18X18D, LUT RAM models)",
}


@dataclass
class RtlRun:
    backend: str
    pes: int
    outputs: np.ndarray         # int64 [batch, out]
    cycles: np.ndarray          # int64 [batch]: start to done, counted by the testbench
    counter: np.ndarray         # int64 [batch]: the engine's own cycle counter
    layer_cycles: np.ndarray    # int64 [batch, layers]: the engine's per-layer counters
    model: NetworkCycles
    stats: dict = None          # compiled backends: the native driver's own figures (CompiledDesign.stats)


def run_rtl(network, x, *, pes=1, backend="amaranth", vcd=None, progress=None, log=None, engine="row", window=None,
            delta_bits=0):
    """Simulate `network` (a golden Network) on validated inputs x [batch, in], on the row engine (with relative
    indices of `delta_bits` bits if > 0) or the window engine (`engine`, with `window` activations per window)."""
    if backend not in BACKENDS:
        raise ContractError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not 1 <= pes <= MAX_PES:
        raise ContractError(f"--pes must be in 1..{MAX_PES}, got {pes}")
    if vcd is not None and backend != "amaranth":
        raise ContractError("--vcd is available with --backend amaranth only")
    from .hw.dsp import FAMILY_DSP
    from .hw.engines import build_engine
    if backend == "amaranth":
        if engine == "window":
            from .sim.window_amaranth import simulate_window
            res = simulate_window(network, x, pes, window, vcd=vcd, progress=progress)
            return RtlRun(backend, pes, res.outputs, res.cycles, res.counter, res.layer_cycles, res.model)
        from .sim.engine_amaranth import simulate_network
        res = simulate_network(network, x, pes=pes, vcd=vcd, progress=progress, delta_bits=delta_bits)
        return RtlRun(backend, pes, res.outputs, res.cycles, res.counter, res.layer_cycles, res.model)

    # A netlist backend runs the design its family's flow synthesizes (on the ECP5: DSP instances, hw/dsp.py).
    family = backend.split("-", 1)[1] if backend.startswith("netlist-") else None
    dsp = FAMILY_DSP.get(family)          # None for the backends that run the design as built
    kind = engine
    engine, model = build_engine(network, pes, engine=kind, window=window, **({"dsp": dsp} if dsp else {}),
                                 **({"delta_bits": delta_bits} if delta_bits else {}))
    counters = (("cycles", 1), ("layer_cycles", len(network)))
    timeout = 4 * model.total + 64
    n_out = network.n_out
    stats = None
    if backend in ("compiled", "compiled-cxxrtl"):
        from .sim.compiled import build_compiled
        design = build_compiled(engine, n_in=network.n_in, n_out=n_out, x_bits=network.in_bits,
                                y_bits=network[-1].out_bits, counters=counters, timeout=timeout, log=log,
                                engine="auto" if backend == "compiled" else "cxxrtl")
        if log and design.cached:
            log("compiled simulator found in the cache")
        outputs, cycles, counts = design.run(x, progress=progress)
        stats = dict(design.stats or {}, engine=design.engine, cached=design.cached)
    elif backend == "icarus":
        from .sim.icarus import run_icarus
        outputs, cycles, counts = run_icarus(engine, x, n_out=n_out, counters=counters, timeout=timeout)
    else:
        from .sim.netlist import run_netlist
        outputs, cycles, counts = run_netlist(engine, x, family=family, n_out=n_out,
                                              counters=counters, timeout=timeout)
    return RtlRun(backend, pes, outputs, cycles, counts[:, 0], counts[:, 1:], model, stats)
