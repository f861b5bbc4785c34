"""A product and its register, built as the target's DSP primitive with the register inside it where that is faster.

Yosys maps ``a * b`` onto a DSP, but on the ECP5 it leaves the product register in the fabric. The path is then
register -> MULT18X18D (3.9 ns inside) -> routing -> register, 8.4-9.1 ns: the slowest path of the ECP5 engines.
Instantiated with its own output register (``REG_OUTPUT_CLK``), the MULT18X18D ends the path inside itself, and
nextpnr times it at ~5.3 ns. Same operands, same cycle: the design's behaviour does not change.

The Amaranth simulator cannot run an instance, so the plain form is the default, and every Amaranth simulation
uses it. The instantiated form is simulated from Verilog, against the MULT18X18D model in sim/dsp_model.py.
"""

from amaranth.hdl import ClockSignal, Const, Instance, Signal

__all__ = ["DSP_PRIMITIVES", "FAMILY_DSP", "check_dsp", "registered_product"]

DSP_PRIMITIVES = ("MULT18X18D",)
# The primitive each FPGA family's builds instantiate (None: Yosys maps the plain multiply, as on the iCE40).
FAMILY_DSP = {"ice40": None, "ecp5": "MULT18X18D"}
_OPERAND_BITS = 18


def registered_product(m, a, b, name, dsp=None, registered=None):
    """``a * b`` registered (one cycle), as the full product's shape. `b` may be an integer.

    `dsp`: None, a multiply that Yosys maps; "MULT18X18D", an ECP5 DSP with its output register in use, when both
    operands fit its 18-bit ports (a wider product stays a plain multiply). `registered`: ``(a_r, b_r)``, `a` and
    `b` registered once by the caller. The product is then two cycles after `a` and `b`: with the DSP, in its own
    input registers (fabric register -> multiplier -> output register was 6.8 ns, the ECP5 engine's slowest path),
    else ``a_r * b_r`` (where Yosys's iCE40 mapping moves the registers into the SB_MAC16 itself)."""
    if isinstance(b, int):
        b = Const(b)
    shape = (a * b).shape()
    p = Signal(shape, name=name, reset_less=True)
    if check_dsp(dsp) is None or len(a) > _OPERAND_BITS or len(b) > _OPERAND_BITS:
        if registered is not None:
            a, b = registered
        m.d.sync += p.eq(a * b)
        return p
    # Each operand widened to 18 bits by its own signedness; SIGNEDx tells the DSP which.
    a18, b18 = Signal(_OPERAND_BITS, name=f"{name}_a"), Signal(_OPERAND_BITS, name=f"{name}_b")
    out = Signal(2 * _OPERAND_BITS, name=f"{name}_dsp")
    m.d.comb += [a18.eq(a), b18.eq(b)]
    ports = {f"i_A{i}": a18[i] for i in range(_OPERAND_BITS)}
    ports.update({f"i_B{i}": b18[i] for i in range(_OPERAND_BITS)})
    ports.update({f"o_P{i}": out[i] for i in range(2 * _OPERAND_BITS)})
    registers = ("OUTPUT", "INPUTA", "INPUTB") if registered is not None else ("OUTPUT",)
    params = {f"p_REG_{r}_{k}": f"{k}0" for r in registers for k in ("CLK", "CE", "RST")}
    m.submodules[f"{name}_mult"] = Instance(
        "MULT18X18D", p_GSR="DISABLED", **params,
        i_SIGNEDA=Const(int(a.shape().signed), 1), i_SIGNEDB=Const(int(b.shape().signed), 1),
        i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
        i_CLK0=ClockSignal(), i_CE0=Const(1, 1), i_RST0=Const(0, 1),
        **ports)
    signed_product = a.shape().signed or b.shape().signed
    m.d.comb += p.eq(out.as_signed() if signed_product else out)
    return p


def check_dsp(dsp):
    """`dsp` as a constructor argument: None or a known primitive."""
    if dsp is not None and dsp not in DSP_PRIMITIVES:
        raise ValueError(f"unknown DSP primitive {dsp!r}; known: {', '.join(DSP_PRIMITIVES)}")
    return dsp
