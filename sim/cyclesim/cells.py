"""Cell translators: each netlist cell as C++, after Yosys's cell library (share/simlib.v) in two-state logic, x read
as 0 (as CXXRTL does). Combinational cells become an expression, registers the expression of their next value,
memory ports statements."""

from .netlist import mask, param
from .signals import big_literal, fit, literal, words

__all__ = ["COMB", "is_comb", "pick", "ff_next", "mem_read", "sync_read", "mem_write"]

# -- combinational cells ---------------------------------------------------------------------------------------
# Each returns (expression, vars read). Operands are zero-extended values of their width; `fit` cuts a result to
# Y_WIDTH bits when it can be wider ("natural": how many bits the raw expression can occupy). Scalars and lane
# vectors mix freely in arithmetic (GCC widens the scalar); selections and helper calls need both as vectors.


def _operands(g, cell, names):
    c = cell["connections"]
    ops, reads = [], set()
    for n in names:
        e, r = g.sig(c[n])
        reads |= r
        ops.append((e, len(c[n]), r))
    return cell["parameters"], ops, reads


def _ext(e, w, signed):
    """Operand word `e` (zero-extended, `w` bits) extended to 64 bits."""
    return f"sxc({e}, {w})" if signed and w < 64 else e


def _both(g, ops, reads):
    """Operand expressions as vectors when the result is one (for helper calls)."""
    if not g.vec(reads):
        return [e for e, _, _ in ops]
    return [g.w(e, r) for e, _, r in ops]


def _b01(g, reads, expr):
    return f"{'W01' if g.vec(reads) else 'U01'}({expr})"


def _flag(expr, yw):
    """A result of 0 or 1 (a word) as the cell's Y_WIDTH bits."""
    return expr if yw <= 64 else f"widen<{words(yw)}>({expr})"


def _cut(expr, width, yw):
    """The wide value `expr`, which can have `width` bits set, cut to its low `yw` bits (a word when yw <= 64)."""
    if yw <= 64:
        return fit(f"({expr}).w[0]", yw)
    if words(yw) < words(width):
        expr = f"low<{words(yw)}>({expr})"
    return f"trim<{yw}>({expr})" if yw % 64 and width > yw else expr


def _wide_operands(g, cell, names, width, signed):
    """Operands extended or cut to `width` (> 64) bits, all lane vectors or none; the vars they read."""
    c = cell["connections"]
    reads = set().union(*(g.reads(c[n]) for n in names))
    vec = g.vec(reads)
    return [g.sig(g.ext(c[n], width, signed), vec)[0] for n in names], reads


def _binary(op):
    wide_form = {"+": "add({a}, {b})", "-": "sub({a}, {b})", "*": "mul({a}, {b})", "&": "({a} & {b})",
                 "|": "({a} | {b})", "^": "({a} ^ {b})", "~^": "~({a} ^ {b})"}

    def code(g, cell):
        p, c = cell["parameters"], cell["connections"]
        signed = param(p["A_SIGNED"]) and param(p["B_SIGNED"])
        yw = param(p["Y_WIDTH"])
        if yw > 64:
            # The low yw bits of these results depend on the low yw bits of the operands only.
            (a, b), reads = _wide_operands(g, cell, "AB", yw, signed)
            expr = wide_form[op].format(a=a, b=b)
            return (expr if op in "&|^" else f"trim<{yw}>({expr})"), reads
        a_bits, b_bits = c["A"], c["B"]
        if len(a_bits) > 64 or len(b_bits) > 64:     # so here a wide operand is cut to yw bits
            a_bits, b_bits = a_bits[:yw], b_bits[:yw]
        (a, reads), (b, rb) = g.sig(a_bits), g.sig(b_bits)
        reads |= rb
        aw, bw = len(a_bits), len(b_bits)
        # An operand at least yw bits wide needs no sign extension.
        ea, eb = _ext(a, aw, signed and aw < yw), _ext(b, bw, signed and bw < yw)
        natural = 64 if signed else {"&": min(aw, bw), "|": max(aw, bw), "^": max(aw, bw),
                                     "+": max(aw, bw) + 1, "*": aw + bw}.get(op, 64)
        expr = f"~({ea} ^ {eb})" if op == "~^" else f"{ea} {op} {eb}"
        return fit(expr, yw, natural), reads
    return code


def _unary(kind):
    def code(g, cell):
        p, c = cell["parameters"], cell["connections"]
        yw = param(p["Y_WIDTH"])
        a_signed = param(p["A_SIGNED"])
        if yw > 64:
            (a,), reads = _wide_operands(g, cell, "A", yw, a_signed)
            return {"pos": a, "not": f"trim<{yw}>(~{a})", "neg": f"trim<{yw}>(neg({a}))"}[kind], reads
        bits = c["A"] if len(c["A"]) <= 64 else c["A"][:yw]
        a, reads = g.sig(bits)
        aw = len(bits)
        signed = a_signed and aw < yw      # as for _binary: extension only below yw
        ea = _ext(a, aw, signed)
        if kind == "pos":
            return fit(ea, yw, 64 if signed else aw), reads
        return fit(f"~{ea}" if kind == "not" else f"-{ea}", yw), reads
    return code


def _compare(op):
    def code(g, cell):
        p, c = cell["parameters"], cell["connections"]
        signed = param(p["A_SIGNED"]) and param(p["B_SIGNED"])
        yw = param(p["Y_WIDTH"])
        aw, bw = len(c["A"]), len(c["B"])
        if max(aw, bw) > 64:
            # Signed: both sign-extended to whole words, where slt reads the sign.
            width = 64 * words(max(aw, bw)) if signed else max(aw, bw)
            (a, b), reads = _wide_operands(g, cell, "AB", width, signed)
            lt = "slt" if signed else "ult"
            expr = {"==": f"eq({a}, {b})", "!=": f"(eq({a}, {b}) ^ 1)", "<": f"{lt}({a}, {b})",
                    "<=": f"({lt}({b}, {a}) ^ 1)", ">": f"{lt}({b}, {a})", ">=": f"({lt}({a}, {b}) ^ 1)"}[op]
            return _flag(expr, yw), reads
        p, ((a, aw, _), (b, bw, _)), reads = _operands(g, cell, "AB")
        if signed:
            return _flag(_b01(g, reads, f"ss({a}, {aw}) {op} ss({b}, {bw})"), yw), reads
        return _flag(_b01(g, reads, f"{a} {op} {b}"), yw), reads
    return code


def _nonzero(g, bits):
    """A signal as a word that is 0 exactly when the signal is (a wide one: 0 or 1), and the vars it reads."""
    e, reads = g.sig(bits)
    return (e if len(bits) <= 64 else f"(is0({e}) ^ 1)"), reads


def _logic(kind):
    def code(g, cell):
        p, c = cell["parameters"], cell["connections"]
        yw = param(p["Y_WIDTH"])
        ops, reads = [], set()
        for name in ("A",) if kind == "not" else ("A", "B"):
            e, r = _nonzero(g, c[name])
            ops.append((e, None, r))
            reads |= r
        if kind == "not":
            return _flag(_b01(g, reads, f"{ops[0][0]} == 0"), yw), reads
        if g.vec(reads):                    # a vector comparison is 0 or -1 in each lane
            a, b = _both(g, ops, reads)
            op = "&" if kind == "and" else "|"
            return _flag(f"W01(({a} != 0) {op} ({b} != 0))", yw), reads
        op = "&&" if kind == "and" else "||"
        return _flag(f"U01(({ops[0][0]} != 0) {op} ({ops[1][0]} != 0))", yw), reads
    return code


def _reduce(kind):
    def code(g, cell):
        p, ((a, aw, _),), reads = _operands(g, cell, "A")
        yw = param(p["Y_WIDTH"])
        if aw > 64:
            ones = big_literal(mask(aw), aw, g.vec(reads))
            expr = {"xor": f"parity({a})", "xnor": f"(parity({a}) ^ 1)", "and": f"eq({a}, {ones})",
                    "or": f"(is0({a}) ^ 1)", "bool": f"(is0({a}) ^ 1)"}[kind]
            return _flag(expr, yw), reads
        if not g.vec(reads):                # parity() has overloads: say which
            a = f"(U){a}"
        if kind == "xor":
            return _flag(f"parity({a})", yw), reads
        if kind == "xnor":
            return _flag(f"(parity({a}) ^ 1)", yw), reads
        if kind == "and":
            return _flag(_b01(g, reads, f"{a} == {literal(mask(aw))}"), yw), reads
        return _flag(_b01(g, reads, f"{a} != 0"), yw), reads
    return code


def _shift(kind):
    def code(g, cell):
        p, c = cell["parameters"], cell["connections"]
        yw = param(p["Y_WIDTH"])
        a_signed, b_signed = param(p["A_SIGNED"]), param(p["B_SIGNED"])
        signed_amount = kind == "shift" and b_signed       # $shift / $shiftx: a negative amount shifts left
        a_bits, b_bits = c["A"], c["B"]
        # Verilog extends A to the context width before shifting; a left shift's low yw bits need only A's.
        if kind in ("shl", "sshl") and max(len(a_bits), yw) > 64:
            a_bits = g.ext(a_bits, yw, a_signed)
        width = max(len(a_bits), yw)
        reads = g.reads(a_bits) | g.reads(b_bits)
        vec = g.vec(reads)
        t = "W" if vec else "U"
        if len(b_bits) > 64:                # an amount that big shifts everything out: saturated to a word
            if signed_amount:
                b = f"sat_s({g.sig(g.ext(b_bits, 64 * words(len(b_bits)), True), vec)[0]})"
            else:
                b = f"sat_u({g.sig(b_bits, vec)[0]})"
            bw = 64
        else:
            b, rb = g.sig(b_bits)
            b, bw = (g.w(b, rb) if vec else b), len(b_bits)
        sb = f"ss({b}, {bw})"
        if width > 64:
            # Sign-extended to whole words for sar; otherwise to `width`, above which shr shifts in 0.
            ext_width = 64 * words(width) if kind == "sshr" and a_signed else width
            a = g.sig(g.ext(a_bits, ext_width, a_signed), vec)[0]
            natural = 64 * words(width)     # what a left shift or sar can fill; shr leaves `width` bits
            if kind in ("shl", "sshl"):
                expr = f"shl({a}, {b})"
            elif kind == "sshr" and a_signed:
                expr = f"sar({a}, {b})"
            elif not signed_amount:
                expr, natural = f"shr({a}, {b})", width
            else:
                expr = f"sel({sb} < 0, shl({a}, ({t})-{sb}), shr({a}, ({t}){sb}))"
            return _cut(expr, natural, yw), reads
        a, ra = g.sig(a_bits)
        if vec:
            a = g.w(a, ra)
        aw = len(a_bits)
        ea = _ext(a, aw, a_signed)
        ea_w = ea if not a_signed or width >= 64 else f"({ea} & {literal(mask(width))})"
        if kind in ("shl", "sshl"):
            return fit(f"shl({ea}, {b})", yw), reads
        if kind == "sshr" and a_signed:
            return fit(f"sar({ea}, {b})", yw), reads
        if not signed_amount:
            return fit(f"shr({ea_w}, {b})", yw, width if a_signed else aw), reads
        return fit(f"({sb} < 0 ? shl({ea}, ({t})-{sb}) : shr({ea_w}, ({t}){sb}))", yw), reads
    return code


def _select(g, reads, arms):
    """Arms of a selection, as vectors when the selection's result is one."""
    return [g.w(e, r) for e, r in arms] if g.vec(reads) else [e for e, _ in arms]


def _wide_arms(g, arm_bits, select_reads=frozenset()):
    """The arms of a wide selection, all lane vectors or none (vectors when anything the selection reads, its
    selects included, varies), and the vars they read."""
    reads = set().union(*(g.reads(b) for b in arm_bits))
    vec = g.vec(reads | select_reads)
    return [g.sig(b, vec)[0] for b in arm_bits], reads


def _arms(g, arm_bits, width, select_reads):
    """The arms of a selection among `width`-bit values (a $pmux's or a $bmux's), whose selects read
    `select_reads`: their expressions (lane vectors where the selection's result is one; wide ones all or none, as
    :func:`_wide_arms`), and the vars they read."""
    if width > 64:
        return _wide_arms(g, arm_bits, select_reads)
    exprs = [g.sig(b) for b in arm_bits]
    reads = set().union(*(r for _, r in exprs))
    return _select(g, select_reads | reads, exprs), reads


def _mux(g, cell):
    c = cell["connections"]
    if len(c["Y"]) > 64:
        s, rs = g.sig(c["S"])
        (a, b), reads = _wide_arms(g, [c["A"], c["B"]], rs)
        return f"sel({s}, {b}, {a})", reads | rs
    p, ((a, _, ra), (b, _, rb), (s, _, _)), reads = _operands(g, cell, "ABS")
    a, b = _select(g, reads, [(a, ra), (b, rb)])
    return f"({s} ? {b} : {a})", reads


def _bwmux(g, cell):
    c = cell["connections"]
    if len(c["Y"]) > 64:
        (a, b, s), reads = _wide_arms(g, [c["A"], c["B"], c["S"]])
        return f"(({a} & ~{s}) | ({b} & {s}))", reads
    p, ((a, _, _), (b, _, _), (s, _, _)), reads = _operands(g, cell, "ABS")
    return f"(({a} & ~{s}) | ({b} & {s}))", reads


def _pmux(g, cell):
    p, c = cell["parameters"], cell["connections"]
    width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
    arm_bits = [c["A"]] + [c["B"][i * width:(i + 1) * width] for i in range(n)]
    sels, reads = [], set()
    for i in range(n):
        s, rs = g.sig(c["S"][i:i + 1])
        sels.append(s)
        reads |= rs
    arms, ra = _arms(g, arm_bits, width, reads)
    pick = "sel({s}, {b}, {rest})" if width > 64 else "({s} ? {b} : {rest})"
    expr = arms[0]
    for i in reversed(range(n)):             # the first active select wins (several at once is undefined)
        expr = pick.format(s=sels[i], b=arms[i + 1], rest=expr)
    return expr, reads | ra


def pick(g, cell, choice):
    """A $pmux as a read of the array of its arms at the index its selects decode (tables.Pick `choice`)."""
    p, c = cell["parameters"], cell["connections"]
    width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
    arm_bits = [c["A"]] + [c["B"][i * width:(i + 1) * width] for i in range(n)]
    index, reads = g.sig(choice.index)
    arms, ra = _arms(g, arm_bits, width, reads)
    t = "W" if g.vec(reads | ra) else "U"
    entries = ", ".join(arms[k] for k in choice.arm_of)
    return f"pick<{t}, {len(choice.arm_of)}>({{{entries}}}, {index})", reads | ra


def _bmux(g, cell):
    p, c = cell["parameters"], cell["connections"]
    width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
    s, reads = g.sig(c["S"])
    arm_bits = [c["A"][k * width:(k + 1) * width] for k in range(1 << n)]
    arms, ra = _arms(g, arm_bits, width, reads)
    pick = "sel({s} == {k}, {a}, {rest})" if width > 64 else "({s} == {k} ? {a} : {rest})"
    expr = arms[-1]
    for k in reversed(range((1 << n) - 1)):
        expr = pick.format(s=s, k=k, a=arms[k], rest=expr)
    return expr, reads | ra


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
    wide = var.width > 64
    d, reads = g.sig(c["D"], var.vary)
    d_reads = set(reads)
    q = var.name
    srst_value = param(p.get("SRST_VALUE", 0)) & mask(var.width)
    rval = big_literal(srst_value, var.width, var.vary) if wide else literal(srst_value)
    if kind in ("$dffe", "$sdffe", "$sdffce"):
        en, r = g.sig(c["EN"])
        reads |= r | {var}
        on = en if param(p["EN_POLARITY"]) else f"({en} ^ 1)"
    if kind in ("$sdff", "$sdffe", "$sdffce"):
        srst, r = g.sig(c["SRST"])
        reads |= r
        rst_on = srst if param(p["SRST_POLARITY"]) else f"({srst} ^ 1)"
    if var.vary and not wide:           # the arms of a vector selection are vectors
        d, rval = g.w(d, d_reads), f"V({rval})"
    if kind == "$dff":
        code = d
    elif wide:                          # the same selections as below, of wide values
        if kind == "$dffe":
            code = f"sel({on}, {d}, {q})"
        elif kind == "$sdff":
            code = f"sel({rst_on}, {rval}, {d})"
        elif kind == "$sdffe":
            code = f"sel({rst_on}, {rval}, sel({on}, {d}, {q}))"
        else:
            code = f"sel({on}, sel({rst_on}, {rval}, {d}), {q})"
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

def _address(g, bits):
    """An address as a word, and the vars it reads."""
    addr, reads = g.sig(bits)
    if len(bits) > 64:                  # no memory has that many words: a high bit set is out of range
        addr = f"sat_u({addr})"
    return addr, reads


def mem_index(g, mem, bits):
    """The word index for address `bits`, whether it can fall outside the memory, and the vars it reads."""
    addr, reads = _address(g, bits)
    index = f"({addr} - {literal(mem['offset'])})" if mem["offset"] else addr
    return index, not (mem["offset"] == 0 and mem["alloc"] >= (1 << mem["abits"])), reads


def mem_read(g, mem, bits):
    """The expression of a read at address `bits`, and the vars it reads."""
    index, check, reads = mem_index(g, mem, bits)
    return f"{'mread' if check else 'mread_f'}({mem['cname']}, {index})", reads


def sync_read(g, mem, port, ind):
    """The statements that compute a synchronous read port's next value into n_<var>, and the vars read."""
    v = port["var"]
    t = g.ctype(v)
    wide = v.width > 64
    value, addr_reads = mem_read(g, mem, port["addr"])
    addr = _address(g, port["addr"])[0]
    en, r1 = g.sig(port["en"])
    srst, r2 = g.sig(port["srst"])
    reads = addr_reads | r1 | r2
    if v.vary and not mem["vary"] and not g.vec(addr_reads):
        value = f"vb({value})" if wide else f"V({value})"
    read = f"n_{v.name} = {value};"
    for j in port["transparent"]:       # a transparent port sees the data written in the same cycle
        wp = mem["wr"][j]
        waddr, r3 = _address(g, wp["addr"])
        wen, r4 = g.sig(wp["en"], v.vary)
        wdata, r5 = g.sig(wp["data"], v.vary)
        reads |= r3 | r4 | r5
        merged = f"((n_{v.name} & ~{wen}) | ({wdata} & {wen}))"
        if wide:
            read += f" n_{v.name} = sel({waddr} == {addr}, {merged}, n_{v.name});"
        else:
            read += f" n_{v.name} = ({waddr} == {addr}) ? {merged} : n_{v.name};"
    srst_val = (big_literal(port["srst_val"], v.width, v.vary) if wide else
                f"V({literal(port['srst_val'])})" if v.vary else literal(port["srst_val"]))
    if srst == "0ull" and en == "1ull":
        return f"{ind}{t} {read}   // {v.label}\n", reads
    reads.add(v)
    lines = [f"{ind}{t} n_{v.name} = {v.name};   // {v.label}\n"]
    if g.vec(r1 | r2):                  # per-lane enable or reset: compute the read, then select
        pick = "sel({}, {}, {})" if wide else "{} ? {} : {}"
        lines.append(f"{ind}{{ const {t} hold = n_{v.name}; {read}\n")
        if srst == "0ull":
            chosen = pick.format(en, f"n_{v.name}", "hold")
        elif port["ce_over_srst"]:
            chosen = pick.format(en, f"({pick.format(srst, srst_val, f'n_{v.name}')})", "hold")
        else:
            chosen = pick.format(srst, srst_val, pick.format(en, f"n_{v.name}", "hold"))
        lines.append(f"{ind}  n_{v.name} = {chosen}; }}\n")
    elif srst == "0ull":
        lines.append(f"{ind}if ({en}) {{ {read} }}\n")
    elif port["ce_over_srst"]:
        lines.append(f"{ind}if ({en}) {{ if ({srst}) n_{v.name} = {srst_val}; else {{ {read} }} }}\n")
    else:
        lines.append(f"{ind}if ({srst}) n_{v.name} = {srst_val}; else if ({en}) {{ {read} }}\n")
    return "".join(lines), reads


def mem_write(g, mem, port, ind):
    """The statement of one write port, and the vars it reads."""
    index, _, reads = mem_index(g, mem, port["addr"])
    en_bits = port["en"]
    whole = all(b == en_bits[0] for b in en_bits)   # one enable for the whole word: the common case
    data, r1 = g.sig(port["data"], mem["vary"])
    en, r2 = g.sig(en_bits[:1] if whole else en_bits, mem["vary"])
    if en == "0ull":
        return "", set()
    if mem["alloc"] > mem["size"]:                  # (then `whole`) the padding is never written
        en = f"({en} & inb({index}, {literal(mem['size'])}))"
    if mem["vary"]:
        narrow = mem["width"] <= 64
        if narrow:
            data = g.w(data, r1)
        if g.vec(reads | r2) or not whole:          # the address or the enable differs between lanes
            index = g.w(index, reads)
            if narrow or whole:                     # (a wide word's enable bits are wide already)
                en = g.w(en, r2)
    reads |= r1 | r2
    return f"{ind}{'mwrite' if whole else 'mwrite_bits'}({mem['cname']}, {index}, {en}, {data});\n", reads
