"""Composed segmentation scenes: shapes, the mask's agreement with the pixels, errors."""

import numpy as np
import pytest

import lamina as lm
from lamina.datasets.synthetic import scenes


def flat_source(classes=4, side=8):
    """Solid squares; class ``j`` has intensity ``(j + 2) / 10``, so a pixel tells its item."""
    images = np.stack([np.full((side, side), (j + 2) / 10, np.float32) for j in range(classes)])
    return images, np.arange(classes)


def test_shapes_dtypes_and_range():
    x, mask = scenes(5, size=32, items=(1, 3), source=flat_source(), seed=0)
    assert x.shape == (5, 1, 32, 32) and x.dtype == np.float32
    assert mask.shape == (5, 32, 32) and mask.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and 0 <= mask.min() and mask.max() <= 4


def test_mask_labels_each_pixel_with_its_items_class():
    # oracle: the visible item's intensity (j + 2) / 10 names its class j, mask = 1 + j
    x, mask = scenes(50, size=20, items=(2, 4), source=flat_source(), overlap=True, seed=1)
    expected = np.where(x[:, 0] > 0.1, np.rint(x[:, 0] * 10).astype(np.int64) - 1, 0)
    np.testing.assert_array_equal(mask, expected)


def test_item_count_without_overlap():
    # 8x8 solid squares placed apart on a 64x64 canvas: foreground = 64 pixels per item
    x, mask = scenes(40, size=64, items=(1, 3), source=flat_source(), seed=2)
    counts = (mask > 0).reshape(40, -1).sum(1)
    assert set(counts // 64) <= {1, 2, 3} and (counts % 64 == 0).all()
    assert len(set(counts // 64)) == 3


def test_faint_pixels_brighten_but_stay_background():
    images = np.zeros((1, 4, 4), np.uint8)
    images[0, 0, 0], images[0, 1, 1] = 255, 10   # 10 / 255 < threshold 0.1
    x, mask = scenes(1, size=4, items=1, source=(images, np.array([3])), seed=0)
    assert mask[0, 0, 0] == 4 and x[0, 0, 0, 0] == 1.0
    assert mask[0, 1, 1] == 0 and x[0, 0, 1, 1] == pytest.approx(10 / 255)


def test_seed_reproduces_and_source_is_not_modified():
    source = flat_source()
    before = source[0].copy()
    a, b = scenes(6, 32, source=source, seed=3), scenes(6, 32, source=source, seed=3)
    c = scenes(6, 32, source=source, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(source[0], before)


@pytest.mark.parametrize("kwargs, match", [
    ({"items": (0, 2)}, "`items`"),
    ({"items": (3, 2)}, "`items`"),
    ({"items": (1, 2, 3)}, "`items`"),
    ({"threshold": 1.0}, "`threshold`"),
    ({"size": 4}, "fit on the 4x4 canvas"),
    ({"source": (np.zeros((3, 8, 8)), np.zeros(2, np.int64))}, "images \\(M, h, w\\)"),
    ({"source": (np.zeros((3, 8, 8)), np.full(3, -1))}, "integers >= 0"),
    ({"source": np.zeros((3, 8, 8))}, "pair"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {"n": 2, "size": 16, "source": flat_source(), **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        scenes(**args)


def test_default_source_is_fashion_mnist():
    try:
        lm.datasets.fashion_mnist.load_data(verbose=False)
    except lm.datasets.DatasetNotFoundError:
        pytest.skip("Fashion-MNIST files are not available")
    x, mask = lm.datasets.synthetic.scenes(4, seed=0)
    assert x.shape == (4, 1, 64, 64) and mask.max() <= 10 and (mask > 0).any()
