"""Float MAM/MAC training: the MAM layer against brute force and finite differences, the schedule, learning."""

import tracemalloc

import numpy as np
import pytest

from mamhw.plumbing import ContractError
from mamhw.model.train import (MLP, Dense, accuracy, forward, loss_and_grads, mam_backward, mam_forward, mlp,
                               split_bounds, train, vanish_beta)
from tests.model.synthetic import blobs, digits_split


def brute_mam(x, w):
    p = x[:, None, :].astype(np.float64) * w[None, :, :].astype(np.float64)
    return p.max(axis=2) + p.min(axis=2), p.argmax(axis=2), p.argmin(axis=2)


def test_mam_forward_matches_brute_force_for_any_chunking():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, 23)).astype(np.float32)
    w = rng.standard_normal((11, 23)).astype(np.float32)
    ref, amax, amin = brute_mam(x, w)
    for chunk in (1, 11 * 23, 5 * 11 * 23, 1 << 20):
        y, a, b = mam_forward(x, w, chunk_elements=chunk)
        assert np.allclose(y, ref, rtol=1e-6, atol=1e-6)
        assert np.array_equal(a, amax) and np.array_equal(b, amin)


def test_pruned_zero_competes_in_max_and_min():
    # Row 0 has a pruned (zero) weight: max(3*2, 0) + min(3*2, 0) = 6. Row 1 is dense: 6 + 4 = 10.
    y, _, _ = mam_forward(np.array([[2.0, 2.0]]), np.array([[3.0, 0.0], [3.0, 2.0]]))
    assert y.tolist() == [[6.0, 10.0]]


def test_mam_layer_memory_is_bounded():
    rng = np.random.default_rng(0)
    x = rng.random((256, 784), dtype=np.float32)
    w = rng.standard_normal((256, 784)).astype(np.float32)
    tracemalloc.start()
    mam_forward(x, w)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 << 20      # a whole [256, 256, 784] float32 product tensor would be 196 MiB


def test_mam_gradient_matches_finite_differences_on_argmax_argmin_paths():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 7))
    w = rng.standard_normal((3, 7))
    g = rng.standard_normal((4, 3))

    def objective(xx, ww):
        return float((brute_mam(xx, ww)[0] * g).sum())

    _, amax, amin = mam_forward(x, w)
    dx, dw = mam_backward(x.astype(np.float32), w.astype(np.float32), g, amax, amin)
    eps = 1e-5
    for arr, grad in ((w, dw), (x, dx)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = objective(x, w)
            arr[idx] = old - eps
            down = objective(x, w)
            arr[idx] = old
            num[idx] = (up - down) / (2 * eps)
        assert np.allclose(grad, num, rtol=1e-4, atol=1e-4)
    # Only the selected interconnections get weight gradient: at most two per (sample, neuron).
    selected = np.zeros(w.shape, dtype=bool)
    for idx in (amax, amin):
        selected[np.arange(3)[None, :].repeat(4, 0), idx] = True
    assert np.all(dw[~selected] == 0) and np.any(dw[selected] != 0)


@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0])
def test_network_gradient_matches_finite_differences(beta):
    rng = np.random.default_rng(3)
    model = mlp([5, 4, 3], ["mam", "mac"], seed=4)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    assert_gradients_match_finite_differences(model, x, rng.integers(0, 3, size=6), beta)


def assert_gradients_match_finite_differences(model, x, y, beta, eps=1e-3):
    _, grads, _ = loss_and_grads(model, x, y, beta)
    for k, layer in enumerate(model):
        for j, param in enumerate((layer.weight, layer.bias)):
            for idx in np.ndindex(param.shape):
                old = float(param[idx])
                param[idx] = old + eps
                up = loss_and_grads(model, x, y, beta)[0]
                param[idx] = old - eps
                down = loss_and_grads(model, x, y, beta)[0]
                param[idx] = old
                assert grads[k][j][idx] == pytest.approx((up - down) / (2 * eps), abs=2e-3)


def test_vanishing_contributes_schedule():
    assert [vanish_beta(e, 4) for e in (0, 1, 2, 3, 4, 9)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert vanish_beta(0.5, 2) == 0.75
    assert vanish_beta(0, 0) == 0.0
    x, y = blobs(n_per_class=20)
    hist = train(mlp([16, 8, 4], ["mam", "mac"]), x, y, epochs=4, vanish_epochs=2, batch_size=16)
    assert hist.beta == [0.5, 0.0, 0.0, 0.0]


def test_beta_one_is_pure_mac_and_zero_pure_mam():
    rng = np.random.default_rng(5)
    x = rng.random((9, 6), dtype=np.float32)
    mam = mlp([6, 5], ["mam"], seed=1)
    mac = MLP([Dense("mac", mam[0].weight, mam[0].bias)])
    assert np.allclose(forward(mam, x, beta=1.0), forward(mac, x))
    assert np.allclose(forward(mam, x, beta=0.0), mam_forward(x, mam[0].weight)[0] + mam[0].bias)
    mixed = forward(mam, x, beta=0.25)
    assert np.allclose(mixed, 0.75 * forward(mam, x, beta=0.0) + 0.25 * forward(mac, x), atol=1e-5)


def test_training_reduces_loss_and_is_deterministic():
    x, y = blobs()
    runs = []
    for _ in range(2):
        model = mlp([16, 12, 4], ["mam", "mac"], seed=7)
        hist = train(model, x, y, epochs=10, vanish_epochs=3, batch_size=32, lr=1e-2, seed=3)
        runs.append(model)
    assert hist.loss[-1] < 0.3 * hist.loss[0]
    assert accuracy(runs[0], x, y) > 0.9
    assert all(np.array_equal(a.weight, b.weight) for a, b in zip(runs[0], runs[1]))


def test_training_on_digits_reaches_sane_accuracy():
    xt, yt, xv, yv = digits_split()
    model = mlp([64, 64, 10], ["mam", "mac"], seed=0)
    hist = train(model, xt, yt, epochs=10, vanish_epochs=3, lr=5e-3, x_val=xv, y_val=yv, blas_threads=1)
    assert hist.loss[-1] < hist.loss[0]
    assert hist.val_acc[-1] > 0.88     # measured 0.936 with this seed


def test_bad_inputs_are_refused():
    model = mlp([4, 3], "mac")
    with pytest.raises(ContractError, match="training data"):
        train(model, np.zeros((5, 3)), np.zeros(5, dtype=int), epochs=1)
    with pytest.raises(ContractError, match="labels"):
        train(model, np.zeros((5, 4)), np.full(5, 3), epochs=1)
    with pytest.raises(ContractError, match="kind"):
        mlp([4, 3], ["max"])
    with pytest.raises(ContractError, match="layer 1 takes"):
        MLP([Dense("mac", np.zeros((3, 4)), np.zeros(3)), Dense("mac", np.zeros((2, 5)), np.zeros(2))])


def test_split_bounds_cut_as_mamtorch_does():
    # ceil(in / splits) inputs a slice, the last one the remainder.
    assert split_bounds(10, 1) == [(0, 10)]
    assert split_bounds(10, 3) == [(0, 4), (4, 8), (8, 10)]
    assert split_bounds(7, 2) == [(0, 4), (4, 7)]
    assert split_bounds(5, 5) == [(k, k + 1) for k in range(5)]
    with pytest.raises(ContractError, match="nonempty last"):
        split_bounds(9, 4)                  # slices of 3: 3 + 3 + 3 leaves nothing for the fourth
    with pytest.raises(ContractError, match="splits must be in 1..4"):
        split_bounds(4, 5)


@pytest.mark.parametrize("splits", [2, 3])
def test_split_mam_forward_is_the_sum_over_slices(splits):
    rng = np.random.default_rng(splits)
    x = rng.standard_normal((13, 11)).astype(np.float32)
    w = rng.standard_normal((6, 11)).astype(np.float32)
    w[0, :5] = 0.0                          # pruned weights compete within their own slice
    y, amax, amin = mam_forward(x, w, splits=splits, chunk_elements=17)
    width = -(-11 // splits)
    ref = np.zeros((13, 6))
    for a in range(0, 11, width):
        ref += brute_mam(x[:, a:a + width], w[:, a:a + width])[0]
    assert np.allclose(y, ref, rtol=1e-6, atol=1e-6)
    assert amax.shape == amin.shape == (13, 6, splits)
    for k, (a, b) in enumerate(split_bounds(11, splits)):
        assert np.all((amax[..., k] >= a) & (amax[..., k] < b)) and np.all((amin[..., k] >= a) & (amin[..., k] < b))


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_gradient_with_splits_and_relu_in_matches_finite_differences(beta):
    rng = np.random.default_rng(8)
    model = MLP([Dense("mam", rng.standard_normal((4, 7)), rng.standard_normal(4), relu=True, splits=3,
                       relu_in=True),
                 Dense("mam", rng.standard_normal((3, 4)), rng.standard_normal(3), splits=2, relu_in=True)])
    x = rng.standard_normal((6, 7)).astype(np.float32)
    assert_gradients_match_finite_differences(model, x, rng.integers(0, 3, size=6), beta)


def test_relu_in_clips_the_inputs_and_splits_need_a_mam_layer():
    w = np.array([[1.0, 2.0]], dtype=np.float32)
    x = np.array([[-3.0, 1.0]], dtype=np.float32)
    plain = MLP([Dense("mac", w, [0.0])])
    clipped = MLP([Dense("mac", w, [0.0], relu_in=True)])
    assert forward(plain, x).tolist() == [[-1.0]] and forward(clipped, x).tolist() == [[2.0]]
    assert Dense("mam", w, [0.0], splits=2).copy().splits == 2
    with pytest.raises(ContractError, match="needs a mam layer"):
        Dense("mac", w, [0.0], splits=2)
