"""`mam build`: a bitstream for a board: the network engine behind its UART host link, clocked by a PLL.

Flow: PLL setting for the requested clock -> BoardTop (PLL + LinkTop) as RTLIL -> Yosys (the families' scripts
of fpga/pnr.py) -> nextpnr with the board's pins, over seeds until timing closes -> icepack / ecppack. The report
(JSON and text) holds utilization, Fmax, the critical path, the PLL, the UART divisor and the cycle model.
A bitstream is written only when timing closes at the requested clock: one that does not is not safe to load.
"""

import contextlib
import json
import os

from amaranth.back import rtlil
from amaranth.hdl import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

from ..golden import ContractError
from ..plumbing import ToolError, save_text
from .boards import build_link_top, uart_divisor
from .pll import solve_pll
from .pnr import SYNTH_SCRIPTS, place_and_route
from .structure import engine_options
from .targets import get_target
from ..plumbing import run_tool

__all__ = ["BoardTop", "build_bitstream", "BITSTREAM"]

BITSTREAM = {"ice40": "top.bin", "ecp5": "top.bit"}


class BoardTop(Elaboratable):
    """Pins ``clk`` (the board oscillator), ``rx``, ``tx``; the PLL makes the ``sync`` clock of `link_top`, held
    in reset until the PLL locks."""

    def __init__(self, link_top, pll):
        self.link_top, self.pll = link_top, pll
        self.clk, self.rx, self.tx = Signal(name="clk"), Signal(name="rx", init=1), Signal(name="tx", init=1)

    def elaborate(self, platform):
        m = Module()
        clk_engine, locked = Signal(), Signal()
        p = self.pll.params
        if self.pll.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                p_FILTER_RANGE=p["FILTER_RANGE"], i_PACKAGEPIN=self.clk, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk_engine, o_LOCK=locked)
        else:
            m.submodules.pll = Instance(
                "EHXPLLL", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_FEEDBK_PATH="CLKOP", p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_FPHASE=0,
                a_FREQUENCY_PIN_CLKI=f"{self.pll.f_in / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{self.pll.mhz:g}",
                i_CLKI=self.clk, o_CLKOP=clk_engine, i_CLKFB=clk_engine, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0,
                i_ENCLKOP=0, o_LOCK=locked)
        m.domains.sync = cd = ClockDomain("sync")
        m.d.comb += cd.clk.eq(clk_engine)
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")
        m.submodules.top = top = self.link_top
        m.d.comb += [top.rx.eq(self.rx), self.tx.eq(top.tx)]
        return m


def _constraints(board, family):
    pins = {"clk": board.clk_pin, "rx": board.rx_pin, "tx": board.tx_pin}
    if family == "ice40":
        # rx is pulled up, as amaranth-boards' iCEBreaker table has it: idle-high while the FTDI does not drive it.
        return "top.pcf", "".join(f"set_io {'-pullup yes ' if n == 'rx' else ''}{n} {p}\n" for n, p in pins.items())
    text = "".join(f'LOCATE COMP "{n}" SITE "{p}";\nIOBUF PORT "{n}" IO_TYPE=LVCMOS33;\n' for n, p in pins.items())
    return "top.lpf", text + f'FREQUENCY PORT "clk" {board.clk_hz / 1e6:g} MHZ;\n'


def build_bitstream(network, board, *, pes, freq_mhz, out_dir, seeds=1, log=None, spram=False, engine="row",
                    window=None, delta_bits=0):
    """Build the bitstream of `network` on `pes` PEs of `engine` (with `window`, hw/specs.py) for `board` at
    `freq_mhz`; returns the report dict (the caller writes it, with what it adds). `spram`: the entry words in the
    target's SPRAM, loaded over the link, with relative indices of `delta_bits` bits if > 0."""
    log = log or (lambda msg: None)
    target = get_target(board.target)
    family = target.family
    pll = solve_pll(family, board.clk_hz, freq_mhz * 1e6)
    divisor = uart_divisor(pll.f_out, board.baud)
    link_top = build_link_top(network, pes, divisor=divisor, timeout=max(int(pll.f_out * 0.01), 1),
                              options=engine_options(target, spram=spram, delta_bits=delta_bits), engine=engine,
                              window=window)
    top = BoardTop(link_top, pll)
    os.makedirs(out_dir, exist_ok=True)
    # A bitstream of an earlier build in this folder goes first: it never stays beside a report of this one.
    for name in BITSTREAM.values():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "top.il"), "w") as f:
        f.write(rtlil.convert(top, name="top", ports=[top.clk, top.rx, top.tx]))
    cons_name, cons_text = _constraints(board, family)
    save_text(os.path.join(out_dir, cons_name), cons_text)

    log(f"synthesizing for {target.name} (yosys)")
    script = (f"read_rtlil top.il; {SYNTH_SCRIPTS[family]}; tee -q -o stat.json stat -json; "
              "write_json netlist.json")
    run_tool("YOSYS", ["-q", "-p", script], out_dir, "yosys.log")
    with open(os.path.join(out_dir, "stat.json")) as f:
        cells = {k: v for k, v in json.load(f)["design"]["num_cells_by_type"].items() if not k.startswith("$")}

    placed = "top.asc" if family == "ice40" else "top.config"
    cons_flag = "--pcf" if family == "ice40" else "--lpf"
    out_flag = "--asc" if family == "ice40" else "--textcfg"
    runs, unplaced, tried = [], None, 0
    for seed in range(1, seeds + 1):
        log(f"nextpnr seed {seed}/{seeds} at {pll.mhz:.2f} MHz")
        tried = seed
        try:
            run = place_and_route(os.path.join(out_dir, "netlist.json"), target, pll.mhz, seed, out_dir,
                                  extra=(cons_flag, cons_name, out_flag, placed))
        except ToolError as e:
            # A design that fills the device may place on one seed and not on another: try the next.
            if "legal placement" not in str(e):
                raise
            log(f"seed {seed} found no legal placement")
            unplaced = e
            continue
        run["seed"] = seed
        runs.append(run)
        if run["fmax"] >= pll.mhz:
            break
    if not runs:
        raise ToolError(f"no legal placement on {seeds} seed{'s' if seeds > 1 else ''}: the design fills the "
                        f"{target.name} too tightly (try fewer --pes, or more --seeds); last: {unplaced}")
    best = max(runs, key=lambda r: r["fmax"])
    met = best["fmax"] >= pll.mhz
    report = {
        "board": board.name, "target": target.name, "pes": pes, "engine": engine,
        **({"window": window} if engine == "window" else {}), "clock_mhz": pll.mhz,
        "pll": {"f_in_mhz": pll.f_in / 1e6, **pll.params}, "uart": {"baud": board.baud, "divisor": divisor},
        "cells": cells, "utilization": best["utilization"], "available": best["available"],
        "fmax_mhz": best["fmax"], "seed": best["seed"], "seeds_tried": tried, "timing_met": met,
        "critical_path": best["critical_path"], "placement_density": best["placement_density"], "bitstream": None,
        "weights_in": "spram" if spram else "bram", "delta_bits": int(delta_bits),
    }
    if met:
        if best is not runs[-1]:            # the placed design on disk is the last seed's: place the best again
            place_and_route(os.path.join(out_dir, "netlist.json"), target, pll.mhz, best["seed"], out_dir,
                            extra=(cons_flag, cons_name, out_flag, placed), densities=(best["placement_density"],))
        log("packing the bitstream")
        tool = "ICEPACK" if family == "ice40" else "ECPPACK"
        part = BITSTREAM[family] + ".part"          # renamed when complete: no half-written bitstream
        args = [placed, part] if family == "ice40" else ["--input", placed, "--bit", part]
        run_tool(tool, args, out_dir, "pack.log")
        os.replace(os.path.join(out_dir, part), os.path.join(out_dir, BITSTREAM[family]))
        report["bitstream"] = os.path.join(out_dir, BITSTREAM[family])
    return report


def check_freq(freq_mhz):
    if not 1 <= freq_mhz <= 400:
        raise ContractError(f"--freq must be within 1..400 MHz, got {freq_mhz:g}")
