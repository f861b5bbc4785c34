"""The vectorized golden forward pass against a literal, loop-by-loop reading of the contract."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings

from mamhw.golden import ContractError, Layer, forward
from tests.strategies import layers_and_inputs, networks_and_inputs


def literal_forward(layer, x):
    """The layer contract, line by line, with Python integers and the dense weight matrix: the inputs through
    ReLU if relu_in; for mam, slice s = inputs [s*c, min((s+1)*c, in)) with c = ceil(in / splits) gives
    max + min of its products over ALL its inputs (a pruned weight is a product 0 that competes), and the slices
    add up; for mac the sum of the products."""
    x = np.atleast_2d(x)
    out = np.zeros((x.shape[0], layer.n_out), dtype=np.int64)
    lo, hi = -(1 << (layer.out_bits - 1)), (1 << (layer.out_bits - 1)) - 1
    c = -(-layer.n_in // layer.splits)
    for s in range(x.shape[0]):
        xs = [max(int(v), 0) if layer.relu_in else int(v) for v in x[s]]
        for j in range(layer.n_out):
            p = [int(layer.weight[j, i]) * xs[i] for i in range(layer.n_in)]
            if layer.kind == "mam":
                a = 0
                for k in range(layer.splits):
                    part = p[k * c:min((k + 1) * c, layer.n_in)]
                    a += max(part) + min(part)
            else:
                a = sum(p)
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


@settings(max_examples=60)
@given(layers_and_inputs(max_in=760, max_out=6, max_entries=3000, bits=(4, 8, 12), max_batch=4, max_splits=9,
                         relu_in=True))
def test_forward_with_splits_and_relu_in_equals_literal_contract(case):
    layer, x = case
    assert np.array_equal(forward(layer, x), literal_forward(layer, x))


@settings(max_examples=20)
@given(networks_and_inputs(max_layers=3, max_in=120, max_splits=6, relu_in=True))
def test_networks_with_splits_and_relu_in_chain_literal_layers(case):
    from mamhw.golden import network_forward
    network, x = case
    y = x
    for layer in network:
        y = literal_forward(layer, y)
    assert np.array_equal(network_forward(network, x), y)


def mam(weight, splits=1, relu_in=False):
    return Layer.build(kind="mam", weight=weight, bias=[0] * len(weight), mult=1, shift=0, relu=False,
                       out_bits=16, splits=splits, relu_in=relu_in)


def test_each_slice_applies_the_pruned_zero_rule_on_its_own():
    # Slices [0, 2) and [2, 4). Row 0: slice 0 has a pruned weight, so 0 competes there; slice 1 is dense.
    # Row 1: slice 0 is all pruned (gives 0), slice 1 has a pruned weight. Row 2: both slices dense.
    layer = mam([[3, 0, 2, 5], [0, 0, 0, -4], [1, 2, 3, 4]], splits=2)
    x = [5, 5, 5, 5]
    # row 0: max(15, 0) + min(15, 0) + (25 + 10) = 50; row 1: 0 + (0 + -20) = -20; row 2: (10 + 5) + (20 + 15)
    assert forward(layer, x).tolist() == [[50, -20, 50]]
    # One slice (splits = 1) over the same row 0: max 25 + min 0 = 25.
    assert forward(mam([[3, 0, 2, 5]]), x).tolist() == [[25]]


def test_the_last_slice_holds_the_remainder():
    # 5 inputs, splits 2: c = 3, slices [0, 3) and [3, 5).
    layer = mam([[1, 1, 1, 1, 1]], splits=2)
    assert forward(layer, [1, 2, 3, 4, 5]).tolist() == [[(3 + 1) + (5 + 4)]]
    # 7 inputs, splits 4: c = 2, slices [0,2) [2,4) [4,6) [6,7): the last slice is one input, max + min = 2 x it.
    layer = mam([[1] * 7], splits=4)
    assert forward(layer, [1, 2, 3, 4, 5, 6, 7]).tolist() == [[3 + 7 + 11 + 14]]


def test_splits_that_would_leave_a_slice_empty_are_refused():
    # 6 inputs, splits 4: c = 2 and slices [0,2) [2,4) [4,6) leave the fourth empty.
    with pytest.raises(ContractError, match=r"splits = 4 with 6 inputs leaves the last slice empty"):
        mam([[1] * 6], splits=4)
    with pytest.raises(ContractError, match=r"splits = 4 with 3 inputs leaves the last slice empty"):
        mam([[1] * 3], splits=4)
    with pytest.raises(ContractError, match=r"only a mam layer takes splits"):
        Layer.build(kind="mac", weight=[[1, 2]], bias=[0], mult=1, shift=0, relu=False, splits=2)
    with pytest.raises(ContractError, match=r"splits = 0 is outside"):
        mam([[1, 2]], splits=0)
    assert mam([[1] * 6], splits=6).splits == 6 and mam([[1] * 6], splits=3).plain is False


def test_relu_in_clips_the_inputs_before_the_products():
    layer = mam([[2, -3]], relu_in=True)
    # x -> [0, 4]: products 0 and -12, max 0 + min -12. Without relu_in: -10 and -12 give -10 + -12.
    assert forward(layer, [-5, 4]).tolist() == [[-12]]
    assert forward(mam([[2, -3]]), [-5, 4]).tolist() == [[-22]]
    mac = Layer.build(kind="mac", weight=[[2, -3]], bias=[1], mult=1, shift=0, relu=False, out_bits=16,
                      relu_in=True)
    assert forward(mac, [-5, 4]).tolist() == [[-11]]
    assert mac.plain is False and mam([[2, -3]]).plain is True


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


def test_a_vgg_sized_sparse_layer_runs_without_its_dense_matrix():
    """25088 x 4096 at 0.04% (~41k weights): the dense int64 matrix would take 822 MB; forward needs a few MB."""
    rng = np.random.default_rng(3)
    n_out, n_in, nnz_row = 4096, 25088, 10
    cols = np.sort(np.stack([rng.choice(n_in, nnz_row, replace=False) for _ in range(n_out)]), axis=1)
    values = rng.integers(1, 128, (n_out, nnz_row)) * rng.choice([-1, 1], (n_out, nnz_row))
    layer = Layer.build(kind="mam", shape=[n_out, n_in], indptr=np.arange(n_out + 1) * nnz_row,
                        indices=cols.ravel(), values=values.ravel(), bias=np.zeros(n_out, int), mult=1, shift=0,
                        relu=False, out_bits=16, splits=7)
    x = rng.integers(-128, 128, (3, n_in))
    tracemalloc.start()
    y = forward(layer, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    # Slow reference: each row's products by slice (c = ceil(25088 / 7) = 3584), with 0 where a slice is pruned.
    c = -(-n_in // 7)
    for j in rng.choice(n_out, 40, replace=False):
        for s in range(3):
            a = 0
            for k in range(7):
                inside = (cols[j] >= k * c) & (cols[j] < min((k + 1) * c, n_in))
                p = [int(v) * int(x[s, i]) for v, i in zip(values[j][inside], cols[j][inside])]
                if inside.sum() < min((k + 1) * c, n_in) - k * c:
                    p.append(0)
                a += max(p) + min(p)
            assert y[s, j] == min(max(a, -2**15), 2**15 - 1)
    with pytest.raises(ContractError, match="too large for a dense weight matrix"):
        layer.weight
