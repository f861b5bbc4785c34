"""Decoders as lookup tables. A `case` statement over a narrow signal reaches the netlist as one 1-bit $eq cell per
case (the signal against a constant) feeding a $pmux, and often a $reduce_or over the same compares (any case
taken). The engine's output row map is such a case over y_addr with one arm per output row: hundreds of compares
and a chain of selections per cycle. Here a $pmux whose selects are all such compares on the same few bits (or ORs
of them, where cases share an arm), and whose arms are constants, becomes one read of a table indexed by those
bits; a reduction over such compares (any, all, none) a table of 0 and 1. The tables hold exactly what the cells
compute for every value of the index.

A $pmux of that kind whose arms are computed values (which bank of a buffer a PE reads, by a 2-bit bank number)
becomes a pick: the array of its arms, one per index value, read at the index (runtime/common.h pick()), where a
chain of selections compiles to jumps that mispredict as the index follows the data."""

from .netlist import mask, param

__all__ = ["MAX_INDEX_BITS", "MAX_PICK_BITS", "Table", "Pick", "find_tables", "find_picks"]

MAX_INDEX_BITS = 16         # a table of at most 65536 words
MAX_EVALUATIONS = 1 << 22   # compares times index values worked out one by one (the usual case needs none)
MAX_PICK_BITS = 4          # a selection among computed arms by at most 16 index values
MIN_COMPARES = 4            # fewer compares cost less than a table read
WORDS_PER_COMPARE = 64      # and a table of 2**bits words pays only for enough compares

# A reduction over n decoders, from the number of them that hit.
_REDUCE = {"$reduce_or": lambda hit, n: hit > 0, "$reduce_bool": lambda hit, n: hit > 0,
           "$logic_or": lambda hit, n: hit > 0, "$reduce_and": lambda hit, n: hit == n,
           "$logic_not": lambda hit, n: hit == 0}


class Table:
    """A constant table: `values[i]` is the cell's output when its index (the signal `index`, LSB first) is i."""

    def __init__(self, name, width, index, values):
        self.name, self.width, self.index, self.values = name, width, index, values


def _constant(bits):
    """The value of a signal of constant bits (x, z and undriven read 0), or None when a bit is driven."""
    value = 0
    for i, b in enumerate(bits):
        if isinstance(b, int):
            return None
        value |= (b == "1") << i
    return value


def _extend(value, width, to, signed):
    if signed and width and (value >> (width - 1)) & 1:
        value |= mask(to) & ~mask(width)
    return value


class _Compare:
    """A 1-bit compare of a signal against a constant: $eq, $ne (and their x forms) or $logic_not."""

    def __init__(self, cell):
        self.kind, p, c = cell["type"], cell["parameters"], cell["connections"]
        if self.kind == "$logic_not":
            self.signal, self.const, self.width, self.signed = c["A"], 0, len(c["A"]), False
            return
        signed = bool(param(p["A_SIGNED"]) and param(p["B_SIGNED"]))
        a, b = c["A"], c["B"]
        if _constant(a) is not None:
            a, b = b, a
        self.width = max(len(a), len(b))
        self.signal, self.signed = a, signed
        self.const = _extend(_constant(b), len(b), self.width, signed)

    def value(self, signal_value):
        x = _extend(signal_value, len(self.signal), self.width, self.signed)
        hit = x == self.const
        return not hit if self.kind in ("$ne", "$nex") else hit

    def only_hit(self, index):
        """The one index value this compare hits (None: none) when it compares exactly the index bits, unsigned,
        for equality; else False (work it out value by value)."""
        if self.kind in ("$ne", "$nex") or self.signed or list(self.signal) != list(index):
            return False
        return self.const if self.const < 1 << len(index) else None


class Pick:
    """A $pmux whose selects are compares of a few bits with constants: for index value i (the signal `index`,
    LSB first), the result is arm `arm_of[i]` (0: the default A, k: the k-th B arm, as the cell counts them)."""

    def __init__(self, index, arm_of):
        self.index, self.arm_of = index, arm_of


def _compares(design):
    """{var: _Compare} of the 1-bit compares of a driven signal against a constant."""
    found = {}
    for var, cell in design.cells:
        kind, c = cell["type"], cell["connections"]
        if var.width != 1 or kind not in ("$eq", "$ne", "$eqx", "$nex", "$logic_not"):
            continue
        operands = [c["A"]] if kind == "$logic_not" else [c["A"], c["B"]]
        constants = [_constant(bits) is not None for bits in operands]
        if kind != "$logic_not" and constants.count(True) != 1:
            continue
        if kind == "$logic_not" and constants[0]:
            continue
        found[var] = _Compare(cell)
    return found


def _selectors(design, bits, compares, anys):
    """For each of `bits`, the compares that drive it: one compare, or the compares an OR of compares takes (Yosys
    ORs the selects of the cases that share an arm); None when a bit is anything else."""
    out = []
    for b in bits:
        driver = design.driver.get(b) if isinstance(b, int) else None
        if driver is None or (driver[0] not in compares and driver[0] not in anys):
            return None
        out.append([compares[driver[0]]] if driver[0] in compares else anys[driver[0]])
    return out


def _index(selectors):
    """The driven bits the compares read, in order of first appearance; None when there are too many."""
    index = []
    for sel in selectors:
        for d in sel:
            for b in d.signal:
                if isinstance(b, int) and b not in index:
                    index.append(b)
    return index if 0 < len(index) <= MAX_INDEX_BITS else None


def _worth_it(selectors, index):
    """A table pays when it replaces enough compares for its size."""
    compares = sum(len(sel) for sel in selectors)
    return compares >= MIN_COMPARES and 1 << len(index) <= WORDS_PER_COMPARE * compares


def _hits(selectors, index):
    """For every index value, the positions of the selectors that hit, in order; None when working that out
    would take too long."""
    size = 1 << len(index)
    only = [[d.only_hit(index) for d in sel] for sel in selectors]
    if all(o is not False for sel in only for o in sel):   # the usual case: compares of the index with constants
        hits = [[] for _ in range(size)]
        for pos, sel in enumerate(only):
            for o in sorted({o for o in sel if o is not None}):
                hits[o].append(pos)
        return [sorted(h) for h in hits]
    if size * sum(len(sel) for sel in selectors) > MAX_EVALUATIONS:
        return None
    positions = {b: k for k, b in enumerate(index)}

    def value_of(signal, i):
        v = 0
        for k, b in enumerate(signal):
            bit = (i >> positions[b]) & 1 if isinstance(b, int) else b == "1"
            v |= bit << k
        return v

    return [[pos for pos, sel in enumerate(selectors) if any(d.value(value_of(d.signal, i)) for d in sel)]
            for i in range(size)]


def _decoders(design):
    """The 1-bit compares of `design` with constants, and its ORs of such compares."""
    compares = _compares(design)
    anys = {}                   # var of an OR of compares -> those compares
    for var, cell in design.cells:
        if compares and cell["type"] in ("$reduce_or", "$reduce_bool", "$logic_or") and var.width == 1:
            c = cell["connections"]
            sel = _selectors(design, c["A"] + (c["B"] if cell["type"] == "$logic_or" else []), compares, {})
            if sel is not None:
                anys[var] = [d for s in sel for d in s]
    return compares, anys


def find_picks(design):
    """{var: Pick} for the $pmux cells of `design` (up to 64 bits wide, not already tables) that select among
    computed arms by compares of a few bits with constants: one read of an array of the arms, indexed by those
    bits, instead of a chain of selections (whose jumps g++ cannot predict when the index follows the data)."""
    compares, anys = _decoders(design)
    picks = {}
    for var, cell in design.cells:
        if cell["type"] != "$pmux" or var in design.tables or var.width > 64:
            continue
        n = param(cell["parameters"]["S_WIDTH"])
        selectors = _selectors(design, cell["connections"]["S"], compares, anys)
        if n < 2 or selectors is None:
            continue
        index = _index(selectors)
        if index is None or len(index) > MAX_PICK_BITS:
            continue
        hits = _hits(selectors, index)
        if hits is not None:
            picks[var] = Pick(index, [h[0] + 1 if h else 0 for h in hits])
    return picks


def find_tables(design):
    """{var: Table} for the cells of `design` that are decoders feeding constants or reductions."""
    compares, anys = _decoders(design)
    if not compares:
        return {}
    tables = {}
    for var, cell in design.cells:
        kind, p, c = cell["type"], cell["parameters"], cell["connections"]
        if kind == "$pmux":
            width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
            arms = [_constant(c["A"])] + [_constant(c["B"][i * width:(i + 1) * width]) for i in range(n)]
            selectors = _selectors(design, c["S"], compares, anys)
            if selectors is None or any(a is None for a in arms):
                continue
        elif var in anys:
            selectors = [[d] for d in anys[var]]
        elif kind == "$logic_not" or kind == "$reduce_and":
            selectors = _selectors(design, c["A"], compares, {})
            if selectors is None:
                continue
        else:
            continue
        index = _index(selectors)
        if index is None or not _worth_it(selectors, index):
            continue
        hits = _hits(selectors, index)
        if hits is None:
            continue
        if kind == "$pmux":                 # the first select that hits wins, as the $pmux is modelled
            values = [arms[h[0] + 1] if h else arms[0] for h in hits]
        else:
            values = [int(_REDUCE[kind](len(h), len(selectors))) for h in hits]
        tables[var] = Table(f"t{len(tables)}", var.width, index, values)
    return tables
