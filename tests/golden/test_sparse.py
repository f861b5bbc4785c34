"""Sparse layer files (shape, indptr, indices, values): round trips against the dense form, strict validation,
the automatic choice of the smaller form, and a VGG-sized layer that stays small on disk and in memory."""

import os
import tempfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings

from mamhw.golden import (ContractError, Layer, Network, forward, load_layer, load_model, load_network,
                          save_layer, save_network)
from tests.golden.refusals import refusal, with_key
from tests.strategies import layers_and_inputs, networks_and_inputs


def csr_of(w):
    w = np.asarray(w)
    rows, cols = np.nonzero(w)
    indptr = np.concatenate(([0], np.cumsum(np.count_nonzero(w, axis=1))))
    return {"shape": np.array(w.shape), "indptr": indptr, "indices": cols, "values": w[rows, cols]}


def same_layer(a, b):
    return (a.kind, a.shape, a.mult, a.shift, a.relu, a.in_bits, a.w_bits, a.out_bits, a.splits, a.relu_in) == \
        (b.kind, b.shape, b.mult, b.shift, b.relu, b.in_bits, b.w_bits, b.out_bits, b.splits, b.relu_in) and \
        all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("indptr", "indices", "values", "bias"))


@settings(max_examples=40)
@given(layers_and_inputs(max_in=760, max_out=8, max_entries=3000, bits=(4, 8, 16), max_splits=5, relu_in=True))
def test_dense_and_sparse_forms_hold_the_same_layer(case):
    layer, x = case
    w = layer.weight
    # The CSR arrays are the dense matrix's nonzeros in row-major order.
    assert np.array_equal(layer.entry_rows(), np.nonzero(w)[0]) and np.array_equal(layer.indices, np.nonzero(w)[1])
    assert np.array_equal(layer.values, w[w != 0]) and layer.nnz == np.count_nonzero(w)
    common = dict(kind=layer.kind, bias=layer.bias, mult=layer.mult, shift=layer.shift, relu=layer.relu,
                  in_bits=layer.in_bits, w_bits=layer.w_bits, out_bits=layer.out_bits, splits=layer.splits,
                  relu_in=layer.relu_in)
    from_csr = Layer.build(**common, **csr_of(w))
    assert same_layer(from_csr, layer)
    with tempfile.TemporaryDirectory() as d:
        sizes = {}
        for form in (False, True, None):
            path = os.path.join(d, f"{form}.npz")
            save_layer(layer, path, sparse=form)
            with np.load(path) as f:
                assert ("weight" in f.files) is (form is False) or form is None
                assert ("indptr" in f.files) is (form is True) or form is None
            sizes[form] = os.path.getsize(path)
            again = load_layer(path)
            assert same_layer(again, layer)
            assert np.array_equal(forward(again, x), forward(layer, x))
        # The automatic choice writes whichever form is smaller (its estimate may miss by a header's bytes).
        assert sizes[None] <= min(sizes[False], sizes[True]) + 300


def test_the_automatic_form_follows_density(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (64, 256))
    sparse_w = np.where(rng.random(w.shape) < 0.02, w, 0)
    for weight, expected in ((w, "weight"), (sparse_w, "indptr")):
        layer = Layer.build(kind="mam", weight=weight, bias=np.zeros(64, int), mult=1, shift=0, relu=False)
        save_layer(layer, tmp_path / "l.npz")
        with np.load(tmp_path / "l.npz") as f:
            assert expected in f.files
            stored = f["weight"] if expected == "weight" else f["values"]
            assert stored.dtype == np.int8                    # w_bits 8: one byte a weight on disk


@settings(max_examples=10)
@given(networks_and_inputs(max_layers=3, max_splits=4, relu_in=True))
def test_networks_round_trip_in_both_forms(case):
    network, _ = case
    with tempfile.TemporaryDirectory() as d:
        for form in (False, True, None):
            path = os.path.join(d, "n.npz")
            save_network(network, path, sparse=form)
            for again in (load_network(path), load_model(path)):
                assert len(again) == len(network) and all(same_layer(a, b) for a, b in zip(again, network))


def valid_sparse():
    w = np.array([[0, 5, 0, -2], [0, 0, 0, 0], [1, 2, 3, 4]])
    return {"kind": np.array("mam"), **csr_of(w), "bias": np.array([1, 2, 3]), "mult": np.array(1),
            "shift": np.array(0), "relu": np.array(False)}


def test_a_sparse_file_loads_as_its_dense_twin(tmp_path):
    np.savez(tmp_path / "s.npz", **valid_sparse())
    layer = load_layer(tmp_path / "s.npz")
    assert layer.weight.tolist() == [[0, 5, 0, -2], [0, 0, 0, 0], [1, 2, 3, 4]]
    assert forward(layer, [3, -4, 7, 1]).tolist() == [[-19, 2, 16]]


SPARSE_VIOLATIONS = [
    # (key, value or None to delete, words of the one-line message)
    ("indices", None, "sparse weights need shape, indptr, indices and values: missing indices"),
    ("shape", np.array([3, 4, 1]), "shape must hold the 2 integers [out, in], got 3"),
    ("shape", np.array([[3, 4]]), "shape must be a 1-d array, got 2-d"),
    ("shape", np.array([3.0, 4.0]), "shape must hold integers, got dtype float64"),
    ("shape", np.array([3, 0]), "shape must be [out, in] with out >= 1 and in >= 1, got shape [3, 0]"),
    ("shape", np.array([3, 70000]), "shape shape [3, 70000] is beyond the size limit"),
    ("shape", np.array([2, 4]), "indptr has 4 entries but shape [2, 4] needs out + 1 = 3"),
    ("indptr", np.array([1, 2, 2, 6]), "indptr must start at 0, got 1"),
    ("indptr", np.array([0, 2, 2, 5]), "indptr ends at 5 but indices and values hold 6"),
    ("indptr", np.array([0, 3, 2, 6]), "indptr decreases at row 1 (3 -> 2)"),
    ("indptr", np.array([0, 2, 2, 7]), "indptr value 7 at 3 is outside entry index range [0, 6]"),
    ("indptr", np.array([0, -1, 2, 6]), "indptr value -1 at 1 is outside entry index range [0, 6]"),
    ("indices", np.array([1, 3, 0, 1, 2, 4]), "indices value 4 at 5 is outside input index range [0, 3]"),
    ("indices", np.array([1, 3, 0, 1, -2, 3]), "indices value -2 at 4 is outside input index range [0, 3]"),
    ("indices", np.array([3, 1, 0, 1, 2, 3]), "indices are not strictly increasing in row 0: input 1 at 1 follows "
                                              "input 3"),
    ("indices", np.array([1, 3, 0, 1, 1, 3]), "indices are not strictly increasing in row 2: input 1 at 4 follows "
                                              "input 1"),
    ("indices", np.array([1, 3, 0, 1, 2]), "indices has 5 entries but values has 6"),
    ("values", np.array([5, -2, 1, 0, 3, 4]), "values has a 0 at 3 (row 2): a sparse file stores kept weights only"),
    ("values", np.array([5, -2, 1, 2, 3, 128]), "values value 128 at 5 is outside 8-bit signed (w_bits) range"),
    ("values", np.array([5, -2, 1, 2, 3, 4.0]), "values must hold integers, got dtype float64"),
    ("values", np.array([[5, -2, 1, 2, 3, 4]]), "values must be a 1-d array, got 2-d"),
    ("weight", np.zeros((3, 4), int), "holds both weight and the sparse key(s) shape, indptr, indices, values"),
]


@pytest.mark.parametrize("key,value,expected", SPARSE_VIOLATIONS, ids=[e[:30] for _, _, e in SPARSE_VIOLATIONS])
def test_each_sparse_violation_is_one_clear_line(tmp_path, key, value, expected):
    arrays = with_key(valid_sparse(), key, value)
    path = tmp_path / "s.npz"
    np.savez(path, **arrays)
    msg = refusal(load_layer, path)
    assert expected in msg, msg
    # The same values given to Layer.build in memory are refused with the same words.
    with pytest.raises(ContractError) as info:
        Layer.build(**arrays)
    assert expected in str(info.value)


def test_a_row_boundary_lets_indices_start_again(tmp_path):
    # Row 0 ends on input 3 and row 2 starts on input 0: allowed. Row 1 is empty, so its neighbours meet.
    arrays = valid_sparse()
    np.savez(tmp_path / "s.npz", **arrays)
    assert load_layer(tmp_path / "s.npz").row_nnz.tolist() == [2, 0, 4]


def test_uint64_weights_beyond_int64_are_refused_not_wrapped(tmp_path):
    arrays = valid_sparse() | {"values": np.array([5, 2**64 - 2, 1, 2, 3, 4], dtype=np.uint64)}
    np.savez(tmp_path / "s.npz", **arrays)
    with pytest.raises(ContractError, match="values value 18446744073709551614 at 1 is outside"):
        load_layer(tmp_path / "s.npz")
    arrays = {k: v for k, v in valid_sparse().items() if k not in ("shape", "indptr", "indices", "values")}
    np.savez(tmp_path / "d.npz", **arrays, weight=np.array([[0, 5, 0, 2**64 - 1]] * 3, dtype=np.uint64))
    with pytest.raises(ContractError, match=r"weight value 18446744073709551615 at \[0, 3\] is outside"):
        load_layer(tmp_path / "d.npz")


def test_a_fortran_ordered_dense_weight_loads_as_its_values(tmp_path):
    rng = np.random.default_rng(1)
    w = np.where(rng.random((37, 53)) < 0.3, rng.integers(-128, 128, (37, 53)), 0)
    arrays = {k: v for k, v in valid_sparse().items() if k not in ("shape", "indptr", "indices", "values")}
    arrays["bias"] = np.zeros(37, int)
    np.savez(tmp_path / "f.npz", **arrays, weight=np.asfortranarray(w))
    layer = load_layer(tmp_path / "f.npz")
    assert layer.weight.tolist() == w.tolist()
    w[20, 11] = -129
    np.savez(tmp_path / "f.npz", **arrays, weight=np.asfortranarray(w))
    with pytest.raises(ContractError, match=r"weight value -129 at \[20, 11\] is outside"):
        load_layer(tmp_path / "f.npz")


def test_a_big_dense_file_is_streamed_into_sparse_form_not_held_whole(tmp_path):
    """A dense int64 [4096, 4096] weight, 2% kept: 128 MiB decompressed, read 16 MiB at a time."""
    rng = np.random.default_rng(2)
    w = np.zeros((4096, 4096), dtype=np.int64)
    keep = rng.random(w.shape) < 0.02
    w[keep] = rng.integers(1, 128, int(keep.sum()))
    arrays = {k: v for k, v in valid_sparse().items() if k not in ("shape", "indptr", "indices", "values")}
    np.savez_compressed(tmp_path / "big.npz", **(arrays | {"bias": np.zeros(4096, int), "weight": w}))
    del w, keep
    tracemalloc.start()
    layer = load_layer(tmp_path / "big.npz")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert 0.019 < layer.nnz / layer.size < 0.021
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def vgg_sized_layer(rng, n_out=4096, n_in=25088, density=0.0004):
    """A 25088 -> 4096 MAM layer with ~41k weights spread over its rows."""
    nnz = int(round(density * n_out * n_in))
    flat = np.sort(rng.choice(n_out * n_in, nnz, replace=False))
    rows, cols = np.divmod(flat, n_in)
    values = rng.integers(1, 128, nnz) * rng.choice([-1, 1], nnz)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_out))))
    return Layer.build(kind="mam", shape=[n_out, n_in], indptr=indptr, indices=cols, values=values,
                       bias=rng.integers(-1000, 1000, n_out), mult=3, shift=4, relu=True)


def test_a_vgg_sized_sparse_layer_is_a_small_file_and_loads_in_little_memory(tmp_path):
    rng = np.random.default_rng(4)
    layer = vgg_sized_layer(rng)
    save_layer(layer, tmp_path / "vgg.npz")
    size = os.path.getsize(tmp_path / "vgg.npz")
    # ~41k weights at 2 bytes of index and 1 of value; 4 bytes of row pointer and 4 of bias for each of 4096 rows.
    assert size < 3 * layer.nnz + 4 * 4097 + 4 * 4096 + 4000, size
    tracemalloc.start()
    again = load_layer(tmp_path / "vgg.npz")
    y = forward(again, rng.integers(-128, 128, (2, 25088)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert same_layer(again, layer) and y.shape == (2, 4096)
    with pytest.raises(ContractError, match=r"layer 4096x25088 is too large for a dense weight matrix"):
        again.weight
    with pytest.raises(ContractError, match="use its sparse arrays"):
        again.to_arrays()
    # The network form of the same layers: both files judge the same size limit.
    save_network(Network([layer]), tmp_path / "net.npz")
    assert os.path.getsize(tmp_path / "net.npz") < size + 2000
