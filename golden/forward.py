"""The reference forward pass: the exact integer semantics of the layer contract, vectorized and memory-bounded.

It works on the layer's CSR arrays, a block of rows at a time, so a big sparse layer never needs its dense matrix;
only a small, fairly dense MAC layer goes through a (BLAS) matrix product.
"""

import numpy as np

from .layer import DENSE_VIEW_MAX, check_inputs, signed_range

__all__ = ["forward", "accumulate", "requantize"]

# Largest number of int64 products held at once (~64 MiB): rows are taken in blocks of at most this many kept
# weights (or one row), and the batch in chunks that keep block x chunk under it.
CHUNK_ELEMENTS = 1 << 23


def accumulate(layer, x):
    """The pre-bias value `a` [batch, out] for int64 inputs [batch, in]: for mam, the sum over the input slices
    of max + min of the products (one slice unless ``splits``), for mac their sum; ``relu_in`` first."""
    if layer.relu_in:
        x = np.maximum(x, 0)
    if layer.kind == "mac":
        if layer.size <= DENSE_VIEW_MAX and 4 * layer.nnz >= layer.size:
            return _mac_dense(layer, x)
        return _reduce_rows(layer, x, mam=False)
    return _reduce_rows(layer, x, mam=True)


def _mac_dense(layer, x):
    w = layer.weight
    bound = (1 << (layer.in_bits - 1)) * (1 << (layer.w_bits - 1)) * layer.n_in
    if bound < 1 << 53:
        # float64 holds every partial sum exactly here, and BLAS is far faster than integer matmul.
        return np.rint(x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    return x @ w.T


def _row_blocks(indptr, limit):
    """(first row, end row) pairs covering every row, each holding at most `limit` kept weights (or one row)."""
    n = indptr.size - 1
    r0 = 0
    while r0 < n:
        r1 = int(np.searchsorted(indptr, indptr[r0] + limit, side="right")) - 1
        r1 = min(max(r1, r0 + 1), n)
        yield r0, r1
        r0 = r1


def _starts(keys):
    """Positions where a run of equal values begins in the non-decreasing array `keys` (non-empty)."""
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def _reduce_rows(layer, x, mam):
    """`a` from the CSR arrays. The kept weights of a row are in input order, so those of one slice of the inputs
    are contiguous: a group is (row, slice). mam: max and min over each group's products, with 0 joining both when
    the group's slice has a pruned weight (a slice with no kept weight gives 0); the groups of a row summed.
    mac: the sum of each row's products."""
    n_batch = x.shape[0]
    n_out, n_in = layer.shape
    k = layer.splits
    width = -(-n_in // k)                            # inputs per slice; the last slice holds the remainder
    a = np.zeros((n_batch, n_out), dtype=np.int64)
    indptr = layer.indptr
    for r0, r1 in _row_blocks(indptr, CHUNK_ELEMENTS):
        e0, e1 = int(indptr[r0]), int(indptr[r1])
        if e0 == e1:
            continue
        cols = layer.indices[e0:e1].astype(np.intp)
        vals = layer.values[e0:e1].astype(np.int64)
        rows = np.repeat(np.arange(r0, r1, dtype=np.int64), np.diff(indptr[r0:r1 + 1]))
        if mam:
            group = rows * k + cols // width
            starts = _starts(group)
            g_slice = group[starts] % k
            g_rows = group[starts] // k
            count = np.diff(np.append(starts, e1 - e0))
            pruned = count < np.minimum((g_slice + 1) * width, n_in) - g_slice * width
            row_starts = _starts(g_rows)
        else:
            starts = _starts(rows)
            g_rows = rows[starts]
            row_starts = None
        out_rows = g_rows if row_starts is None else g_rows[row_starts]
        step = max(1, CHUNK_ELEMENTS // (e1 - e0))
        for s in range(0, n_batch, step):
            prods = x[s:s + step, cols].astype(np.int64, copy=False)
            prods *= vals
            if not mam:
                a[s:s + step, out_rows] = np.add.reduceat(prods, starts, axis=1)
                continue
            hi = np.maximum.reduceat(prods, starts, axis=1)
            lo = np.minimum.reduceat(prods, starts, axis=1)
            del prods
            np.maximum(hi, 0, out=hi, where=pruned)
            np.minimum(lo, 0, out=lo, where=pruned)
            hi += lo
            a[s:s + step, out_rows] = hi if k == 1 else np.add.reduceat(hi, row_starts, axis=1)
    return a


def requantize(layer, v):
    """v = a + b  ->  y: multiply, round half up, arithmetic shift, ReLU, saturate."""
    q = v * layer.mult
    if layer.shift > 0:
        q = (q + (1 << (layer.shift - 1))) >> layer.shift
    if layer.relu:
        q = np.maximum(q, 0)
    lo, hi = signed_range(layer.out_bits)
    return np.clip(q, lo, hi)


def forward(layer, x):
    """Golden outputs int64 [batch, out] for inputs [batch, in] (or [in], taken as a batch of one)."""
    x = check_inputs(x, layer.n_in, layer.in_bits)
    return requantize(layer, accumulate(layer, x) + layer.bias)
