"""The reference forward pass: exact integer semantics of DESIGN.md section 2, vectorized and memory-bounded."""

import numpy as np

from .layer import check_inputs, signed_range

__all__ = ["forward", "accumulate", "requantize"]

# Largest number of int64 products held at once (~64 MiB); batches are cut into chunks to stay under it.
CHUNK_ELEMENTS = 1 << 23


def accumulate(layer, x):
    """The pre-bias value `a` [batch, out]: max + min of the products for mam, their sum for mac."""
    if layer.kind == "mac":
        return _mac_sum(layer, x)
    return _mam_max_plus_min(layer, x)


def _mac_sum(layer, x):
    w = layer.weight
    bound = (1 << (layer.in_bits - 1)) * (1 << (layer.w_bits - 1)) * layer.n_in
    if bound < 1 << 53:
        # float64 holds every partial sum exactly here, and BLAS is far faster than integer matmul.
        return np.rint(x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    return x @ w.T


def _mam_max_plus_min(layer, x):
    """Max and min over the nonzero products of each row (CSR gather + reduceat), then the pruned zeros."""
    w = layer.weight
    n_batch = x.shape[0]
    rows, cols = np.nonzero(w)
    nnz_row = np.bincount(rows, minlength=layer.n_out)
    nonempty = nnz_row > 0
    starts = np.concatenate(([0], np.cumsum(nnz_row)[:-1]))[nonempty]
    vals = w[rows, cols]
    hi = np.zeros((n_batch, layer.n_out), dtype=np.int64)
    lo = np.zeros((n_batch, layer.n_out), dtype=np.int64)
    if vals.size:
        step = max(1, CHUNK_ELEMENTS // vals.size)
        for s in range(0, n_batch, step):
            prods = x[s:s + step, cols] * vals          # [chunk, nnz], row-major order of w
            hi[s:s + step, nonempty] = np.maximum.reduceat(prods, starts, axis=1)
            lo[s:s + step, nonempty] = np.minimum.reduceat(prods, starts, axis=1)
    # A row with any pruned weight has a product 0 that still competes (empty rows: both stay 0).
    has_zero = nnz_row < layer.n_in
    hi[:, has_zero] = np.maximum(hi[:, has_zero], 0)
    lo[:, has_zero] = np.minimum(lo[:, has_zero], 0)
    return hi + lo


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
