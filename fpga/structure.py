"""The engine a network would be built into, as Python objects only: nothing elaborated, no memory built.

Estimates read the real engine objects (hw/), so that they follow the hardware when it changes: the BufferPlan and
the buffer memories the engine declares (who reads and writes each), each PE's widths and the words of its entry
and bias memories. The PEs make their memories only when first used (elaboration), so an estimate never pays for
Amaranth's conversion of every word of a big layer's contents (seconds for a dense 784 x 256 layer).
"""

from dataclasses import dataclass, field

from amaranth.hdl import Elaboratable, Shape
from amaranth.lib.memory import Memory

from ..hw.options import EngineOptions
from ..plumbing import ContractError

__all__ = ["EngineStructure", "engine_options", "relative_indices_misfit", "build_structure", "silence", "pe_rtlil", "pe_live_registers"]


@dataclass(eq=False)
class EngineStructure:
    """A NetworkEngine built for estimation, with the specs and golden assignments it was built from."""

    top: object                 # hw.network.NetworkEngine, never elaborated
    specs: list                 # hw.engine.LayerSpec per layer
    assignments: list           # golden Assignment per layer
    pes: int
    cache: dict = field(default_factory=dict)      # derived figures computed once per structure

    @property
    def engine(self):
        return self.top.engine

    @property
    def plan(self):
        return self.top.engine.plan

    @property
    def built_pes(self):
        """The PEs that exist (a PE without rows in any layer is not built)."""
        return [pe for pe in self.engine.pe if pe is not None]


def engine_options(target, spram=False, delta_bits=0):
    """The engine's build options (hw/options.py) a target decides, as `mam synth` builds them: the running max/min
    unrolled or compact, the DSP primitive, the bank select and the buffer memories; with `spram`, the entry words
    in the target's weight RAM (loaded over the host link), with relative indices of `delta_bits` bits if > 0."""
    if spram and not target.weight_ram:
        raise ContractError(f"{target.name} has no SPRAM for weights; use --weights bram")
    return EngineOptions(unroll=target.unroll_fold, dsp=target.dsp, onehot_banks=target.onehot_banks,
                         paired_buffers=target.paired_buffers, weight_ram=target.weight_ram if spram else None,
                         delta_bits=delta_bits)


def relative_indices_misfit(network, pes, delta_bits):
    """Why `network` on `pes` PEs cannot take entries with relative indices of `delta_bits` bits (a dense MAM row
    or splits: golden.encode.with_fillers; a later layer's inputs out of order: hw.engine.relative_index_misfit),
    or None."""
    from ..hw.engine import relative_index_misfit
    from ..hw.specs import layer_specs
    try:
        specs, _ = layer_specs(network, pes, delta_bits)
    except ValueError as e:
        return str(e)
    return relative_index_misfit(specs, pes, delta_bits)


def build_structure(network, pes, options=None, **changes):
    """The NetworkEngine of `network` on `pes` PEs, memories recorded instead of built; `options` (and `changes`)
    are the engine's build options (see :func:`engine_options`).

    `network`: a golden Network, Layer or list of layers, or a list of hw LayerSpec already dealt over the PEs
    (then ``assignments`` is None)."""
    from ..hw.network import NetworkEngine
    from ..hw.specs import layer_specs

    items = list(network) if isinstance(network, (list, tuple)) else None
    if items and all(hasattr(x, "segments") for x in items):
        specs, assignments = items, None
    else:
        options = EngineOptions.of(options, **changes)
        specs, assignments = layer_specs(network, pes, options.delta_bits)
    top = NetworkEngine(specs, EngineOptions.of(options, **changes))
    silence(top)
    return EngineStructure(top=top, specs=specs, assignments=assignments, pes=int(pes))


def silence(obj, _seen=None):
    """Mark every elaboratable reachable from `obj` as used: objects built only to be measured, never elaborated,
    must not warn (tests run with warnings as errors)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Elaboratable):
        obj._MustUse__silence = True
        children = vars(obj).values()
    elif isinstance(obj, (list, tuple)):
        children = obj if not obj or not isinstance(obj[0], int) else ()
    elif isinstance(obj, dict):
        children = obj.values()
    else:
        return
    for child in children:
        if isinstance(child, (Elaboratable, list, tuple, dict)):
            silence(child, seen)


def _smallest_pe(structure):
    """One PE of the engine (the one with the fewest entries: all PEs share their widths and logic, only their
    memory contents and counter widths differ)."""
    return min(structure.built_pes, key=lambda pe: getattr(pe, "n_entries", 0))


def _with_stand_ins(pe, convert):
    """`convert(pe)` with the PE's ROMs made as two-word stand-ins of the same shapes: the operators are what is
    wanted, and Amaranth writes out every word of a memory (seconds for a big one). The PE makes its memories on
    first use (a cached property), so the stand-ins are put in their place and taken out again."""
    stand_ins = {"bias_mem": (pe.bias_shape, pe.n_rows)}
    if pe.weight_ram is None:
        stand_ins["entry_mem"] = (pe.entry_shape.size, pe.n_entries)
    for name, (shape, depth) in stand_ins.items():
        vars(pe)[name] = Memory(shape=shape, depth=min(depth, 2), init=[])
    try:
        return convert(pe)
    finally:
        silence(pe)
        for name in stand_ins:
            del vars(pe)[name]


def pe_rtlil(structure):
    """RTLIL text of one PE of the engine, converted once per structure."""
    if "pe_rtlil" not in structure.cache:
        from .registers import component_rtlil
        structure.cache["pe_rtlil"] = _with_stand_ins(_smallest_pe(structure), lambda pe: component_rtlil(pe, "pe"))
    return structure.cache["pe_rtlil"]


def pe_live_registers(structure):
    """Register bits of one PE that synthesis keeps (fpga/registers.py), counted once per structure.

    The PE's per-layer configuration inputs come from engine registers that start at 0 and load one constant per
    layer, all at once: a bit that is 0 in every layer is 0 for good, and bits with the same value in every layer
    are one register (Yosys merges them), as are the PE registers that copy them."""
    if "pe_live_registers" not in structure.cache:
        from .registers import count_live_registers
        from .rtlil_netlist import read_rtlil
        pe, eng = _smallest_pe(structure), structure.engine
        configs = [eng.layer_config(k) for k in range(len(eng.layers))]
        classes = {}
        for key in configs[0]:
            width = Shape.cast(pe.signature.members[key].shape).width
            patterns = [tuple(c[key] >> i & 1 for c in configs) for i in range(width)]
            classes[key] = [p if any(p) else 0 for p in patterns]
        # The same PE text as pe_rtlil's (the same ports and stand-ins): converted once, read here.
        structure.cache["pe_live_registers"] = count_live_registers(read_rtlil(pe_rtlil(structure)), classes)
    return structure.cache["pe_live_registers"]
