"""Cell translators: each netlist cell as C++, after Yosys's cell library (share/simlib.v) in two-state logic, x read
as 0 (as CXXRTL does). Combinational cells become an expression, registers the expression of their next value,
memory ports statements."""

from .netlist import MAX_WIDTH, Unsupported, mask, param
from .signals import fit, literal

__all__ = ["COMB", "is_comb", "cell_width", "ff_next", "mem_read", "sync_read", "mem_write"]

# -- combinational cells ---------------------------------------------------------------------------------------
# Each returns (expression, vars read). Operands are zero-extended values of their width; `fit` cuts a result to
# Y_WIDTH bits when it can be wider ("natural": how many bits the raw expression can occupy). Scalars and lane
# vectors mix freely in arithmetic (GCC widens the scalar); selections and helper calls need both as vectors.


def cell_width(cell):
    """The widest value a cell computes on (a parallel mux's arms are separate values)."""
    c = cell["connections"]
    if cell["type"] in ("$pmux", "$bmux"):
        return max(len(c["Y"]), param(cell["parameters"]["WIDTH"]))
    return max(len(b) for b in c.values())


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
        signed = param(p["A_SIGNED"]) and param(p["B_SIGNED"])
        yw = param(p["Y_WIDTH"])
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
        return fit(expr, yw, natural), reads
    return code


def _unary(kind):
    def code(g, cell):
        p, ((a, aw, _),), reads = _operands(g, cell, "A")
        yw = param(p["Y_WIDTH"])
        signed = param(p["A_SIGNED"]) and aw < yw      # as for _binary: extension only below yw
        wide = max(aw, yw) > 64
        ea = _ext(a, aw, signed, wide)
        full = 128 if wide else 64
        if kind == "pos":
            return fit(ea, yw, full if signed else aw), reads
        return fit(f"~{ea}" if kind == "not" else f"-{ea}", yw, full), reads
    return code


def _b01(g, reads, expr):
    return f"{'W01' if g.vec(reads) else 'U01'}({expr})"


def _compare(op):
    def code(g, cell):
        p, ((a, aw, _), (b, bw, _)), reads = _operands(g, cell, "AB")
        signed = param(p["A_SIGNED"]) and param(p["B_SIGNED"])
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
            return _b01(g, reads, f"{a} == {literal(mask(aw))}"), reads
        return _b01(g, reads, f"{a} != 0"), reads
    return code


def _shift(kind):
    def code(g, cell):
        p, ops, reads = _operands(g, cell, "AB")
        (a, aw, _), (b, bw, _) = ops
        yw = param(p["Y_WIDTH"])
        width = max(aw, yw)                 # Verilog extends A to the context width before shifting
        if width > MAX_WIDTH:
            raise Unsupported(f"{cell['type']} wider than {MAX_WIDTH} bits")
        if bw > 64:
            raise Unsupported(f"{cell['type']} by a {bw}-bit amount")
        a, b = _both(g, ops, reads)
        a_signed = param(p["A_SIGNED"])
        wide = width > 64
        full = 128 if wide else 64
        ea = _ext(a, aw, a_signed, wide)
        ea_w = ea if not a_signed or width >= full else f"({ea} & {literal(mask(width))})"
        sfx = "2" if wide else ""
        if kind in ("shl", "sshl"):
            return fit(f"shl{sfx}({ea}, {b})", yw, full), reads
        if kind == "sshr" and a_signed:
            return fit(f"sar{sfx}({ea}, {b})", yw, full), reads
        if kind in ("shr", "sshr") or not param(p["B_SIGNED"]):
            return fit(f"shr{sfx}({ea_w}, {b})", yw, width if a_signed else aw), reads
        # $shift / $shiftx with a signed amount: a negative one shifts left.
        sb = f"ss({b}, {bw})"
        t = "W" if g.vec(reads) else "U"
        return fit(f"({sb} < 0 ? shl{sfx}({ea}, ({t})-{sb}) : shr{sfx}({ea_w}, ({t}){sb}))", yw, full), reads
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
    width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
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
    width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
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


COMB = {
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


def is_comb(kind):
    return kind in COMB


# -- registers -------------------------------------------------------------------------------------------------

def ff_next(g, var, cell):
    """The register's value after the edge, and the vars that expression reads."""
    kind, p, c = cell["type"], cell["parameters"], cell["connections"]
    d, reads = g.sig(c["D"])
    d_reads = set(reads)
    q = var.name
    rval = literal(param(p.get("SRST_VALUE", 0)) & mask(var.width))
    if kind in ("$dffe", "$sdffe", "$sdffce"):
        en, r = g.sig(c["EN"])
        reads |= r | {var}
        on = en if param(p["EN_POLARITY"]) else f"({en} ^ 1)"
    if kind in ("$sdff", "$sdffe", "$sdffce"):
        srst, r = g.sig(c["SRST"])
        reads |= r
        rst_on = srst if param(p["SRST_POLARITY"]) else f"({srst} ^ 1)"
    if var.vary:                        # the arms of a vector selection are vectors
        d, rval = g.w(d, d_reads), f"V({rval})"
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


# -- memories --------------------------------------------------------------------------------------------------

def mem_index(mem, addr):
    """The word index for address `addr`, and whether it can fall outside the memory."""
    index = f"({addr} - {literal(mem['offset'])})" if mem["offset"] else addr
    return index, not (mem["offset"] == 0 and mem["size"] >= (1 << mem["abits"]))


def mem_read(mem, addr):
    index, check = mem_index(mem, addr)
    return f"{'mread' if check else 'mread_f'}({mem['cname']}, {index})"


def sync_read(g, mem, port, ind):
    """The statements that compute a synchronous read port's next value into n_<var>, and the vars read."""
    v = port["var"]
    t = g.ctype(v)
    addr = port["addr_code"]
    _, addr_reads = g.sig(port["addr"])
    en, r1 = g.sig(port["en"])
    srst, r2 = g.sig(port["srst"])
    reads = addr_reads | r1 | r2
    value = mem_read(mem, addr)
    if v.vary and not mem["vary"] and not g.vec(addr_reads):
        value = f"V({value})"
    read = f"n_{v.name} = {value};"
    for j in port["transparent"]:       # a transparent port sees the data written in the same cycle
        wp = mem["wr"][j]
        waddr, r3 = g.sig(wp["addr"])
        wen, r4 = g.sig(wp["en"])
        wdata, r5 = g.sig(wp["data"])
        reads |= r3 | r4 | r5
        merged = f"((n_{v.name} & ~{wen}) | ({wdata} & {wen}))"
        read += f" n_{v.name} = ({waddr} == {addr}) ? {merged} : n_{v.name};"
    srst_val = f"V({literal(port['srst_val'])})" if v.vary else literal(port["srst_val"])
    if srst == "0ull" and en == "1ull":
        return f"{ind}{t} {read}   // {v.label}\n", reads
    reads.add(v)
    lines = [f"{ind}{t} n_{v.name} = {v.name};   // {v.label}\n"]
    if g.vec(r1 | r2):                  # per-lane enable or reset: compute the read, then select
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


def mem_write(g, mem, port, ind):
    """The statement of one write port, and the vars it reads."""
    addr, reads = g.sig(port["addr"])
    index, _ = mem_index(mem, addr)
    data, r1 = g.sig(port["data"])
    en_bits = port["en"]
    whole = all(b == en_bits[0] for b in en_bits)   # one enable for the whole word: the common case
    en, r2 = g.sig(en_bits[:1] if whole else en_bits)
    if en == "0ull":
        return "", set()
    if mem["vary"]:
        data = g.w(data, r1)
        if g.vec(reads | r2) or not whole:          # the address or the enable differs between lanes
            index, en = g.w(index, reads), g.w(en, r2)
    reads |= r1 | r2
    return f"{ind}{'mwrite' if whole else 'mwrite_bits'}({mem['cname']}, {index}, {en}, {data});\n", reads
