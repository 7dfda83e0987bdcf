"""ZeroPadding2D, Cropping2D and UpSampling2D against numpy, F.pad and closed forms."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamina.layers import Cropping2D, UpSampling2D, ZeroPadding2D
from tests.helpers import assert_matches_torch

# Keras's three spellings -> ((top, bottom), (left, right))
SPECS = [(1, ((1, 1), (1, 1))), ((2, 1), ((2, 2), (1, 1))), (((1, 0), (0, 2)), ((1, 0), (0, 2))),
         ([[0, 3], [2, 1]], ((0, 3), (2, 1)))]


@pytest.mark.parametrize("spec, sides", SPECS)
def test_zero_padding_matches_numpy_pad(spec, sides):
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    layer = ZeroPadding2D(spec)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), *sides))
    np.testing.assert_array_equal(layer(x).numpy(), expected)
    assert layer.build_shapes((3, 4, 5)) == expected.shape[1:]
    (top, bottom), (left, right) = sides
    assert_matches_torch(layer, lambda t: F.pad(t, (left, right, top, bottom)), x)


@pytest.mark.parametrize("spec, sides", SPECS)
def test_cropping_matches_numpy_slicing_and_undoes_padding(spec, sides):
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    (top, bottom), (left, right) = sides
    layer = Cropping2D(spec)
    expected = x.numpy()[:, :, top:7 - bottom, left:8 - right]
    np.testing.assert_array_equal(layer(x).numpy(), expected)
    assert layer.build_shapes((3, 7, 8)) == expected.shape[1:]
    torch.testing.assert_close(Cropping2D(spec)(ZeroPadding2D(spec)(x)), x, rtol=0, atol=0)


def test_padding_and_cropping_defaults_and_repr():
    assert ZeroPadding2D().padding == ((1, 1), (1, 1))
    assert Cropping2D().cropping == ((0, 0), (0, 0))
    assert ZeroPadding2D((2, 1)).extra_repr() == "padding=((2, 2), (1, 1))"
    assert ZeroPadding2D.from_config(ZeroPadding2D(((1, 0), (0, 2))).get_config()).padding == (
        (1, 0), (0, 2))


def _numpy_bilinear_half_pixel(x: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres: source = (dst + 0.5) / s - 0.5, clamped."""
    def taps(n_in, s):
        rows = []
        for d in range(n_in * s):
            src = max((d + 0.5) / s - 0.5, 0.0)
            i0 = min(int(np.floor(src)), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            rows.append((i0, i1, src - i0))
        return rows

    n, c, h, w = x.shape
    out = np.empty((n, c, h * sh, w * sw))
    for i, (r0, r1, a) in enumerate(taps(h, sh)):
        for j, (c0, c1, b) in enumerate(taps(w, sw)):
            out[:, :, i, j] = ((1 - a) * (1 - b) * x[:, :, r0, c0] + (1 - a) * b * x[:, :, r0, c1]
                               + a * (1 - b) * x[:, :, r1, c0] + a * b * x[:, :, r1, c1])
    return out


@pytest.mark.parametrize("size", [2, (3, 2), (1, 3)])
def test_nearest_upsampling_repeats_each_pixel(size):
    sh, sw = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, 3, 3, 4, dtype=torch.float64)
    layer = UpSampling2D(size)
    assert_matches_torch(layer, lambda t: t.repeat_interleave(sh, 2).repeat_interleave(sw, 3), x)
    assert layer.build_shapes((3, 3, 4)) == (3, 3 * sh, 4 * sw)


@pytest.mark.parametrize("size", [2, (3, 2)])
def test_bilinear_upsampling_matches_half_pixel_numpy(size):
    sh, sw = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, 2, 3, 4, dtype=torch.float64)
    y = UpSampling2D(size, interpolation="bilinear")(x)
    np.testing.assert_allclose(y.numpy(), _numpy_bilinear_half_pixel(x.numpy(), sh, sw),
                               rtol=1e-12, atol=1e-12)


def test_bilinear_upsampling_gradcheck_and_repr():
    layer = UpSampling2D(2, "bilinear")
    x = torch.randn(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    assert layer.extra_repr() == "size=(2, 2), interpolation='bilinear'"
    assert UpSampling2D().extra_repr() == "size=(2, 2)"


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [-1, (1, 2, 3), ((1, 2), 3), 1.5, ((1, -1), (0, 0))])
def test_bad_padding_spec_names_the_layer(spec):
    with pytest.raises(ValueError, match=r"`padding` of ZeroPadding2D 'pad_a' must be an int, "
                                         r"\(rows, cols\), or \(\(top, bottom\), "
                                         r"\(left, right\)\)"):
        ZeroPadding2D(spec, name="pad_a")
    with pytest.raises(ValueError, match=r"`cropping` of Cropping2D '\w+' must be an int"):
        Cropping2D(spec)


def test_cropping_everything_is_an_error():
    with pytest.raises(ValueError, match=r"Layer 'crop_a' with cropping=\(\(2, 2\), \(0, 0\)\) "
                                         r"would crop input of per-sample shape \(1, 4, 4\) to "
                                         r"nothing"):
        Cropping2D((2, 0), name="crop_a").build_shapes((1, 4, 4))


def test_upsampling_bad_interpolation_names_the_layer():
    with pytest.raises(ValueError, match=r"`interpolation` of UpSampling2D 'up_a' must be one of "
                                         r"'nearest', 'bilinear'\. Received: interpolation="
                                         r"'bicubic'"):
        UpSampling2D(2, "bicubic", name="up_a")
