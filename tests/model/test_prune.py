"""Pruning: exact target fractions, masks held through fine-tuning, lottery tickets, MAM selection counts."""

import numpy as np
import pytest

from mamhw.plumbing import ContractError
from mamhw.model.prune import (fine_tune, global_magnitude_prune, iterative_magnitude_prune, mam_aware_prune,
                                remaining, remaining_fraction, selection_counts)
from mamhw.model.train import MLP, Dense, forward, mlp, split_bounds, train
from tests.model.synthetic import blobs


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.1, 0.013, 0.001, 0.0])
def test_global_magnitude_prune_hits_exact_fraction_and_keeps_largest(fraction):
    model = mlp([40, 30, 20, 4], ["mam", "mam", "mac"], seed=1)
    total = 40 * 30 + 30 * 20
    global_magnitude_prune(model, fraction, layers=[0, 1])
    assert remaining(model, [0, 1]) == (round(fraction * total), total)
    assert model[2].mask is None
    kept = np.concatenate([np.abs(model[k].weight[model[k].mask]) for k in (0, 1)])
    gone = np.concatenate([np.abs(mlp([40, 30, 20, 4], ["mam", "mam", "mac"], seed=1)[k].weight[~model[k].mask])
                           for k in (0, 1)])
    assert np.all(model[0].weight[~model[0].mask] == 0) and np.all(model[1].weight[~model[1].mask] == 0)
    if kept.size and gone.size:
        assert kept.min() >= gone.max()


def test_pruning_twice_is_relative_to_all_interconnections_and_cannot_grow():
    model = mlp([10, 10, 3], "mam", seed=0)
    global_magnitude_prune(model, 0.5, [0])
    global_magnitude_prune(model, 0.2, [0])
    assert remaining_fraction(model, [0]) == 0.2
    with pytest.raises(ContractError, match="only 20 of 100"):
        global_magnitude_prune(model, 0.3, [0])
    with pytest.raises(ContractError, match="does not exist"):
        global_magnitude_prune(model, 0.1, [5])


def test_masks_stay_zero_through_fine_tuning():
    x, y = blobs(n_per_class=30)
    model = mlp([16, 12, 4], ["mam", "mac"], seed=2)
    train(model, x, y, epochs=2, vanish_epochs=1, lr=1e-2)
    masks = [m.copy() for m in global_magnitude_prune(model, 0.1, [0, 1])]
    before = [layer.weight.copy() for layer in model]
    fine_tune(model, x, y, epochs=3, lr=1e-2)
    for layer, mask, old in zip(model, masks, before):
        assert np.array_equal(layer.mask, mask)
        assert np.all(layer.weight[~mask] == 0)
        assert not np.array_equal(layer.weight[mask], old[mask])     # the kept weights did train


def test_lottery_ticket_rounds_are_nested_and_exact():
    x, y = blobs(n_per_class=25)
    model = mlp([16, 20, 4], ["mam", "mac"], seed=3)
    init = model[0].weight.copy()
    results = iterative_magnitude_prune(model, x, y, 0.04, rounds=2, layers=[0], epochs=2, lr=1e-2,
                                        vanish_epochs=1)
    assert [f * 320 for f, _ in results] == [round(0.2 * 320), round(0.04 * 320)]     # 64, 13 of 320
    first, last = results[0][1][0].mask, results[-1][1][0].mask
    assert results[-1][1] is model
    assert np.all(first[last]) and last.sum() < first.sum()
    assert np.all(model[0].weight[~last] == 0)
    assert not np.array_equal(model[0].weight[last], init[last])      # retrained after the rewind


def test_rewind_restores_weights_of_the_rewind_point():
    x, y = blobs(n_per_class=10)
    model = mlp([16, 6, 4], ["mac", "mac"], seed=4)
    reference = model.copy()
    train(reference, x, y, epochs=1, lr=1e-2, seed=0)
    snap = reference.state()
    results = iterative_magnitude_prune(model, x, y, 0.5, rounds=1, layers=[0], rewind_epoch=1, epochs=2,
                                        lr=1e-2, seed=0)
    # Round 1 retrains from the epoch-1 weights with the mask: same as masking the snapshot and training.
    expected = reference.copy()
    expected.load_state(snap)
    expected[0].set_mask(results[0][1][0].mask)
    train(expected, x, y, epochs=1, lr=1e-2, seed=0, start_epoch=1)
    assert np.allclose(expected[0].weight, model[0].weight)


def test_selection_counts_match_brute_force():
    rng = np.random.default_rng(5)
    model = mlp([6, 5, 4, 3], ["mac", "mam", "mac"], seed=5)
    x = rng.random((30, 6), dtype=np.float32)
    counts = selection_counts(model, x, 1, batch_size=7)
    h = forward(type(model)(model.layers[:1]), x)
    expected = np.zeros((4, 5), dtype=np.int64)
    for s in range(30):
        p = h[s][None, :] * model[1].weight
        for j in range(4):
            expected[j, p[j].argmax()] += 1
            expected[j, p[j].argmin()] += 1
    assert np.array_equal(counts, expected)
    assert counts.sum() == 2 * 30 * 4
    with pytest.raises(ContractError, match="mac"):
        selection_counts(model, x, 0)


def test_selection_counts_of_a_split_layer_with_relu_in_count_each_slice():
    rng = np.random.default_rng(6)
    model = MLP([Dense("mac", rng.standard_normal((7, 6)), rng.standard_normal(7)),
                 Dense("mam", rng.standard_normal((4, 7)), rng.standard_normal(4), splits=3, relu_in=True)])
    x = rng.random((25, 6), dtype=np.float32)
    counts = selection_counts(model, x, 1, batch_size=9)
    h = np.maximum(forward(MLP(model.layers[:1]), x), 0)
    expected = np.zeros((4, 7), dtype=np.int64)
    for s in range(25):
        for a, b in split_bounds(7, 3):
            p = h[s][None, a:b] * model[1].weight[:, a:b]
            for j in range(4):
                expected[j, a + p[j].argmax()] += 1
                expected[j, a + p[j].argmin()] += 1
    assert np.array_equal(counts, expected)
    assert counts.sum() == 2 * 3 * 25 * 4


def test_mam_aware_prune_removes_never_selected_and_changes_nothing_on_its_data():
    x, y = blobs(n_per_class=30)
    model = mlp([16, 24, 4], ["mam", "mac"], seed=6)
    train(model, x, y, epochs=3, vanish_epochs=1, lr=1e-2)
    # Prune the smallest weight of every row first, so that every row already has a competing zero.
    mask = np.ones_like(model[0].mask if model[0].mask is not None else model[0].weight, dtype=bool)
    mask[np.arange(24), np.abs(model[0].weight).argmin(axis=1)] = False
    model[0].set_mask(mask)
    counts = selection_counts(model, x, 0)
    out_before = forward(model, x)
    mam_aware_prune(model, x)
    kept = model[0].mask
    assert np.array_equal(kept, mask & (counts > 0))
    assert kept.sum() < mask.sum()           # something was never selected
    assert np.allclose(forward(model, x), out_before, atol=1e-6)


def test_mam_aware_prune_to_fraction_ranks_by_selection_count():
    x, _ = blobs(n_per_class=30)
    model = mlp([16, 10, 4], ["mam", "mac"], seed=7)
    counts = selection_counts(model, x, 0)
    mam_aware_prune(model, x, layers=[0], fraction=0.05)
    kept = model[0].mask
    assert kept.sum() == 8
    assert counts[kept].min() >= counts[~kept].max()
    with pytest.raises(ContractError, match="mam layer"):
        mam_aware_prune(model, x, layers=[1])
