"""The window engine's plan: every kept weight issued once, in its window, rows spaced for the row state, the
plan's own fold (window by window, skipping zero activations as the hardware does) equal to the golden forward
pass, and the data-dependent cycle model equal to a cycle-by-cycle walk of the groups."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import ContractError, Network, network_forward
from mamhw.golden.forward import requantize
from mamhw.golden.window import (GROUP_GROWTH, GROUP_SIZES, MIN_WINDOW, check_window, output_positions,
                                 plan_window_network, window_network_cycles, window_sample_cycles)
from tests.strategies import networks_and_inputs

SHAPES = st.sampled_from([(1, 4), (2, 4), (4, 4), (2, 8), (4, 16), (8, 16), (16, 16), (4, 64), (16, 64)])


def fold_plan(plans, x):
    """The outputs of the plans for inputs x [batch, in], folded entry by entry from the window register's view
    (the hardware's order), entries with a zero activation skipped, the parts of a split row merged, 0 joining a
    dense MAM row's max and min when a PE holding a part of it skipped any entry, with golden's requantization."""
    batch = x.shape[0]
    acts = x.astype(np.int64)
    for plan in plans:
        if plan.relu_in:
            acts = np.maximum(acts, 0)
        positions = np.zeros((batch, plan.n_windows * plan.window), dtype=np.int64)
        positions[:, plan.in_position] = acts
        found = [[[] for _ in range(plan.n_out)] for _ in range(batch)]     # live products of each row
        pad = np.zeros((batch, plan.n_out), dtype=bool)
        dense = np.zeros(plan.n_out, dtype=bool)
        bias = np.zeros(plan.n_out, dtype=np.int64)
        for p, seg in enumerate(plan.segments):
            kept = seg.weight != 0
            where = (seg.group_window[:, None] * plan.window + seg.col)[kept]
            x_of = positions[:, where]
            prods = x_of * seg.weight[kept]
            live = x_of != 0
            skipped_zero = np.any(~live, axis=1)                        # per sample, this PE
            rows = seg.row[kept]
            for j in range(plan.rows):
                r = j * plan.teams + p // plan.split
                if r >= plan.n_out:
                    assert not np.any(rows == j)
                    continue
                dense[r], bias[r] = seg.dense[j], seg.bias[j]
                if np.any(rows == j):
                    pad[:, r] |= skipped_zero
                for b in range(batch):
                    found[b][r] += prods[b, (rows == j) & live[b]].tolist()
        out = np.zeros((batch, plan.n_out), dtype=np.int64)
        for b in range(batch):
            for r in range(plan.n_out):
                mine = np.array(found[b][r], dtype=np.int64)
                if plan.kind == "mac":
                    value = mine.sum()
                else:
                    if not dense[r] or pad[b, r]:
                        mine = np.append(mine, 0)
                    value = mine.max() + mine.min() if mine.size else 0
                out[b, r] = value + bias[r]
        acts = requantize(plan, out)
    return acts


def walk_cycles(plan, x):
    """The layer's cycles for its inputs x [in], walked group by group and window by window."""
    acts = np.maximum(x, 0) if plan.relu_in else x
    positions = np.zeros(plan.n_windows * plan.window, dtype=np.int64)
    positions[plan.in_position] = acts
    total = 0
    for w in range(plan.n_windows):
        longest = 0
        for seg in plan.segments:
            spent = 0
            for g in np.flatnonzero(seg.group_window == w):
                issued = sum(1 for i in range(seg.group)
                             if seg.weight[g, i] != 0 and positions[w * plan.window + seg.col[g, i]] != 0)
                spent += max(1, issued)
            longest = max(longest, spent)
        total += max(MIN_WINDOW, longest)
    return plan.fixed_cycles + total


@settings(max_examples=40, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=200, max_width=40, max_entries=400, relu_in=True), SHAPES,
       st.sampled_from((None,) + GROUP_SIZES), st.sampled_from([None, 1, 2, 4, 16]))
def test_plan_folds_to_the_golden_outputs(case, shape, group, split):
    network, x = case
    pes, window = shape
    split = split if split is None else min(split, pes)
    plans = plan_window_network(network, pes, window, group, split)
    assert len({plan.group for plan in plans}) == 1 and (group is None or plans[0].group == group)
    assert len({plan.merge for plan in plans}) == 1 and plans[0].merge == max(p.split for p in plans).bit_length() - 1
    np.testing.assert_array_equal(fold_plan(plans, x), network_forward(network, x))
    for plan, layer in zip(plans, network):
        assert plan.kept == layer.nnz                              # every kept weight once, no other
        for seg in plan.segments:
            assert seg.wend.sum() == plan.n_windows and seg.wend[-1]
            per_window = np.bincount(seg.group_window, minlength=plan.n_windows)
            assert np.all(per_window >= 1)                         # every PE has a group in every window
            # Worst case: a window lasts as long as its busiest PE's slots (a group at least a cycle), MIN_WINDOW.
            spent = np.bincount(seg.group_window, weights=np.maximum(1, (seg.weight != 0).sum(axis=1)),
                                minlength=plan.n_windows)
            assert np.all(spent <= plan.durations)
        assert np.all(plan.durations >= MIN_WINDOW)
    model = window_network_cycles(plans)
    assert model.total == model.per_layer.sum() == sum(p.cycles for p in plans)
    assert model.entries.tolist() == [layer.nnz for layer in network]
    # The data-dependent model: a walk of the groups, at most the worst case.
    inputs = [x] + network_forward(network, x, return_all=True)[:-1]
    cycles = window_sample_cycles(plans, inputs)
    for k, plan in enumerate(plans):
        assert cycles[:, k].tolist() == [walk_cycles(plan, row) for row in inputs[k]]
        assert np.all(cycles[:, k] <= plan.cycles)


def test_output_positions_are_a_permutation_into_lanes():
    pos = output_positions(37, 4, 16)
    assert len(set(pos.tolist())) == 37
    # Row r: PE r % 4, local row r // 4 at word (r // 4) // 4, slot (r // 4) % 4 of lane r % 4.
    r = np.arange(37)
    assert np.array_equal(pos % 16 // 4, r % 4)
    assert np.array_equal(pos // 16, (r // 4) // 4)
    assert np.array_equal(pos % 4, (r // 4) % 4)


def test_split_output_positions_are_the_team_leaders_lanes():
    # 4 PEs in 2 teams of 2: row r goes to team r % 2, local row r // 2, written by PE 2 * (r % 2) into its lane.
    pos = output_positions(10, 4, 16, split=2)
    r = np.arange(10)
    assert np.array_equal(pos % 16 // 4, 2 * (r % 2))
    assert np.array_equal(pos // 16 * 4 + pos % 4, r // 2)
    assert np.array_equal(output_positions(10, 4, 16, split=1), output_positions(10, 4, 16))


def test_a_small_dense_layer_is_split():
    # 10 rows of 128 on 4 PEs: whole, the busiest PE has 3 rows (384 entries); in 2 teams of 2, 5 half rows (320).
    from mamhw.golden import Layer
    w = np.arange(1, 1281, dtype=np.int64).reshape(10, 128) % 50 + 1
    network = Network([Layer.build(kind="mac", weight=w, bias=[0] * 10, mult=1, shift=0, relu=False)])
    (whole,) = plan_window_network(network, 4, 16, group=4, split=1)
    (plan,) = plan_window_network(network, 4, 16, group=4)
    assert max(s.kept for s in whole.segments) == 384
    assert (plan.split, plan.merge, plan.rows) == (2, 1, 5) and [s.kept for s in plan.segments] == [320] * 4
    # 64 fewer entries for the busiest PE; 5 rows to finalize instead of 3, then one merge step.
    assert plan.cycles == whole.cycles - 64 + (5 - 3) + 1
    # Each PE's entries of part k: inputs k modulo 2.
    for p, seg in enumerate(plan.segments):
        cols = (seg.group_window[:, None] * 16 + seg.col)[seg.weight != 0]
        assert np.all(cols % 2 == p % 2)


def test_one_rows_entries_fill_groups_back_to_back():
    # The PE forwards a row state not yet written, so one row's weights need no spacing: two full groups.
    from mamhw.golden import Layer
    w = np.zeros((1, 8), dtype=np.int64)
    w[0, :6] = [1, 2, 3, 4, 5, 6]
    layer = Layer.build(kind="mam", weight=w, bias=[0], mult=1, shift=0, relu=False)
    (plan,) = plan_window_network(Network([layer]), 1, 8, group=4)
    assert plan.segments[0].weight.tolist() == [[1, 2, 3, 4], [5, 6, 0, 0]]
    assert plan.durations.tolist() == [6]


def test_groups_fill_in_column_order():
    # Eight rows, one weight each in one window: two full groups.
    from mamhw.golden import Layer
    w = np.zeros((8, 8), dtype=np.int64)
    w[np.arange(8), np.arange(8)] = np.arange(1, 9)
    (plan,) = plan_window_network(Network([Layer.build(kind="mac", weight=w, bias=[0] * 8, mult=1, shift=0,
                                                       relu=False)]), 1, 8, group=4)
    assert plan.segments[0].weight.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert plan.segments[0].wend.tolist() == [False, True]
    assert plan.durations.tolist() == [8]


@pytest.mark.parametrize("windows, group", [((6,), 8), ((2, 6), 4), ((6, 6, 6, 6, 6, 6, 6, 4), 8), ((3,) * 8, 4)])
def test_groups_of_8_when_their_padding_is_small(windows, group):
    # One row, `windows[w]` weights in window w of 8: groups of 8 pad each window's last group to 8 slots, groups
    # of 4 to 4; 8 is taken when its slots are at most GROUP_GROWTH more.
    from mamhw.golden import Layer
    w = np.zeros((1, 8 * len(windows)), dtype=np.int64)
    for k, n in enumerate(windows):
        w[0, 8 * k:8 * k + n] = 1
    network = Network([Layer.build(kind="mac", weight=w, bias=[0], mult=1, shift=0, relu=False)])
    small, large = (plan_window_network(network, 1, 8, g)[0] for g in GROUP_SIZES)
    assert (large.slots <= small.slots * (1 + GROUP_GROWTH)) == (group == 8)
    (plan,) = plan_window_network(network, 1, 8)
    assert plan.group == group and plan.segments[0].weight.shape[1] == group
    assert plan.kept == sum(windows)
    assert plan.cycles == (large if group == 8 else small).cycles == small.cycles      # the same with no zero


def test_group_refused():
    with pytest.raises(ContractError, match="group must be one of 4, 8"):
        plan_window_network(Network.of(_one_layer()), 1, 8, group=2)


def _one_layer():
    from mamhw.golden import Layer
    return Layer.build(kind="mac", weight=[[1, 0, 2, 0]], bias=[0], mult=1, shift=0, relu=False)


@pytest.mark.parametrize("pes, window, problem", [(3, 16, "divide"), (32, 16, "divide"), (4, 12, "window must")])
def test_window_shapes_refused(pes, window, problem):
    with pytest.raises(ContractError, match=problem):
        check_window(pes, window)


def test_splits_refused():
    from mamhw.golden import Layer
    layer = Layer.build(kind="mam", weight=np.ones((2, 4), dtype=np.int64), bias=[0, 0], mult=1, shift=0,
                        relu=False, splits=2)
    with pytest.raises(ContractError, match="splits"):
        plan_window_network(Network([layer]), 2, 4)
