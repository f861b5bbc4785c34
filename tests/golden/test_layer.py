"""Layer files: every contract violation is refused with one line naming the key; valid files round-trip."""

import numpy as np
import pytest

from mamhw.golden import ContractError, Layer, load_inputs, load_layer, save_layer
from tests.golden.refusals import refusal, with_key


def valid_arrays():
    return {
        "kind": np.array("mam"), "weight": np.array([[1, 0, -128], [0, 0, 0]]), "bias": np.array([5, -7]),
        "mult": np.array(3), "shift": np.array(2), "relu": np.array(True),
    }


def write(tmp_path, arrays, name="layer.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_round_trip(tmp_path):
    layer = load_layer(write(tmp_path, valid_arrays()))
    assert (layer.kind, layer.mult, layer.shift, layer.relu) == ("mam", 3, 2, True)
    assert (layer.in_bits, layer.w_bits, layer.out_bits) == (8, 8, 8)
    save_layer(layer, tmp_path / "again.npz")
    again = load_layer(tmp_path / "again.npz")
    assert np.array_equal(again.weight, layer.weight) and np.array_equal(again.bias, layer.bias)
    assert (again.kind, again.mult, again.shift, again.relu) == (layer.kind, layer.mult, layer.shift, layer.relu)


VIOLATIONS = [
    # (key, value or None to delete, words the one-line message must contain)
    ("kind", None, "missing key(s) kind"),
    ("weight", None, "missing key(s) weight"),
    ("kind", np.array("max"), "kind must be one of"),
    ("kind", np.array(3), "kind must be a string"),
    ("weight", np.array([1, 2, 3]), "weight must be a 2-d array"),
    ("weight", np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]]), "weight must hold integers"),
    # Judged from the header: a float weight is refused before its data is read.
    ("weight", np.array([[1.0, np.nan, 2.0], [0.0, 0.0, 0.0]]), "weight must hold integers, got dtype float64"),
    ("weight", np.array([[1, 0, 128], [0, 0, 0]]), "weight value 128 at [0, 2] is outside 8-bit signed"),
    ("weight", np.array([[1, 0, -129], [0, 0, 0]]), "weight value -129"),
    ("weight", np.zeros((2, 0), dtype=int), "out >= 1 and in >= 1"),
    ("bias", np.array([1, 2, 3]), "bias has 3 entries but weight has 2 rows"),
    ("bias", np.array([2**31, 0]), "bias value 2147483648 at 0 is outside int32"),
    ("bias", np.array([0.5, 0.0]), "bias must hold integers"),
    ("mult", np.array(0), "mult = 0 is outside [1, 65535]"),
    ("mult", np.array(65536), "mult = 65536"),
    ("mult", np.array([3]), "mult must be a scalar"),
    ("mult", np.array(2.5), "mult must hold integers"),
    ("shift", np.array(41), "shift = 41 is outside [0, 40]"),
    ("shift", np.array(-1), "shift = -1"),
    ("relu", np.array(2), "relu must be a bool"),
    ("relu", np.array("yes"), "relu must be a bool"),
    ("in_bits", np.array(1), "in_bits = 1 is outside"),
    ("w_bits", np.array(17), "w_bits = 17 is outside"),
    ("out_bits", np.array(33), "out_bits = 33 is outside"),
    ("w_bits", np.array(True), "w_bits must be an integer, got bool"),
    ("extra", np.array(1), "unknown key(s) extra"),
    ("splits", np.array(4), "splits = 4 with 3 inputs leaves the last slice empty"),
    ("splits", np.array(0), "splits = 0 is outside"),
    ("splits", np.array([1]), "splits must be a scalar"),
    ("relu_in", np.array(3), "relu_in must be a bool"),
    ("shape", np.array([2, 3]), "holds both weight and the sparse key(s) shape"),
    ("bias", np.array([[1, 2]]), "bias must be a 1-d array, got 2-d"),
    ("kind", np.array("m" * 100), "kind must be a scalar number or string, got dtype <U100"),
]


@pytest.mark.parametrize("key,value,expected", VIOLATIONS, ids=[f"{k}-{e[:24]}" for k, _, e in VIOLATIONS])
def test_each_violation_is_one_clear_line(tmp_path, key, value, expected):
    msg = refusal(load_layer, write(tmp_path, with_key(valid_arrays(), key, value)))
    assert expected in msg, msg


def test_narrower_widths_are_enforced(tmp_path):
    arrays = valid_arrays() | {"w_bits": np.array(4), "weight": np.array([[7, 0, -8], [0, 0, 0]])}
    assert load_layer(write(tmp_path, arrays)).w_bits == 4
    arrays["weight"] = np.array([[8, 0, -8], [0, 0, 0]])
    with pytest.raises(ContractError, match="outside 4-bit signed"):
        load_layer(write(tmp_path, arrays))


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(ContractError, match="no such file"):
        load_layer(tmp_path / "nope.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ContractError, match="not a NumPy .npz file"):
        load_layer(tmp_path / "text.npz")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(ContractError, match="holds a single array"):
        load_layer(tmp_path / "arr.npy")
    with pytest.raises(ContractError, match="is a directory"):
        load_layer(tmp_path)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    arrays = valid_arrays()
    arrays["weight"] = np.array([[1, 0], [None, 0]], dtype=object)
    path = tmp_path / "pickled.npz"
    np.savez(path, **arrays)
    with pytest.raises(ContractError):
        load_layer(path)


def test_inputs_are_checked(tmp_path):
    def save(x):
        np.save(tmp_path / "x.npy", x)
        return tmp_path / "x.npy"

    assert load_inputs(save(np.array([1, -128, 127])), 3, 8).shape == (1, 3)
    assert load_inputs(save(np.zeros((4, 3), dtype=np.int8)), 3, 8).shape == (4, 3)
    for x, words in [
        (np.array([1, 2]), "inputs have 2 features but the layer takes 3"),
        (np.array([1, 2, 128]), "outside 8-bit signed"),
        (np.array([1.0, 2.0, 3.0]), "must hold integers"),
        (np.zeros((2, 2, 3), dtype=int), "must be [batch, in] or [in]"),
        (np.zeros((0, 3), dtype=int), "hold no samples"),
    ]:
        with pytest.raises(ContractError, match=words.replace("[", r"\[").replace("]", r"\]")):
            load_inputs(save(x), 3, 8)
    (tmp_path / "bad.npy").write_text("nope")
    with pytest.raises(ContractError, match="not a NumPy .npy file"):
        load_inputs(tmp_path / "bad.npy", 3, 8)


def test_build_refuses_int64_overflow():
    with pytest.raises(ContractError, match="too wide for exact int64"):
        Layer.build(kind="mac", weight=np.ones((1, 65536), dtype=int), bias=[0], mult=65535, shift=0, relu=False,
                    in_bits=16, w_bits=16)


def test_build_reports_nan_in_memory():
    with pytest.raises(ContractError, match="weight contains NaN"):
        Layer.build(kind="mam", weight=[[1.0, np.nan]], bias=[0], mult=1, shift=0, relu=False)


def test_new_keys_are_written_only_when_not_default(tmp_path):
    plain = load_layer(write(tmp_path, valid_arrays()))
    assert (plain.splits, plain.relu_in, plain.plain) == (1, False, True)
    for sparse in (False, True):
        save_layer(plain, tmp_path / "plain.npz", sparse=sparse)
        with np.load(tmp_path / "plain.npz") as f:
            assert "splits" not in f.files and "relu_in" not in f.files
    arrays = valid_arrays() | {"weight": np.array([[1, 0, -128, 5], [0, 0, 0, 0]]), "splits": np.array(2),
                               "relu_in": np.array(True)}
    layer = load_layer(write(tmp_path, arrays))
    assert (layer.splits, layer.relu_in, layer.plain) == (2, True, False)
    save_layer(layer, tmp_path / "again.npz")
    with np.load(tmp_path / "again.npz") as f:
        assert int(f["splits"]) == 2 and bool(f["relu_in"])
    again = load_layer(tmp_path / "again.npz")
    assert (again.splits, again.relu_in) == (2, True)
