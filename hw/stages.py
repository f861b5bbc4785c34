"""Pipeline stages shared by the PE and the layer engine's PEs.

Every stage is one register deep, so each clock period holds one carry chain, one memory access or one DSP
multiply, never two in series. The R stage folds the products of a row and S finishes the row's value
(:func:`fold_stage`); after the bias (B), five stages requantize (:func:`requant_stages`):

    R   mam: running max and min (the compare-and-select loop, nothing else); mac: the running sum.
        A row end registers the row's max and min (or sum).
    S   the row value: max + min (mam) or the sum (mac)
    M1  v = v_hi * 2**16 + v_lo: v_lo * mult in one 16 x 16 unsigned multiplier (an SB_MAC16 or MULT18X18D);
        the few bits of v_hi times mult as shifted adds in logic (a second DSP per PE would not fit the UP5K)
    M2  + rounding
    M3  + (v_hi * mult) << 16, giving v * mult + rounding
    Q1  arithmetic shift (a mux of the layers' constant shifts: cheaper and faster than a barrel shifter)
    Q2  clamp to [lo, hi] (ReLU is lo = 0), registered

The requantization parameters are Python integers when baked in (the single-layer PE) or Values when they change
from layer to layer (the engine's per-layer registers); the logic is the same.
"""

from amaranth.hdl import Mux, Signal, signed, unsigned

__all__ = ["MULT_BITS", "ROUND_BITS", "SPLIT_BITS", "fold_stage", "requant_constants", "requant_stages",
           "config_shapes", "signed_bits", "delay"]

MULT_BITS = 16          # mult in 1 .. 65535
ROUND_BITS = 40         # 1 << (shift - 1) < 2**40
SPLIT_BITS = 16         # v_lo: the unsigned low part of v that goes through the DSP multiplier
SMALL_HI_BITS = 4       # up to this many bits of v_hi are multiplied with shifted adds, beyond with a multiplier


def signed_bits(values):
    """Bits of the narrowest signed shape (at least 2) holding every integer in `values`."""
    lo, hi = min(values, default=0), max(values, default=0)
    return max(2, (max(hi, -lo - 1)).bit_length() + 1)


def delay(m, value, name):
    """`value` registered once."""
    reg = Signal.like(value, name=name)
    m.d.sync += reg.eq(value)
    return reg


def fold_stage(m, kind, *, valid, last, dense, p, first, result, product_shape, acc_shape):
    """Fold one product `p` into the running row value (R); two cycles after a row end, `result` holds the row's
    value (S).

    kind "mac": the sum. kind "mam": max + min, where pruned weights are zeros that still compete, so a row with
    any pruned weight (not `dense`) is seeded with 0. `first` marks the first entry of a row.
    """
    if kind == "mac":
        acc, total, s_sum = Signal(acc_shape), Signal(acc_shape), Signal(acc_shape)
        m.d.comb += total.eq(Mux(first, 0, acc) + p)
        with m.If(valid):
            m.d.sync += acc.eq(total)
            with m.If(last):
                m.d.sync += s_sum.eq(total)
        m.d.sync += result.eq(s_sum)
        return
    if kind != "mam":
        raise ValueError(f"unknown kind {kind!r}")
    hi, lo = Signal(product_shape), Signal(product_shape)
    new_hi, new_lo = Signal(product_shape), Signal(product_shape)
    s_hi, s_lo = Signal(product_shape), Signal(product_shape)
    seed_hi = Mux(dense | (p > 0), p, 0)
    seed_lo = Mux(dense | (p < 0), p, 0)
    m.d.comb += [
        new_hi.eq(Mux(first, seed_hi, Mux(p > hi, p, hi))),
        new_lo.eq(Mux(first, seed_lo, Mux(p < lo, p, lo))),
    ]
    with m.If(valid):
        m.d.sync += [hi.eq(new_hi), lo.eq(new_lo)]
        with m.If(last):
            m.d.sync += [s_hi.eq(new_hi), s_lo.eq(new_lo)]
    m.d.sync += result.eq(s_hi + s_lo)


def requant_constants(*, mult, shift, relu, out_bits):
    """Integer parameters of :func:`requant_stages` for one layer."""
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return dict(mult=int(mult), rounding=(1 << (shift - 1)) if shift > 0 else 0, shift=int(shift),
                lo=0 if relu else lo, hi=hi)


def _times_small(bits, mult):
    """`bits` (a short signed value) times `mult` (unsigned) as shifted adds, so no multiplier is inferred."""
    n = len(bits)
    terms = [Mux(bits[i], mult, 0) << i for i in range(n - 1)]
    total = -(Mux(bits[n - 1], mult, 0) << (n - 1))             # the sign bit weighs -2**(n-1)
    for t in terms:
        total = total + t
    return total


def requant_stages(m, *, valid, v, mult, rounding, shift, lo, hi, out_shape, carry=(), shift_select=None,
                   valids=None):
    """Add the M1..Q2 stages to module `m`.

    `valid` and `v` (the biased row value) are the B-stage outputs; `carry` are more B-stage signals to delay
    alongside (row number, markers). `shift` is an integer, or a list of integers (one per layer) chosen by
    `shift_select`, which must hold still while rows pass. Returns ``(q_valid, y, q_carry)``: registered, five
    cycles after `valid`. The stages' valid registers are appended to the list `valids` if one is given (the formal
    harness counts the rows in flight with them).
    """
    carry = list(carry)

    def advance(valid, carry, tag):
        reg = delay(m, valid, f"{tag}_valid")
        if valids is not None:
            valids.append(reg)
        return reg, [delay(m, c, f"{tag}_{c.name}") for c in carry]

    # M1: split v; the low part's product maps onto one DSP, the high part's onto adders (or a DSP when wide).
    wide = Signal(signed(max(len(v), SPLIT_BITS + 1)), name="m1_v")
    m.d.comb += wide.eq(v)                                          # sign-extended to at least 17 bits
    v_lo = wide[:SPLIT_BITS]
    v_hi_sig = wide[SPLIT_BITS:].as_signed()
    hi_bits = len(v_hi_sig)
    prod_hi = _times_small(v_hi_sig, mult) if hi_bits <= SMALL_HI_BITS else v_hi_sig * mult
    m1_lo = Signal(unsigned(SPLIT_BITS + MULT_BITS))
    m1_hi = Signal(signed(hi_bits + MULT_BITS + 1))
    m.d.sync += [m1_lo.eq(v_lo * mult), m1_hi.eq(prod_hi)]
    m1_valid, carry = advance(valid, carry, "m1")

    # M2: the rounding constant.
    m2_lo = Signal(unsigned(max(SPLIT_BITS + MULT_BITS, ROUND_BITS) + 1))
    m.d.sync += m2_lo.eq(m1_lo + rounding)
    m2_hi = delay(m, m1_hi, "m2_hi")
    m2_valid, carry = advance(m1_valid, carry, "m2")

    # M3: v * mult + rounding.
    m3 = Signal(signed(max(len(m2_lo), len(m2_hi) + SPLIT_BITS) + 2))
    m.d.sync += m3.eq(m2_lo + (m2_hi << SPLIT_BITS))
    m3_valid, carry = advance(m2_valid, carry, "m3")

    # Q1: arithmetic shift (floor).
    q1 = Signal(signed(len(m3)))
    if shift_select is None:
        m.d.sync += q1.eq(m3 >> shift)
    else:
        with m.Switch(shift_select):
            for k, s in enumerate(shift):
                with m.Case(k):
                    m.d.sync += q1.eq(m3 >> s)
    q1_valid, carry = advance(m3_valid, carry, "q1")

    # Q2: saturate.
    y = Signal(out_shape)
    m.d.sync += y.eq(Mux(q1 < lo, lo, Mux(q1 > hi, hi, q1)))
    q2_valid, carry = advance(q1_valid, carry, "q2")
    return q2_valid, y, carry


def config_shapes(out_bits):
    """Shapes of the per-layer registers that hold :func:`requant_constants` at run time (the shift is a mux of
    constants, see :func:`requant_stages`)."""
    return dict(mult=unsigned(MULT_BITS), rounding=unsigned(ROUND_BITS), lo=signed(out_bits), hi=signed(out_bits))
