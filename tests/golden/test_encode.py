"""The sparse encoding: row order, one placeholder per empty row, flags, and the cycle model over it."""

import numpy as np
from hypothesis import given, settings

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
