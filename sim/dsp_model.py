"""A Verilog simulation model of the ECP5 MULT18X18D, which Yosys ships only as a blackbox.

It covers the ways the designs use it: as synth_ecp5 instantiates it (no registers, P = A * B) and as hw/dsp.py
does (the output register, and optionally the A and B input registers, on CLK0 with CE0 and RST0). Each operand is
signed when SIGNEDx is high.
Any other register setting stops the simulation with a message instead of simulating something unmodelled.
"""

import os

from .cache import building, cache_dir, design_key, publish, verified

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
    unsupported = " || ".join(f'REG_{r}_CLK != "NONE"' for r in ("INPUTC", "PIPELINE"))
    off_clk0 = " || ".join(f'(REG_{r}_CLK != "NONE" && (REG_{r}_CLK != "CLK0" || REG_{r}_CE != "CE0" || '
                           f'REG_{r}_RST != "RST0"))' for r in ("INPUTA", "INPUTB", "OUTPUT"))
    return (
        "// Written by mamhw.sim.dsp_model: MULT18X18D, combinational or with registers on CLK0.\n"
        f"module MULT18X18D(input {', '.join(ins)}, output {', '.join(outs)});\n"
        f"{params}"
        '  parameter GSR = "ENABLED";\n  parameter RESETMODE = "SYNC";\n'
        '  parameter CLK0_DIV = "ENABLED";\n  parameter CLK1_DIV = "ENABLED";\n'
        '  parameter CLK2_DIV = "ENABLED";\n  parameter CLK3_DIV = "ENABLED";\n'
        '  parameter HIGHSPEED_CLK = "NONE";\n  parameter CAS_MATCH_REG = "FALSE";\n'
        '  parameter SOURCEB_MODE = "B_SHIFT";\n  parameter MULT_BYPASS = "DISABLED";\n'
        f"  wire [17:0] a_in = {a};\n  wire [17:0] b_in = {b};\n"
        "  reg [17:0] a_reg = 18'b0, b_reg = 18'b0;\n"
        "  always @(posedge CLK0)\n"
        "    if (RST0) begin a_reg <= 18'b0; b_reg <= 18'b0; end\n"
        "    else if (CE0) begin a_reg <= a_in; b_reg <= b_in; end\n"
        '  wire [17:0] a = REG_INPUTA_CLK == "NONE" ? a_in : a_reg;\n'
        '  wire [17:0] b = REG_INPUTB_CLK == "NONE" ? b_in : b_reg;\n'
        "  wire signed [36:0] sa = SIGNEDA ? {{19{a[17]}}, a} : {19'b0, a};\n"
        "  wire signed [36:0] sb = SIGNEDB ? {{19{b[17]}}, b} : {19'b0, b};\n"
        "  wire signed [73:0] prod = sa * sb;\n"
        "  reg [35:0] out_reg = 36'b0;\n"
        "  always @(posedge CLK0)\n"
        "    if (RST0) out_reg <= 36'b0;\n"
        "    else if (CE0) out_reg <= prod[35:0];\n"
        f'  assign {p} = REG_OUTPUT_CLK == "NONE" ? prod[35:0] : out_reg;\n'
        "  initial\n"
        f"    if ({unsupported} ||\n        {off_clk0}) begin\n"
        '      $display("MULT18X18D model: only the A, B and output registers on CLK0/CE0/RST0 are modelled");\n'
        "      $finish;\n"
        "    end\n"
        "endmodule\n"
    )


def mult18x18d_model_file():
    """The model written to the cache (once per version of its text); returns the path."""
    text = mult18x18d_model()
    folder = os.path.join(cache_dir("cellmodels"), design_key("mult18x18d", text))
    path = os.path.join(folder, "mult18x18d_sim.v")
    if not verified(folder, ["mult18x18d_sim.v"]):
        with building(os.path.dirname(folder)) as work:
            with open(os.path.join(work, "mult18x18d_sim.v"), "w") as f:
                f.write(text)
            publish(work, folder, ["mult18x18d_sim.v"])
    return path
