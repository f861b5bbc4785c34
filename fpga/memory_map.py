"""Which memories of the engine become block RAMs, LUT RAMs or plain logic, decided exactly as Yosys decides.

Yosys (`memory_libmap`, 0.5x-0.70) prices every way to build a memory and takes the cheapest: soft logic costs
``width * depth`` (a RAM) or ``width * depth / 16`` (a ROM), a block RAM its library cost per cell plus penalties for
the address decoding and emulation logic it needs. Before that, `opt_mem` drops every data lane that is constant
over the contents and all writes, and a memory whose lanes are all constant disappears. This module repeats that
computation for the two kinds of memory the engine has (a ROM with one synchronous read port; a RAM with one
write port and one non-transparent synchronous read port at another address, same clock) against the cell
libraries Yosys uses for each family (`ice40/brams.txt`; `lattice/lutrams_trellis.txt` then `brams_16kd.txt`),
and enumerates the memories from the engine objects themselves (fpga/structure.py). Tests hold the counts to
Yosys's own `stat`.
"""

from dataclasses import dataclass

import numpy as np

from amaranth.hdl import Shape

from ..hw.weight_ram import SPRAM_WIDTH, spram_banks

__all__ = ["RamDef", "LIBRARIES", "BLOCK_CELLS", "MemoryInfo", "Mapping", "map_memory", "engine_memories",
           "map_engine", "memory_blocks"]

# memory_libmap's weights of emulation logic (FACTOR_MUX, FACTOR_DEMUX, FACTOR_EMU) and soft-logic costs.
FACTOR_MUX, FACTOR_DEMUX, FACTOR_EMU = 0.5, 0.5, 2
LOGIC_COST_RAM, LOGIC_COST_ROM = 1.0, 1.0 / 16.0


@dataclass(frozen=True)
class RamDef:
    """One RAM cell variant of a Yosys memory library, reduced to what matters for non-wide ports."""

    name: str
    kind: str                   # "block" or "distributed"
    abits: int
    dbits: tuple                # data widths, one per address-bit step
    cost: int
    byte: int                   # write-enable granularity (0: whole word)
    wr_widths: tuple            # indices into dbits the write port allows
    rd_widths: tuple            # indices into dbits the read port allows
    rd_sync: bool               # False: asynchronous read port (a synchronous one is emulated with a register)
    prune_rom: bool = False     # never used for a memory without write ports
    wrtrans_old: bool = False   # a write port that guarantees read-old-data on a collision (none of these do)


def _all(n):
    return tuple(range(n))


LIBRARIES = {
    # techlibs/ice40/brams.txt: SB_RAM40_4K, its option HAS_BE giving two variants of the write port.
    "ice40": (
        RamDef("SB_RAM40_4K", "block", 11, (2, 4, 8, 16), 64, 0, (0, 1, 2), _all(4), True),
        RamDef("SB_RAM40_4K", "block", 11, (2, 4, 8, 16), 64, 1, (3,), _all(4), True),
    ),
    # techlibs/lattice/lutrams_trellis.txt, then brams_16kd.txt (DP16KD and its pseudo-dual-port form).
    "ecp5": (
        RamDef("TRELLIS_DPR16X4", "distributed", 4, (4,), 4, 0, (0,), (0,), False, prune_rom=True),
        RamDef("DP16KD", "block", 14, (1, 2, 4, 9, 18), 128, 9, _all(5), _all(5), True),
        RamDef("DP16KD", "block", 14, (1, 2, 4, 9, 18, 36), 128, 9, (5,), _all(6), True),
    ),
}
BLOCK_CELLS = {"ice40": "SB_RAM40_4K", "ecp5": "DP16KD"}


@dataclass(frozen=True)
class MemoryInfo:
    """One memory of the engine as Yosys will see it."""

    name: str
    role: str                   # "entry", "bias" or "buffer"
    depth: int                  # words its readers can reach (for a buffer; all of them otherwise)
    width: int                  # declared
    lanes: int                  # after dropping constant lanes (0: the memory disappears)
    writable: bool              # a RAM with a live write port, else a ROM
    read: bool = True           # something reads it (else Yosys removes it)
    primitive: str = ""         # instantiated as this RAM primitive (hw/weight_ram.py), not left to Yosys
    slices: int = 0             # the primitive's cells side by side whose outputs something reads

    @property
    def bits(self):
        return self.depth * self.width


@dataclass(frozen=True)
class Mapping:
    style: str                  # "block", "distributed", "logic", "removed" or "spram" (instantiated)
    cell: str                   # the primitive, "" for logic / removed
    cells: int
    cost: float


def _geometry(ram, depth, width, rom, score_emu, granule=None):
    """memory_libmap's handle_geom for a memory with no wide ports: the cheapest base width, (cost, cells)."""
    best = None
    byte_width_log2 = len(ram.dbits) - 1 if ram.byte == 0 else \
        max([i for i, d in enumerate(ram.dbits) if ram.byte >= d], default=0)
    for base in range(len(ram.dbits)):
        unit = base
        if not rom:
            unit = min(unit, max(ram.wr_widths))
        unit = min(unit, max(ram.rd_widths))
        if unit != base and best is not None:
            break
        unit_width = ram.dbits[unit]
        if not rom and base < min(ram.wr_widths) and base < byte_width_log2:
            continue                                   # the write port cannot be this narrow
        eff_byte = 1 if rom else (unit_width if ram.byte == 0 or ram.byte > unit_width else ram.byte)
        # Each run of bits with its own write enable (`granule`; one run: the whole word) starts a byte of the RAM.
        run = granule or width
        swizzle = -(-width // run) * (-(-run // eff_byte) * eff_byte)
        addrs = 1 << (ram.abits - base)
        mult_a = (depth - 1) // addrs + 1
        cells = -(-(mult_a * swizzle) // unit_width)
        score_demux = 0 if rom or mult_a == 1 else mult_a
        score_mux = (mult_a - 1) * width
        cost = ram.cost * cells + score_mux * FACTOR_MUX + score_demux * FACTOR_DEMUX + score_emu * FACTOR_EMU
        if best is None or cost < best[0]:
            best = (cost, cells)
    return best


def _candidates(ram, rom):
    """Emulation scores of the configurations that survive port assignment and the transparency rules."""
    if rom:
        return [] if ram.prune_rom else [1]            # 1: a read port not shared with a write port
    scores = []
    if not ram.rd_sync or ram.wrtrans_old:
        scores.append(1)                               # async read port + register, or a read-old-data cap
    # Read-first emulation: the write delayed a cycle (3 per write port) plus soft transparency (3).
    scores.append(1 + 3 + 3)
    return scores


def map_memory(depth, lanes, writable, family, granule=None):
    """How Yosys builds a memory of `depth` words of `lanes` (non-constant) bits for `family`; `granule`: the bits
    of each write enable of a memory written a part at a time (None: the whole word)."""
    if lanes <= 0 or depth <= 0:
        return Mapping("removed", "", 0, 0.0)
    rom = not writable
    best_by_kind = {}
    for ram in LIBRARIES[family]:
        for score in _candidates(ram, rom):
            cost, cells = _geometry(ram, depth, lanes, rom, score, granule if writable else None)
            if ram.kind not in best_by_kind or cost < best_by_kind[ram.kind][0]:
                best_by_kind[ram.kind] = (cost, cells, ram)
    logic = lanes * depth * (LOGIC_COST_ROM if rom else LOGIC_COST_RAM)
    best, choice = int(logic), None                    # Yosys compares against the truncated logic cost
    for cost, cells, ram in best_by_kind.values():
        if cost < best:
            best, choice = cost, (cost, cells, ram)
    if choice is None:
        return Mapping("logic", "", 0, logic)
    cost, cells, ram = choice
    return Mapping(ram.kind, ram.name, cells, cost)


def _lanes(words, width):
    """Data lanes that are not the same in every word."""
    if width == 0:
        return 0
    if not words:
        return 0                                       # contents all 0 and never written: all lanes constant
    mask = (1 << width) - 1
    if width <= 62:
        a = np.asarray(words, dtype=np.int64) & mask
        ones, zeros = int(np.bitwise_and.reduce(a)), int(np.bitwise_or.reduce(a))
    else:
        ones, zeros = mask, 0
        for w in words:
            ones &= w & mask
            zeros |= w & mask
    varying = zeros & ~ones
    return bin(varying).count("1")


def _zero_lanes(words, width):
    """The lanes that are 0 in every word (a lane that is always 1 is not constant downstream: the registers it
    feeds start at 0)."""
    mask = (1 << width) - 1
    if width <= 62:
        a = np.asarray(words, dtype=np.int64)
        seen = int(np.bitwise_or.reduce(a)) & mask if a.size else 0
        return mask & ~seen
    seen = 0
    for w in words:
        seen |= int(w) & mask
    return mask & ~seen


def _reach(addresses, plan, banks):
    """(banks, position lanes) that physical `addresses` (bank above local_bits, position below; None: unknown, so
    all) can select. An address lane that is 0 in every address is one Yosys drops: the bank select sees constant
    zeros there, so the banks it can never select lose this reader, and the position lanes left decide the words
    it can reach."""
    zero = 0 if addresses is None else _zero_lanes(addresses, plan.local_bits + plan.bank_bits)
    bank_zero = zero >> plan.local_bits
    return {w for w in range(banks) if not w & bank_zero}, ((1 << plan.local_bits) - 1) & ~zero


def _readable_words(depth, lanes_mask):
    """Words a read port can reach when its address lanes outside `lanes_mask` are always 0: Yosys drops those
    address bits, and the memory shrinks to the words left."""
    a = np.arange(depth)
    return int(np.count_nonzero((a & ~lanes_mask) == 0))


def engine_memories(structure):
    """Every memory of the engine, with its depth, declared width and the lanes Yosys keeps.

    PE memories are ROMs (contents = the words the PE declares) or weight RAMs (every bit the PE reads varies; a
    weight RAM cell whose bits are all unread is removed by Yosys, an instance or not). The buffer memories are the
    engine's own list (hw/engine.py, ``buffer_memories``: who reads and writes each one). What Yosys then makes of
    a buffer memory:

    - a memory nobody reads is removed; one nobody writes keeps its all-zero contents, all lanes constant;
    - its lanes are the bits its readers use: a PE all of its activation input, the host only the last layer's
      output width (the lanes above, unread, are dropped);
    - its depth is the words its readers can address: an index lane that is 0 in all of a reader's entries is
      an address bit Yosys drops (:func:`_reach`); a paired memory's top address bit, the buffer, is never
      constant.
    """
    eng = structure.engine
    out = []
    # Each PE's fetch addresses, read once (a PE reads 2P memories; big layers have 10^5+ entries).
    addresses = {p: pe.fetch_addresses() for p, pe in enumerate(eng.pe) if pe is not None}
    addresses = {p: None if a is None else np.asarray(a, dtype=np.int64) for p, a in addresses.items()}
    for p, pe in enumerate(eng.pe):
        if pe is None:
            continue
        if pe.weight_ram is not None:                      # loaded at run time: every lane it reads varies
            used = pe.entry_bits_read()
            out.append(MemoryInfo(f"pe{p}.entry_mem", "entry", pe.n_entries, pe.entry_shape.size, len(used),
                                  writable=True, primitive=pe.weight_ram_primitive or "",
                                  slices=len({b // SPRAM_WIDTH for b in used})))
        else:
            out.append(MemoryInfo(f"pe{p}.entry_mem", "entry", pe.n_entries, pe.entry_shape.size,
                                  _lanes(pe.entry_words, pe.entry_shape.size), writable=False))
        width = Shape.cast(pe.bias_shape).width
        out.append(MemoryInfo(f"pe{p}.bias_mem", "bias", pe.n_rows, width, _lanes(pe.biases, width), writable=False))
    for bm in eng.buffer_memories:
        fetched, positions, read_bits = _reached(eng, bm, addresses)
        width = Shape.cast(bm.memory.shape).width
        written = bm.host_writes or bm.writer is not None
        read = bm.bank in fetched
        lanes = min(width, read_bits or width) if written and read else 0
        top = eng.buffer_base[1] if bm.buffer is None else 0
        depth = _readable_words(bm.memory.depth, positions | top) if read else bm.memory.depth
        out.append(MemoryInfo(bm.name, "buffer", depth, width, lanes, writable=written, read=read))
    return out


def _reached(eng, bm, addresses_of):
    """(banks, position lanes, the widest word read or None) of the readers of buffer memory `bm`: its PE (whose
    fetch addresses are `addresses_of[pe]`) and the host. None: no reader, or one whose width is unknown (every
    lane counts)."""
    plan = eng.plan
    readers = []
    if bm.reader is not None:
        pe = eng.pe[bm.reader]
        readers.append((addresses_of[bm.reader], pe.act_bits))
    if bm.host_reads:
        readers.append((eng.y_map, Shape.cast(eng.signature.members["y_data"].shape).width))
    fetched, positions, used = set(), 0, []
    for addresses, bits in readers:
        banks, reached = _reach(addresses, plan, plan.pes)
        fetched, positions = fetched | banks, positions | reached
        used.append(bits)
    return fetched, positions, max(used) if used else None


def map_engine(structure, family):
    """[(MemoryInfo, Mapping)] for every memory of the engine."""
    return [(m, Mapping("spram", m.primitive, m.slices * spram_banks(m.depth), 0.0)
             if m.primitive else map_memory(m.depth, m.lanes, m.writable, family))
            for m in engine_memories(structure)]


def memory_blocks(network_or_specs, pes, family, options=None):
    """Block RAMs (and LUT RAM cells, and memory bits left to logic) the engine of a network needs on `family`.

    `network_or_specs`: a golden Network / Layer / list of layers, the hw LayerSpecs of one (sim.engine_amaranth.
    layer_specs), or an EngineStructure already built; `options`: the engine's build options (structure.
    engine_options(target): ``paired_buffers`` and ``weight_ram`` change the memories). Nothing is elaborated;
    milliseconds. Returns a
    dict: ``block_rams`` (SB_RAM40_4K or DP16KD cells), ``block_cell``, ``lut_rams`` (TRELLIS_DPR16X4 cells),
    ``sprams`` (SB_SPRAM256KA instances holding entry words, engine option ``weight_ram``),
    ``logic_rom_bits`` / ``logic_ram_bits`` (memory bits built from LUTs and FFs), ``by_role`` (block RAMs per
    kind of memory) and ``memories`` (one entry per memory: name, depth, width, lanes, style, cells).
    """
    from .structure import EngineStructure, build_structure
    if family not in LIBRARIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(LIBRARIES)}")
    structure = network_or_specs if isinstance(network_or_specs, EngineStructure) else \
        build_structure(network_or_specs, pes, options)
    res = {"family": family, "block_cell": BLOCK_CELLS[family], "block_rams": 0, "lut_rams": 0, "sprams": 0,
           "logic_rom_bits": 0, "logic_ram_bits": 0, "by_role": {}, "memories": []}
    for m, mp in map_engine(structure, family):
        if mp.style == "spram":
            res["sprams"] += mp.cells
        elif mp.style == "block":
            res["block_rams"] += mp.cells
            res["by_role"][m.role] = res["by_role"].get(m.role, 0) + mp.cells
        elif mp.style == "distributed":
            res["lut_rams"] += mp.cells
        elif mp.style == "logic":
            res["logic_rom_bits" if not m.writable else "logic_ram_bits"] += m.depth * m.lanes
        res["memories"].append({"name": m.name, "role": m.role, "depth": m.depth, "width": m.width,
                                "lanes": m.lanes, "style": mp.style, "cells": mp.cells})
    return res

