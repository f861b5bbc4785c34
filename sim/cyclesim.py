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
read as 0 (as CXXRTL does). A design outside what is modelled (other cell types, values over 64 bits, several
clocks, a falling edge, asynchronous resets or writes) raises :class:`Unsupported`; the compiled backend then falls
back to CXXRTL.

Lanes: with ``lanes`` > 1 the model is that many independent copies of the design advancing together, each copy
with its own values of the inputs named in ``lane_inputs`` (the others are shared). A value that can differ
between copies (it depends on a lane input, through any path, registers and memories included) is a GCC vector
of 64-bit lanes, one per copy, and every operation on it works on all copies at once (AVX2: four lanes per
instruction). A value that cannot differ is computed once, as a plain integer: on the engine that is all of the
control (addresses, enables, counters, valid bits), so only the datapath pays per copy. This is an exact static
analysis of the netlist: it needs no assumption about the design.

Generated interface (``model.h``, namespace ``cyclesim``; ``U`` is uint64_t, ``W`` the lane vector, or uint64_t
with one lane)::

    struct Model {
        U i_<input>;  W i_<lane input>;           // every input port but the clock and `rst`
        template<bool RST> void tick();           // one rising clock edge, `rst` held at RST
        W o_<output>() const;                     // output ports up to 64 bits, settled after the last tick
        void o_<output>_chunks(W *dst) const;     // any output port as 32-bit chunks, LSB first
    };
"""

import json
import re

__all__ = ["Unsupported", "YOSYS_PASSES", "generate", "driver_header"]

# From Amaranth's RTLIL to a flat netlist of word-level cells ($mem_v2 memories, $dff family registers); every
# pass keeps the design's behaviour. x is made 0 before optimizing, as Amaranth's simulator and CXXRTL read it:
# otherwise opt may pick other values for x (say, for a read port's data before its first read). The opt_clean
# before the first opt merges aliased wires first: a register bit whose D is a constant equal to its init, seen
# through an alias that carries the same init, otherwise stops Yosys 0.70 ("Conflicting init values").
YOSYS_PASSES = ("hierarchy -top top; proc; flatten; setundef -zero -params -init -undriven; opt_clean; opt; "
                "memory -nomap; setundef -zero -params -init; opt; wreduce; opt_clean")

MAX_WIDTH = 128                 # values up to 64 bits are uint64_t, up to 128 unsigned __int128


class Unsupported(Exception):
    """The netlist uses something this generator does not model (the caller falls back to CXXRTL).
    `lanes_only`: only the lanes are the problem (a value over 64 bits that differs between lanes); one lane
    works."""

    def __init__(self, message, lanes_only=False):
        super().__init__(message)
        self.lanes_only = lanes_only


def _int(value):
    """A JSON parameter (binary string, MSB first, x/z read as 0; or an int) as an int."""
    if isinstance(value, int):
        return value
    value = value.strip()
    if not value:
        return 0
    if set(value) <= set("01xz"):
        return int(value.replace("x", "0").replace("z", "0"), 2)
    raise Unsupported(f"parameter value {value[:40]!r} is not a bit string")


def _bits_of(value, width):
    v = _int(value)
    return [(v >> i) & 1 for i in range(width)]


def _mask(width):
    return (1 << width) - 1


def _hex(value):
    """A C++ literal: uint64_t, or unsigned __int128 beyond 64 bits."""
    if value >= 1 << 64:
        return f"(((U2){value >> 64:#x}ull << 64) | {value & _mask(64):#x}ull)"
    return f"{value:#x}ull" if value > 9 else f"{value}ull"


def _cname(name):
    return re.sub(r"\W", "_", name)


def _ctype(width):
    # At least 16 bits: stores through a char type may alias anything, which would make g++ reload registers.
    for bits in (16, 32, 64):
        if width <= bits:
            return f"uint{bits}_t"
    raise Unsupported(f"{width}-bit memory words")


class _Var:
    """One word of the model: an input port, a register, a synchronous read port's data, or a combinational
    value; `width` bits, always held zero-extended. `vary`: it can differ between lanes."""

    def __init__(self, name, width, kind, label):
        if width > MAX_WIDTH:
            raise Unsupported(f"{label} is {width} bits wide (at most {MAX_WIDTH})")
        self.name, self.width, self.kind, self.label = name, width, kind, label
        self.init = 0
        self.vary = False
        self.code = None            # comb: its value; ff: its value after the edge
        self.reads = set()          # vars that expression reads
        self.mem = None             # read port data: the memory


# Helpers of the generated code. V() makes a lane vector of a value; U01/W01 turn a comparison into 0 or 1.
_PRELUDE_COMMON = """\
typedef uint64_t U;
typedef int64_t SU;
#define U01(x) ((U)(x))
static inline U sx(U v, unsigned w) { return (U)((SU)(v << (64 - w)) >> (64 - w)); }
// Sign extension of a value whose bits above w are 0 (every operand is held so): flip and subtract the sign bit.
static inline U sxc(U v, unsigned w) { return w >= 64 ? v : (v ^ (1ull << (w - 1))) - (1ull << (w - 1)); }
static inline SU ss(U v, unsigned w) { return (SU)sxc(v, w); }
static inline U shl(U v, U n) { return n >= 64 ? 0 : v << n; }
static inline U shr(U v, U n) { return n >= 64 ? 0 : v >> n; }
static inline U sar(U v, U n) { return (U)((SU)v >> (n >= 63 ? 63 : n)); }
static inline U parity(U v) { return (U)__builtin_parityll(v); }
// Values of 65 to 128 bits.
typedef unsigned __int128 U2;
typedef __int128 S2;
static inline U2 sx2(U2 v, unsigned w) { return (U2)((S2)(v << (128 - w)) >> (128 - w)); }
static inline U2 shl2(U2 v, U n) { return n >= 128 ? 0 : v << n; }
static inline U2 shr2(U2 v, U n) { return n >= 128 ? 0 : v >> n; }
static inline U2 sar2(U2 v, U n) { return (U2)((S2)v >> (n >= 127 ? 127 : n)); }
static inline U parity(U2 v) { return parity((U)v ^ (U)(v >> 64)); }
// Memories whose contents are the same in every lane: one word per address.
template<class T, size_t N> static inline U mread(const T (&m)[N], U i) { return i < N ? (U)m[i] : 0; }
template<class T, size_t N> static inline U mread_f(const T (&m)[N], U i) { return (U)m[i]; }
template<class T, size_t N> static inline void mwrite(T (&m)[N], U i, U en, U data) {
    if (en && i < N) m[i] = (T)data;
}
template<class T, size_t N> static inline void mwrite_bits(T (&m)[N], U i, U en, U data) {
    if (en && i < N) m[i] = (T)((m[i] & ~en) | (data & en));
}
template<class T, size_t N> static inline void mset(T (&m)[N], size_t i, U v) { m[i] = (T)v; }
"""

_PRELUDE_SCALAR = """\
constexpr int LANES = 1;
typedef U W;
static inline U V(U x) { return x; }
"""

_PRELUDE_LANES = """\
constexpr int LANES = {lanes};
typedef uint64_t W __attribute__((vector_size(8 * LANES)));
typedef int64_t S __attribute__((vector_size(8 * LANES)));
static inline W V(U x) {{ return W{{}} + x; }}
static inline W V(W x) {{ return x; }}
#define W01(x) ((W)-(x))
// AVX2 has no 64-bit arithmetic right shift: sign extension and sar by xor-and-subtract of the sign bit.
static inline W sx(W v, unsigned w) {{
    if (w >= 64) return v;
    const U h = 1ull << (w - 1);
    return ((v & (h | (h - 1))) ^ h) - h;
}}
static inline W sxc(W v, unsigned w) {{
    if (w >= 64) return v;
    const U h = 1ull << (w - 1);
    return (v ^ h) - h;
}}
static inline S ss(W v, unsigned w) {{ return (S)sxc(v, w); }}
static inline W shl(W v, W n) {{ return n >= 64 ? V(0) : v << (n & 63); }}
static inline W shr(W v, W n) {{ return n >= 64 ? V(0) : v >> (n & 63); }}
static inline W sar(W v, W n) {{
    const W k = n >= 63 ? V(63) : n, h = V(1ull << 63) >> k;
    return ((v >> k) ^ h) - h;
}}
static inline W parity(W v) {{ W r; for (int k = 0; k < LANES; k++) r[k] = __builtin_parityll(v[k]); return r; }}
// An address that differs between lanes: one access per lane.
template<class T, size_t N> static inline W mread(const T (&m)[N], W i) {{
    W r; for (int k = 0; k < LANES; k++) r[k] = i[k] < N ? m[i[k]] : 0; return r;
}}
template<class T, size_t N> static inline W mread_f(const T (&m)[N], W i) {{
    W r; for (int k = 0; k < LANES; k++) r[k] = m[i[k]]; return r;
}}
// Memories whose contents differ between lanes hold each lane's word side by side: m[address][lane].
template<class T, size_t N> static inline W mread(const T (&m)[N][LANES], U i) {{
    W r; for (int k = 0; k < LANES; k++) r[k] = i < N ? m[i][k] : 0; return r;
}}
template<class T, size_t N> static inline W mread_f(const T (&m)[N][LANES], U i) {{
    W r; for (int k = 0; k < LANES; k++) r[k] = m[i][k]; return r;
}}
template<class T, size_t N> static inline W mread(const T (&m)[N][LANES], W i) {{
    W r; for (int k = 0; k < LANES; k++) r[k] = i[k] < N ? m[i[k]][k] : 0; return r;
}}
template<class T, size_t N> static inline W mread_f(const T (&m)[N][LANES], W i) {{
    W r; for (int k = 0; k < LANES; k++) r[k] = m[i[k]][k]; return r;
}}
template<class T, size_t N> static inline void mwrite(T (&m)[N][LANES], U i, U en, W data) {{
    if (en && i < N)
        for (int k = 0; k < LANES; k++) m[i][k] = (T)data[k];
}}
template<class T, size_t N> static inline void mwrite(T (&m)[N][LANES], W i, W en, W data) {{
    for (int k = 0; k < LANES; k++)
        if (en[k] && i[k] < N) m[i[k]][k] = (T)data[k];
}}
template<class T, size_t N> static inline void mwrite_bits(T (&m)[N][LANES], W i, W en, W data) {{
    for (int k = 0; k < LANES; k++)
        if (en[k] && i[k] < N) m[i[k]][k] = (T)((m[i[k]][k] & ~en[k]) | (data[k] & en[k]));
}}
template<class T, size_t N> static inline void mset(T (&m)[N][LANES], size_t i, U v) {{
    for (int k = 0; k < LANES; k++) m[i][k] = (T)v;
}}
"""

# With AVX2 and four lanes, a lane-memory access at one address is one instruction (GCC does not find these).
_PRELUDE_AVX2 = """#ifdef __AVX2__
template<size_t N> static inline W mread_f(const uint32_t (&m)[N][LANES], U i) {
    return (W)_mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)m[i]));
}
template<size_t N> static inline W mread(const uint32_t (&m)[N][LANES], U i) { return i < N ? mread_f(m, i) : V(0); }
template<size_t N> static inline W mread_f(const uint64_t (&m)[N][LANES], U i) {
    return (W)_mm256_loadu_si256((const __m256i *)m[i]);
}
template<size_t N> static inline W mread(const uint64_t (&m)[N][LANES], U i) { return i < N ? mread_f(m, i) : V(0); }
template<size_t N> static inline void mwrite(uint32_t (&m)[N][LANES], U i, U en, W data) {
    if (en && i < N) {
        const __m256i low = _mm256_permutevar8x32_epi32((__m256i)data, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
        _mm_storeu_si128((__m128i *)m[i], _mm256_castsi256_si128(low));
    }
}
template<size_t N> static inline void mwrite(uint64_t (&m)[N][LANES], U i, U en, W data) {
    if (en && i < N) _mm256_storeu_si256((__m256i *)m[i], (__m256i)data);
}
#endif
"""


class _Gen:
    def __init__(self, netlist, top, lanes, lane_inputs):
        modules = netlist.get("modules", {})
        if top not in modules:
            raise Unsupported(f"no module {top!r} in the netlist")
        self.mod = modules[top]
        self.lanes = lanes
        self.lane_inputs = set(lane_inputs) if lanes > 1 else set()
        self.driver = {}            # net bit -> (var, offset)
        self.vars = []
        self.comb = []              # combinational vars (in evaluation order after build())
        self.ffs = []               # (register var, its cell)
        self.mems = []
        self.inputs, self.outputs = [], []
        self.clock_bit = None
        self._init_bits = {}
        for net in self.mod.get("netnames", {}).values():
            init = net.get("attributes", {}).get("init")
            if isinstance(init, int):
                init = format(init, f"0{len(net['bits'])}b")
            if isinstance(init, str):       # MSB first; an x (a repeated bit, say) says nothing
                for bit, v in zip(net["bits"], reversed(init.strip())):
                    if isinstance(bit, int) and v in "01":
                        self._init_bits[bit] = int(v)

    # -- values and signal expressions ---------------------------------------------------------------------------

    def new_var(self, prefix, bits, kind, label):
        var = _Var(f"{prefix}{len(self.vars)}", len(bits), kind, label)
        self.vars.append(var)
        for i, bit in enumerate(bits):
            if isinstance(bit, int):
                if bit in self.driver:
                    raise Unsupported(f"net bit {bit} has two drivers ({label})")
                self.driver[bit] = (var, i)
        return var

    def init_of(self, bits):
        return sum(self._init_bits.get(b, 0) << i for i, b in enumerate(bits) if isinstance(b, int))

    @staticmethod
    def vec(reads):
        """Whether an expression reading `reads` is a lane vector."""
        return any(v.vary for v in reads)

    def w(self, expr, reads):
        """`expr` as a lane vector (for the arms of a selection whose result is one)."""
        return expr if self.vec(reads) else f"V({expr})"

    def sig(self, bits):
        """A C++ expression for the signal `bits` (LSB first), zero-extended, and the set of vars it reads.

        Runs of consecutive bits of one var become one shift-and-mask; a run that repeats its last bit (how Yosys
        spells sign extension) becomes one sign extension."""
        if len(bits) > MAX_WIDTH:
            raise Unsupported(f"a {len(bits)}-bit operand (at most {MAX_WIDTH})")
        wide = len(bits) > 64
        terms, reads, const = [], set(), 0
        i = 0
        while i < len(bits):
            bit = bits[i]
            if bit == self.clock_bit:
                raise Unsupported("the clock is used as a signal")
            if not isinstance(bit, int) or bit not in self.driver:      # constant; x, z and undriven read 0
                const |= (1 if bit == "1" else 0) << i
                i += 1
                continue
            var, off = self.driver[bit]
            n = 1
            while (i + n < len(bits) and isinstance(bits[i + n], int) and
                   self.driver.get(bits[i + n]) == (var, off + n)):
                n += 1
            r = 0
            while i + n + r < len(bits) and bits[i + n + r] == bits[i + n - 1]:
                r += 1
            reads.add(var)
            ref = "(U)RST" if var.kind == "rst" else var.name
            low = ref if off == 0 else f"({ref} >> {off})"
            if r and n + r > 64:
                t = _fit(f"sx2({low}, {n})", n + r, 128)
            elif r:
                t = _fit(f"sx({low}, {n})", n + r)
            elif off == 0 and n == var.width:
                t = ref
            elif off + n == var.width:
                t = low
            else:
                t = f"({low} & {_hex(_mask(n))})"
            if wide and var.width <= 64:
                t = f"(U2){t}"
            elif not wide and var.width > 64:   # a narrow slice of a wide value: a plain integer again
                t = f"(U){t}"
            terms.append(f"({t} << {i})" if i else t)
            i += n + r
        if const or not terms:
            terms.append(_hex(const))
        expr = terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")"
        return expr, reads

    # -- reading the netlist -------------------------------------------------------------------------------------

    def build(self):
        for name, port in self.mod.get("ports", {}).items():
            bits = port["bits"]
            if port["direction"] == "input":
                if name == "clk" and len(bits) == 1:
                    self.clock_bit = bits[0]
                elif name == "rst" and len(bits) == 1:
                    self.new_var("rst", bits, "rst", name)
                else:
                    var = self.new_var("i", bits, "in", f"input {name}")
                    var.name = f"i_{_cname(name)}"
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
        cells = []
        for name, cell in self.mod.get("cells", {}).items():
            kind = cell["type"]
            if kind == "$scopeinfo":
                continue
            if kind in _FF_TYPES:
                self.ff(name, cell)
            elif kind == "$mem_v2":
                self.mem(name, cell)
            elif kind in _COMB:
                cells.append((self.new_var("c", cell["connections"]["Y"], "comb", f"{kind} {name}"), cell))
            else:
                raise Unsupported(f"cell {name} of type {kind}")
        # Every net has its driver now. What each value reads does not depend on the lanes, so read that first,
        # find which values vary between lanes, then write the expressions (whose types depend on it).
        self.cells = cells
        for mem in self.mems:
            for port in mem["rd"]:
                if not port["sync"]:
                    self.comb.append(port["var"])
        self.comb += [var for var, _ in cells]
        self.express()
        self.find_varying()
        for v in self.vars:
            if v.vary and v.width > 64:
                raise Unsupported(f"{v.label} is {v.width} bits wide and differs between lanes", lanes_only=True)
        for v, cell in cells:
            if v.vary and _cell_width(cell) > 64:
                raise Unsupported(f"{v.label} works on over 64 bits and differs between lanes", lanes_only=True)
        self.express()
        self.comb = self.topo(self.comb)

    def express(self):
        for var, cell in self.cells:
            var.code, var.reads = _COMB[cell["type"]](self, cell)
        for mem in self.mems:
            for port in mem["rd"]:
                addr, reads = self.sig(port["addr"])
                port["addr_code"] = addr
                if not port["sync"]:
                    port["var"].code, port["var"].reads = self.mem_read(mem, addr), reads
        for var, cell in self.ffs:
            var.code, var.reads = self.ff_next(var, cell)

    def find_varying(self):
        """Mark every value that can differ between lanes: a fixed point over the netlist."""
        if not self.lane_inputs:
            return
        for mem in self.mems:
            ports = [p["addr"] for p in mem["wr"]] + [p["en"] for p in mem["wr"]] + [p["data"] for p in mem["wr"]]
            mem["writes_read"] = set().union(*(self.sig(b)[1] for b in ports)) if ports else set()
            for port in mem["rd"]:
                bits = [port["addr"], port["en"], port["srst"]]
                port["reads"] = set().union(*(self.sig(b)[1] for b in bits))
        changed = True
        while changed:
            changed = False
            for mem in self.mems:
                if not mem["vary"] and self.vec(mem["writes_read"]):
                    mem["vary"] = changed = True
                for port in mem["rd"]:
                    v = port["var"]
                    if not v.vary and (mem["vary"] or self.vec(port["reads"])):
                        v.vary = changed = True
            for v in self.comb + [v for v, _ in self.ffs]:
                if not v.vary and v.kind != "rd" and self.vec(v.reads):
                    v.vary = changed = True

    def clocked(self, name, clk_bits, polarity):
        if len(clk_bits) != 1 or clk_bits[0] != self.clock_bit:
            raise Unsupported(f"{name} is not clocked by the clk input")
        if not polarity:
            raise Unsupported(f"{name} is clocked on the falling edge")

    def ff(self, name, cell):
        p, c = cell["parameters"], cell["connections"]
        self.clocked(name, c["CLK"], _int(p.get("CLK_POLARITY", 1)))
        var = self.new_var("q", c["Q"], "ff", f"{cell['type']} {name}")
        var.init = self.init_of(c["Q"])
        self.ffs.append((var, cell))

    def ff_next(self, var, cell):
        """The register's value after the edge, and the vars that expression reads."""
        kind, p, c = cell["type"], cell["parameters"], cell["connections"]
        d, reads = self.sig(c["D"])
        d_reads = set(reads)
        q = var.name
        rval = _hex(_int(p.get("SRST_VALUE", 0)) & _mask(var.width))
        if kind in ("$dffe", "$sdffe", "$sdffce"):
            en, r = self.sig(c["EN"])
            reads |= r | {var}
            on = en if _int(p["EN_POLARITY"]) else f"({en} ^ 1)"
        if kind in ("$sdff", "$sdffe", "$sdffce"):
            srst, r = self.sig(c["SRST"])
            reads |= r
            rst_on = srst if _int(p["SRST_POLARITY"]) else f"({srst} ^ 1)"
        if var.vary:                        # the arms of a vector selection are vectors
            d, rval = self.w(d, d_reads), f"V({rval})"
        if kind == "$dff":
            code = d
        elif kind == "$dffe":
            code = f"({on} ? {d} : {q})"
        elif kind == "$sdff":
            code = f"({rst_on} ? {rval} : {d})"
        elif kind == "$sdffe":              # reset over enable
            code = f"({rst_on} ? {rval} : {on} ? {d} : {q})"
        else:                               # $sdffce: reset only when enabled
            code = f"({on} ? ({rst_on} ? {rval} : {d}) : {q})"
        return code, reads

    def mem(self, name, cell):
        p, c = cell["parameters"], cell["connections"]
        width, size, abits = _int(p["WIDTH"]), _int(p["SIZE"]), _int(p["ABITS"])
        if width > 64:
            raise Unsupported(f"memory {name} is {width} bits wide (at most 64)")
        nrd, nwr = _int(p["RD_PORTS"]), _int(p["WR_PORTS"])
        if _int(p.get("RD_WIDE_CONTINUATION", 0)) or _int(p.get("WR_WIDE_CONTINUATION", 0)):
            raise Unsupported(f"memory {name} has wide ports")
        init = _int(p.get("INIT", 0))
        mem = dict(name=name, width=width, size=size, abits=abits, offset=_int(p["OFFSET"]),
                   words=[(init >> (k * width)) & _mask(width) for k in range(size)],
                   cname=f"m{len(self.mems)}", rd=[], wr=[], vary=False)
        rd_clk_en = _bits_of(p.get("RD_CLK_ENABLE", 0), nrd)
        rd_pol = _bits_of(p.get("RD_CLK_POLARITY", 0), nrd)
        transparent = _bits_of(p.get("RD_TRANSPARENCY_MASK", 0), nrd * nwr)
        ce_over_srst = _bits_of(p.get("RD_CE_OVER_SRST", 0), nrd)
        srst_val, init_val = _int(p.get("RD_SRST_VALUE", 0)), _int(p.get("RD_INIT_VALUE", 0))
        wr_clk_en = _bits_of(p.get("WR_CLK_ENABLE", 0), nwr)
        wr_pol = _bits_of(p.get("WR_CLK_POLARITY", 0), nwr)
        for j in range(nwr):
            if not wr_clk_en[j]:
                raise Unsupported(f"memory {name} has an asynchronous write port")
            self.clocked(f"memory {name} write port {j}", c["WR_CLK"][j:j + 1], wr_pol[j])
            mem["wr"].append(dict(addr=c["WR_ADDR"][j * abits:(j + 1) * abits],
                                  en=c["WR_EN"][j * width:(j + 1) * width],
                                  data=c["WR_DATA"][j * width:(j + 1) * width]))
        for i in range(nrd):
            if any(b != "0" for b in c["RD_ARST"][i:i + 1]):
                raise Unsupported(f"memory {name} read port {i} has an asynchronous reset")
            sync = bool(rd_clk_en[i])
            if sync:
                self.clocked(f"memory {name} read port {i}", c["RD_CLK"][i:i + 1], rd_pol[i])
            var = self.new_var("r" if sync else "a", c["RD_DATA"][i * width:(i + 1) * width],
                               "rd" if sync else "comb", f"{name} read port {i}")
            var.init = (init_val >> (i * width)) & _mask(width)
            var.mem = mem
            mem["rd"].append(dict(sync=sync, var=var, addr=c["RD_ADDR"][i * abits:(i + 1) * abits],
                                  en=c["RD_EN"][i:i + 1], srst=c["RD_SRST"][i:i + 1],
                                  srst_val=(srst_val >> (i * width)) & _mask(width), ce_over_srst=ce_over_srst[i],
                                  transparent=[j for j in range(nwr) if transparent[i * nwr + j]]))
        self.mems.append(mem)

    def mem_index(self, mem, addr):
        """The word index for address `addr`, and whether it can fall outside the memory."""
        index = f"({addr} - {_hex(mem['offset'])})" if mem["offset"] else addr
        return index, not (mem["offset"] == 0 and mem["size"] >= (1 << mem["abits"]))

    def mem_read(self, mem, addr):
        index, check = self.mem_index(mem, addr)
        return f"{'mread' if check else 'mread_f'}({mem['cname']}, {index})"

    # -- ordering ------------------------------------------------------------------------------------------------

    def topo(self, comb):
        """Combinational vars in an order where each comes after the vars it reads."""
        order, state = [], {}
        key = lambda v: v.name      # noqa: E731 - a deterministic order, so the same design gives the same code
        for root in comb:
            if root in state:
                continue
            state[root] = 1
            stack = [(root, iter(sorted((v for v in root.reads if v.kind == "comb"), key=key)))]
            while stack:
                var, it = stack[-1]
                dep = next(it, None)
                if dep is None:
                    stack.pop()
                    state[var] = 2
                    order.append(var)
                elif state.get(dep) == 1:
                    raise Unsupported(f"combinational loop through {dep.label}")
                elif dep not in state:
                    state[dep] = 1
                    stack.append((dep, iter(sorted((v for v in dep.reads if v.kind == "comb"), key=key))))
        return order

    def update_order(self, nodes):
        """Groups of state vars to update in place: a var is written only after every var whose next value
        reads it. Vars on a cycle of such reads come as one group (updated through temporaries)."""
        index, low, on_stack, stack, groups = {}, {}, set(), [], []
        succ = {v: sorted((r for r in v.reads if r in nodes and r is not v), key=lambda r: r.name) for v in nodes}
        counter = [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on_stack.add(v)

        for root in sorted(nodes, key=lambda v: v.name):
            if root in index:
                continue
            visit(root)
            work = [(root, iter(succ[root]))]
            while work:                     # Tarjan's strongly connected components, iteratively
                v, it = work[-1]
                w = next(it, None)
                if w is not None:
                    if w not in index:
                        visit(w)
                        work.append((w, iter(succ[w])))
                    elif w in on_stack:
                        low[v] = min(low[v], index[w])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.append(w)
                        if w is v:
                            break
                    groups.append(group)
        # A group comes out after every group it reads; the readers must be updated first.
        return list(reversed(groups))

    def cone(self, reads):
        """The combinational vars (in evaluation order) that a signal reading `reads` depends on."""
        need, todo = set(), [v for v in reads if v.kind == "comb"]
        while todo:
            v = todo.pop()
            if v not in need:
                need.add(v)
                todo.extend(r for r in v.reads if r.kind == "comb")
        return [v for v in self.comb if v in need]

    # -- emission ------------------------------------------------------------------------------------------------

    def ctype(self, var):
        return "W" if var.vary else "U2" if var.width > 64 else "U"

    def emit(self):
        out = ["// Generated by mamhw.sim.cyclesim from the Yosys netlist of one design: a cycle-based model.\n"
               "#pragma once\n#include <cstddef>\n#include <cstdint>\n#include <cstring>\n"
               "#ifdef __AVX2__\n#include <immintrin.h>\n#endif\n\nnamespace cyclesim {\n\n",
               _PRELUDE_COMMON,
               _PRELUDE_LANES.format(lanes=self.lanes) if self.lanes > 1 else _PRELUDE_SCALAR]
        if self.lanes == 4:
            out.append(_PRELUDE_AVX2)
        for mem in self.mems:
            if not mem["wr"] or any(mem["words"]):
                table = mem["cname"] if not mem["wr"] else f"{mem['cname']}_init"   # a ROM is its table
                out.append(f"\nstatic const {_ctype(mem['width'])} {table}[{mem['size']}] = {{  // {mem['name']}\n")
                words = [str(v) for v in mem["words"]]
                out += ["    " + ", ".join(words[k:k + 16]) + ",\n" for k in range(0, len(words), 16)]
                out.append("};\n")
        out.append("\nstruct Model {\n")
        for var in self.inputs:
            out.append(f"    {self.ctype(var)} {var.name} = {self.initial(var, 0)};   // {var.label}\n")
        state = [v for v, _ in self.ffs] + [p["var"] for m in self.mems for p in m["rd"] if p["sync"]]
        for var in state:
            out.append(f"    {self.ctype(var)} {var.name} = {self.initial(var, var.init)};   // {var.label}\n")
        rams = [mem for mem in self.mems if mem["wr"]]
        for mem in rams:
            if mem["vary"]:                 # lane words of 32 or 64 bits: whole-vector loads and stores
                ctype = "uint32_t" if mem["width"] <= 32 else "uint64_t"
                out.append(f"    {ctype} {mem['cname']}[{mem['size']}][LANES];   // {mem['name']}\n")
            else:
                out.append(f"    {_ctype(mem['width'])} {mem['cname']}[{mem['size']}];   // {mem['name']}\n")
        out.append("\n    Model() {\n")
        for mem in rams:
            out.append(f"        std::memset({mem['cname']}, 0, sizeof {mem['cname']});\n")
            if any(mem["words"]):
                out.append(f"        for (size_t i = 0; i < {mem['size']}; i++) mset({mem['cname']}, i, "
                           f"{mem['cname']}_init[i]);\n")
        out.append("    }\n\n    template<bool RST> __attribute__((noinline)) void tick() {\n")
        out.append(self.tick_body(state))
        out.append("    }\n")
        for name, bits in self.outputs:
            out.append(self.output_accessors(name, bits))
        out.append("};\n\n}  // namespace cyclesim\n")
        return "".join(out)

    def initial(self, var, value):
        return f"V({_hex(value)})" if var.vary else _hex(value)

    def comb_code(self, comb, ind):
        return "".join(f"{ind}const {self.ctype(v)} {v.name} = {v.code};   // {v.label}\n" for v in comb)

    def tick_body(self, state):
        """One clock edge. Everything reads the values from before the edge: combinational values, synchronous
        reads (into temporaries) and memory writes come before the update of any register they read, and each
        register is updated in place once everything reading its old value is done. Within those rules each
        value is computed just before its first use, so few values live long (fewer spills)."""
        ind = "        "
        items = {}                  # key -> [code, predecessor keys]
        readers = {}                # state var -> keys of items that read its value from before the edge

        def add(key, code, reads, extra=()):
            preds = [("c", v) for v in sorted(reads, key=lambda v: v.name) if v.kind == "comb"]
            items[key] = [code, preds + list(extra)]
            for v in reads:
                if v.kind in ("ff", "rd"):
                    readers.setdefault(v, []).append(key)

        for v in self.comb:
            add(("c", v), f"{ind}const {self.ctype(v)} {v.name} = {v.code};   // {v.label}\n", v.reads)
        for m, mem in enumerate(self.mems):
            reads_of_mem = []       # a memory's writes come after every read of it
            for port in mem["rd"]:
                if port["sync"]:
                    code, reads = self.sync_read(mem, port, ind)
                    add(("r", port["var"]), code, reads)
                    reads_of_mem.append(("r", port["var"]))
                else:
                    reads_of_mem.append(("c", port["var"]))
            for j, port in enumerate(mem["wr"]):
                code, reads = self.mem_write(mem, port, ind)
                add(("w", m, j), code, reads, reads_of_mem)
        groups = self.update_order(set(state))
        owner = {}
        for group in groups:
            for v in group:
                if v.kind == "rd":
                    v.code, v.reads = f"n_{v.name}", set()
            key = ("u", group[0])
            if len(group) == 1:
                v = group[0]
                code = f"{ind}{v.name} = {v.code};\n" if v.code != v.name else ""
            else:
                code = "".join(f"{ind}const {self.ctype(v)} t_{v.name} = {v.code};\n" for v in group)
                code += "".join(f"{ind}{v.name} = t_{v.name};\n" for v in group)
            reads = set().union(*(v.reads for v in group)) - set(group)
            add(key, code, reads, [("r", v) for v in group if v.kind == "rd"])
            for v in group:
                owner[v] = key
        for v, keys in readers.items():     # every reader of a register's old value comes before its update
            items[owner[v]][1] += [k for k in keys if k != owner[v]]
        out, done = [], {}

        def emit(root):
            done[root] = 1
            stack = [(root, iter(items[root][1]))]
            while stack:
                key, it = stack[-1]
                pred = next(it, None)
                if pred is None:
                    stack.pop()
                    done[key] = 2
                    out.append(items[key][0])
                elif done.get(pred) == 1:
                    raise Unsupported("no order for the register updates")
                elif pred not in done:
                    done[pred] = 1
                    stack.append((pred, iter(items[pred][1])))

        for group in groups:
            if ("u", group[0]) not in done:
                emit(("u", group[0]))
        for key in items:
            if key not in done:
                emit(key)
        return "".join(out)

    def sync_read(self, mem, port, ind):
        """The statements that compute a synchronous read port's next value into n_<var>, and the vars read."""
        v = port["var"]
        t = self.ctype(v)
        addr = port["addr_code"]
        _, addr_reads = self.sig(port["addr"])
        en, r1 = self.sig(port["en"])
        srst, r2 = self.sig(port["srst"])
        reads = addr_reads | r1 | r2
        value = self.mem_read(mem, addr)
        if v.vary and not mem["vary"] and not self.vec(addr_reads):
            value = f"V({value})"
        read = f"n_{v.name} = {value};"
        for j in port["transparent"]:       # a transparent port sees the data written in the same cycle
            wp = mem["wr"][j]
            waddr, r3 = self.sig(wp["addr"])
            wen, r4 = self.sig(wp["en"])
            wdata, r5 = self.sig(wp["data"])
            reads |= r3 | r4 | r5
            merged = f"((n_{v.name} & ~{wen}) | ({wdata} & {wen}))"
            read += f" n_{v.name} = ({waddr} == {addr}) ? {merged} : n_{v.name};"
        srst_val = f"V({_hex(port['srst_val'])})" if v.vary else _hex(port["srst_val"])
        if srst == "0ull" and en == "1ull":
            return f"{ind}{t} {read}   // {v.label}\n", reads
        reads.add(v)
        lines = [f"{ind}{t} n_{v.name} = {v.name};   // {v.label}\n"]
        if self.vec(r1 | r2):               # per-lane enable or reset: compute the read, then select
            lines.append(f"{ind}{{ const {t} hold = n_{v.name}; {read}\n")
            if srst == "0ull":
                lines.append(f"{ind}  n_{v.name} = {en} ? n_{v.name} : hold; }}\n")
            elif port["ce_over_srst"]:
                lines.append(f"{ind}  n_{v.name} = {en} ? ({srst} ? {srst_val} : n_{v.name}) : hold; }}\n")
            else:
                lines.append(f"{ind}  n_{v.name} = {srst} ? {srst_val} : {en} ? n_{v.name} : hold; }}\n")
        elif srst == "0ull":
            lines.append(f"{ind}if ({en}) {{ {read} }}\n")
        elif port["ce_over_srst"]:
            lines.append(f"{ind}if ({en}) {{ if ({srst}) n_{v.name} = {srst_val}; else {{ {read} }} }}\n")
        else:
            lines.append(f"{ind}if ({srst}) n_{v.name} = {srst_val}; else if ({en}) {{ {read} }}\n")
        return "".join(lines), reads

    def mem_write(self, mem, port, ind):
        """The statement of one write port, and the vars it reads."""
        addr, reads = self.sig(port["addr"])
        index, _ = self.mem_index(mem, addr)
        data, r1 = self.sig(port["data"])
        en_bits = port["en"]
        whole = all(b == en_bits[0] for b in en_bits)   # one enable for the whole word: the common case
        en, r2 = self.sig(en_bits[:1] if whole else en_bits)
        if en == "0ull":
            return "", set()
        if mem["vary"]:
            data = self.w(data, r1)
            if self.vec(reads | r2) or not whole:       # the address or the enable differs between lanes
                index, en = self.w(index, reads), self.w(en, r2)
        reads |= r1 | r2
        return f"{ind}{'mwrite' if whole else 'mwrite_bits'}({mem['cname']}, {index}, {en}, {data});\n", reads

    def output_accessors(self, name, bits):
        ind = "        "
        cname = _cname(name)
        out = []
        if len(bits) <= 64:
            expr, reads = self.sig(bits)
            out.append(f"    W o_{cname}() const {{\n{self.comb_code(self.cone(reads), ind)}{ind}return V({expr});\n"
                       f"    }}\n")
        body = []
        for k in range(0, len(bits), 32):
            expr, reads = self.sig(bits[k:k + 32])
            cone = self.comb_code(self.cone(reads), ind + "    ")
            body.append(f"{ind}{{\n{cone}{ind}    dst[{k // 32}] = V({expr});\n{ind}}}\n")
        out.append(f"    void o_{cname}_chunks(W *dst) const {{\n{''.join(body)}    }}\n")
        return "".join(out)


# -- combinational cells, after Yosys's simlib.v ---------------------------------------------------------------
# Each returns (expression, vars read). Operands are zero-extended values of their width; `_fit` cuts a result to
# Y_WIDTH bits when it can be wider ("natural": how many bits the raw expression can occupy). Scalars and lane
# vectors mix freely in arithmetic (GCC widens the scalar); selections and helper calls need both as vectors.

def _cell_width(cell):
    """The widest value a cell computes on (a parallel mux's arms are separate values)."""
    c = cell["connections"]
    if cell["type"] in ("$pmux", "$bmux"):
        return max(len(c["Y"]), _int(cell["parameters"]["WIDTH"]))
    return max(len(b) for b in c.values())


def _fit(expr, yw, natural=64):
    if natural <= yw or yw >= 128 or (yw == 64 and natural <= 64):
        return expr
    return f"(({expr}) & {_hex(_mask(yw))})"


def _operands(g, cell, names):
    c = cell["connections"]
    ops, reads = [], set()
    for n in names:
        e, r = g.sig(c[n])
        reads |= r
        ops.append((e, len(c[n]), r))
    return cell["parameters"], ops, reads


def _ext(e, w, signed, wide=False):
    """Operand `e` (zero-extended, `w` bits) extended to the width of the operation (128 bits when `wide`)."""
    if wide:
        return f"sx2({e}, {w})" if signed else f"(U2){e}"
    return f"sxc({e}, {w})" if signed and w < 64 else e


def _both(g, ops, reads):
    """Operand expressions as vectors when the result is one (for helper calls)."""
    if not g.vec(reads):
        return [e for e, _, _ in ops]
    return [g.w(e, r) for e, _, r in ops]


def _binary(op):
    def code(g, cell):
        p, ((a, aw, _), (b, bw, _)), reads = _operands(g, cell, "AB")
        signed = _int(p["A_SIGNED"]) and _int(p["B_SIGNED"])
        yw = _int(p["Y_WIDTH"])
        if max(aw, bw, yw) > MAX_WIDTH:
            raise Unsupported(f"{cell['type']} wider than {MAX_WIDTH} bits")
        wide = max(aw, bw, yw) > 64
        # The low yw bits of these results depend on the low yw bits of the operands only: an operand at least
        # yw bits wide needs no sign extension.
        ea, eb = _ext(a, aw, signed and aw < yw, wide), _ext(b, bw, signed and bw < yw, wide)
        full = 128 if wide else 64
        natural = full if signed else {"&": min(aw, bw), "|": max(aw, bw), "^": max(aw, bw),
                                       "+": max(aw, bw) + 1, "*": aw + bw}.get(op, full)
        expr = f"~({ea} ^ {eb})" if op == "~^" else f"{ea} {op} {eb}"
        return _fit(expr, yw, natural), reads
    return code


def _unary(kind):
    def code(g, cell):
        p, ((a, aw, _),), reads = _operands(g, cell, "A")
        yw = _int(p["Y_WIDTH"])
        signed = _int(p["A_SIGNED"]) and aw < yw      # as for _binary: extension only below yw
        wide = max(aw, yw) > 64
        ea = _ext(a, aw, signed, wide)
        full = 128 if wide else 64
        if kind == "pos":
            return _fit(ea, yw, full if signed else aw), reads
        return _fit(f"~{ea}" if kind == "not" else f"-{ea}", yw, full), reads
    return code


def _b01(g, reads, expr):
    return f"{'W01' if g.vec(reads) else 'U01'}({expr})"


def _compare(op):
    def code(g, cell):
        p, ((a, aw, _), (b, bw, _)), reads = _operands(g, cell, "AB")
        signed = _int(p["A_SIGNED"]) and _int(p["B_SIGNED"])
        if max(aw, bw) > 64:
            if signed:
                return _b01(g, reads, f"(S2)sx2({a}, {aw}) {op} (S2)sx2({b}, {bw})"), reads
            return _b01(g, reads, f"(U2){a} {op} (U2){b}"), reads
        if signed:
            return _b01(g, reads, f"ss({a}, {aw}) {op} ss({b}, {bw})"), reads
        return _b01(g, reads, f"{a} {op} {b}"), reads
    return code


def _logic(kind):
    def code(g, cell):
        p, ops, reads = _operands(g, cell, "A" if kind == "not" else "AB")
        if kind == "not":
            return _b01(g, reads, f"{ops[0][0]} == 0"), reads
        if g.vec(reads):                    # a vector comparison is 0 or -1 in each lane
            a, b = _both(g, ops, reads)
            op = "&" if kind == "and" else "|"
            return f"W01(({a} != 0) {op} ({b} != 0))", reads
        op = "&&" if kind == "and" else "||"
        return f"U01(({ops[0][0]} != 0) {op} ({ops[1][0]} != 0))", reads
    return code


def _reduce(kind):
    def code(g, cell):
        p, ((a, aw, _),), reads = _operands(g, cell, "A")
        if not g.vec(reads):                # parity() has overloads: say which
            a = f"(U2){a}" if aw > 64 else f"(U){a}"
        if kind == "xor":
            return f"parity({a})", reads
        if kind == "xnor":
            return f"(parity({a}) ^ 1)", reads
        if kind == "and":
            return _b01(g, reads, f"{a} == {_hex(_mask(aw))}"), reads
        return _b01(g, reads, f"{a} != 0"), reads
    return code


def _shift(kind):
    def code(g, cell):
        p, ops, reads = _operands(g, cell, "AB")
        (a, aw, _), (b, bw, _) = ops
        yw = _int(p["Y_WIDTH"])
        width = max(aw, yw)                 # Verilog extends A to the context width before shifting
        if width > MAX_WIDTH:
            raise Unsupported(f"{cell['type']} wider than {MAX_WIDTH} bits")
        if bw > 64:
            raise Unsupported(f"{cell['type']} by a {bw}-bit amount")
        a, b = _both(g, ops, reads)
        a_signed = _int(p["A_SIGNED"])
        wide = width > 64
        full = 128 if wide else 64
        ea = _ext(a, aw, a_signed, wide)
        ea_w = ea if not a_signed or width >= full else f"({ea} & {_hex(_mask(width))})"
        sfx = "2" if wide else ""
        if kind in ("shl", "sshl"):
            return _fit(f"shl{sfx}({ea}, {b})", yw, full), reads
        if kind == "sshr" and a_signed:
            return _fit(f"sar{sfx}({ea}, {b})", yw, full), reads
        if kind in ("shr", "sshr") or not _int(p["B_SIGNED"]):
            return _fit(f"shr{sfx}({ea_w}, {b})", yw, width if a_signed else aw), reads
        # $shift / $shiftx with a signed amount: a negative one shifts left.
        sb = f"ss({b}, {bw})"
        t = "W" if g.vec(reads) else "U"
        return _fit(f"({sb} < 0 ? shl{sfx}({ea}, ({t})-{sb}) : shr{sfx}({ea_w}, ({t}){sb}))", yw, full), reads
    return code


def _select(g, reads, arms):
    """Arms of a selection, as vectors when the selection's result is one."""
    return [g.w(e, r) for e, r in arms] if g.vec(reads) else [e for e, _ in arms]


def _mux(g, cell):
    p, ((a, _, ra), (b, _, rb), (s, _, _)), reads = _operands(g, cell, "ABS")
    a, b = _select(g, reads, [(a, ra), (b, rb)])
    return f"({s} ? {b} : {a})", reads


def _bwmux(g, cell):
    p, ((a, _, _), (b, _, _), (s, _, _)), reads = _operands(g, cell, "ABS")
    return f"(({a} & ~{s}) | ({b} & {s}))", reads


def _pmux(g, cell):
    p, c = cell["parameters"], cell["connections"]
    width, n = _int(p["WIDTH"]), _int(p["S_WIDTH"])
    a, reads = g.sig(c["A"])
    arms, sels = [(a, set(reads))], []
    for i in range(n):
        s, rs = g.sig(c["S"][i:i + 1])
        b, rb = g.sig(c["B"][i * width:(i + 1) * width])
        reads |= rs | rb
        arms.append((b, rb))
        sels.append(s)
    arms = _select(g, reads, arms)
    expr = arms[0]
    for i in reversed(range(n)):             # the first active select wins (several at once is undefined)
        expr = f"({sels[i]} ? {arms[i + 1]} : {expr})"
    return expr, reads


def _bmux(g, cell):
    p, c = cell["parameters"], cell["connections"]
    width, n = _int(p["WIDTH"]), _int(p["S_WIDTH"])
    s, reads = g.sig(c["S"])
    arms = []
    for k in range(1 << n):
        a, r = g.sig(c["A"][k * width:(k + 1) * width])
        reads |= r
        arms.append((a, r))
    arms = _select(g, reads, arms)
    expr = arms[-1]
    for k in reversed(range((1 << n) - 1)):
        expr = f"({s} == {k} ? {arms[k]} : {expr})"
    return expr, reads


_COMB = {
    "$add": _binary("+"), "$sub": _binary("-"), "$mul": _binary("*"),
    "$and": _binary("&"), "$or": _binary("|"), "$xor": _binary("^"), "$xnor": _binary("~^"),
    "$not": _unary("not"), "$neg": _unary("neg"), "$pos": _unary("pos"),
    "$eq": _compare("=="), "$ne": _compare("!="), "$eqx": _compare("=="), "$nex": _compare("!="),
    "$lt": _compare("<"), "$le": _compare("<="), "$gt": _compare(">"), "$ge": _compare(">="),
    "$logic_not": _logic("not"), "$logic_and": _logic("and"), "$logic_or": _logic("or"),
    "$reduce_and": _reduce("and"), "$reduce_or": _reduce("or"), "$reduce_bool": _reduce("bool"),
    "$reduce_xor": _reduce("xor"), "$reduce_xnor": _reduce("xnor"),
    "$shl": _shift("shl"), "$sshl": _shift("sshl"), "$shr": _shift("shr"), "$sshr": _shift("sshr"),
    "$shift": _shift("shift"), "$shiftx": _shift("shift"),
    "$mux": _mux, "$pmux": _pmux, "$bmux": _bmux, "$bwmux": _bwmux,
}
_FF_TYPES = ("$dff", "$dffe", "$sdff", "$sdffe", "$sdffce")


def generate(netlist, *, top="top", lanes=1, lane_inputs=()):
    """C++ source of the model (header text) for the Yosys JSON netlist `netlist` (a dict or JSON text).

    lanes: copies of the design in one model; lane_inputs: the input ports that differ between them."""
    if isinstance(netlist, str):
        netlist = json.loads(netlist)
    g = _Gen(netlist, top, lanes, lane_inputs)
    g.build()
    return g.emit()


def driver_header(*, lanes, lane_input, counters):
    """The sim_* functions of sim/compiled_driver.cc for a generated model (model.h)."""
    reads = []
    k = 0
    for name, count in counters:
        reads.append(f"    {{ W c[{count}]; top.o_{_cname(name)}_chunks(c);")
        for i in range(count):
            reads.append(f" dst[{k}] = (int64_t)lane(c[{i}], k);")
            k += 1
        reads.append(" }\n")
    if lanes > 1:
        set_data = f"W d; for (int k = 0; k < LANES; k++) d[k] = v[k]; top.i_{lane_input} = d;"
        lane = "static inline uint64_t lane(W v, int k) { return v[k]; }\n"
    else:
        set_data = f"top.i_{lane_input} = v[0];"
        lane = "static inline uint64_t lane(U v, int) { return v; }\n"
    return (
        '#include "model.h"\n'
        "using cyclesim::U; using cyclesim::W; using cyclesim::LANES;\n"
        "static cyclesim::Model top;\n" + lane +
        "static inline void sim_tick() { top.tick<false>(); }\n"
        "static inline void sim_reset() { top.tick<true>(); top.tick<false>(); }\n"
        "static inline void sim_set_x_we(uint64_t v) { top.i_x_we = v; }\n"
        "static inline void sim_set_x_addr(uint64_t v) { top.i_x_addr = v; }\n"
        f"static inline void sim_set_x_data(const uint64_t *v) {{ {set_data} }}\n"
        "static inline void sim_set_start(uint64_t v) { top.i_start = v; }\n"
        "static inline void sim_set_y_addr(uint64_t v) { top.i_y_addr = v; }\n"
        "static inline bool sim_done(int k) { return lane(top.o_done(), k) != 0; }\n"
        "static inline uint64_t sim_y_data(int k) { return lane(top.o_y_data(), k); }\n"
        "static inline void sim_counters(int k, int64_t *dst) {\n"
        f"    (void)k; (void)dst;\n{''.join(reads)}}}\n"
    )
