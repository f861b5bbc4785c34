"""Small synthetic classification data for the training tests (no optional packages needed)."""

import numpy as np


def blobs(n_per_class=60, n_features=16, n_classes=4, seed=0, spread=0.12):
    """Gaussian clusters in [0, 1]^n_features: float32 x [n, features], int64 y; shuffled, deterministic."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.15, 0.85, size=(n_classes, n_features))
    x = np.concatenate([c + spread * rng.standard_normal((n_per_class, n_features)) for c in centers])
    y = np.repeat(np.arange(n_classes), n_per_class)
    order = rng.permutation(y.size)
    return np.clip(x[order], 0.0, 1.0).astype(np.float32), y[order].astype(np.int64)
