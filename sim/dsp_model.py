"""A Verilog simulation model of the ECP5 MULT18X18D, which Yosys ships only as a blackbox.

It covers the two ways the designs use it: as synth_ecp5 instantiates it (no registers, P = A * B) and as
hw/dsp.py does (the output register on CLK0 with CE0 and RST0). Each operand is signed when SIGNEDx is high.
Any other register setting stops the simulation with a message instead of simulating something unmodelled.
"""

import os

from .cache import cache_dir, design_key

__all__ = ["mult18x18d_model", "mult18x18d_model_file"]

_REGISTERS = ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")


def mult18x18d_model():
    """The model's Verilog text."""
    ins = ([f"A{i}" for i in range(18)] + [f"B{i}" for i in range(18)] + [f"C{i}" for i in range(18)]
           + ["SIGNEDA", "SIGNEDB", "SOURCEA", "SOURCEB"]
           + [f"{p}{i}" for p in ("CLK", "CE", "RST") for i in range(4)])
    outs = [f"P{i}" for i in range(36)]
    a = "{" + ", ".join(f"A{i}" for i in reversed(range(18))) + "}"
    b = "{" + ", ".join(f"B{i}" for i in reversed(range(18))) + "}"
    p = "{" + ", ".join(outs[::-1]) + "}"
    params = "".join(f'  parameter REG_{r}_CLK = "NONE";\n  parameter REG_{r}_CE = "CE0";\n'
                     f'  parameter REG_{r}_RST = "RST0";\n' for r in _REGISTERS)
    unsupported = " || ".join(f'REG_{r}_CLK != "NONE"' for r in _REGISTERS[:-1])
    return (
        "// Written by mamhw.sim.dsp_model: MULT18X18D, combinational or with its output register only.\n"
        f"module MULT18X18D(input {', '.join(ins)}, output {', '.join(outs)});\n"
        f"{params}"
        '  parameter GSR = "ENABLED";\n  parameter RESETMODE = "SYNC";\n'
        '  parameter CLK0_DIV = "ENABLED";\n  parameter CLK1_DIV = "ENABLED";\n'
        '  parameter CLK2_DIV = "ENABLED";\n  parameter CLK3_DIV = "ENABLED";\n'
        '  parameter HIGHSPEED_CLK = "NONE";\n  parameter CAS_MATCH_REG = "FALSE";\n'
        '  parameter SOURCEB_MODE = "B_SHIFT";\n  parameter MULT_BYPASS = "DISABLED";\n'
        f"  wire [17:0] a = {a};\n  wire [17:0] b = {b};\n"
        "  wire signed [36:0] sa = SIGNEDA ? {{19{a[17]}}, a} : {19'b0, a};\n"
        "  wire signed [36:0] sb = SIGNEDB ? {{19{b[17]}}, b} : {19'b0, b};\n"
        "  wire signed [73:0] prod = sa * sb;\n"
        "  reg [35:0] out_reg = 36'b0;\n"
        "  always @(posedge CLK0)\n"
        "    if (RST0) out_reg <= 36'b0;\n"
        "    else if (CE0) out_reg <= prod[35:0];\n"
        f'  assign {p} = REG_OUTPUT_CLK == "NONE" ? prod[35:0] : out_reg;\n'
        "  initial\n"
        f'    if ({unsupported} || (REG_OUTPUT_CLK != "NONE" && (REG_OUTPUT_CLK != "CLK0" ||\n'
        '        REG_OUTPUT_CE != "CE0" || REG_OUTPUT_RST != "RST0"))) begin\n'
        '      $display("MULT18X18D model: only the output register on CLK0/CE0/RST0 is modelled");\n'
        "      $finish;\n"
        "    end\n"
        "endmodule\n"
    )


def mult18x18d_model_file():
    """The model written to the cache (once per version of its text); returns the path."""
    text = mult18x18d_model()
    folder = os.path.join(cache_dir("cellmodels"), design_key("mult18x18d", text))
    path = os.path.join(folder, "mult18x18d_sim.v")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        tmp = path + f".{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path
