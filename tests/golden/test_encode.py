"""The sparse encoding: row order, one placeholder per empty row, flags, and the cycle model over it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import PE_LATENCY, Layer, encode, pe_cycles
from tests.strategies import layers_and_inputs


def test_small_layer_by_hand():
    w = np.array([[0, 5, 0, -2], [0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 7, 0]])
    layer = Layer.build(kind="mam", weight=w, bias=[0] * 4, mult=1, shift=0, relu=False)
    enc = encode(layer)
    assert enc.weight.tolist() == [5, -2, 0, 1, 2, 3, 4, 7]
    assert enc.index.tolist() == [1, 3, 0, 0, 1, 2, 3, 2]
    assert enc.last.tolist() == [False, True, True, False, False, False, True, True]
    assert enc.dense.tolist() == [False, False, False, True, True, True, True, False]
    assert enc.row_nnz.tolist() == [2, 0, 4, 1]
    assert pe_cycles(enc.row_nnz) == 8 + PE_LATENCY


@settings(max_examples=80)
@given(layers_and_inputs(max_in=800, max_out=12, max_entries=5000))
def test_encoding_reconstructs_the_layer(case):
    layer, _ = case
    enc = encode(layer)
    rebuilt = np.zeros_like(layer.weight)
    row = np.cumsum(enc.last) - enc.last                     # row of each entry
    rebuilt[row, enc.index] = enc.weight
    assert np.array_equal(rebuilt, layer.weight)
    assert enc.entries == int(np.maximum(enc.row_nnz, 1).sum()) == pe_cycles(enc.row_nnz) - PE_LATENCY
    assert enc.last.sum() == layer.n_out and enc.last[-1]
    assert np.all(enc.dense == (enc.row_nnz[row] == layer.n_in))
    assert np.all((enc.weight != 0) | enc.last)              # only empty-row placeholders hold a zero
    # Within a row, indices increase: the fetch walks the activation buffer forwards.
    same_row = row[1:] == row[:-1]
    assert np.all(enc.index[1:][same_row] > enc.index[:-1][same_row])


def test_fillers_by_hand():
    """Relative indices of 2 bits (steps 0..3): a gap of 7 takes two fillers, each a step of 3, of weight 0."""
    w = np.zeros((2, 12), dtype=np.int64)
    w[0, [2, 9]] = [5, -3]
    w[1, 3] = 4
    layer = Layer.build(kind="mam", weight=w, bias=[0, 0], mult=1, shift=0, relu=False)
    enc = encode(layer, delta_bits=2)
    assert enc.weight.tolist() == [5, 0, 0, -3, 4]
    assert enc.index.tolist() == [2, 5, 8, 9, 3]
    assert enc.last.tolist() == [False, False, False, True, True]
    assert not enc.dense.any()
    assert enc.row_nnz.tolist() == [2, 1]


@settings(max_examples=80)
@given(layers_and_inputs(max_in=800, max_out=12, max_entries=5000), st.sampled_from([1, 2, 3, 5, 7]))
def test_fillers_keep_every_weight_and_only_bridge_long_steps(case, delta_bits):
    """The entries of relative indices: the same weights in the same order, fillers of weight 0 between them,
    every step from the previous index (0 at a row's start) within delta_bits bits, and no filler more than the
    steps need; a dense MAM row, which a filler's 0 would change, is refused."""
    layer, _ = case
    plain = encode(layer)
    if layer.kind == "mam" and plain.dense.any():
        with pytest.raises(ValueError, match="dense"):
            encode(layer, delta_bits=delta_bits)
        return
    enc = encode(layer, delta_bits=delta_bits)
    real = (enc.weight != 0) | enc.last
    assert enc.weight[real].tolist() == plain.weight.tolist() and enc.index[real].tolist() == plain.index.tolist()
    assert enc.last[real].tolist() == plain.last.tolist() and enc.last.sum() == plain.last.sum()
    assert np.all(enc.weight[~real] == 0) and not enc.dense[~real].any()
    opens = np.concatenate([[True], enc.last[:-1]])
    step = enc.index - np.where(opens, 0, np.concatenate([[0], enc.index[:-1]]))
    assert 0 <= step.min() and step.max() < 1 << delta_bits
    plain_opens = np.concatenate([[True], plain.last[:-1]])
    gap = plain.index - np.where(plain_opens, 0, np.concatenate([[0], plain.index[:-1]]))
    assert enc.entries - plain.entries == int((np.maximum(gap - 1, 0) // ((1 << delta_bits) - 1)).sum())
