"""The window engine's plan and its exact cycle model (hw/window_engine.py implements both).

The row engine (golden/assign.py) gives every PE an arbitrary-index read of the whole layer input, so each PE holds
its own copy of it: activation memory grows with P. The window engine holds one copy. The layer input is read a
window of W activations at a time into a register that every PE sees; each PE holds, for its rows, the entries of
each window, and folds their products into a row-state memory (running max and min, or sum, per row). When the
last window has passed, a finalization pass reads every row's state, adds the bias, requantizes and writes the
outputs, which are the next layer's input.

Rows and lanes. Row r belongs to PE ``r % P`` as its local row ``j = r // P``: every PE has ``R = ceil(out / P)``
rows (the last ones padding on some PEs). The activations live in P lane memories, a word of ``L = W / P``
activations each; a window is one word of every lane, read at one address. PE p writes its outputs into lane p,
so all P PEs store at once: local row j at word ``j // L``, slot ``j % L``. So the physical position (window * W +
column) of output row r in the next layer's input is ``(j // L) * W + p * L + j % L``, and input i of the network
sits at position i.

Entries. PE p's entries of window w are its kept weights whose input lies in window w: (weight, column within the
window, local row), ordered by column, then row, except that two entries that touch the same row are issued at
least :data:`STATE_DISTANCE` cycles apart (the row state's read-modify-write has that latency); where no entry can
be issued, a spacer (weight 0: it changes no row) takes the cycle. A PE with no entry in a window issues one
spacer there. The last entry of each window carries ``wend``.

Timing. All PEs start a window together; a window lasts as long as the PE with the most entries in it (its
length ``T_w``; an engine-wide barrier: the next window starts the cycle after every PE has issued its ``wend``
entry). Nothing else is data-dependent, so a layer takes exactly

    WINDOW_FILL + sum over windows of T_w + WINDOW_DRAIN + R + FINAL_LATENCY + WINDOW_HANDOVER

cycles, and a network the sum over its layers. An empty row costs nothing (its output is its bias, requantized).

MAM rows: 0 joins max and min of a row with a pruned weight, and of no other (as in golden/forward.py): the
finalization pass applies it from the row's ``dense`` flag, so the products of a row's kept weights are all the
state ever sees.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..plumbing import ContractError
from .cycles import NetworkCycles

__all__ = ["STATE_DISTANCE", "WINDOW_FILL", "WINDOW_DRAIN", "FINAL_LATENCY", "WINDOW_HANDOVER", "WINDOW_SIZES",
           "WindowSegment", "WindowLayerPlan", "check_window", "output_positions", "plan_window_layer",
           "plan_window_network", "window_network_cycles", "state_hazards"]

# The contract with hw/window_engine.py (a test holds them equal to the hardware's own constants).
STATE_DISTANCE = 4      # cycles between two issues that may touch the same row state
WINDOW_FILL = 1         # cycles between the one start is taken in and the first window's first issue
WINDOW_DRAIN = 7        # cycles between the last issue and the first finalization read
FINAL_LATENCY = 10      # from the last finalization read to the layer's end: its output's write, and the next
                        # layer's start in the same cycle
WINDOW_HANDOVER = 0     # nothing more between two layers
WINDOW_SIZES = (4, 8, 16, 32, 64)


def check_window(pes, window):
    """The window engine needs a power-of-two window of at least P activations, P dividing it."""
    if window not in WINDOW_SIZES:
        raise ContractError(f"window must be one of {', '.join(map(str, WINDOW_SIZES))}, not {window}")
    if not 1 <= pes <= window or window % pes:
        raise ContractError(f"the window engine needs P to divide the window ({window}); P = {pes} does not")


@dataclass(frozen=True, eq=False)
class WindowSegment:
    """One PE's part of one layer: its entry stream, window after window, and its rows' biases and dense flags."""

    weight: np.ndarray      # int64 [entries]: 0 for a spacer
    col: np.ndarray         # int64 [entries]: the input's column within its window
    row: np.ndarray         # int64 [entries]: the local row the product folds into
    wend: np.ndarray        # bool  [entries]: the PE's last entry of its window
    bias: np.ndarray        # int64 [rows]: 0 for padding rows
    dense: np.ndarray       # bool  [rows]: the row has no pruned weight

    @property
    def entries(self):
        return int(self.weight.size)


@dataclass(frozen=True, eq=False)
class WindowLayerPlan:
    """One layer on the window engine."""

    kind: str
    in_bits: int
    w_bits: int
    out_bits: int
    mult: int
    shift: int
    relu: bool
    relu_in: bool
    pes: int
    window: int
    n_in: int
    n_out: int
    rows: int                   # R: local rows of every PE
    in_position: np.ndarray     # int64 [n_in]: where each input is in the layer's input windows
    segments: tuple             # WindowSegment per PE
    durations: np.ndarray       # int64 [windows]: T_w

    @property
    def lanes(self):
        """L: activations per lane word."""
        return self.window // self.pes

    @property
    def n_windows(self):
        return int(self.durations.size)

    @property
    def out_windows(self):
        """Windows of this layer's outputs (the next layer's input)."""
        return -(-self.rows // self.lanes)

    @property
    def kept(self):
        """Entries that hold a kept weight (spacers excluded)."""
        return int(sum(np.count_nonzero(s.weight) for s in self.segments))

    @property
    def spacers(self):
        return int(sum(s.entries for s in self.segments)) - self.kept

    @property
    def cycles(self):
        """Exact cycles of this layer: from the cycle after its start to its end (the next layer's start)."""
        return (WINDOW_FILL + int(self.durations.sum()) + WINDOW_DRAIN + self.rows + FINAL_LATENCY
                + WINDOW_HANDOVER)


def output_positions(n_out, pes, window):
    """Physical positions (window * W + column) of a layer's outputs in the next layer's input, int64 [n_out]."""
    r = np.arange(n_out, dtype=np.int64)
    lanes = window // pes
    p, j = r % pes, r // pes
    return (j // lanes) * window + p * lanes + j % lanes


def _spaced(items, last, start, distance):
    """Issue `items` ((col, row, weight) in preferred order) from cycle `start`: each one as early as its row
    allows (``distance`` cycles after the row's previous issue, `last` maps row -> cycle, updated), a spacer where
    nothing can go. Returns the issued entries, spacers as None."""
    pending, out, t = deque(items), [], start
    while pending:
        for k, item in enumerate(pending):
            if t - last.get(item[1], -distance) >= distance:
                del pending[k]
                last[item[1]] = t
                out.append(item)
                break
        else:
            out.append(None)
        t += 1
    return out or [None]


def plan_window_layer(layer, pes, window, in_position=None):
    """The window-engine plan of one golden layer on `pes` PEs with windows of `window` activations; `in_position`:
    where its inputs are (default: input i at position i, the network's input)."""
    check_window(pes, window)
    if layer.splits != 1:
        raise ContractError("the window engine does not run layers with splits (use the row engine)")
    n_in, n_out = layer.n_in, layer.n_out
    pos = np.arange(n_in, dtype=np.int64) if in_position is None else np.asarray(in_position, dtype=np.int64)
    n_windows = max(1, -(-int(pos.max() + 1) // window))
    rows = -(-n_out // pes)
    r = layer.entry_rows()
    p_of, j_of = r % pes, r // pes
    at = pos[np.asarray(layer.indices, dtype=np.int64)]
    w_of, col_of = at // window, at % window
    vals = np.asarray(layer.values, dtype=np.int64)
    order = np.lexsort((j_of, col_of, w_of, p_of))              # by PE, window, column, row
    p_s, w_s, c_s, j_s, v_s = p_of[order], w_of[order], col_of[order], j_of[order], vals[order]
    # Each (PE, window)'s entries as a slice of the sorted arrays.
    key = p_s * n_windows + w_s
    bounds = np.searchsorted(key, np.arange(pes * n_windows + 1))
    streams = [[] for _ in range(pes)]
    last = [dict() for _ in range(pes)]
    durations = np.zeros(n_windows, dtype=np.int64)
    start = 0
    for w in range(n_windows):
        longest = 0
        for p in range(pes):
            lo, hi = bounds[p * n_windows + w], bounds[p * n_windows + w + 1]
            items = list(zip(c_s[lo:hi].tolist(), j_s[lo:hi].tolist(), v_s[lo:hi].tolist()))
            issued = _spaced(items, last[p], start, STATE_DISTANCE)
            streams[p].append(issued)
            longest = max(longest, len(issued))
        durations[w] = longest
        start += longest
    kept = np.bincount(r, minlength=n_out)
    dense_rows = kept == n_in
    segments = []
    for p in range(pes):
        flat = [e for issued in streams[p] for e in issued]
        wend = np.zeros(len(flat), dtype=bool)
        wend[np.cumsum([len(issued) for issued in streams[p]]) - 1] = True
        mine = np.arange(p, n_out, pes)
        bias = np.zeros(rows, dtype=np.int64)
        dense = np.zeros(rows, dtype=bool)
        bias[:mine.size] = np.asarray(layer.bias, dtype=np.int64)[mine]
        dense[:mine.size] = dense_rows[mine]
        segments.append(WindowSegment(
            weight=np.array([0 if e is None else e[2] for e in flat], dtype=np.int64),
            col=np.array([0 if e is None else e[0] for e in flat], dtype=np.int64),
            row=np.array([0 if e is None else e[1] for e in flat], dtype=np.int64),
            wend=wend, bias=bias, dense=dense))
    return WindowLayerPlan(kind=layer.kind, in_bits=layer.in_bits, w_bits=layer.w_bits, out_bits=layer.out_bits,
                           mult=layer.mult, shift=layer.shift, relu=layer.relu, relu_in=layer.relu_in, pes=int(pes),
                           window=int(window), n_in=n_in, n_out=n_out, rows=rows,
                           in_position=pos, segments=tuple(segments), durations=durations)


def plan_window_network(network, pes, window):
    """One WindowLayerPlan per layer of a Network (or a list of layers), each reading where the one before wrote."""
    plans, pos = [], None
    for layer in network:
        plan = plan_window_layer(layer, pes, window, pos)
        plans.append(plan)
        pos = output_positions(layer.n_out, pes, window)
    return plans


def window_network_cycles(plans):
    """Exact cycles of a network on the window engine, as golden.cycles.NetworkCycles: ``entries`` are the kept
    weights of each layer and ``load`` each PE's entries with spacers (so ``efficiency`` counts spacers and
    waits as idle PE-cycles)."""
    per_layer = np.array([plan.cycles for plan in plans], dtype=np.int64)
    return NetworkCycles(pes=plans[0].pes, total=int(per_layer.sum()), per_layer=per_layer, engine=per_layer,
                         entries=np.array([plan.kept for plan in plans], dtype=np.int64),
                         load=[np.array([s.entries for s in plan.segments], dtype=np.int64) for plan in plans])


def state_hazards(plan):
    """Pairs of issues of one PE that touch the same row closer than STATE_DISTANCE cycles (a plan has none)."""
    starts = np.concatenate([[0], np.cumsum(plan.durations)])
    bad = 0
    for seg in plan.segments:
        window = np.cumsum(np.concatenate([[0], seg.wend[:-1]]))      # each entry's window
        first = np.flatnonzero(np.concatenate([[True], seg.wend[:-1]]))
        t = starts[window] + np.arange(seg.entries) - first[window]   # issue cycle within the layer
        kept = seg.weight != 0
        rows, times = seg.row[kept], t[kept]
        order = np.lexsort((times, rows))
        rows, times = rows[order], times[order]
        same = rows[1:] == rows[:-1]
        bad += int(np.count_nonzero(same & (np.diff(times) < STATE_DISTANCE)))
    return bad
