"""Pipeline stages shared by the PE and the layer engine's PEs.

The R stage folds the products of a row (:func:`fold_stage`); after the bias, the M and Q stages requantize
(:func:`requant_stages`):

    M   q_m = v * mult + rounding
    Q   q = q_m >> shift (arithmetic, i.e. floor), then clamp to [lo, hi]

ReLU is folded into the clamp (``lo = 0``). The parameters are Python integers when they are baked into the
design (the single-layer PE: constant multiply and shift) or Values when they change from layer to layer (the
engine's per-layer configuration registers); the logic is the same.
"""

from amaranth.hdl import Mux, Signal, signed, unsigned

__all__ = ["MULT_BITS", "SHIFT_BITS", "ROUND_BITS", "fold_stage", "requant_constants", "requant_stages",
           "config_shapes"]

MULT_BITS = 16          # mult in 1 .. 65535
SHIFT_BITS = 6          # shift in 0 .. 40
ROUND_BITS = 40         # 1 << (shift - 1) < 2**40


def fold_stage(m, kind, *, valid, last, dense, p, first, result, product_shape, acc_shape):
    """Fold one product `p` into the running row value; on a row end, register the row's value in `result`.

    kind "mac": the sum. kind "mam": max + min, where pruned weights are zeros that still compete, so a row with
    any pruned weight (not `dense`) is seeded with 0. `first` marks the first entry of a row.
    """
    if kind == "mac":
        acc = Signal(acc_shape)
        total = Signal(acc_shape)
        m.d.comb += total.eq(Mux(first, 0, acc) + p)
        with m.If(valid):
            m.d.sync += acc.eq(total)
            with m.If(last):
                m.d.sync += result.eq(total)
        return
    if kind != "mam":
        raise ValueError(f"unknown kind {kind!r}")
    hi, lo = Signal(product_shape), Signal(product_shape)
    new_hi, new_lo = Signal(product_shape), Signal(product_shape)
    seed_hi = Mux(dense | (p > 0), p, 0)
    seed_lo = Mux(dense | (p < 0), p, 0)
    m.d.comb += [
        new_hi.eq(Mux(first, seed_hi, Mux(p > hi, p, hi))),
        new_lo.eq(Mux(first, seed_lo, Mux(p < lo, p, lo))),
    ]
    with m.If(valid):
        m.d.sync += [hi.eq(new_hi), lo.eq(new_lo)]
        with m.If(last):
            m.d.sync += result.eq(new_hi + new_lo)


def requant_constants(*, mult, shift, relu, out_bits):
    """Integer parameters of :func:`requant_stages` for one layer."""
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return dict(mult=int(mult), rounding=(1 << (shift - 1)) if shift > 0 else 0, shift=int(shift),
                lo=0 if relu else lo, hi=hi)


def requant_stages(m, *, valid, v, mult, rounding, shift, lo, hi, out_shape, carry=()):
    """Add the M and Q stages to module `m`.

    `valid` and `v` (the biased row value) are the B-stage outputs; `carry` are more B-stage signals to delay
    alongside (row number, markers). Returns ``(q_valid, y, q_carry)``: the Q stage's valid, the output value
    (combinational from the Q registers, of `out_shape`) and the delayed `carry` signals.
    """
    q_valid = Signal()
    q_m = Signal(signed(len(v) + MULT_BITS + 2))
    q_carry = [Signal.like(c, name=f"q_{c.name}") for c in carry]
    m.d.sync += [q_valid.eq(valid), q_m.eq(v * mult + rounding)]
    m.d.sync += [qc.eq(c) for qc, c in zip(q_carry, carry)]
    q = Signal(signed(len(q_m)))
    m.d.comb += q.eq(q_m >> shift)
    y = Signal(out_shape)
    m.d.comb += y.eq(Mux(q < lo, lo, Mux(q > hi, hi, q)))
    return q_valid, y, q_carry


def config_shapes(out_bits):
    """Shapes of the per-layer registers that hold :func:`requant_constants` at run time."""
    return dict(mult=unsigned(MULT_BITS), rounding=unsigned(ROUND_BITS), shift=unsigned(SHIFT_BITS),
                lo=signed(out_bits), hi=signed(out_bits))
