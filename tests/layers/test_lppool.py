"""Lp pooling (deck 001): F.lp_pool2d, sum pooling at p=1, max pooling as p grows, gradcheck."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamina.functional.conv import lp_pool2d
from lamina.layers import LpPool2D
from tests.helpers import assert_matches_torch


def _numpy_window_sums(x: np.ndarray, k: int, s: int) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].sum(axis=(2, 3))
    return out


@pytest.mark.parametrize("p, positive", [(1, False), (2, False), (4, False), (3, True),
                                         (1.5, True)])
@pytest.mark.parametrize("k, s", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_lp_pool2d_matches_torch_values_and_grads(p, positive, k, s):
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    x = x.abs() + 0.1 if positive else x
    assert_matches_torch(lambda t: lp_pool2d(t, p, k, s), lambda t: F.lp_pool2d(t, p, k, s), x)
    layer = LpPool2D(p, k, s)
    assert_matches_torch(layer, lambda t: F.lp_pool2d(t, p, k, s), x)
    assert layer.compute_output_shape((3, 7, 8)) == tuple(layer(x).shape[1:])


@pytest.mark.parametrize("k, s", [(2, 2), (3, 1), (3, 2)])
def test_p1_is_sum_pooling_on_non_negative_inputs(k, s):
    x = torch.rand(2, 2, 7, 6, dtype=torch.float64)
    y = LpPool2D(1, k, s)(x)
    torch.testing.assert_close(y, torch.from_numpy(_numpy_window_sums(x.numpy(), k, s)))
    torch.testing.assert_close(y, F.avg_pool2d(x, k, s) * k * k)


def test_p2_is_the_euclidean_norm_of_each_window():
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    expected = torch.from_numpy(np.sqrt(_numpy_window_sums(x.numpy() ** 2, 2, 2)))
    torch.testing.assert_close(LpPool2D(2)(x), expected)


def test_large_p_approaches_max_pooling():
    """max <= (sum x^p)^(1/p) <= n^(1/p) max for x >= 0; at p = 64, within 1% here."""
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 2 + 0.5
    maxima = F.max_pool2d(x, 2)
    for p in (2, 8, 64):
        y = lp_pool2d(x, p, 2)
        assert (y >= maxima * (1 - 1e-12)).all() and (y <= maxima * 4 ** (1 / p) + 1e-12).all()
    torch.testing.assert_close(lp_pool2d(x, 64, 2), maxima, rtol=0.01, atol=0)
    torch.testing.assert_close(lp_pool2d(x, 256, 2), maxima, rtol=4 ** (1 / 256) - 1, atol=0)


def test_odd_p_sign_caveat_matches_torch():
    """Raw powers, as F.lp_pool2d: p=1 gives the signed sum, p=3 NaN on a negative sum."""
    x = torch.tensor([[[[-1.0, -2.0], [1.0, 0.5]]]], dtype=torch.float64)
    assert float(lp_pool2d(x, 1, 2)) == -1.5 == float(F.lp_pool2d(x, 1, 2))
    assert math.isnan(float(lp_pool2d(x, 3, 2))) and math.isnan(float(F.lp_pool2d(x, 3, 2)))


def test_lp_pool_gradcheck():
    x = (torch.rand(1, 2, 4, 5, dtype=torch.float64) + 0.2).requires_grad_()
    assert torch.autograd.gradcheck(LpPool2D(3, 2, 1), (x,))


def test_lp_pool_same_padding_adds_nothing_to_the_sums():
    x = torch.rand(1, 2, 5, 5, dtype=torch.float64)
    y = LpPool2D(2, 2, padding="same")(x)
    assert y.shape == (1, 2, 3, 3)
    torch.testing.assert_close(y, lp_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 2))


def test_lp_pool_config_repr_and_errors():
    layer = LpPool2D(3, 3, 2)
    assert layer.extra_repr() == "p=3, pool_size=(3, 3), strides=(2, 2)"
    assert LpPool2D.from_config(layer.get_config()).p == 3
    for p in (0, -1.0, float("inf"), "2"):
        with pytest.raises(ValueError, match=r"`p` of LpPool2D '\w+' must be a finite number > 0"):
            LpPool2D(p)
    with pytest.raises(ValueError, match=r"`padding` of LpPool2D '\w+' must be one of"):
        LpPool2D(2, padding="full")
