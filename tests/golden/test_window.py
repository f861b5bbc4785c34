"""The window engine's plan: every kept weight issued once, in its window, rows spaced for the row state, and the
plan's own fold (window by window, as the hardware does it) equal to the golden forward pass."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamhw.golden import ContractError, Network, network_forward
from mamhw.golden.forward import requantize
from mamhw.golden.window import (STATE_DISTANCE, check_window, output_positions, plan_window_network,
                                 state_hazards, window_network_cycles)
from tests.strategies import networks_and_inputs

SHAPES = st.sampled_from([(1, 4), (2, 4), (4, 4), (2, 8), (4, 16), (8, 16), (16, 16), (4, 64), (16, 64)])


def fold_plan(plans, x):
    """The outputs of the plans for inputs x [batch, in], folded entry by entry from the window register's view
    (the hardware's order), with golden's requantization."""
    batch = x.shape[0]
    acts = x.astype(np.int64)
    for plan in plans:
        if plan.relu_in:
            acts = np.maximum(acts, 0)
        positions = np.zeros((batch, plan.n_windows * plan.window), dtype=np.int64)
        positions[:, plan.in_position] = acts
        out = np.zeros((batch, plan.n_out), dtype=np.int64)
        for p, seg in enumerate(plan.segments):
            window = np.cumsum(np.concatenate([[0], seg.wend[:-1]]))
            kept = seg.weight != 0
            prods = positions[:, window[kept] * plan.window + seg.col[kept]] * seg.weight[kept]
            rows = seg.row[kept]
            for j in range(plan.rows):
                r = j * plan.pes + p
                if r >= plan.n_out:
                    assert not np.any(rows == j)
                    continue
                mine = prods[:, rows == j]
                if plan.kind == "mac":
                    value = mine.sum(axis=1)
                else:
                    if not seg.dense[j]:
                        mine = np.concatenate([mine, np.zeros((batch, 1), dtype=np.int64)], axis=1)
                    value = mine.max(axis=1) + mine.min(axis=1) if mine.shape[1] else 0
                out[:, r] = value + seg.bias[j]
        acts = requantize(plan, out)
    return acts


@settings(max_examples=40, deadline=None)
@given(networks_and_inputs(max_layers=3, max_in=200, max_width=40, max_entries=400, relu_in=True), SHAPES)
def test_plan_folds_to_the_golden_outputs(case, shape):
    network, x = case
    pes, window = shape
    plans = plan_window_network(network, pes, window)
    np.testing.assert_array_equal(fold_plan(plans, x), network_forward(network, x))
    for plan, layer in zip(plans, network):
        assert plan.kept == layer.nnz                              # every kept weight once, no other
        assert state_hazards(plan) == 0
        assert all(seg.wend.sum() == plan.n_windows for seg in plan.segments)
        # A window lasts as long as its busiest PE.
        for seg in plan.segments:
            per_window = np.bincount(np.cumsum(np.concatenate([[0], seg.wend[:-1]])), minlength=plan.n_windows)
            assert np.all(per_window <= plan.durations) and np.all(per_window >= 1)
        assert plan.durations.max() == max(
            np.bincount(np.cumsum(np.concatenate([[0], s.wend[:-1]]))).max() for s in plan.segments)
    model = window_network_cycles(plans)
    assert model.total == model.per_layer.sum() == sum(p.cycles for p in plans)
    assert model.entries.tolist() == [layer.nnz for layer in network]


def test_output_positions_are_a_permutation_into_lanes():
    pos = output_positions(37, 4, 16)
    assert len(set(pos.tolist())) == 37
    # Row r: PE r % 4, local row r // 4 at word (r // 4) // 4, slot (r // 4) % 4 of lane r % 4.
    r = np.arange(37)
    assert np.array_equal(pos % 16 // 4, r % 4)
    assert np.array_equal(pos // 16, (r // 4) // 4)
    assert np.array_equal(pos % 4, (r // 4) % 4)


def test_rows_touching_the_same_state_are_spaced():
    # One row with many weights in one window: its entries need spacers between them.
    from mamhw.golden import Layer
    w = np.zeros((1, 8), dtype=np.int64)
    w[0, :4] = [1, 2, 3, 4]
    layer = Layer.build(kind="mam", weight=w, bias=[0], mult=1, shift=0, relu=False)
    (plan,) = plan_window_network(Network([layer]), 1, 8)
    gap = [0] * (STATE_DISTANCE - 1)
    assert plan.segments[0].weight.tolist() == [1, *gap, 2, *gap, 3, *gap, 4]
    assert plan.durations.tolist() == [1 + 3 * STATE_DISTANCE]
    assert state_hazards(plan) == 0


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
