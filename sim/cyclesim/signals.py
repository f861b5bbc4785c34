"""C++ expressions of signals: a list of net bits as one value, with the vars it reads."""

from .netlist import MAX_WIDTH, Unsupported, mask

__all__ = ["Signals", "literal", "fit"]


def literal(value):
    """A C++ literal: uint64_t, or unsigned __int128 beyond 64 bits."""
    if value >= 1 << 64:
        return f"(((U2){value >> 64:#x}ull << 64) | {value & mask(64):#x}ull)"
    return f"{value:#x}ull" if value > 9 else f"{value}ull"


def fit(expr, yw, natural=64):
    """`expr` cut to `yw` bits, when it can be wider ("natural": how many bits the raw expression can occupy)."""
    if natural <= yw or yw >= 128 or (yw == 64 and natural <= 64):
        return expr
    return f"(({expr}) & {literal(mask(yw))})"


class Signals:
    """Expressions over the values of `design` (a netlist.Design)."""

    def __init__(self, design):
        self.design = design

    @staticmethod
    def vec(reads):
        """Whether an expression reading `reads` is a lane vector."""
        return any(v.vary for v in reads)

    def w(self, expr, reads):
        """`expr` as a lane vector (for the arms of a selection whose result is one)."""
        return expr if self.vec(reads) else f"V({expr})"

    @staticmethod
    def ctype(var):
        return "W" if var.vary else "U2" if var.width > 64 else "U"

    def sig(self, bits):
        """A C++ expression for the signal `bits` (LSB first), zero-extended, and the set of vars it reads.

        Runs of consecutive bits of one var become one shift-and-mask; a run that repeats its last bit (how Yosys
        spells sign extension) becomes one sign extension."""
        if len(bits) > MAX_WIDTH:
            raise Unsupported(f"a {len(bits)}-bit operand (at most {MAX_WIDTH})")
        driver, clock_bit = self.design.driver, self.design.clock_bit
        wide = len(bits) > 64
        terms, reads, const = [], set(), 0
        i = 0
        while i < len(bits):
            bit = bits[i]
            if bit == clock_bit:
                raise Unsupported("the clock is used as a signal")
            if not isinstance(bit, int) or bit not in driver:      # constant; x, z and undriven read 0
                const |= (1 if bit == "1" else 0) << i
                i += 1
                continue
            var, off = driver[bit]
            n = 1
            while (i + n < len(bits) and isinstance(bits[i + n], int) and
                   driver.get(bits[i + n]) == (var, off + n)):
                n += 1
            r = 0
            while i + n + r < len(bits) and bits[i + n + r] == bits[i + n - 1]:
                r += 1
            reads.add(var)
            ref = "(U)RST" if var.kind == "rst" else var.name
            low = ref if off == 0 else f"({ref} >> {off})"
            if r and n + r > 64:
                t = fit(f"sx2({low}, {n})", n + r, 128)
            elif r:
                t = fit(f"sx({low}, {n})", n + r)
            elif off == 0 and n == var.width:
                t = ref
            elif off + n == var.width:
                t = low
            else:
                t = f"({low} & {literal(mask(n))})"
            if wide and var.width <= 64:
                t = f"(U2){t}"
            elif not wide and var.width > 64:   # a narrow slice of a wide value: a plain integer again
                t = f"(U){t}"
            terms.append(f"({t} << {i})" if i else t)
            i += n + r
        if const or not terms:
            terms.append(literal(const))
        expr = terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")"
        return expr, reads
