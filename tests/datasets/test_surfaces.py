"""``lamina.datasets.surfaces``: the grids, the formulas at known points, the scalings."""

import math
import sys

import numpy as np
import pytest

from lamina.datasets import surfaces


def test_grid_is_row_major_with_y_along_rows():
    xy = surfaces.grid(3, (0.0, 2.0), (10.0, 12.0))
    assert xy.shape == (9, 2) and xy.dtype == np.float32
    np.testing.assert_array_equal(xy[:, 0].reshape(3, 3), [[0, 1, 2]] * 3)
    np.testing.assert_array_equal(xy[:, 1].reshape(3, 3), [[10] * 3, [11] * 3, [12] * 3])
    with pytest.raises(ValueError, match="n=1"):
        surfaces.grid(1, (0, 1), (0, 1))


def test_rosenbrock_values_and_standardization():
    xy, z = surfaces.rosenbrock(n=5, scale=None)
    assert xy.shape == (25, 2) and z.shape == (25, 1) and z.dtype == np.float32
    x, y = xy[:, 0].astype(float), xy[:, 1].astype(float)
    np.testing.assert_allclose(z[:, 0], 100 * (y - x ** 2) ** 2 + (1 - x) ** 2, rtol=1e-6)
    assert xy[:, 0].min() == -2 and xy[:, 0].max() == 2
    assert xy[:, 1].min() == -1 and xy[:, 1].max() == 3
    _, zs = surfaces.rosenbrock(n=5)
    np.testing.assert_allclose(zs[:, 0], (z[:, 0] - z.mean()) / z.std(), rtol=1e-5, atol=1e-6)
    _, zm = surfaces.rosenbrock(n=5, scale="minmax")
    assert zm.min() == pytest.approx(-1) and zm.max() == pytest.approx(1)
    with pytest.raises(ValueError, match="scale"):
        surfaces.rosenbrock(n=5, scale="log")


def test_sin_sin_on_a_half_period():
    xy, z = surfaces.sin_sin(n=7)
    assert xy.min() == pytest.approx(-math.pi / 2) and xy.max() == pytest.approx(math.pi / 2)
    np.testing.assert_allclose(z[:, 0], np.sin(xy[:, 0]) * np.sin(xy[:, 1]), atol=1e-6)
    assert z.shape == (49, 1) and abs(z).max() == pytest.approx(1.0)


def test_camera_image_is_the_resized_photograph():
    skimage_data = pytest.importorskip("skimage.data")
    xy, z = surfaces.image(size=24, source="camera", scale=None)
    assert xy.shape == (576, 2) and z.shape == (576, 1) and xy.dtype == z.dtype == np.float32
    assert xy.min() == -1 and xy.max() == 1
    # each pixel of the 24x24 picture is about the mean of its block of the 512x512 original
    original = skimage_data.camera().astype(float) / 255
    picture = z.reshape(24, 24)
    block = 512 / 24
    for i, j in [(3, 4), (12, 12), (20, 7)]:
        rows = slice(int(i * block), int((i + 1) * block))
        cols = slice(int(j * block), int((j + 1) * block))
        assert picture[i, j] == pytest.approx(original[rows, cols].mean(), abs=0.06)
    _, zs = surfaces.image(size=51)
    assert zs.shape == (2601, 1)
    assert abs(zs.mean()) < 1e-5 and zs.std() == pytest.approx(1, abs=1e-4)


def test_fashion_mnist_source(monkeypatch):
    items = np.zeros((3, 28, 28), np.uint8)
    items[1, :, 14:] = 255          # item 1: right half white
    fake = ((items, np.zeros(3)), (items, np.zeros(3)))
    monkeypatch.setattr(surfaces.fashion_mnist, "load_data", lambda verbose=False: fake)
    xy, z = surfaces.image(size=28, source="fashion_mnist", index=1, scale=None)
    picture = z.reshape(28, 28)
    np.testing.assert_allclose(picture[:, :13], 0, atol=1e-6)
    np.testing.assert_allclose(picture[:, 15:], 1, atol=1e-6)
    with pytest.raises(ValueError, match="source"):
        surfaces.image(source="lena")
    # without scikit-image, "auto" falls back to Fashion-MNIST (item 0: all black here)
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    np.testing.assert_array_equal(surfaces.image(size=8, scale=None)[1], 0)
    with pytest.raises(ImportError, match="source='fashion_mnist'"):
        surfaces.image(source="camera")
