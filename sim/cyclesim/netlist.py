"""Reading a Yosys JSON netlist into the model's values: ports, registers, memories and combinational cells."""

from .params import Unsupported, cname, mask, param, param_bits

__all__ = ["Unsupported", "YOSYS_PASSES", "FF_TYPES", "Var", "Design", "param", "param_bits", "mask", "cname"]

# From Amaranth's RTLIL to a flat netlist of word-level cells ($mem_v2 memories, $dff family registers); every
# pass keeps the design's behaviour. x is made 0 before optimizing, as Amaranth's simulator and CXXRTL read it:
# otherwise opt may pick other values for x (say, for a read port's data before its first read). The opt_clean
# before the first opt merges aliased wires first: a register bit whose D is a constant equal to its init, seen
# through an alias that carries the same init, otherwise stops Yosys 0.70 ("Conflicting init values").
YOSYS_PASSES = ("hierarchy -top top; proc; flatten; setundef -zero -params -init -undriven; opt_clean; opt; "
                "memory -nomap; setundef -zero -params -init; opt; wreduce; opt_clean")

FF_TYPES = ("$dff", "$dffe", "$sdff", "$sdffe", "$sdffce")


class Var:
    """One word of the model: an input port, a register, a synchronous read port's data, or a combinational
    value; `width` bits, always held zero-extended. `vary`: it can differ between lanes."""

    def __init__(self, name, width, kind, label):
        self.name, self.width, self.kind, self.label = name, width, kind, label
        self.init = 0
        self.vary = False
        self.code = None            # comb: its value; ff: its value after the edge
        self.reads = set()          # vars that expression reads
        self.mem = None             # read port data: the memory


class Design:
    """The netlist's module `top` as values: every net bit has one driver (a var and a bit of it) or none (then it
    reads as a constant). `is_comb(kind)` says which cell types are combinational."""

    def __init__(self, netlist, top, lane_inputs, is_comb):
        modules = netlist.get("modules", {})
        if top not in modules:
            raise Unsupported(f"no module {top!r} in the netlist")
        self.mod = modules[top]
        self.lane_inputs = set(lane_inputs)
        self.driver = {}            # net bit -> (var, offset)
        self.vars = []
        self.comb = []              # combinational vars (read ports' asynchronous data, then cells)
        self.cells = []             # (var, cell) of the combinational cells
        self.ffs = []               # (register var, its cell)
        self.mems = []
        self.inputs, self.outputs = [], []
        self.clock_bit = None
        self.tables = {}            # var -> tables.Table: the decoders read from a table
        self.picks = {}             # var -> tables.Pick: the selections read from an array of their arms
        self._init_bits = {}
        for net in self.mod.get("netnames", {}).values():
            init = net.get("attributes", {}).get("init")
            if isinstance(init, int):
                init = format(init, f"0{len(net['bits'])}b")
            if isinstance(init, str):       # MSB first; an x (a repeated bit, say) says nothing
                for bit, v in zip(net["bits"], reversed(init.strip())):
                    if isinstance(bit, int) and v in "01":
                        self._init_bits[bit] = int(v)
        self._read(is_comb)

    def new_var(self, prefix, bits, kind, label):
        var = Var(f"{prefix}{len(self.vars)}", len(bits), kind, label)
        self.vars.append(var)
        for i, bit in enumerate(bits):
            if isinstance(bit, int):
                if bit in self.driver:
                    raise Unsupported(f"net bit {bit} has two drivers ({label})")
                self.driver[bit] = (var, i)
        return var

    def init_of(self, bits):
        return sum(self._init_bits.get(b, 0) << i for i, b in enumerate(bits) if isinstance(b, int))

    def _read(self, is_comb):
        for name, port in self.mod.get("ports", {}).items():
            bits = port["bits"]
            if port["direction"] == "input":
                if name == "clk" and len(bits) == 1:
                    self.clock_bit = bits[0]
                elif name == "rst" and len(bits) == 1:
                    self.new_var("rst", bits, "rst", name)
                else:
                    var = self.new_var("i", bits, "in", f"input {name}")
                    var.name = f"i_{cname(name)}"
                    var.vary = name in self.lane_inputs
                    self.inputs.append(var)
            elif port["direction"] == "output":
                self.outputs.append((name, bits))
            else:
                raise Unsupported(f"inout port {name}")
        if self.clock_bit is None:
            raise Unsupported("no one-bit clk input")
        missing = self.lane_inputs - {v.label[len("input "):] for v in self.inputs}
        if missing:
            raise Unsupported(f"no input port {sorted(missing)[0]}")
        for name, cell in self.mod.get("cells", {}).items():
            kind = cell["type"]
            if kind == "$scopeinfo":
                continue
            if kind in FF_TYPES:
                self._ff(name, cell)
            elif kind == "$mem_v2":
                self._mem(name, cell)
            elif is_comb(kind):
                self.cells.append((self.new_var("c", cell["connections"]["Y"], "comb", f"{kind} {name}"), cell))
            else:
                raise Unsupported(f"cell {name} of type {kind}")
        for mem in self.mems:
            for port in mem["rd"]:
                if not port["sync"]:
                    self.comb.append(port["var"])
        self.comb += [var for var, _ in self.cells]

    def _clocked(self, name, clk_bits, polarity):
        if len(clk_bits) != 1 or clk_bits[0] != self.clock_bit:
            raise Unsupported(f"{name} is not clocked by the clk input")
        if not polarity:
            raise Unsupported(f"{name} is clocked on the falling edge")

    def _ff(self, name, cell):
        p, c = cell["parameters"], cell["connections"]
        self._clocked(name, c["CLK"], param(p.get("CLK_POLARITY", 1)))
        var = self.new_var("q", c["Q"], "ff", f"{cell['type']} {name}")
        var.init = self.init_of(c["Q"])
        self.ffs.append((var, cell))

    def _mem(self, name, cell):
        p, c = cell["parameters"], cell["connections"]
        width, size, abits = param(p["WIDTH"]), param(p["SIZE"]), param(p["ABITS"])
        nrd, nwr = param(p["RD_PORTS"]), param(p["WR_PORTS"])
        if param(p.get("RD_WIDE_CONTINUATION", 0)) or param(p.get("WR_WIDE_CONTINUATION", 0)):
            raise Unsupported(f"memory {name} has wide ports")
        init = param(p.get("INIT", 0))
        mem = dict(name=name, width=width, size=size, abits=abits, offset=param(p["OFFSET"]),
                   words=[(init >> (k * width)) & mask(width) for k in range(size)],
                   cname=f"m{len(self.mems)}", rd=[], wr=[], vary=False)
        rd_clk_en = param_bits(p.get("RD_CLK_ENABLE", 0), nrd)
        rd_pol = param_bits(p.get("RD_CLK_POLARITY", 0), nrd)
        transparent = param_bits(p.get("RD_TRANSPARENCY_MASK", 0), nrd * nwr)
        ce_over_srst = param_bits(p.get("RD_CE_OVER_SRST", 0), nrd)
        srst_val, init_val = param(p.get("RD_SRST_VALUE", 0)), param(p.get("RD_INIT_VALUE", 0))
        wr_clk_en = param_bits(p.get("WR_CLK_ENABLE", 0), nwr)
        wr_pol = param_bits(p.get("WR_CLK_POLARITY", 0), nwr)
        for j in range(nwr):
            if not wr_clk_en[j]:
                raise Unsupported(f"memory {name} has an asynchronous write port")
            self._clocked(f"memory {name} write port {j}", c["WR_CLK"][j:j + 1], wr_pol[j])
            mem["wr"].append(dict(addr=c["WR_ADDR"][j * abits:(j + 1) * abits],
                                  en=c["WR_EN"][j * width:(j + 1) * width],
                                  data=c["WR_DATA"][j * width:(j + 1) * width]))
        for i in range(nrd):
            if any(b != "0" for b in c["RD_ARST"][i:i + 1]):
                raise Unsupported(f"memory {name} read port {i} has an asynchronous reset")
            sync = bool(rd_clk_en[i])
            if sync:
                self._clocked(f"memory {name} read port {i}", c["RD_CLK"][i:i + 1], rd_pol[i])
            var = self.new_var("r" if sync else "a", c["RD_DATA"][i * width:(i + 1) * width],
                               "rd" if sync else "comb", f"{name} read port {i}")
            var.init = (init_val >> (i * width)) & mask(width)
            var.mem = mem
            mem["rd"].append(dict(sync=sync, var=var, addr=c["RD_ADDR"][i * abits:(i + 1) * abits],
                                  en=c["RD_EN"][i:i + 1], srst=c["RD_SRST"][i:i + 1],
                                  srst_val=(srst_val >> (i * width)) & mask(width), ce_over_srst=ce_over_srst[i],
                                  transparent=[j for j in range(nwr) if transparent[i * nwr + j]]))
        # Words allocated: a memory smaller than its address space is padded with words that stay 0 (writes there
        # are dropped), so that a read needs no range check; not when that would more than double it.
        whole = all(all(b == port["en"][0] for b in port["en"]) for port in mem["wr"])
        span = 1 << abits
        mem["alloc"] = span if (mem["offset"] == 0 and size < span <= 2 * size and width <= 64 and whole) else size
        self.mems.append(mem)

    def state(self):
        """The values kept from one cycle to the next: registers, then synchronous read ports' data."""
        return [v for v, _ in self.ffs] + [p["var"] for m in self.mems for p in m["rd"] if p["sync"]]
