"""The window engine's plan and its exact cycle model (hw/window_engine.py implements both).

The row engine (golden/assign.py) gives every PE an arbitrary-index read of the whole layer input, so each PE holds
its own copy of it: activation memory grows with P. The window engine holds one copy. The layer input is read a
window of W activations at a time into a register that every PE sees; each PE holds, for its rows, the entries of
each window, and folds their products into a row-state memory (running max and min, or sum, per row). When the
last window has passed, a finalization pass reads every row's state, adds the bias, requantizes and writes the
outputs, which are the next layer's input.

Rows and lanes. A layer splits each row into S parts (S a power of two, 1 for most layers: see Splits); the
PEs form P / S teams of S. Row r belongs to team ``t = r % (P / S)`` as its local row ``j = r // (P / S)``: every
PE has ``R = ceil(out * S / P)`` rows (the last ones padding on some PEs). The activations live in P lane
memories, a word of ``L = W / P`` activations each; a window is one word of every lane, read at one address. The
team's first PE, p = t * S, writes its outputs into lane p: local row j at word ``j // L``, slot ``j % L``. So the
physical position (window * W + column) of output row r in the next layer's input is ``(j // L) * W + p * L + j %
L``, and input i of the network sits at position i.

Splits. Part k of a row holds its entries whose input position is k modulo S, on PE t * S + k. A PE folds its
parts as whole rows; at finalization the team merges them (max of maxes and min of mins, or the sum of sums) in
log2(S) steps of a tree over its PEs, each step a cycle, before the bias. A layer with few rows gets S > 1 when that
takes fewer cycles with no zero activation: the 10 rows of a 10 x 128 layer on 4 PEs go 3, 3, 2, 2 whole, but
split in two halves, 5 and 5 per team: 320 entries for the busiest PE instead of 384. Every layer of a network
passes its finalization through as many merge steps as its largest S needs (M).

Groups. PE p's entries of window w are its kept weights whose input lies in window w: (weight, column within the
window, local row). They are packed, in order of column and row, into groups of G slots, one memory word each; a
slot with weight 0 is empty. A group belongs to one window; the last of each window carries ``wend``, and a PE with
no entry in a window has one empty group there. G is 8 when that costs at most an eighth more slots than 4 (the
padding of each window's last group), else 4: a group with no non-zero activation still costs a cycle, and groups of
8 have half as many of them (:func:`plan_window_network` chooses; the hardware takes G from the plan).

Zero skipping. The PE issues, one per cycle, only the entries whose activation is not zero, so a group takes as
many cycles as it has such entries, and one cycle when it has none. Skipping is exact: for a MAC row a zero
product adds nothing; a MAM row with a pruned weight already has 0 competing; a dense MAM row (no pruned weight)
has an entry at every column, so it skipped a zero product exactly when its PE skipped any entry with a zero
activation in the layer, and the PE then lets 0 join its max and min at finalization (as a pruned weight's does).

Row state. A PE folds each product into its row's state in a memory (read, combined, written back); an entry of
the same row issued up to three cycles before has not been written yet, and the PE takes its new state from its
pipeline instead, so the entries of one row may issue in any cycles: the plan needs no spacing.

Timing. All PEs start a window together (an engine-wide barrier). PE p spends ``d_p(w) = sum over its groups of
max(1, entries whose activation is not zero)`` cycles on window w, and the window lasts ``T_w = max(MIN_WINDOW,
max_p d_p(w))``: the engine reads each window ahead into a register and needs MIN_WINDOW cycles per window to have
the next one's zero mask ready. A layer takes exactly

    WINDOW_FILL + sum over windows of T_w + WINDOW_DRAIN + R + FINAL_LATENCY + M + WINDOW_HANDOVER

cycles, and a network the sum over its layers: :func:`window_sample_cycles` gives them for given inputs, and the
plan's own ``durations`` and ``cycles`` are the worst case, no activation zero. An empty row costs nothing (its
output is its bias, requantized).

MAM rows: 0 joins max and min of a row with a pruned weight (as in golden/forward.py), and of a dense row whose PE
skipped a zero; the finalization pass applies it from the row's ``dense`` flag and the PE's skip flag. A part of a
split dense row holds an entry at every position of its part, and its PE's entries all lie there, so the PE
skipped a zero exactly when the part did; a part with no entry at all (an input narrower than S) joins nothing.
"""

from dataclasses import dataclass, replace

import numpy as np

from ..plumbing import ContractError
from .cycles import NetworkCycles

__all__ = ["GROUP_SIZES", "GROUP_GROWTH", "STATE_DISTANCE", "MIN_WINDOW", "WINDOW_FILL", "WINDOW_DRAIN",
           "FINAL_LATENCY", "WINDOW_HANDOVER", "WINDOW_SIZES", "SPLIT_ROWS", "WindowSegment", "WindowLayerPlan",
           "check_window", "output_positions", "merge_levels", "plan_window_layer", "plan_window_network",
           "window_network_cycles", "window_sample_cycles"]

# The contract with hw/window_engine.py (a test holds them equal to the hardware's own constants).
GROUP_SIZES = (4, 8)    # entry slots per memory word (G): the PE looks this far ahead for a non-zero activation
GROUP_GROWTH = 1 / 8    # the most slots that groups of 8 may add over groups of 4 (their padding) to be chosen
STATE_DISTANCE = 1      # cycles between two issues that may touch the same row state (the PE forwards)
MIN_WINDOW = 3          # the shortest window: the next window's zero mask is read ahead in that time
WINDOW_FILL = 3         # cycles between the one start is taken in and the first window's first issue
WINDOW_DRAIN = 8        # cycles from a window's end (the next one's first cycle) to the first finalization read
FINAL_LATENCY = 10      # from the last finalization read to the layer's end: its output's write, and the next
                        # layer's start in the same cycle
WINDOW_HANDOVER = 0     # nothing more between two layers
WINDOW_SIZES = (4, 8, 16, 32, 64)
SPLIT_ROWS = 4          # splits are weighed for a layer of at most this many rows per PE


def check_window(pes, window):
    """The window engine needs a power-of-two window of at least P activations, P dividing it."""
    if window not in WINDOW_SIZES:
        raise ContractError(f"window must be one of {', '.join(map(str, WINDOW_SIZES))}, not {window}")
    if not 1 <= pes <= window or window % pes:
        raise ContractError(f"the window engine needs P to divide the window ({window}); P = {pes} does not")


@dataclass(frozen=True, eq=False)
class WindowSegment:
    """One PE's part of one layer: its groups, window after window, and its rows' biases and dense flags."""

    weight: np.ndarray      # int64 [groups, G]: 0 for an empty slot
    col: np.ndarray         # int64 [groups, G]: the input's column within its window
    row: np.ndarray         # int64 [groups, G]: the local row the product folds into
    wend: np.ndarray        # bool  [groups]: the PE's last group of its window
    bias: np.ndarray        # int64 [rows]: 0 for padding rows
    dense: np.ndarray       # bool  [rows]: the row has no pruned weight

    @property
    def groups(self):
        return int(self.wend.size)

    @property
    def group(self):
        """G: slots per group."""
        return int(self.weight.shape[1])

    @property
    def kept(self):
        return int(np.count_nonzero(self.weight))

    @property
    def group_window(self):
        """int64 [groups]: the window of each group."""
        return np.cumsum(np.concatenate([[0], self.wend[:-1]])).astype(np.int64)


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
    group: int                  # G: entry slots per group (memory word)
    split: int                  # S: parts of each row, on as many PEs (a team)
    merge: int                  # M: merge steps of the network's finalization (log2 of its largest S)
    n_in: int
    n_out: int
    rows: int                   # R: local rows of every PE
    in_position: np.ndarray     # int64 [n_in]: where each input is in the layer's input windows
    segments: tuple             # WindowSegment per PE
    durations: np.ndarray       # int64 [windows]: T_w with no activation zero (the worst case)

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
    def teams(self):
        """P / S: the teams of PEs, each joining its rows' parts into one output."""
        return self.pes // self.split

    @property
    def kept(self):
        """Entries that hold a kept weight."""
        return int(sum(s.kept for s in self.segments))

    @property
    def slots(self):
        """Entry slots of all PEs' groups, empty ones included."""
        return int(sum(s.groups for s in self.segments)) * self.group

    @property
    def fixed_cycles(self):
        """Cycles of the layer outside its windows."""
        return WINDOW_FILL + WINDOW_DRAIN + self.rows + FINAL_LATENCY + self.merge + WINDOW_HANDOVER

    @property
    def cycles(self):
        """Exact cycles of this layer with no activation zero, the most it takes: from the cycle after its start to
        its end (the next layer's start)."""
        return self.fixed_cycles + int(self.durations.sum())

    def window_cycles(self, nonzero):
        """T_w of every window, int64 [batch, windows], for `nonzero` bool [batch, windows * W]: which positions
        of the layer's input windows hold an activation that is not zero (after the layer's input ReLU)."""
        nonzero = np.asarray(nonzero, dtype=bool).reshape(-1, self.n_windows, self.window)
        longest = np.zeros((nonzero.shape[0], self.n_windows), dtype=np.int64)
        for seg in self.segments:
            w = seg.group_window
            issued = (nonzero[:, w[:, None], seg.col] & (seg.weight != 0)).sum(axis=2)     # [batch, groups]
            spent = np.zeros_like(longest)
            np.add.at(spent.T, w, np.maximum(issued, 1).T)
            np.maximum(longest, spent, out=longest)
        return np.maximum(longest, MIN_WINDOW)


def output_positions(n_out, pes, window, split=1):
    """Physical positions (window * W + column) of a layer's outputs in the next layer's input, int64 [n_out], its
    rows in `split` parts."""
    r = np.arange(n_out, dtype=np.int64)
    lanes, teams = window // pes, pes // split
    p, j = r % teams * split, r // teams
    return (j // lanes) * window + p * lanes + j % lanes


def merge_levels(split):
    """Merge steps of a team of `split` PEs: log2(split)."""
    return int(split).bit_length() - 1


def _grouped(items, group):
    """`items` ((col, row, weight) in order) in groups of `group` (the last one filled with empty slots); at least
    one group."""
    items = list(items)
    return [items[k:k + group] for k in range(0, len(items), group)] or [[]]


def plan_window_layer(layer, pes, window, in_position=None, group=GROUP_SIZES[0], split=1):
    """The window-engine plan of one golden layer on `pes` PEs with windows of `window` activations, groups of
    `group` slots and rows in `split` parts; `in_position`: where its inputs are (default: input i at position i,
    the network's input). Its merge steps are its own (plan_window_network gives every layer the network's)."""
    check_window(pes, window)
    if group not in GROUP_SIZES:
        raise ContractError(f"group must be one of {', '.join(map(str, GROUP_SIZES))}, not {group}")
    if split < 1 or split & (split - 1) or pes % split:
        raise ContractError(f"a row splits into a power of two of parts dividing P ({pes}), not {split}")
    if layer.splits != 1:
        raise ContractError("the window engine does not run layers with splits (use the row engine)")
    n_in, n_out = layer.n_in, layer.n_out
    pos = np.arange(n_in, dtype=np.int64) if in_position is None else np.asarray(in_position, dtype=np.int64)
    n_windows = max(1, -(-int(pos.max() + 1) // window))
    teams = pes // split
    rows = -(-n_out // teams)
    r = layer.entry_rows()
    at = pos[np.asarray(layer.indices, dtype=np.int64)]
    p_of, j_of = r % teams * split + at % split, r // teams
    w_of, col_of = at // window, at % window
    vals = np.asarray(layer.values, dtype=np.int64)
    order = np.lexsort((j_of, col_of, w_of, p_of))              # by PE, window, column, row
    p_s, w_s, c_s, j_s, v_s = p_of[order], w_of[order], col_of[order], j_of[order], vals[order]
    # Each (PE, window)'s entries as a slice of the sorted arrays.
    key = p_s * n_windows + w_s
    bounds = np.searchsorted(key, np.arange(pes * n_windows + 1))
    kept = np.bincount(r, minlength=n_out)
    dense_rows = kept == n_in
    segments = []
    durations = np.zeros(n_windows, dtype=np.int64)
    for p in range(pes):
        groups, wend = [], []
        for w in range(n_windows):
            lo, hi = bounds[p * n_windows + w], bounds[p * n_windows + w + 1]
            mine = _grouped(zip(c_s[lo:hi].tolist(), j_s[lo:hi].tolist(), v_s[lo:hi].tolist()), group)
            durations[w] = max(durations[w], sum(max(1, len(g)) for g in mine))
            groups += mine
            wend += [False] * (len(mine) - 1) + [True]
        fields = np.zeros((3, len(groups), group), dtype=np.int64)       # col, row, weight
        for g, items in enumerate(groups):
            if items:
                fields[:, g, :len(items)] = np.array(items, dtype=np.int64).T
        mine = np.arange(p // split, n_out, teams)
        bias = np.zeros(rows, dtype=np.int64)
        dense = np.zeros(rows, dtype=bool)
        bias[:mine.size] = np.asarray(layer.bias, dtype=np.int64)[mine]
        dense[:mine.size] = dense_rows[mine]
        segments.append(WindowSegment(weight=fields[2], col=fields[0], row=fields[1], wend=np.array(wend, dtype=bool),
                                      bias=bias, dense=dense))
    return WindowLayerPlan(kind=layer.kind, in_bits=layer.in_bits, w_bits=layer.w_bits, out_bits=layer.out_bits,
                           mult=layer.mult, shift=layer.shift, relu=layer.relu, relu_in=layer.relu_in, pes=int(pes),
                           window=int(window), group=int(group), split=int(split), merge=merge_levels(split), n_in=n_in,
                           n_out=n_out, rows=rows,
                           in_position=pos, segments=tuple(segments), durations=np.maximum(durations, MIN_WINDOW))


def plan_window_network(network, pes, window, group=None, split=None):
    """One WindowLayerPlan per layer of a Network (or a list of layers), each reading where the one before wrote,
    all with groups of `group` slots (None: 8 if that adds at most GROUP_GROWTH more slots than 4, else 4), each
    layer's rows in `split` parts (None: the planner's choice, see Splits; a number: every layer's)."""
    if group is None:
        small, large = (plan_window_network(network, pes, window, g, split) for g in GROUP_SIZES)
        slots = [sum(plan.slots for plan in plans) for plans in (small, large)]
        return large if slots[1] <= slots[0] * (1 + GROUP_GROWTH) else small
    layers = list(network)
    plans, pos, merge = [], None, 0
    for k, layer in enumerate(layers):
        if split is not None:
            choices = [split]
        elif layer.n_out <= SPLIT_ROWS * pes:
            choices = [1 << b for b in range(merge_levels(pes) + 1)]
        else:
            choices = [1]
        options = [plan_window_layer(layer, pes, window, pos, group, s) for s in choices]
        plan = min(options, key=lambda o: _split_cost(o, merge, len(layers), k == len(layers) - 1))
        plans.append(plan)
        merge = max(merge, plan.merge)
        pos = output_positions(layer.n_out, pes, window, plan.split)
    return [replace(plan, merge=merge) for plan in plans]


def _split_cost(plan, merge, n_layers, last):
    """The cycles that splitting `plan`'s rows costs the network with no zero activation: its own, the merge
    steps it adds to the other layers (`merge` so far), and the windows it adds to the next layer's input (its
    outputs spread over the teams' lanes), MIN_WINDOW each at least. min() keeps the first (fewest parts) on a
    tie."""
    added = max(0, plan.merge - merge) * (n_layers - 1)
    if not last:
        whole = -(-plan.n_out // plan.window)           # the unsplit layer's: ceil(ceil(out / P) / L)
        added += MIN_WINDOW * max(0, plan.out_windows - whole)
    return plan.cycles + added


def window_network_cycles(plans):
    """Exact cycles of a network on the window engine with no activation zero (the most it can take), as
    golden.cycles.NetworkCycles: ``entries`` are the kept weights of each layer and ``load`` each PE's."""
    per_layer = np.array([plan.cycles for plan in plans], dtype=np.int64)
    return NetworkCycles(pes=plans[0].pes, total=int(per_layer.sum()), per_layer=per_layer, engine=per_layer,
                         entries=np.array([plan.kept for plan in plans], dtype=np.int64),
                         load=[np.array([s.kept for s in plan.segments], dtype=np.int64) for plan in plans])


def window_sample_cycles(plans, layer_inputs):
    """Exact cycles of every layer for given inputs, int64 [batch, layers]. `layer_inputs`: each layer's input
    activations [batch, n_in] (the network's input, then each layer's output: golden.network_forward with
    return_all gives the rest)."""
    out = []
    for plan, x in zip(plans, layer_inputs):
        x = np.asarray(x, dtype=np.int64)
        live = x > 0 if plan.relu_in else x != 0
        nonzero = np.zeros((x.shape[0], plan.n_windows * plan.window), dtype=bool)
        nonzero[:, plan.in_position] = live
        out.append(plan.fixed_cycles + plan.window_cycles(nonzero).sum(axis=1))
    return np.stack(out, axis=1)
