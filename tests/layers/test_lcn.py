"""Local contrast normalization (deck 002; Jarrett et al. 2009) against a direct numpy loop."""

import numpy as np
import pytest
import torch

from lamina.functional.conv import gaussian_window, local_contrast_norm
from lamina.layers import LocalContrastNorm, LocalContrastNormalization


def _numpy_lcn(x: np.ndarray, k: int, sigma: float, eps: float) -> np.ndarray:
    """Jarrett et al.'s two steps, pixel by pixel, the window cut and renormalized at borders."""
    n, c, h, w = x.shape
    r = k // 2

    def local_sum(t, i, j):  # sum over channels and the in-image window of w * t
        total, mass = 0.0, 0.0
        for p in range(-r, r + 1):
            for q in range(-r, r + 1):
                if 0 <= i + p < h and 0 <= j + q < w:
                    g = np.exp(-(p * p + q * q) / (2 * sigma**2))
                    total += g * t[:, i + p, j + q].sum()
                    mass += g * c
        return total / mass

    y = np.empty_like(x)
    for b in range(n):
        v = np.empty_like(x[b])
        for i in range(h):
            for j in range(w):
                v[:, i, j] = x[b, :, i, j] - local_sum(x[b], i, j)
        sd = np.empty((h, w))
        for i in range(h):
            for j in range(w):
                sd[i, j] = np.sqrt(max(local_sum(v * v, i, j), eps**2))
        y[b] = v / np.maximum(sd.mean(), sd)
    return y


@pytest.mark.parametrize("k, sigma, size", [(3, 1.0, (4, 5)), (5, None, (5, 5)), (5, 0.7, (3, 6))])
def test_lcn_matches_direct_numpy_implementation(k, sigma, size):
    x = torch.randn(2, 3, *size, dtype=torch.float64) * 2 + 1
    x[1] *= 0.001  # a low-contrast sample: the per-image mean of sigma takes over
    expected = _numpy_lcn(x.numpy(), k, k / 4 if sigma is None else sigma, 1e-4)
    torch.testing.assert_close(local_contrast_norm(x, k, sigma), torch.from_numpy(expected))
    torch.testing.assert_close(LocalContrastNorm(k, sigma)(x), torch.from_numpy(expected))


def test_lcn_epsilon_floor_matches_numpy():
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64) * 1e-3
    expected = _numpy_lcn(x.numpy(), 3, 0.75, 0.5)
    torch.testing.assert_close(local_contrast_norm(x, 3, epsilon=0.5), torch.from_numpy(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("value", [0.0, 7.0, -0.3])
def test_lcn_of_a_constant_image_is_zero(dtype, value):
    y = LocalContrastNorm(5)(torch.full((2, 3, 6, 7), value, dtype=dtype))
    torch.testing.assert_close(y, torch.zeros_like(y), atol=1e-6, rtol=0)


def test_lcn_is_invariant_to_contrast_and_brightness():
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(local_contrast_norm(3.5 * x - 2.0, 5), local_contrast_norm(x, 5))


def test_lcn_gradcheck():
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: local_contrast_norm(t, 3), (x,))


def test_lcn_gradients_on_a_flat_image_are_finite():
    x = torch.ones(1, 2, 4, 4, requires_grad=True)
    LocalContrastNorm(3)(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_gaussian_window_is_normalized_and_symmetric():
    w = gaussian_window(5, 1.2, dtype=torch.float64)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(w, w.T)
    torch.testing.assert_close(w, w.flip(0))
    assert float(w[2, 3] / w[2, 2]) == pytest.approx(np.exp(-1 / (2 * 1.2**2)))


def test_lcn_layer_repr_config_and_errors():
    assert LocalContrastNormalization is LocalContrastNorm
    layer = LocalContrastNorm(7, sigma=2.0)
    assert layer.extra_repr() == "kernel_size=7, sigma=2.0"
    assert LocalContrastNorm.from_config(layer.get_config()).sigma == 2.0
    assert layer.build_shapes((3, 8, 8)) == (3, 8, 8)
    with pytest.raises(ValueError, match=r"`kernel_size` of LocalContrastNorm '\w+' must be odd.*"
                                         r"Use 5\."):
        LocalContrastNorm(4)
    for kwargs in ({"sigma": 0}, {"epsilon": -1.0}):
        with pytest.raises(ValueError, match=r"of LocalContrastNorm '\w+' must be a finite number"):
            LocalContrastNorm(3, **kwargs)
    with pytest.raises(ValueError, match=r"Layer 'lcn_a' expects input with 3 axes per sample"):
        LocalContrastNorm(name="lcn_a")(torch.zeros(2, 8))
