"""C++ expressions of signals: a list of net bits as one value, with the vars it reads.

A value of up to 64 bits is one word: ``U``, or the lane vector ``W`` when it can differ between lanes. A wider
one is ``Big<U, N>`` / ``Big<W, N>`` (runtime/wide.h), N words of 64 bits, least significant first."""

from .netlist import Unsupported, mask

__all__ = ["Signals", "literal", "fit", "words", "big_type", "big_literal"]


def words(width):
    return (width + 63) // 64


def literal(value):
    """A C++ literal of a word."""
    assert value < 1 << 64, "a wide constant is a big_literal"
    return f"{value:#x}ull" if value > 9 else f"{value}ull"


def big_type(width, vec):
    return f"Big<{'W' if vec else 'U'}, {words(width)}>"


def big_literal(value, width, vec):
    """`value` as a wide value of `width` bits (in every lane when `vec`)."""
    parts = [literal((value >> (64 * j)) & mask(64)) for j in range(words(width))]
    if vec:
        parts = [f"V({p})" for p in parts]
    return f"{big_type(width, vec)}{{{{{', '.join(parts)}}}}}"


def fit(expr, yw, natural=64):
    """A word `expr` cut to `yw` bits, when it can be wider ("natural": how many bits the raw expression can
    occupy)."""
    if natural <= yw or yw >= 64:
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
        """A word `expr` as a lane vector (for the arms of a selection whose result is one)."""
        return expr if self.vec(reads) else f"V({expr})"

    @staticmethod
    def ctype(var):
        if var.width > 64:
            return big_type(var.width, var.vary)
        return "W" if var.vary else "U"

    def reads(self, bits):
        """The vars a signal reads."""
        driver = self.design.driver
        return {driver[b][0] for b in bits if isinstance(b, int) and b in driver}

    def _runs(self, bits):
        """The signal as runs (position, length, var, offset, repeats): `length` bits of `var` from `offset` (var
        None: constant bits, `offset` their value), then the last of them `repeats` more times."""
        driver, clock_bit = self.design.driver, self.design.clock_bit
        runs, i = [], 0
        while i < len(bits):
            bit = bits[i]
            if bit == clock_bit:
                raise Unsupported("the clock is used as a signal")
            if not isinstance(bit, int) or bit not in driver:      # constant; x, z and undriven read 0
                value = 1 if bit == "1" else 0
                if runs and runs[-1][2] is None and runs[-1][0] + runs[-1][1] == i:
                    p, n, _, v, _ = runs[-1]
                    runs[-1] = (p, n + 1, None, v | (value << n), 0)
                else:
                    runs.append((i, 1, None, value, 0))
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
            runs.append((i, n, var, off, r))
            i += n + r
        return runs

    @staticmethod
    def _ref(var):
        return "(U)RST" if var.kind == "rst" else var.name

    def _piece(self, var, off, n, masked=True):
        """Bits off..off+n-1 (n <= 64) of `var` as a word, zero-extended (or with bits above n left as they are,
        when not `masked`)."""
        ref = self._ref(var)
        if var.width <= 64:
            low = ref if off == 0 else f"({ref} >> {off})"
            if off == 0 and n == var.width:
                return ref
            return low if off + n == var.width or not masked else f"({low} & {literal(mask(n))})"
        k, o = divmod(off, 64)
        word = f"{ref}.w[{k}]"
        if o + n > 64:                      # across two words
            low = f"(({word} >> {o}) | ({ref}.w[{k + 1}] << {64 - o}))"
        else:
            low = word if o == 0 else f"({word} >> {o})"
        top = off + n == var.width or (o == 0 and n == 64)
        return low if top or not masked else f"({low} & {literal(mask(n))})"

    def sig(self, bits, vec=None):
        """A C++ expression for the signal `bits` (LSB first), zero-extended, and the set of vars it reads.
        A wide signal is a lane vector of words when `vec` (default: when it reads a value that varies).

        Runs of consecutive bits of one var become one shift-and-mask; a run that repeats its last bit (how Yosys
        spells sign extension) becomes one sign extension."""
        runs = self._runs(bits)
        reads = {var for _, _, var, _, _ in runs if var is not None}
        if len(bits) > 64:
            return self._wide(bits, runs, self.vec(reads) if vec is None else vec), reads
        terms, const = [], 0
        for i, n, var, off, r in runs:
            if var is None:
                const |= off << i
                continue
            if r:
                t = fit(f"sx({self._piece(var, off, n, masked=False)}, {n})", n + r)
            else:
                t = self._piece(var, off, n)
            terms.append(f"({t} << {i})" if i else t)
        if const or not terms:
            terms.append(literal(const))
        expr = terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")"
        return expr, reads

    def _wide(self, bits, runs, vec):
        n_words = words(len(bits))
        if len(runs) == 1 and runs[0][2] is not None:
            _, n, var, off, r = runs[0]
            if off == 0 and n == var.width == len(bits):       # a whole wide value
                return var.name if var.vary or not vec else f"vb({var.name})"
        parts = []
        for j in range(n_words):
            lo, hi = 64 * j, min(64 * j + 64, len(bits))
            terms, const = [], 0
            for i, n, var, off, r in runs:
                for start, length, repeat in ((i, n, False), (i + n, r, True)):
                    a, b = max(start, lo), min(start + length, hi)
                    if a >= b:
                        continue
                    if var is None:
                        const |= ((off >> (a - start)) & mask(b - a)) << (a - lo)
                        continue
                    if repeat:                  # copies of the run's last bit
                        t = f"((0ull - {self._piece(var, off + n - 1, 1)}) & {literal(mask(b - a))})"
                    else:
                        t = self._piece(var, off + a - start, b - a)
                    terms.append(f"({t} << {a - lo})" if a > lo else t)
            if const or not terms:
                terms.append(literal(const))
            word = terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")"
            parts.append(f"V({word})" if vec else word)
        return f"{big_type(len(bits), vec)}{{{{{', '.join(parts)}}}}}"

    def ext(self, bits, width, signed):
        """The signal `bits` cut or extended (sign or zero) to `width` bits, as a bit list."""
        if len(bits) >= width:
            return list(bits[:width])
        pad = bits[-1] if signed and bits else "0"
        return list(bits) + [pad] * (width - len(bits))
