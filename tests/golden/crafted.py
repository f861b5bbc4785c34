"""Hand-made .npz and .npy files for the loaders' bad-input tests: members whose headers claim huge shapes,
archives holding a huge unknown key, headers with no data behind them.

A member is written through zipfile's streaming writer, so a file holding 1.6 GB of zeros costs a few megabytes
of disk and no more memory than one block of zeros.
"""

import zipfile

import numpy as np

ZERO_BLOCK = 1 << 24            # bytes of zeros written at a time


def _header(dtype, shape, fortran=False):
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": fortran, "shape": tuple(shape)}


def write_member(zf, key, array=None, *, zeros=None, header_only=None):
    """Add member `key` to an open ZipFile: an array as np.savez writes it; or `zeros=(dtype, shape)`, a member of
    that many zero bytes written block by block; or `header_only=(dtype, shape)`, a header with no data."""
    if array is not None:
        with zf.open(key + ".npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
        return
    dtype, shape = zeros if zeros is not None else header_only
    with zf.open(key + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, _header(dtype, shape))
        if zeros is not None:
            left = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
            block = bytes(min(left, ZERO_BLOCK))
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n


def write_npz(path, arrays=(), *, zeros=(), header_only=()):
    """An .npz at `path`: `arrays` a dict of real arrays, `zeros` and `header_only` dicts of key -> (dtype, shape)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, value in dict(arrays).items():
            write_member(zf, key, value)
        for key, spec in dict(zeros).items():
            write_member(zf, key, zeros=spec)
        for key, spec in dict(header_only).items():
            write_member(zf, key, header_only=spec)
    return path


def write_npy_header_only(path, dtype, shape):
    """An .npy whose header claims `shape` but which holds no data."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, _header(dtype, shape))
    return path


def small_layer_arrays():
    """A valid two-row layer, as the dict of its file."""
    return {"kind": np.array("mam"), "weight": np.array([[1, 0, -3], [0, 0, 0]]), "bias": np.array([5, -7]),
            "mult": np.array(3), "shift": np.array(2), "relu": np.array(True)}
