"""The engine a network would be built into, as Python objects only: no elaboration, no memory images converted.

Estimates read the real engine objects (hw/), so that they follow the hardware when it changes: the BufferPlan,
each PE's widths and entry/bias memories, the activation buffers. Building a NetworkEngine is cheap except for one
thing, Amaranth's conversion of every memory word to a constant (seconds for a dense 784x256 layer), which an
estimate does not need. So the engine is built with a stand-in for ``Memory`` that only records shape, depth and
contents; :func:`real_memory` makes the real one when a PE has to be converted to RTLIL after all.
"""

import sys
import threading
from dataclasses import dataclass, field

from amaranth.hdl import Elaboratable, Shape
from amaranth.lib.memory import Memory

__all__ = ["RecordedMemory", "EngineStructure", "engine_options", "build_structure", "real_memory",
           "silence", "pe_rtlil", "pe_live_registers"]

_patch_lock = threading.Lock()


class RecordedMemory:
    """What the engine's constructors give a Memory: shape, depth, contents (ints, shorter lists padded with 0)."""

    def __init__(self, *, shape, depth, init, attrs=None, src_loc_at=0):
        self.shape = shape
        self.depth = int(depth)
        self.init = list(init)
        self.attrs = dict(attrs or {})

    @property
    def width(self):
        return Shape.cast(self.shape).width


@dataclass(eq=False)
class EngineStructure:
    """A NetworkEngine built for estimation, with the specs and golden assignments it was built from."""

    top: object                 # hw.network.NetworkEngine (memories are RecordedMemory)
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


def _hw_modules():
    return [m for name, m in list(sys.modules.items())
            if m is not None and (name == "mamhw.hw" or name.startswith("mamhw.hw."))]


def engine_options(target, spram=False):
    """The engine's build options a target decides, as `mam synth` passes them: the running max/min unrolled or
    compact (``unroll=target.unroll_fold``), the DSP primitive (``dsp=target.dsp``), the bank select
    (``onehot_banks``) and the buffer memories (``paired_buffers``); with `spram`, the entry
    words in the target's weight RAM (``weight_ram=target.weight_ram``, loaded over the host link); only options
    the engine takes."""
    import inspect

    from ..hw.network import NetworkEngine
    params = inspect.signature(NetworkEngine.__init__).parameters
    opts = {}
    if "unroll" in params and hasattr(target, "unroll_fold"):
        opts["unroll"] = bool(target.unroll_fold)
    if "dsp" in params and getattr(target, "dsp", None):
        opts["dsp"] = target.dsp
    for flag in ("onehot_banks", "paired_buffers"):
        if flag in params and getattr(target, flag, False):
            opts[flag] = True
    if spram:
        if not getattr(target, "weight_ram", None):
            from ..golden import ContractError
            raise ContractError(f"{target.name} has no SPRAM for weights; use --weights bram")
        opts["weight_ram"] = target.weight_ram
    return opts


def build_structure(network, pes, **options):
    """The NetworkEngine of `network` on `pes` PEs, memories recorded instead of built; `options` go to the
    engine (see :func:`engine_options`).

    `network`: a golden Network, Layer or list of layers, or a list of hw LayerSpec already dealt over the PEs
    (then ``assignments`` is None). Every hw module that imported ``Memory`` gets the stand-in while the engine is
    constructed."""
    from ..hw.network import NetworkEngine
    from ..hw.specs import layer_specs

    items = list(network) if isinstance(network, (list, tuple)) else None
    if items and all(hasattr(x, "segments") for x in items):
        specs, assignments = items, None
    else:
        specs, assignments = layer_specs(network, pes)
    with _patch_lock:
        patched = [m for m in _hw_modules() if getattr(m, "Memory", None) is Memory]
        for m in patched:
            m.Memory = RecordedMemory
        try:
            top = NetworkEngine(specs, **options)
        finally:
            for m in patched:
                m.Memory = Memory
    silence(top)
    return EngineStructure(top=top, specs=specs, assignments=assignments, pes=int(pes))


def real_memory(mem, contents=True):
    """An Amaranth Memory with the recorded shape, depth and contents; with `contents` False, a two-word stand-in
    of the same shape (its operators are the same; Amaranth writes out every word of a memory, seconds for a big
    one)."""
    if isinstance(mem, Memory):
        return mem
    if not contents:
        return Memory(shape=mem.shape, depth=min(mem.depth, 2), init=[])
    return Memory(shape=mem.shape, depth=mem.depth, init=mem.init)


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
        children = obj
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
    """`convert(pe)` with the PE's memories replaced by two-word stand-ins: the operators are what is wanted, and
    the contents would cost seconds on big layers."""
    recorded = {k: v for k, v in vars(pe).items() if isinstance(v, RecordedMemory)}
    for name, value in recorded.items():
        setattr(pe, name, real_memory(value, contents=False))
    try:
        return convert(pe)
    finally:
        silence(pe)
        for name, value in recorded.items():
            setattr(pe, name, value)


def pe_rtlil(structure):
    """RTLIL text of one PE of the engine, converted once per structure."""
    if "pe_rtlil" not in structure.cache:
        from amaranth.back import rtlil
        structure.cache["pe_rtlil"] = _with_stand_ins(_smallest_pe(structure), lambda pe: rtlil.convert(pe, name="pe"))
    return structure.cache["pe_rtlil"]


def pe_live_registers(structure):
    """Register bits of one PE that synthesis keeps (fpga/registers.py), counted once per structure.

    The PE's per-layer configuration inputs come from engine registers that start at 0 and load one constant per
    layer, all at once: a bit that is 0 in every layer is 0 for good, and bits with the same value in every layer
    are one register (Yosys merges them), as are the PE registers that copy them."""
    if "pe_live_registers" not in structure.cache:
        from .registers import live_register_bits
        pe, eng = _smallest_pe(structure), structure.engine
        configs = [eng.layer_config(k) for k in range(len(eng.layers))]
        classes = {}
        for key in configs[0]:
            width = Shape.cast(pe.signature.members[key].shape).width
            patterns = [tuple(c[key] >> i & 1 for c in configs) for i in range(width)]
            classes[key] = [p if any(p) else 0 for p in patterns]
        structure.cache["pe_live_registers"] = _with_stand_ins(pe, lambda p: live_register_bits(p, classes))
    return structure.cache["pe_live_registers"]
