"""Small synthetic classification data for the training tests (no optional packages needed), and the digits split
the tests that do use the data extra share."""

import numpy as np
import pytest


def blobs(n_per_class=60, n_features=16, n_classes=4, seed=0, spread=0.12):
    """Gaussian clusters in [0, 1]^n_features: float32 x [n, features], int64 y; shuffled, deterministic."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.15, 0.85, size=(n_classes, n_features))
    x = np.concatenate([c + spread * rng.standard_normal((n_per_class, n_features)) for c in centers])
    y = np.repeat(np.arange(n_classes), n_per_class)
    order = rng.permutation(y.size)
    return np.clip(x[order], 0.0, 1.0).astype(np.float32), y[order].astype(np.int64)


def digits_split(val_fraction=0.25, seed=0):
    """scikit-learn's digits split stratified into (x_train, y_train, x_val, y_val); skips without the data extra."""
    pytest.importorskip("sklearn", reason="needs the data extra: pip install -e '.[data]'")
    from mamhw.model import datasets
    x, y = datasets.load_digits()
    return datasets.stratified_split(x, y, val_fraction, seed=seed)
