"""Synthetic data sets composed from real images: scenes for semantic segmentation.

- :func:`scenes`: small images (Fashion-MNIST items by default) pasted at random places on
  a larger black canvas, with the per-pixel class mask a segmentation net learns to
  predict (decks 002/003: fully convolutional nets and U-Net label every pixel).

Generators take ``seed`` (an int, ``None`` or a ``numpy.random.Generator``) and return numpy
arrays: ``float32`` images in ``[0, 1]``, ``int64`` masks.
"""

from __future__ import annotations

import numpy as np

from lamina._validation import check_positive_int
from lamina.datasets import fashion_mnist
from lamina.errors import message

__all__ = ["scenes"]


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_source(source, size: int):
    """``(images float32 (M, h, w) in [0, 1], labels int64 (M,))`` from the user's pair."""
    if source is None:
        source = fashion_mnist.load_data(verbose=False)[0]
    try:
        images, labels = source
    except (TypeError, ValueError):
        raise TypeError(message(
            "Argument `source` of scenes() must be a pair `(images, labels)`.",
            received=f"source of type {type(source).__name__}")) from None
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or labels.shape != images.shape[:1] or not len(images):
        raise ValueError(message(
            "Argument `source` of scenes() must hold images (M, h, w) and labels (M,), "
            "M >= 1.", received=f"images {images.shape}, labels {labels.shape}"))
    if max(images.shape[1:]) > size:
        raise ValueError(message(
            f"The source images must fit on the {size}x{size} canvas.",
            received=f"images of {images.shape[1]}x{images.shape[2]}",
            fix="Pass a larger `size` or smaller images."))
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(message("The source labels must be integers >= 0.",
                                 received=f"dtype {labels.dtype}, min {labels.min()}"))
    images = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else (
        images.astype(np.float32))
    return images, labels.astype(np.int64)


def _place(rng, size: int, h: int, w: int, boxes: list, overlap: bool, tries: int = 50):
    """Top-left corner of an ``h x w`` box; without ``overlap``, clear of ``boxes`` if possible."""
    for _ in range(1 if overlap else tries):
        top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        if all(top >= t + h or t >= top + h or left >= s + w or s >= left + w
               for t, s in boxes):
            break
    return int(top), int(left)


def scenes(n: int, size: int = 64, items=(1, 3), source=None, *, threshold: float = 0.1,
           overlap: bool = False, seed=None):
    """Scenes of small images pasted on a black canvas, with a per-pixel class mask.

    Each scene draws a number of items uniformly in ``items`` (inclusive), picks that many
    random source images and pastes them, in turn, at random places on a ``size x size``
    canvas of zeros. An item covers the canvas pixels where its intensity is above
    ``threshold`` (there the canvas takes the item's value and the mask ``1 + label``); its
    fainter pixels only brighten the canvas (``max``) and leave the mask alone. The mask is
    0 on the background, so there are ``1 + number of source classes`` classes. Without
    ``overlap``, each item's box is placed clear of the earlier ones when a free place is
    found in 50 random tries; otherwise later items hide earlier ones.

    Args:
        n: number of scenes.
        size: side of the square canvas. Defaults to 64.
        items: ``(min, max)`` items per scene, or one int. Defaults to ``(1, 3)``.
        source: ``(images, labels)``: images ``(M, h, w)`` (uint8 in ``[0, 255]`` or floats in
            ``[0, 1]``) with ``h, w <= size``, integer labels ``(M,)``. Defaults to the
            Fashion-MNIST training set (use its test set for test scenes).
        threshold: intensity in ``[0, 1)`` above which a pixel belongs to its item.
            Defaults to 0.1.
        overlap: let the items' boxes overlap freely. Defaults to False.
        seed: random seed or ``numpy.random.Generator``.

    Returns:
        ``x`` float32 ``(n, 1, size, size)`` in ``[0, 1]`` and ``mask`` int64 ``(n, size,
        size)``: 0 background, ``1 + label`` on each item's pixels.

    Raises:
        ValueError: on a malformed ``source``, items that do not fit, or bad counts.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> source = ((rng.random((5, 8, 8)) > 0.5) * 255).astype(np.uint8), np.arange(5)
        >>> x, mask = scenes(3, size=16, items=2, source=source, seed=0)
        >>> x.shape, x.dtype, mask.shape, mask.dtype
        ((3, 1, 16, 16), dtype('float32'), (3, 16, 16), dtype('int64'))
        >>> bool(((mask > 0) == (x[:, 0] > 0.1)).all()), int(mask.max()) <= 5
        (True, True)
    """
    n = check_positive_int("n", n, "scenes")
    size = check_positive_int("size", size, "scenes")
    try:
        low, high = (items, items) if isinstance(items, (int, np.integer)) else tuple(items)
    except (TypeError, ValueError):
        low, high = 0, 0
    if not 1 <= low <= high:
        raise ValueError(message(
            "Argument `items` of scenes() must be an int >= 1 or a pair (min, max) with "
            "1 <= min <= max.", received=f"items={items!r}"))
    if not 0.0 <= threshold < 1.0:
        raise ValueError(message("Argument `threshold` of scenes() must be in [0, 1).",
                                 received=f"threshold={threshold!r}"))
    images, labels = _check_source(source, size)
    rng = _rng(seed)
    h, w = images.shape[1:]
    x = np.zeros((n, size, size), np.float32)
    mask = np.zeros((n, size, size), np.int64)
    counts = rng.integers(low, high + 1, size=n)
    for i, k in enumerate(counts):
        boxes: list = []
        for j in rng.integers(0, len(images), size=k):
            top, left = _place(rng, size, h, w, boxes, overlap)
            boxes.append((top, left))
            item, window = images[j], np.s_[top:top + h, left:left + w]
            covered = item > threshold
            x[i][window] = np.where(covered, item, np.maximum(x[i][window], item))
            mask[i][window][covered] = 1 + labels[j]
    return x[:, None], mask
