"""FPGA targets: the device, its nextpnr arguments and the resources a design is checked against."""

from dataclasses import dataclass

__all__ = ["Target", "TARGETS", "get_target"]


@dataclass(frozen=True)
class Target:
    name: str
    family: str                 # "ice40" or "ecp5": the Yosys script and the nextpnr binary
    nextpnr_args: tuple
    luts: int                   # logic cells (iCE40) or LUT4s (ECP5)
    dsps: int                   # SB_MAC16 or MULT18X18D
    bram_blocks: int            # SB_RAM40_4K (4 kbit) or DP16KD (18 kbit)
    bram_bits: int              # bits per block
    spram_blocks: int = 0       # iCE40 UP5K SB_SPRAM256KA (256 kbit, no initial contents)
    io_pins: int = 0
    # The running max/min unrolled for speed (hw/stages.py), at ~80 flip-flops per PE; compact, a slower clock.
    unroll_fold: bool = True
    # The DSP primitive the multipliers are instantiated as, with the product register inside it (hw/dsp.py):
    # Yosys leaves that register in the fabric, a path twice as long on the ECP5. None: Yosys maps the multiplies.
    dsp: str = None
    # The RAM primitive for entry words that the block RAMs cannot hold, loaded over the host link (hw/weight_ram.py).
    weight_ram: str = None
    # A PE's activation word picked from the buffer banks by registered one-hot hits (hw/engine.py): a binary bank
    # select was the ECP5 engines' slowest path; on the iCE40, Yosys chains the one-hot form five LUTs deep.
    onehot_banks: bool = False
    # Both activation buffers of a (replica, bank) in one memory (hw/engine.py): on the iCE40 one block RAM, where
    # the second buffer was flip-flops and LUT read muxes (~1,050 of the UP5K's cells at P = 4, which made room for
    # the unrolled fold). On the ECP5, where the buffers are LUT RAMs, it is not measured.
    paired_buffers: bool = False


TARGETS = {
    "up5k": Target("up5k", "ice40", ("--up5k", "--package", "sg48"), luts=5280, dsps=8, bram_blocks=30,
                   bram_bits=4096, spram_blocks=4, io_pins=39, paired_buffers=True,
                   weight_ram="SB_SPRAM256KA"),
    "ecp5-25f": Target("ecp5-25f", "ecp5", ("--25k", "--package", "CABGA381"), luts=24288, dsps=28,
                       bram_blocks=56, bram_bits=18432, io_pins=197, dsp="MULT18X18D", onehot_banks=True),
    "ecp5-85f": Target("ecp5-85f", "ecp5", ("--85k", "--package", "CABGA381"), luts=83640, dsps=156,
                       bram_blocks=208, bram_bits=18432, io_pins=205, dsp="MULT18X18D", onehot_banks=True),
}


def get_target(name):
    from ..golden import ContractError
    if name not in TARGETS:
        raise ContractError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")
    return TARGETS[name]
