"""lm.datasets.split: stratified proportions, disjoint parts, determined by the seed."""

import numpy as np
import pytest
import torch

import lamina as lm


def _data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.55, 0.25, 0.15, 0.05])
    x = np.arange(n * 2).reshape(n, 2)  # row i holds 2i, 2i + 1: the sample's identity
    return x, y


def test_parts_are_disjoint_cover_everything_and_keep_pairs():
    x, y = _data()
    parts = lm.datasets.split(x, y, validation=0.2, test=0.1)
    ids = [xp[:, 0] // 2 for xp, _ in parts]
    assert sum(len(i) for i in ids) == len(x)
    assert len(np.unique(np.concatenate(ids))) == len(x)
    for (_, yp), i in zip(parts, ids):
        np.testing.assert_array_equal(yp, y[i])  # labels travel with their samples


def test_stratified_proportions_per_class():
    x, y = _data()
    (xt, yt), (xv, yv), (xs, ys) = lm.datasets.split(x, y, validation=0.2, test=0.1)
    for c in range(4):
        n = int((y == c).sum())
        assert (ys == c).sum() == round(n * 0.1)
        assert (yv == c).sum() == round(n * 0.2)
        assert (yt == c).sum() == n - round(n * 0.1) - round(n * 0.2)


def test_one_hot_labels_and_tensors_and_no_labels():
    x, y = _data(200)
    onehot = lm.utils.to_categorical(y, 4)
    (_, a), _, (_, b) = lm.datasets.split(torch.from_numpy(x), onehot, seed=3)
    (_, c), _, (_, d) = lm.datasets.split(x, y, seed=3)
    np.testing.assert_array_equal(a.argmax(1), c)
    np.testing.assert_array_equal(b.argmax(1), d)
    train, val, test = lm.datasets.split(x, validation=0.25, test=0.25, stratify=False)
    assert (len(train), len(val), len(test)) == (100, 50, 50)


def test_deterministic_by_seed():
    x, y = _data()
    first = lm.datasets.split(x, y, seed=7)
    again = lm.datasets.split(x, y, seed=7)
    other = lm.datasets.split(x, y, seed=8)
    for (a, _), (b, _) in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2][0], other[2][0])


def test_errors():
    x, y = _data(10)
    with pytest.raises(ValueError, match="no training data"):
        lm.datasets.split(x, y, validation=0.5, test=0.5)
    with pytest.raises(ValueError, match="fraction"):
        lm.datasets.split(x, y, test=-0.1)
    with pytest.raises(ValueError, match="numbers of samples"):
        lm.datasets.split(x, y[:5])
