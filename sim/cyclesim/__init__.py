"""A cycle-based C++ model of a design, generated from its Yosys netlist: the fast engine of the compiled backend.

Why not only CXXRTL: CXXRTL is an event-driven (delta-cycle) simulator. On the network engine each clock cycle
cost it two evaluations (clock low, clock high), a change-detecting commit of every register and a queued write
for every memory write port, enabled or not: ~7800 instructions per simulated cycle, 0.4-0.6M cycles/s. A design
with one clock and synchronous logic needs none of that. The model generated here evaluates the combinational
logic once per cycle in topological order (as locals that g++ keeps in registers), computes the memory reads,
performs the enabled memory writes and updates every register in place, each once everything that reads its old
value is done. Every value is computed just before its first use, so few values live long. The reset input is a
template parameter, so the hot loop runs with reset folded away.

The netlist is the design itself as Yosys reads Amaranth's RTLIL, after passes that keep its behaviour
(:data:`YOSYS_PASSES`). Every cell is modelled after Yosys's cell library (share/simlib.v) in two-state logic, x
read as 0 (as CXXRTL does), at any width: a value of up to 64 bits is one machine word, a wider one several
(runtime/wide.h: carries, borrows, schoolbook products, word-crossing shifts). A design outside what is modelled
(other cell types, several clocks, a falling edge, asynchronous resets or writes) raises :class:`Unsupported`; the
compiled backend then falls back to CXXRTL.

Lanes: with ``lanes`` > 1 the model is that many independent copies of the design advancing together, each copy
with its own values of the inputs named in ``lane_inputs`` (the others are shared). A value that can differ
between copies (it depends on a lane input, through any path, registers and memories included) is a GCC vector
of 64-bit lanes, one per copy, and every operation on it works on all copies at once (AVX2: four lanes per
instruction). A value that cannot differ is computed once, as a plain integer: on the engine that is all of the
control (addresses, enables, counters, valid bits), so only the datapath pays per copy. This is an exact static
analysis of the netlist: it needs no assumption about the design.

The parts: netlist.py reads the netlist into values (params.py: its parameters), signals.py writes a signal as a
C++ expression, cells.py translates each cell, tables.py turns decoders (case statements over a few bits) into
table reads (or array reads of their computed arms), schedule.py orders a cycle, emit.py writes the model around
the runtime in runtime/*.h.

Generated interface (``model.h``, namespace ``cyclesim``; ``U`` is uint64_t, ``W`` the lane vector, or uint64_t
with one lane; an input over 64 bits is a ``Big<U, N>`` or ``Big<W, N>`` of N words)::

    struct Model {
        U i_<input>;  W i_<lane input>;           // every input port but the clock and `rst`
        template<bool RST> void tick();           // one rising clock edge, `rst` held at RST
        W o_<output>() const;                     // output ports up to 64 bits, settled after the last tick
        void o_<output>_chunks(W *dst) const;     // any output port as 32-bit chunks, LSB first
    };
"""

import hashlib
import json
from importlib import resources

from .cells import is_comb
from .emit import driver_header, emit
from .netlist import YOSYS_PASSES, Design, Unsupported
from .schedule import express, find_varying, topo
from .signals import Signals
from .tables import find_picks, find_tables

__all__ = ["Unsupported", "YOSYS_PASSES", "generate", "driver_header", "source_digest"]


def generate(netlist, *, top="top", lanes=1, lane_inputs=()):
    """C++ source of the model (header text) for the Yosys JSON netlist `netlist` (a dict or JSON text).

    lanes: copies of the design in one model; lane_inputs: the input ports that differ between them."""
    if isinstance(netlist, str):
        netlist = json.loads(netlist)
    design = Design(netlist, top, lane_inputs if lanes > 1 else (), is_comb)
    design.tables = find_tables(design)
    design.picks = find_picks(design)
    g = Signals(design)
    # What each value reads does not depend on the lanes, so read that first, find which values vary between
    # lanes, then write the expressions (whose types depend on it).
    express(g, design)
    find_varying(g, design)
    express(g, design)
    design.comb = topo(design.comb)
    return emit(g, design, lanes)


def source_digest():
    """A hash of the generator: its Python modules and its C++ runtime (part of the compiled backend's cache key)."""
    h = hashlib.sha256()

    def walk(folder, prefix):
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                if entry.name != "__pycache__":
                    walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith((".py", ".h")):
                h.update(f"{prefix}{entry.name}\0".encode())
                h.update(entry.read_bytes())

    walk(resources.files(__package__), "")
    return h.hexdigest()
