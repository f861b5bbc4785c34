"""Decoders as lookup tables. A `case` statement over a narrow signal reaches the netlist as one 1-bit $eq cell per
case (the signal against a constant) feeding a $pmux, and often a $reduce_or over the same compares (any case
taken). The engine's output row map is such a case over y_addr with one arm per output row: hundreds of compares
and a chain of selections per cycle. Here a $pmux whose selects are all such compares on the same few bits, and
whose arms are constants, becomes one read of a table indexed by those bits; a reduction over such compares (any,
all, none) a table of 0 and 1. The tables hold exactly what the cells compute for every value of the index."""

from .netlist import mask, param

__all__ = ["MAX_INDEX_BITS", "Table", "find_tables"]

MAX_INDEX_BITS = 12         # a table of at most 4096 words

_REDUCE = {"$reduce_or": any, "$reduce_bool": any, "$logic_or": any, "$reduce_and": all,
           "$logic_not": lambda xs: not any(xs)}


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


def _decoders(design, bits, compares):
    """The compares driving `bits`, each bit one; None when a bit is anything else."""
    out = []
    for b in bits:
        driver = design.driver.get(b) if isinstance(b, int) else None
        if driver is None or driver[0] not in compares:
            return None
        out.append(compares[driver[0]])
    return out


def _index(decoders):
    """The driven bits the decoders compare, in order of first appearance; None when there are too many."""
    index = []
    for d in decoders:
        for b in d.signal:
            if isinstance(b, int) and b not in index:
                index.append(b)
    return index if 0 < len(index) <= MAX_INDEX_BITS else None


def _hits(decoders, index):
    """For every index value, which decoders hit (a list per value)."""
    positions = {b: k for k, b in enumerate(index)}

    def value_of(signal, i):
        v = 0
        for k, b in enumerate(signal):
            bit = (i >> positions[b]) & 1 if isinstance(b, int) else b == "1"
            v |= bit << k
        return v

    return [[d.value(value_of(d.signal, i)) for d in decoders] for i in range(1 << len(index))]


def find_tables(design):
    """{var: Table} for the cells of `design` that are decoders feeding constants or reductions."""
    compares = _compares(design)
    if not compares:
        return {}
    tables = {}
    for var, cell in design.cells:
        kind, p, c = cell["type"], cell["parameters"], cell["connections"]
        if kind == "$pmux":
            width, n = param(p["WIDTH"]), param(p["S_WIDTH"])
            arms = [_constant(c["A"])] + [_constant(c["B"][i * width:(i + 1) * width]) for i in range(n)]
            decoders = _decoders(design, c["S"], compares)
            if decoders is None or n < 2 or any(a is None for a in arms):
                continue
            index = _index(decoders)
            if index is None:
                continue
            values = []
            for hits in _hits(decoders, index):     # the first select that hits wins, as the $pmux is modelled
                first = next((i for i, h in enumerate(hits) if h), None)
                values.append(arms[0] if first is None else arms[first + 1])
        elif kind in _REDUCE:
            bits = c["A"] + (c["B"] if kind == "$logic_or" else [])
            decoders = _decoders(design, bits, compares)
            if decoders is None or len(decoders) < 2:
                continue
            index = _index(decoders)
            if index is None:
                continue
            values = [int(_REDUCE[kind](hits)) for hits in _hits(decoders, index)]
        else:
            continue
        tables[var] = Table(f"t{len(tables)}", var.width, index, values)
    return tables
