"""How an engine is built: one frozen set of options that the network engine, the layer engine and each PE take,
and that a target (fpga/targets.py) decides. None of them changes what the engine computes, and only delta_bits
its cycle count; they trade clock rate, memories and cells."""

from dataclasses import dataclass, fields, replace

from .dsp import check_dsp
from .weight_ram import check_weight_ram

__all__ = ["EngineOptions"]


@dataclass(frozen=True)
class EngineOptions:
    """unroll: the running max/min unrolled by one step (a faster clock; hw/stages.py), else compact (~80 fewer
    flip-flops per PE). dsp: the DSP primitive the multipliers are instantiated as (hw/dsp.py; None: plain
    multiplies, what Amaranth's simulator runs). weight_ram: None, the entry words baked into ROMs; "memory" or a
    primitive (hw/weight_ram.py), RAMs the host loads. onehot_banks: each PE picks its activation by registered
    one-hot bank hits (faster on the ECP5). paired_buffers: both ping-pong buffers of one (replica, bank) in one
    memory (the iCE40's block RAMs). counter_bits: width of the cycle counters. delta_bits: entries with relative
    indices of that many bits (0: absolute), narrow enough for the UP5K's SPRAM; unlike the others this one
    changes the cycle count (the filler entries of golden/encode.py, which the cycle model takes the same
    delta_bits to count) and needs each PE's addresses ascending within a row (one PE always has them)."""

    unroll: bool = True
    dsp: str = None
    weight_ram: str = None
    onehot_banks: bool = False
    paired_buffers: bool = False
    counter_bits: int = 32
    delta_bits: int = 0

    def __post_init__(self):
        check_dsp(self.dsp)
        check_weight_ram(self.weight_ram)
        if not 1 <= int(self.counter_bits) <= 64:
            raise ValueError(f"counter_bits must be 1..64, not {self.counter_bits}")
        if not 0 <= int(self.delta_bits) <= 16:
            raise ValueError(f"delta_bits must be 0..16, not {self.delta_bits}")

    @classmethod
    def of(cls, options=None, **changes):
        """`options` (an EngineOptions, or None for the defaults) with `changes` (field=value) applied."""
        unknown = set(changes) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown engine options: {', '.join(sorted(unknown))}")
        return replace(options or cls(), **changes)
