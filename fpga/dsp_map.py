"""How many DSP blocks (SB_MAC16 / MULT18X18D) the engine takes, counted the way Yosys maps multipliers.

The multipliers are read from the live design: one PE of the engine is converted to RTLIL and its ``$mul`` cells
give operand widths and signedness (all PEs of an engine share their widths). Yosys then cuts each multiplier
into DSP-sized pieces with `techmap -map +/mul2dsp.v` (16x16 on iCE40, with products narrower than 11 bits left to
logic; 18x18 on ECP5), pieces too narrow for a DSP stay in logic. :func:`dsp_pieces` repeats that cut.
"""

import re
from dataclasses import dataclass

from .structure import pe_rtlil

__all__ = ["DSP_RULES", "Multiplier", "dsp_pieces", "pe_multipliers", "rtlil_multipliers", "engine_dsps",
           "pes_dsps"]


@dataclass(frozen=True)
class DspRule:
    cell: str
    a_max: int
    b_max: int
    a_min: int
    b_min: int
    y_min: int = 0


# synth_ice40 -dsp: -D DSP_A_MAXWIDTH=16 -D DSP_B_MAXWIDTH=16 -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2
# -D DSP_Y_MINWIDTH=11; synth_ecp5 (synth_lattice): {18, 18, 2, 2, $__MUL18X18}.
DSP_RULES = {
    "ice40": DspRule("SB_MAC16", 16, 16, 2, 2, 11),
    "ecp5": DspRule("MULT18X18D", 18, 18, 2, 2),
}


@dataclass(frozen=True)
class Multiplier:
    a_width: int
    a_signed: bool
    b_width: int
    b_signed: bool
    y_width: int


def dsp_pieces(mul, family):
    """(DSP cells, soft-logic partial products as a list of (a, b) widths) for one multiplier."""
    rule = DSP_RULES[family]
    soft = []

    def cut(a, sa, b, sb, y, top):
        if top and a < b:                          # mul2dsp puts the wider operand on A (for $mul, not pieces)
            a, sa, b, sb = b, sb, a, sa
        if a < rule.a_min or b < rule.b_min or y < rule.y_min:
            soft.append((a, b))
            return 0
        if a > rule.a_max:
            n = (a - 1) // rule.a_max
            last = a - n * rule.a_max
            return n * cut(rule.a_max, False, b, sb, min(y, b + rule.a_max), False) + \
                cut(last, sa, b, sb, b + last, False)
        if b > rule.b_max:
            n = (b - 1) // rule.b_max
            last = b - n * rule.b_max
            return n * cut(a, sa, rule.b_max, False, min(y, a + rule.b_max), False) + \
                cut(a, sa, last, sb, a + last, False)
        return 1

    # wreduce first trims the product to the width it can have.
    y = min(mul.y_width, mul.a_width + mul.b_width)
    return cut(mul.a_width, mul.a_signed, mul.b_width, mul.b_signed, y, True), soft


_MUL = re.compile(r"cell \$mul \S+\n((?:\s+parameter .*\n)+)((?:\s+connect .*\n)+)")
# A constant operand: Yosys makes the product shifts and adds in logic, never a DSP (a variable part select of
# elements whose width is not a power of two is one; a power of two is a plain shift).
_CONSTANT = re.compile(r"connect \\[AB] \d+'[01]+\n")
_DSP_INSTANCE = re.compile(r"cell \\MULT18X18D ")         # hw/dsp.py: a product built as an ECP5 DSP
_PARAM = re.compile(r"parameter \\(\w+) (\S+)")


def pe_multipliers(structure):
    """The multipliers of one PE of the engine, from its RTLIL: Yosys maps each ``$mul``; a DSP instance is one
    18 x 18 multiplier already mapped."""
    return rtlil_multipliers(pe_rtlil(structure))


def rtlil_multipliers(text):
    """The multipliers in a design's RTLIL `text`: its ``$mul`` cells, and each DSP instance as one 18 x 18."""
    muls = [Multiplier(18, True, 18, True, 36) for _ in _DSP_INSTANCE.finditer(text)]
    for m in _MUL.finditer(text):
        if _CONSTANT.search(m.group(2)):
            continue
        p = {k: int(v) for k, v in _PARAM.findall(m.group(1)) if v.lstrip("-").isdigit()}
        muls.append(Multiplier(p["A_WIDTH"], bool(p["A_SIGNED"]), p["B_WIDTH"], bool(p["B_SIGNED"]),
                               p["Y_WIDTH"]))
    return muls


def engine_dsps(structure, family, multipliers=None):
    """DSP cells of the whole engine: each built PE's multipliers cut into DSP pieces.

    Returns a dict: ``dsps`` (cells), ``cell``, ``per_pe``, ``multipliers`` (widths) and ``soft_bits`` (sum of
    a*b over the partial products left to logic, per PE)."""
    muls = pe_multipliers(structure) if multipliers is None else multipliers
    return pes_dsps(muls, len(structure.built_pes), family)


def pes_dsps(muls, n_pe, family):
    """:func:`engine_dsps` for `n_pe` PEs of the multipliers `muls` each."""
    per_pe, soft_bits = 0, 0
    for mul in muls:
        n, soft = dsp_pieces(mul, family)
        per_pe += n
        soft_bits += sum(a * b for a, b in soft)
    return {"dsps": per_pe * n_pe, "cell": DSP_RULES[family].cell, "per_pe": per_pe,
            "multipliers": [[m.a_width, m.b_width] for m in muls], "soft_bits": soft_bits}
