"""The sparse encoding a PE walks and the exact cycle model beside it."""

from dataclasses import dataclass

import numpy as np

__all__ = ["PE_LATENCY", "ENTRY_FLAG_BITS", "Encoding", "encode", "entry_bits", "pe_cycles", "slice_width",
           "delta_entry_bits", "with_fillers"]

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


def encode(layer, rows=None, delta_bits=0):
    """The entry stream of `layer`, or of the given subset of its rows (in the order given, for a PE of a layer
    engine: see :mod:`golden.assign`). Read from the layer's CSR arrays: no dense matrix, whatever its size.
    `delta_bits` > 0: the stream as entries with relative indices of that many bits (:func:`with_fillers`)."""
    enc = _encode(layer, rows)
    return with_fillers(enc, layer, delta_bits) if delta_bits else enc


def _encode(layer, rows):
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


def with_fillers(enc, layer, delta_bits):
    """`enc` for entries that hold the step from the previous entry's index (from 0 at a row's start) in
    `delta_bits` bits instead of the index: where a step is longer than ``2**delta_bits - 1``, filler entries of
    weight 0 go between, each one such step. A filler's product is 0, which changes nothing: a MAC row adds it, and
    a MAM row that is not dense already has 0 among its products (a pruned weight). So the narrow format takes
    neither dense MAM rows nor slices (splits), and refuses them."""
    if getattr(layer, "splits", 1) > 1:
        raise ValueError("entries with relative indices do not take a layer with splits")
    if layer.kind == "mam" and enc.dense.any():
        raise ValueError("entries with relative indices do not take a fully dense MAM row")
    step = (1 << int(delta_bits)) - 1
    starts = np.flatnonzero(np.concatenate([[True], enc.last[:-1]]))
    previous = np.concatenate([[0], enc.index[:-1]])
    previous[starts] = 0
    gap = enc.index - previous
    fillers = np.maximum(gap - 1, 0) // step                 # a step of up to `step` per entry, fillers first
    at = np.repeat(np.arange(enc.entries), fillers)          # the entry each filler goes before
    k = np.arange(at.size) - np.repeat(np.cumsum(fillers) - fillers, fillers)
    filler_index = previous[at] + (k + 1) * step
    where = at + np.arange(at.size)                          # positions of the fillers in the longer stream
    keep = np.ones(enc.entries + at.size, dtype=bool)
    keep[where] = False

    def merged(values, filler_value):
        out = np.empty(keep.size, dtype=np.asarray(values).dtype)
        out[keep], out[where] = values, filler_value
        return out

    return Encoding(weight=merged(enc.weight, 0), index=merged(enc.index, filler_index),
                    last=merged(enc.last, False), dense=merged(enc.dense, False),
                    slice_last=merged(enc.slice_last, False), row_nnz=enc.row_nnz, n_in=enc.n_in)


def delta_entry_bits(w_bits, delta_bits):
    """Bits of one entry with a relative index: the weight, the step and the last-of-row flag."""
    return w_bits + delta_bits + 1


def pe_cycles(row_nnz, latency=PE_LATENCY):
    """Exact cycles of one PE over its rows: one cycle per entry (an empty row is one entry) plus latency."""
    return int(np.maximum(np.asarray(row_nnz), 1).sum()) + latency


def entry_bits(layer):
    """Bits of one entry of `layer` in weight memory: the weight, the input index and the flags."""
    index_bits = max(1, (layer.n_in - 1).bit_length())         # ceil(log2(n_in)), at least 1
    return layer.w_bits + index_bits + ENTRY_FLAG_BITS + (getattr(layer, "splits", 1) > 1)
