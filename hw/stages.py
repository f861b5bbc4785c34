"""Pipeline stages shared by the PE and the layer engine's PEs.

Every stage is one register deep, so each clock period holds one carry chain, one memory access or one DSP
multiply, never two in series. The R stage folds the products of a row and S finishes the row's value
(:func:`fold_stage`); after the bias (B), six stages requantize (:func:`requant_stages`):

    R   mam: q = max (min) of this product and the previous one; mac: the running sum
    R1  mam: compare q with the running max (min) of two entries back
    R2  mam: select; a row end registers the row's max and min (or sum, delayed to match)
    S   the row value: max + min (mam) or the sum (mac)
    M1  v = v_hi * 2**16 + v_lo: v_lo * mult in one 16 x 16 unsigned multiplier (an SB_MAC16 or MULT18X18D);
        the few bits of v_hi times mult as a tree of adds in logic, one level per stage over M1..M3 (a second
        DSP per PE would not fit the UP5K's eight at P = 4)
    M2  + rounding
    M4  + (v_hi * mult) << 16, giving v * mult + rounding
    Q1  arithmetic shift (a mux of the layers' constant shifts: cheaper and faster than a barrel shifter), and the
        tests against the clamp bounds (ReLU is lo = 0), registered
    Q2  clamp to [lo, hi]: a select by those tests, registered

The requantization parameters are Python integers when baked in (the single-layer PE) or Values when they change
from layer to layer (the engine's per-layer registers); the logic is the same.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned

from .dsp import registered_product

__all__ = ["MULT_BITS", "SPLIT_BITS", "REQUANT_STAGES", "FOLD_DELAY", "multiply", "wait_for_fold",
           "fold_stage", "requant_constants", "requant_stages",
           "config_shapes", "signed_bits", "delay"]

MULT_BITS = 16          # mult in 1 .. 65535
SPLIT_BITS = 16         # v_lo: the unsigned low part of v that goes through the DSP multiplier
SMALL_HI_BITS = 8       # up to this many bits of v_hi: a tree of adds; beyond, a second multiplier
REQUANT_STAGES = 6      # M1..M4, Q1, Q2
FOLD_DELAY = 4          # R1, R2, the row end register, S


def signed_bits(values):
    """Bits of the narrowest signed shape (at least 2) holding every integer in `values`."""
    lo, hi = min(values, default=0), max(values, default=0)
    return max(2, (max(hi, -lo - 1)).bit_length() + 1)


def delay(m, value, name):
    """`value` registered once. Multi-bit values are data, valid only beside a valid bit: their registers take no
    reset, which keeps the reset net's fanout (a critical path of its own on the ECP5) to the control bits."""
    reg = Signal.like(value, name=name, reset_less=len(value) > 1)
    m.d.sync += reg.eq(value)
    return reg


def multiply(m, weight, x, dsp=None):
    """X, Y and P: `weight` and `x` registered in the fabric (X), registered again beside the multiplier (Y), their
    product registered (P), and its sign flags (p > 0, p < 0) registered beside it.

    X is a register of its own so that the route to the multiplier starts at a flip-flop: the engine picks `x` from
    its banks right before it, and that pick into the DSP's input register was the ECP5 engine's slowest path
    (7.2-7.9 ns at P = 8). Y is the DSP's own input registers where hw/dsp.py builds the DSP, else the fabric's.
    The flags come from the operands' signs and zero tests, beside the multiplier, so the fold's seed choice does
    not wait for a test of the whole product. `dsp`: the DSP primitive (hw/dsp.py)."""
    weight, x = delay(m, weight, "x_weight"), delay(m, x, "x_word")
    p = registered_product(m, weight, x, "r_p", dsp, registered=(delay(m, weight, "y_weight"), delay(m, x, "y_x")))
    nonzero = weight.any() & x.any()
    differ = (weight < 0) ^ (x < 0)
    flags = []
    for name, value in (("pos", nonzero & ~differ), ("neg", nonzero & differ)):
        y_flag, flag = Signal(name=f"y_{name}", reset_less=True), Signal(name=f"r_p_{name}", reset_less=True)
        m.d.sync += [y_flag.eq(value), flag.eq(y_flag)]
        flags.append(flag)
    return p, tuple(flags)


def wait_for_fold(m, marker, bias):
    """Delay a row-end `marker` (registered after R) and the row's `bias` (read in R) until the row's value leaves
    :func:`fold_stage`. Returns (the marker's registers, oldest first; the last is B's valid) and B's bias."""
    markers = [marker]
    for i in range(FOLD_DELAY - 1):
        markers.append(delay(m, markers[-1], f"fold_valid{i + 1}"))
        bias = delay(m, bias, f"b_bias{i + 1}")
    return markers, bias


def fold_stage(m, kind, *, valid, last, dense, p, signs, first, result, product_shape, acc_shape, unroll=True,
               next_dense=None):
    """Fold one product `p` into the running row value (R, R1, R2); :data:`FOLD_DELAY` cycles after a row's last
    product, `result` holds the row's value (S). `signs` is (p > 0, p < 0), from :func:`multiply`.

    kind "mac": the sum. kind "mam": max + min, where pruned weights are zeros that still compete, so a row with
    any pruned weight (not `dense`) is seeded with 0. `first` marks the first entry of a row. `next_dense` is the
    dense flag of the entry one stage behind (both mam folds seed a row a cycle ahead).

    The running max is the design's critical loop, so it is unrolled by one step: with q_t = max(p_{t-1}, p_t)
    made ahead of the loop, hi_t = max(hi_{t-2}, q_t). That recurrence has two cycles to go round, so the compare
    (R1) and the select (R2) get a cycle each, over one register of results; each hi_t is still the max of the
    whole row so far. The min is the mirror image. With ``unroll=False`` the loop compares and selects in one cycle
    and the row value waits two cycles instead: ~80 fewer flip-flops per PE (what a full UP5K needs), a slower
    clock, the same latency.
    """
    if kind == "mac":
        # The sum's loop is the adder alone: `acc` is cleared (the flip-flops' own synchronous reset) after a row's
        # last entry and in every cycle without an entry, so it is 0 where each row starts, whatever came before.
        # (A `first` flag zeroing the addend put a LUT and its fanout into the loop.)
        acc, total = Signal(acc_shape, name="mac_acc", reset_less=True), Signal(acc_shape, name="mac_total")
        s_sum = Signal(acc_shape, reset_less=True)
        m.d.comb += total.eq(acc + p)
        m.d.sync += acc.eq(Mux(valid & ~last, total, 0))
        with m.If(valid & last):
            m.d.sync += s_sum.eq(total)
        # The same latency as the mam fold: an engine with both kinds selects one of the two results.
        m.d.sync += result.eq(delay(m, delay(m, s_sum, "mac_sum_r1"), "mac_sum_r2"))
        return
    if kind != "mam":
        raise ValueError(f"unknown kind {kind!r}")
    if next_dense is None:
        raise ValueError("the mam fold needs next_dense, the dense flag of the entry in P")
    if not unroll:
        _fold_mam_compact(m, valid=valid, last=last, next_dense=next_dense, p=p, result=result,
                          product_shape=product_shape)
        return
    s_hi = Signal(product_shape, name="s_hi", reset_less=True)
    s_lo = Signal(product_shape, name="s_lo", reset_less=True)
    lowest, highest = _extremes(product_shape)
    opens = ~valid | last                                   # the entry behind (in P) opens a row
    for name, seed_wins, extreme, wins, s_out in (("hi", signs[0], lowest, _beats_max, s_hi),
                                                   ("lo", signs[1], highest, _beats_min, s_lo)):
        # R: q_t = max(p_t, cmp). `cmp` is made a cycle ahead: the previous product (max'd with its row's seed if it
        # opened the row), or this row's seed if p_t opens it (the most negative value for a dense row, which any
        # product matches or beats; 0 for a row with a pruned weight). So R is a compare and a select of p_t,
        # which arrives from the DSP on a long route, with nothing else in the way. `cmp` is held inverted: that is
        # the operand the compare's adder takes (:func:`_beats_max`).
        n_cmp = Signal(product_shape, name=f"{name}_ncmp", reset_less=True)
        m.d.sync += n_cmp.eq(Mux(opens, Mux(next_dense, ~extreme, ~0), Mux(first & ~(dense | seed_wins), ~0, ~p)))
        first_prev = Signal(name=f"{name}_first_prev")
        with m.If(valid):
            m.d.sync += first_prev.eq(first)
        q = Signal(product_shape, name=f"{name}_q", reset_less=True)
        use_prev = Signal(name=f"{name}_use_prev")           # hi_{t-2} is of this row: t and t-1 continue it
        r1_valid, r1_last = Signal(name=f"{name}_r1_valid"), Signal(name=f"{name}_r1_last")
        m.d.sync += [q.eq(Mux(wins(p, n_cmp), p, ~n_cmp)),
                     use_prev.eq(~first & ~first_prev), r1_valid.eq(valid), r1_last.eq(last)]
        # R1: compare with hi_{t-2}. Entries of a run are in R on consecutive cycles, so when t uses hi_{t-2} (t-1
        # and t-2 are of its row), R2 stored hi_{t-2} in the cycle before: one register, `recent` (held inverted),
        # where a pair indexed by parity put a mux in front of the compare.
        n_recent = Signal(product_shape, name=f"{name}_nrecent", reset_less=True)
        c = Signal(name=f"{name}_c")
        m.d.sync += c.eq(wins(q, n_recent))
        r2_q, r2_use = delay(m, q, f"{name}_r2_q"), delay(m, use_prev, f"{name}_r2_use")
        r2_valid, r2_last = delay(m, r1_valid, f"{name}_r2_valid"), delay(m, r1_last, f"{name}_r2_last")
        # R2: select; a row end registers the row's max (min). When q_t does not beat hi_{t-2}, hi_t = hi_{t-2};
        # `recent` now holds hi_{t-1}, which is the same value then: it covers hi_{t-2}, and p_{t-1} <= q_t.
        n_new = Mux(r2_use & ~c, n_recent, ~r2_q)
        with m.If(r2_valid):
            m.d.sync += n_recent.eq(n_new)
            with m.If(r2_last):
                m.d.sync += s_out.eq(~n_new)
    m.d.sync += result.eq(s_hi + s_lo)


def _extremes(shape):
    """The most negative and the most positive value of a signed shape: the seeds of a dense row's max and min."""
    return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1


def _beats_max(p, n_held):
    """p > held, given ``n_held = ~held``: p + ~held = p - held - 1 >= 0, added one bit wider so it cannot overflow.
    Both operands go straight from registers into the carry chain (a subtract puts an inverter in front of it on the
    iCE40), and the answer is the chain's top sum bit (a compare's carry-out took two more LUTs to leave the chain on
    the ECP5)."""
    return ~(p + n_held)[-1]


def _beats_min(p, n_held):
    """p < held, given ``n_held = ~held``: p - held = p + ~held + 1 < 0. The + 1 is the carry out of a low column of
    two ones, so this too is one add of register outputs, read at its top sum bit."""
    one = Const(1, 1)
    return (Cat(one, p).as_signed() + Cat(one, n_held).as_signed())[-1]


def _greater(a, b):
    """a > b for two signed values of one shape: the bits below the sign compared unsigned on the carry chain, whose
    carry-out decides when the signs are equal, and the sign bits in the one LUT after it. The compact fold's
    compare: on the UP5K it measured faster than the add read at its top sum bit (:func:`_beats_max`; the MAM
    engine at P = 4 fell from 43.2 to 40.2 MHz with that, its loop the slowest path)."""
    n = len(a) - 1
    low = a.as_unsigned()[:n] > b.as_unsigned()[:n]
    return (~a[n] & b[n]) | (~(a[n] ^ b[n]) & low)


def _fold_mam_compact(m, *, valid, last, next_dense, p, result, product_shape):
    """The mam fold with the compare and the select in one cycle; the row value waits to match the unrolled one.

    The loop is hi <- max(hi, p) with nothing else in it: a row's seed is loaded into hi one cycle ahead, while
    the entry before it (a row end, or none) is in R, from the dense flag of the entry behind it (`next_dense`,
    the P stage's). A dense row is seeded with the most negative value, which every product beats; a row with a
    pruned weight with 0, so max(0, p) is the pruned zeros competing. (Choosing the seed in the loop, from a
    `first` flag and the product's sign, put one more LUT level between the compare and the register.)"""
    lowest, highest = _extremes(product_shape)
    value = Signal.like(result, name="row_value", reset_less=True)
    ends = []
    for name, seed, wins in (("hi", lowest, lambda held: _greater(p, held)),
                             ("lo", highest, lambda held: _greater(held, p))):
        held = Signal(product_shape, name=name, reset_less=True)
        new = Signal(product_shape, name=f"new_{name}")
        end = Signal(product_shape, name=f"s_{name}", reset_less=True)
        m.d.comb += new.eq(Mux(wins(held), p, held))
        with m.If(valid & ~last):
            m.d.sync += held.eq(new)
        with m.Else():
            m.d.sync += held.eq(Mux(next_dense, seed, 0))
        with m.If(valid & last):
            m.d.sync += end.eq(new)
        ends.append(end)
    m.d.sync += value.eq(ends[0] + ends[1])
    m.d.sync += result.eq(delay(m, value, "row_value_d1"))            # two cycles later than without R1, R2


def requant_constants(*, mult, shift, relu, out_bits):
    """Integer parameters of :func:`requant_stages` for one layer."""
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return dict(mult=int(mult), neg_mult=-int(mult), rounding=(1 << (shift - 1)) if shift > 0 else 0, shift=int(shift),
                lo=0 if relu else lo, hi=hi)


def requant_stages(m, *, valid, v, mult, rounding, shift, lo, hi, out_shape, carry=(), shift_select=None,
                   neg_mult=None, valids=None, dsp=None):
    """Add the M1..Q2 stages to module `m`.

    `valid` and `v` (the biased row value) are the B-stage outputs; `carry` are more B-stage signals to delay
    alongside. `mult` (and `neg_mult` = -mult, if given: the engine shares one register among its PEs) must hold
    still while rows pass; `shift`, `lo` and `hi` are integers, or lists of integers (one per layer) chosen by
    `shift_select`, which must hold still too. Returns ``(q_valid, y,
    q_carry)``, registered :data:`REQUANT_STAGES` cycles after `valid`. The stages' valid registers are appended to
    the list `valids` if one is given (the formal harness counts the rows in flight with them). `dsp`: the DSP
    primitive M1's multiplier is built as (hw/dsp.py).
    """
    carry = list(carry)
    shifts = [shift] if shift_select is None else [int(s) for s in shift]

    def advance(valid, carry, tag):
        reg = delay(m, valid, f"{tag}_valid")
        if valids is not None:
            valids.append(reg)
        return reg, [delay(m, c, f"{tag}_{c.name}") for c in carry]

    def register(expr, name, reset_less=True):
        reg = Signal(expr.shape(), name=name, reset_less=reset_less)
        m.d.sync += reg.eq(expr)
        return reg

    def pair_up(terms, tag):
        """One level of an adder tree: neighbours added (one carry chain deep), registered."""
        return [register(terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j], f"{tag}_hi{j // 2}")
                for j in range(0, len(terms), 2)]

    # M1: v = v_hi * 2**16 + v_lo. v_lo * mult maps onto one DSP. v_hi * mult (v_hi is a few bits: the engine
    # sizes v by its baked weights) is a sum of muxed copies of mult, added as a tree over M1..M3, one carry chain
    # per stage; the sign bit weighs -2**(h-1), so its copy is -mult, registered once (mult holds still).
    wide = Signal(signed(max(len(v), SPLIT_BITS + 1)), name="m1_v")
    m.d.comb += wide.eq(v)                                          # sign-extended to at least 17 bits
    v_lo, v_hi = wide[:SPLIT_BITS], wide[SPLIT_BITS:]
    h = len(v_hi)
    if h <= SMALL_HI_BITS:
        if neg_mult is None:
            neg_mult = -mult if isinstance(mult, int) else register(-mult, "neg_mult")
        terms = [Mux(v_hi[i], mult, 0) << i for i in range(h - 1)] + [Mux(v_hi[h - 1], neg_mult, 0) << (h - 1)]
    else:
        terms = [v_hi.as_signed() * mult]                          # a wide v: a second multiplier
    m1_lo = registered_product(m, v_lo, mult, "m1_lo", dsp)
    hi_terms = pair_up(terms, "m1")
    m1_valid, carry = advance(valid, carry, "m1")

    # M2: the rounding constant; the tree's next level.
    # With a reset: without one, Yosys's ice40_dsp folds this add into the SB_MAC16 accumulator and then fails on
    # the carry-out bit ("connected to constants").
    m2_lo = register(m1_lo + rounding, "m2_lo", reset_less=False)
    hi_terms = pair_up(hi_terms, "m2")
    m2_valid, carry = advance(m1_valid, carry, "m2")

    # M3: the tree's last level (8 terms at most).
    m3_lo = register(m2_lo, "m3_lo")
    hi_terms = pair_up(hi_terms, "m3")
    assert len(hi_terms) == 1
    m3_valid, carry = advance(m2_valid, carry, "m3")

    # M4: v * mult + rounding.
    m4 = register(m3_lo + (hi_terms[0] << SPLIT_BITS), "m4")
    m4_valid, carry = advance(m3_valid, carry, "m4")

    # Q1: arithmetic shift (floor): a mux of constant shifts. The saturation tests are made here too, on m4's bits
    # above the shift (floor(m4 / 2**s) < lo is m4 >> s < lo): each test is one carry chain between two registers,
    # which leaves Q2 a bare select.
    q1 = Signal(signed(max(len(m4) - min(shifts), 2)), reset_less=True)
    under, over = Signal(name="q1_under", reset_less=True), Signal(name="q1_over", reset_less=True)

    def shift_and_test(s, lo_k, hi_k):
        # x < lo is the sign of x - lo, x > hi that of x + ~hi = x - hi - 1 (a bit wider, exact): each test is the
        # top sum bit of its carry chain, where a compare's result took two more LUTs to leave the chain (ECP5).
        x = m4 >> s
        m.d.sync += [q1.eq(x), under.eq((x - lo_k)[-1]), over.eq(~(x + ~hi_k)[-1])]

    if shift_select is None:
        shift_and_test(shift, lo, hi)
    else:
        with m.Switch(shift_select):
            for k, (s, lo_k, hi_k) in enumerate(zip(shifts, lo, hi)):
                with m.Case(k):
                    shift_and_test(s, lo_k, hi_k)
    q1_valid, carry = advance(m4_valid, carry, "q1")

    # Q2: saturate: the bound the test chose, or q1's low bits.
    y = Signal(out_shape, reset_less=True)
    if shift_select is None:
        m.d.sync += y.eq(Mux(under, lo, Mux(over, hi, q1)))
    else:
        with m.Switch(shift_select):
            for k, (lo_k, hi_k) in enumerate(zip(lo, hi)):
                with m.Case(k):
                    m.d.sync += y.eq(Mux(under, lo_k, Mux(over, hi_k, q1)))
    q2_valid, carry = advance(q1_valid, carry, "q2")
    return q2_valid, y, carry


def config_shapes(shifts):
    """Shapes of the per-layer registers that hold :func:`requant_constants` at run time, for layers with the given
    shifts (shift, lo and hi are muxes of constants, see :func:`requant_stages`)."""
    return dict(mult=unsigned(MULT_BITS), neg_mult=signed(MULT_BITS + 1), rounding=unsigned(max(1, max(shifts))))
