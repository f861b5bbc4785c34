"""Rows of a layer over the P processing elements of a layer engine.

A row is the unit of work of a PE (its products fold into one output), so rows are dealt out whole. The cost of
a row is its entry count, ``max(nnz_row, 1)`` (an empty row is one entry), and a PE takes one cycle per entry, so
the layer takes as long as the most loaded PE. Rows are dealt longest-processing-time first: heaviest row first
(ties: lower row first) to the least loaded PE (ties: lower PE first). That is deterministic; its makespan is at
most 4/3 of the optimum, and below ``entries / P`` plus the cost of the heaviest row.

Each PE walks its rows in ascending output-row order; the row map says which output row each PE row is.
"""

import heapq
from dataclasses import dataclass

import numpy as np

from .encode import encode

__all__ = ["MAX_PES", "Assignment", "row_costs", "row_entries", "assign_rows", "assign"]

MAX_PES = 16


@dataclass(frozen=True, eq=False)
class Assignment:
    """The rows of one layer dealt over `pes` PEs.

    rows[p]: the output rows PE p computes, ascending (the row map: PE p's j-th row is output row rows[p][j]).
    encodings[p]: the entry stream of those rows (no entries at all for a PE without rows).
    """

    pes: int
    rows: tuple
    encodings: tuple

    @property
    def load(self):
        """Entries (= cycles of work) per PE, int64 [pes]."""
        return np.array([e.entries for e in self.encodings], dtype=np.int64)

    @property
    def active(self):
        """Which PEs have rows in this layer, bool [pes]."""
        return np.array([r.size > 0 for r in self.rows], dtype=bool)

    @property
    def entries(self):
        return int(self.load.sum())

    @property
    def n_out(self):
        return int(sum(r.size for r in self.rows))

    def locate(self):
        """(pe, position) int64 arrays [n_out]: where each output row is computed."""
        pe = np.empty(self.n_out, dtype=np.int64)
        pos = np.empty(self.n_out, dtype=np.int64)
        for p, r in enumerate(self.rows):
            pe[r] = p
            pos[r] = np.arange(r.size)
        return pe, pos


def row_costs(row_nnz):
    """Entries per row: its nonzero weights, or 1 for an empty row."""
    return np.maximum(np.asarray(row_nnz, dtype=np.int64), 1)


def assign_rows(row_nnz, pes):
    """Longest-processing-time-first assignment: a list of `pes` ascending int64 arrays of row numbers."""
    pes = int(pes)
    if not 1 <= pes <= MAX_PES:
        raise ValueError(f"pes must be in [1, {MAX_PES}], got {pes}")
    cost = row_costs(row_nnz)
    order = np.argsort(-cost, kind="stable")            # heaviest first; equal costs in row order
    owner = np.empty(cost.size, dtype=np.int64)
    heap = [(0, p) for p in range(pes)]                  # (load, pe): the least loaded, then the lowest PE
    for r in order.tolist():
        load, p = heap[0]
        owner[r] = p
        heapq.heapreplace(heap, (load + int(cost[r]), p))
    return [np.flatnonzero(owner == p).astype(np.int64) for p in range(pes)]


def row_entries(layer, delta_bits=0):
    """Entries per row of `layer`, int64 [n_out]: its row costs, with the fillers of relative indices of
    `delta_bits` bits (golden/encode.py) when that is > 0."""
    if not delta_bits:
        return layer.row_nnz
    ends = np.flatnonzero(encode(layer, delta_bits=delta_bits).last)
    return np.diff(np.concatenate([[-1], ends]))


def assign(layer, pes, delta_bits=0):
    """The rows of `layer` over `pes` PEs, with each PE's sparse encoding (entries with relative indices of
    `delta_bits` bits, fillers included, when that is > 0)."""
    rows = assign_rows(row_entries(layer, delta_bits), pes)
    return Assignment(pes=int(pes), rows=tuple(rows),
                      encodings=tuple(encode(layer, r, delta_bits) for r in rows))
