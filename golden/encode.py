"""The sparse encoding a PE walks (DESIGN.md section 3) and the exact cycle model beside it."""

from dataclasses import dataclass

import numpy as np

__all__ = ["PE_LATENCY", "ENTRY_FLAG_BITS", "Encoding", "encode", "entry_bits", "pe_cycles"]

# Cycles from the first entry fetch to `done`, beyond one cycle per entry. This is part of the contract;
# the PE in hw/ implements it and a test holds the two equal.
PE_LATENCY = 17
ENTRY_FLAG_BITS = 2                     # last-of-row and row-is-dense


@dataclass(frozen=True, eq=False)
class Encoding:
    """The entry stream of one layer, in row order: one entry per nonzero weight, one zero entry per empty row.

    Field arrays are the memory images in semantic form; hw/ packs them into its own word layout.
    """

    weight: np.ndarray      # int64 [entries]
    index: np.ndarray       # int64 [entries]: which input x[index] the weight multiplies
    last: np.ndarray        # bool  [entries]: the last entry of its row
    dense: np.ndarray       # bool  [entries]: its row has no pruned weight (so 0 must not seed max/min)
    row_nnz: np.ndarray     # int64 [rows]: nonzero weights per row
    n_in: int

    @property
    def entries(self):
        return int(self.weight.size)

    @property
    def rows(self):
        return int(self.row_nnz.size)


def encode(layer, rows=None):
    """The entry stream of `layer`, or of the given subset of its rows (in the order given, for a PE of a layer
    engine: see :mod:`golden.assign`)."""
    w = layer.weight if rows is None else layer.weight[np.asarray(rows, dtype=np.int64)]
    row_nnz = np.count_nonzero(w, axis=1).astype(np.int64)
    # An empty row becomes a single placeholder: mark one position per empty row, then gather in row order.
    take = w != 0
    empty = row_nnz == 0
    take[empty, 0] = True
    r, cols = np.nonzero(take)
    weight = w[r, cols]                                  # 0 for the placeholders
    last = np.zeros(r.size, dtype=bool)
    last[np.cumsum(np.maximum(row_nnz, 1)) - 1] = True
    dense = (row_nnz == layer.n_in)[r]
    return Encoding(weight=weight.astype(np.int64), index=cols.astype(np.int64), last=last, dense=dense,
                    row_nnz=row_nnz, n_in=layer.n_in)


def pe_cycles(row_nnz, latency=PE_LATENCY):
    """Exact cycles of one PE over its rows: one cycle per entry (an empty row is one entry) plus latency."""
    return int(np.maximum(np.asarray(row_nnz), 1).sum()) + latency


def entry_bits(layer):
    """Bits of one entry of `layer` in weight memory: the weight, the input index and the two flags."""
    index_bits = max(1, (layer.n_in - 1).bit_length())         # ceil(log2(n_in)), at least 1
    return layer.w_bits + index_bits + ENTRY_FLAG_BITS
