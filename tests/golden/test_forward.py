"""The vectorized golden forward pass against a literal, loop-by-loop reading of the contract."""

import tracemalloc

import numpy as np
from hypothesis import given, settings

from mamhw.golden import Layer, forward
from tests.strategies import layers_and_inputs


def literal_forward(layer, x):
    """DESIGN.md section 2, line by line, with Python integers."""
    x = np.atleast_2d(x)
    out = np.zeros((x.shape[0], layer.n_out), dtype=np.int64)
    lo, hi = -(1 << (layer.out_bits - 1)), (1 << (layer.out_bits - 1)) - 1
    for s in range(x.shape[0]):
        for j in range(layer.n_out):
            p = [int(layer.weight[j, i]) * int(x[s, i]) for i in range(layer.n_in)]
            a = max(p) + min(p) if layer.kind == "mam" else sum(p)
            v = a + int(layer.bias[j])
            q = (v * layer.mult + ((1 << (layer.shift - 1)) if layer.shift > 0 else 0)) >> layer.shift
            if layer.relu:
                q = max(q, 0)
            out[s, j] = min(max(q, lo), hi)
    return out


@settings(max_examples=60)
@given(layers_and_inputs(max_in=760, max_out=6, max_entries=3000, bits=(4, 8, 12), max_batch=4))
def test_forward_equals_literal_contract(case):
    layer, x = case
    assert np.array_equal(forward(layer, x), literal_forward(layer, x))


def test_pruned_zero_competes_and_dense_rows_do_not_get_it():
    w = np.array([[3, 0], [3, 2], [0, 0]])
    layer = Layer.build(kind="mam", weight=w, bias=[0, 0, 0], mult=1, shift=0, relu=False, out_bits=16)
    # Row 0 has a pruned weight: max(3*5, 0) + min(3*5, 0) = 15. Row 1 is dense: 15 + 10 = 25. Row 2 empty: 0.
    assert forward(layer, [5, 5]).tolist() == [[15, 25, 0]]
    # All-negative products: the pruned zero is the max of row 0.
    assert forward(layer, [-5, -5]).tolist() == [[-15, -25, 0]]


def test_rounding_is_half_up_and_shift_is_floor():
    layer = Layer.build(kind="mac", weight=[[1]], bias=[0], mult=1, shift=1, relu=False)
    assert forward(layer, [[-3], [-2], [-1], [1], [3]]).ravel().tolist() == [-1, -1, 0, 1, 2]


def test_saturation_both_ways_and_relu():
    layer = Layer.build(kind="mam", weight=[[-128, 127]], bias=[0], mult=1, shift=0, relu=False)
    # Products 16384 + 16129 saturate high, -16256 + -16256 saturate low.
    assert forward(layer, [[-128, 127], [127, -128]]).ravel().tolist() == [127, -128]
    relu = Layer.build(kind="mam", weight=[[-128, 127]], bias=[0], mult=1, shift=0, relu=True)
    assert forward(relu, [[-128, 127], [127, -128]]).ravel().tolist() == [127, 0]


def test_large_batch_stays_memory_bounded():
    """5000 x 784 through 784 x 256: a [5000, 256, 784] int64 array would take 8 GB."""
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (256, 784))
    layer = Layer.build(kind="mam", weight=w, bias=np.zeros(256, int), mult=1, shift=8, relu=True)
    x = rng.integers(-128, 128, (5000, 784))
    tracemalloc.start()
    y = forward(layer, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 400 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    s = rng.integers(0, 5000)
    p = w[None, :, :] * x[s][None, None, :]
    assert np.array_equal(y[s], np.clip((p.max(-1) + p.min(-1) + 128) >> 8, 0, 127)[0])
