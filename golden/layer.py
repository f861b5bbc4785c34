"""Layer files: load, validate and save exactly as the layer contract says (DESIGN.md section 2)."""

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from ..plumbing import atomic_write as _atomic_write
from ..plumbing import ContractError
from .chain import Shaped

__all__ = ["Layer", "load_layer", "save_layer", "load_inputs", "save_array", "KINDS"]

KINDS = ("mam", "mac")
REQUIRED_KEYS = ("kind", "weight", "bias", "mult", "shift", "relu")
WIDTH_KEYS = ("in_bits", "w_bits", "out_bits")
DEFAULT_BITS = 8
# Widths the hardware is built and tested for; the golden model stays exact in int64 within them.
IN_W_BITS_RANGE = (2, 16)
OUT_BITS_RANGE = (2, 32)
MULT_RANGE = (1, 65535)
SHIFT_RANGE = (0, 40)
INT32_RANGE = (-2**31, 2**31 - 1)


def signed_range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass(frozen=True, eq=False)
class Layer(Shaped):
    """One validated layer. Construct with :meth:`Layer.build`, which checks every field."""

    kind: str
    weight: np.ndarray      # int64 [out, in]; 0 = pruned
    bias: np.ndarray        # int64 [out]
    mult: int
    shift: int
    relu: bool
    in_bits: int = DEFAULT_BITS
    w_bits: int = DEFAULT_BITS
    out_bits: int = DEFAULT_BITS

    @property
    def nnz(self):
        return int(np.count_nonzero(self.weight))

    @classmethod
    def build(cls, *, kind, weight, bias, mult, shift, relu,
              in_bits=DEFAULT_BITS, w_bits=DEFAULT_BITS, out_bits=DEFAULT_BITS, where="layer"):
        """Validate raw values (NumPy arrays or Python scalars) and return a Layer.

        ``where`` prefixes error messages (a file name, or a layer inside a network).
        """
        in_bits = _int_scalar(in_bits, "in_bits", where, IN_W_BITS_RANGE)
        w_bits = _int_scalar(w_bits, "w_bits", where, IN_W_BITS_RANGE)
        out_bits = _int_scalar(out_bits, "out_bits", where, OUT_BITS_RANGE)
        kind = _str_scalar(kind, "kind", where)
        if kind not in KINDS:
            raise ContractError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        weight = _int_array(weight, "weight", where, ndim=2)
        if weight.shape[0] < 1 or weight.shape[1] < 1:
            raise ContractError(f"{where}: weight must be [out, in] with out >= 1 and in >= 1, "
                                f"got shape {list(weight.shape)}")
        _check_range(weight, "weight", where, signed_range(w_bits), f"{w_bits}-bit signed (w_bits)")
        bias = _int_array(bias, "bias", where, ndim=1)
        if bias.shape[0] != weight.shape[0]:
            raise ContractError(f"{where}: bias has {bias.shape[0]} entries but weight has "
                                f"{weight.shape[0]} rows")
        _check_range(bias, "bias", where, INT32_RANGE, "int32")
        mult = _int_scalar(mult, "mult", where, MULT_RANGE)
        shift = _int_scalar(shift, "shift", where, SHIFT_RANGE)
        relu = _bool_scalar(relu, "relu", where)
        layer = cls(kind, weight, bias, mult, shift, relu, in_bits, w_bits, out_bits)
        _check_int64_headroom(layer, where)
        return layer

    def to_arrays(self):
        """The layer as the dict of arrays stored in its .npz file."""
        return {
            "kind": np.array(self.kind), "weight": self.weight, "bias": self.bias,
            "mult": np.array(self.mult), "shift": np.array(self.shift), "relu": np.array(self.relu),
            "in_bits": np.array(self.in_bits), "w_bits": np.array(self.w_bits),
            "out_bits": np.array(self.out_bits),
        }


def _fail(where, key, problem):
    raise ContractError(f"{where}: {key} {problem}")


def _as_array(value):
    return value if isinstance(value, np.ndarray) else np.asarray(value)


def _is_integer_dtype(arr):
    return arr.dtype.kind in "iu"


def _describe_non_integer(arr):
    if arr.dtype.kind == "f" and arr.size and np.isnan(arr).any():
        return "contains NaN"
    return f"must hold integers, got dtype {arr.dtype}"


def _int_array(value, key, where, ndim):
    arr = _as_array(value)
    if arr.ndim != ndim:
        _fail(where, key, f"must be a {ndim}-d array, got {arr.ndim}-d")
    if not _is_integer_dtype(arr):
        _fail(where, key, _describe_non_integer(arr))
    if arr.dtype.kind == "u" and arr.dtype.itemsize >= 8 and arr.size and arr.max() > np.iinfo(np.int64).max:
        _fail(where, key, "has values beyond int64")
    return arr.astype(np.int64)


def _check_range(arr, key, where, bounds, what):
    lo, hi = bounds
    if arr.size:
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            pos = first[0] if len(first) == 1 else list(first)
            _fail(where, key, f"value {int(arr[first])} at {pos} is outside {what} range [{lo}, {hi}]")


def _scalar(value, key, where):
    arr = _as_array(value)
    if arr.ndim != 0:
        _fail(where, key, f"must be a scalar (0-d array), got shape {list(arr.shape)}")
    return arr


def _int_scalar(value, key, where, bounds):
    arr = _scalar(value, key, where)
    if arr.dtype.kind == "b" or not _is_integer_dtype(arr):
        _fail(where, key, _describe_non_integer(arr) if arr.dtype.kind != "b" else "must be an integer, got bool")
    v = int(arr)
    lo, hi = bounds
    if not lo <= v <= hi:
        _fail(where, key, f"= {v} is outside [{lo}, {hi}]")
    return v


def _str_scalar(value, key, where):
    arr = _scalar(value, key, where)
    if arr.dtype.kind != "U":
        _fail(where, key, f"must be a string, got dtype {arr.dtype}")
    return str(arr)


def _bool_scalar(value, key, where):
    arr = _scalar(value, key, where)
    if arr.dtype.kind == "b":
        return bool(arr)
    if _is_integer_dtype(arr) and int(arr) in (0, 1):
        return bool(int(arr))
    _fail(where, key, f"must be a bool, got {arr.dtype} {arr!s}")


def _check_int64_headroom(layer, where):
    """The golden model computes in int64; refuse the (far-fetched) layers where that could overflow."""
    p = (1 << (layer.in_bits - 1)) * (1 << (layer.w_bits - 1))
    a = p * (layer.n_in if layer.kind == "mac" else 2)
    v = a + (1 << 31)
    if v * layer.mult + (1 << 40) >= 1 << 62:
        raise ContractError(f"{where}: layer too wide for exact int64 arithmetic "
                            f"(in={layer.n_in}, in_bits={layer.in_bits}, w_bits={layer.w_bits}, mult={layer.mult})")


def _open_npz(path):
    if not os.path.exists(path):
        raise ContractError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ContractError(f"{path}: is a directory, not a .npz file")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ContractError(f"{path}: not a NumPy .npz file ({_first_line(e)})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ContractError(f"{path}: not a NumPy .npz file (it holds a single array)")
    return npz


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def read_npz(path):
    """All arrays of an .npz file as a dict, or a ContractError naming what is wrong with it."""
    with _open_npz(path) as npz:
        try:
            return {k: npz[k] for k in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
            raise ContractError(f"{path}: unreadable array in .npz ({_first_line(e)})") from None


def layer_from_dict(arrays, where):
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ContractError(f"{where}: not a layer file: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(WIDTH_KEYS))
    if unknown:
        raise ContractError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return Layer.build(**{k: arrays[k] for k in arrays}, where=where)


def load_layer(path):
    """Load and validate a layer .npz file."""
    return layer_from_dict(read_npz(path), str(path))


def save_npz(path, arrays):
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def save_layer(layer, path):
    save_npz(path, layer.to_arrays())


def save_array(path, array):
    """Save an .npy file atomically."""
    _atomic_write(path, lambda f: np.save(f, array))


def load_inputs(path, n_in, in_bits):
    """Load an input .npy ([batch, in] or [in]) and check it against the layer; returns int64 [batch, in]."""
    path = str(path)
    if not os.path.exists(path):
        raise ContractError(f"{path}: no such file")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ContractError(f"{path}: not a NumPy .npy file ({_first_line(e)})") from None
    if not isinstance(x, np.ndarray):
        raise ContractError(f"{path}: not a NumPy .npy file (it is an .npz archive)")
    return check_inputs(x, n_in, in_bits, path)


def check_inputs(x, n_in, in_bits, where="inputs"):
    x = _as_array(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ContractError(f"{where}: inputs must be [batch, in] or [in], got shape {list(x.shape)}")
    if not _is_integer_dtype(x):
        raise ContractError(f"{where}: inputs {_describe_non_integer(x)}")
    if x.shape[1] != n_in:
        raise ContractError(f"{where}: inputs have {x.shape[1]} features but the layer takes {n_in}")
    if x.shape[0] < 1:
        raise ContractError(f"{where}: inputs hold no samples")
    x = x.astype(np.int64)
    _check_range(x, "inputs", where, signed_range(in_bits), f"{in_bits}-bit signed (in_bits)")
    return x
