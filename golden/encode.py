"""The sparse encoding a PE walks and the exact cycle model beside it."""

from dataclasses import dataclass

import numpy as np

__all__ = ["PE_LATENCY", "ENTRY_FLAG_BITS", "Encoding", "encode", "entry_bits", "pe_cycles", "slice_width"]

# Cycles from the first entry fetch to `done`, beyond one cycle per entry. This is part of the contract;
# the PE in hw/ implements it and a test holds the two equal.
PE_LATENCY = 17
ENTRY_FLAG_BITS = 2                     # last-of-row and row-is-dense (and slice-end, for a layer with splits)


@dataclass(frozen=True, eq=False)
class Encoding:
    """The entry stream of one layer, in row order: one entry per nonzero weight (ascending input index within a
    row), one zero entry per empty row.

    Field arrays are the memory images in semantic form; hw/ packs them into its own word layout. A MAM layer with
    ``splits`` > 1 folds max + min per slice of the inputs: ``slice_last`` ends each slice's run of entries within a
    row (a slice without kept weights has no entries and adds 0), and ``dense`` is then the slice's own density.
    """

    weight: np.ndarray      # int64 [entries]
    index: np.ndarray       # int64 [entries]: which input x[index] the weight multiplies
    last: np.ndarray        # bool  [entries]: the last entry of its row
    dense: np.ndarray       # bool  [entries]: its slice (its row, with one slice) has no pruned weight, so 0 must
                            #                  not seed max/min
    slice_last: np.ndarray  # bool  [entries]: the last entry of its slice in its row (= last with one slice)
    row_nnz: np.ndarray     # int64 [rows]: nonzero weights per row
    n_in: int

    @property
    def entries(self):
        return int(self.weight.size)

    @property
    def rows(self):
        return int(self.row_nnz.size)


def slice_width(n_in, splits):
    """Inputs per slice of a layer with `splits` slices: ceil(n_in / splits) (the last slice the remainder)."""
    return -(-n_in // splits)


def encode(layer, rows=None):
    """The entry stream of `layer`, or of the given subset of its rows (in the order given, for a PE of a layer
    engine: see :mod:`golden.assign`). Read from the layer's CSR arrays: no dense matrix, whatever its size."""
    rows = np.arange(layer.n_out, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    starts = np.asarray(layer.indptr, dtype=np.int64)
    row_nnz = starts[rows + 1] - starts[rows]
    counts = np.maximum(row_nnz, 1)                          # an empty row is one placeholder entry
    total = int(counts.sum())
    row_of = np.repeat(np.arange(rows.size, dtype=np.int64), counts)
    first_out = np.cumsum(counts) - counts                   # where each row's entries start in the stream
    k = np.arange(total, dtype=np.int64) - first_out[row_of]
    empty = row_nnz[row_of] == 0
    src = np.where(empty, 0, starts[rows][row_of] + k)
    if layer.nnz:
        weight = np.where(empty, 0, np.asarray(layer.values, dtype=np.int64)[np.minimum(src, layer.nnz - 1)])
        index = np.where(empty, 0, np.asarray(layer.indices, dtype=np.int64)[np.minimum(src, layer.nnz - 1)])
    else:
        weight = index = np.zeros(total, dtype=np.int64)
    last = np.zeros(total, dtype=bool)
    last[np.cumsum(counts) - 1] = True
    splits = int(getattr(layer, "splits", 1))
    width = slice_width(layer.n_in, splits)
    piece = index // width                                   # the entry's slice
    sizes = np.minimum(width, layer.n_in - np.arange(splits) * width)
    kept = np.bincount((row_of * splits + piece)[~empty], minlength=rows.size * splits)
    dense = ~empty & (kept[row_of * splits + piece] == sizes[piece])
    slice_last = last.copy()
    slice_last[:-1] |= piece[1:] != piece[:-1]
    return Encoding(weight=weight, index=index, last=last, dense=dense, slice_last=slice_last, row_nnz=row_nnz,
                    n_in=layer.n_in)


def pe_cycles(row_nnz, latency=PE_LATENCY):
    """Exact cycles of one PE over its rows: one cycle per entry (an empty row is one entry) plus latency."""
    return int(np.maximum(np.asarray(row_nnz), 1).sum()) + latency


def entry_bits(layer):
    """Bits of one entry of `layer` in weight memory: the weight, the input index and the flags."""
    index_bits = max(1, (layer.n_in - 1).bit_length())         # ceil(log2(n_in)), at least 1
    return layer.w_bits + index_bits + ENTRY_FLAG_BITS + (getattr(layer, "splits", 1) > 1)
