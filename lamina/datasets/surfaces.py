"""Surfaces z = f(x, y) sampled on a grid: deck 004's "Interpolating a surface" data.

An MLP with two inputs and one output is fitted to ``(x, y) -> z`` over every point of an
``n x n`` grid (full batch). Each function returns ``(xy, z)``: ``xy`` float32 of shape
``(n * n, 2)`` and ``z`` float32 of shape ``(n * n, 1)``, in row-major grid order (``y``
along the rows, ``x`` along the columns), so ``z.reshape(n, n)`` is the surface as an image
(for :func:`image`, the picture itself, top row first).

The deck gives the formulas but neither the domains nor any scaling, so these are our
choices, each chosen so that a 2-n-1 tanh net has a well-posed problem of the size of the
deck's losses:

* :func:`rosenbrock`: ``z = 100 (y - x^2)^2 + (1 - x)^2`` on ``[-2, 2] x [-1, 3]`` (the
  usual view of the banana valley); raw ``z`` runs from 0 to about 2500, so it is
  standardized (zero mean, unit variance over the grid): a constant predictor then has a
  mean squared error of exactly 1.
* :func:`sin_sin`: ``z = sin(x) sin(y)`` on ``[-pi/2, pi/2]^2`` (one saddle, as
  ``sin x sin y ~ x y`` near 0; a full period would make four bumps), unscaled: ``z`` is
  already in ``[-1, 1]``, with variance 1/4.
* :func:`image`: a photograph's gray levels ``I = f(x, y)`` with ``x, y`` in ``[-1, 1]``,
  standardized like Rosenbrock's. The picture is scikit-image's bundled ``camera`` (the
  cameraman, 512x512) when scikit-image is installed, else a Fashion-MNIST test item,
  resized with antialiased bilinear interpolation to ``size x size`` (deck: 51x51 and
  24x24).

``scale=None`` returns the raw values; ``"standard"`` and ``"minmax"`` (to ``[-1, 1]``) are
the other choices.

Example:
    >>> from lamina.datasets import surfaces
    >>> xy, z = surfaces.sin_sin(n=5)
    >>> xy.shape, z.shape, xy.dtype
    ((25, 2), (25, 1), dtype('float32'))
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from lamina._validation import check_option, check_positive_int
from lamina.datasets import fashion_mnist
from lamina.errors import message

__all__ = ["grid", "rosenbrock", "sin_sin", "image", "rescale", "SCALES", "IMAGE_SOURCES"]

#: The ``scale=`` choices: None (raw), zero mean and unit variance, or ``[-1, 1]``.
SCALES = (None, "standard", "minmax")
#: ``image(source=...)``: ``"auto"`` is ``"camera"`` with scikit-image, else
#: ``"fashion_mnist"``; the other names are scikit-image's bundled gray photographs.
IMAGE_SOURCES = ("auto", "camera", "coins", "moon", "page", "fashion_mnist")


def grid(n: int, xlim: tuple[float, float], ylim: tuple[float, float]) -> np.ndarray:
    """The ``n x n`` grid's points ``(x, y)``, row-major with ``y`` along the rows.

    Args:
        n: points per side (>= 2); both ends of each range are included.
        xlim: ``(x_min, x_max)``.
        ylim: ``(y_min, y_max)``.

    Returns:
        float32 array of shape ``(n * n, 2)``.

    Example:
        >>> grid(2, (0, 1), (5, 6)).tolist()
        [[0.0, 5.0], [1.0, 5.0], [0.0, 6.0], [1.0, 6.0]]
    """
    n = check_positive_int("n", n, "grid()")
    if n < 2:
        raise ValueError(message("Argument `n` of a surface grid must be >= 2.",
                                 received=f"n={n}"))
    xs = np.linspace(xlim[0], xlim[1], n)
    ys = np.linspace(ylim[0], ylim[1], n)
    gx, gy = np.meshgrid(xs, ys)  # gx[i, j] = xs[j], gy[i, j] = ys[i]
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def rescale(z: np.ndarray, scale: str | None) -> np.ndarray:
    """``z`` standardized (``(z - mean) / std``), mapped to ``[-1, 1]``, or unchanged.

    Args:
        z: values of a surface.
        scale: ``"standard"``, ``"minmax"`` or None.

    Returns:
        float32 column of shape ``(len, 1)``.

    Example:
        >>> rescale(np.array([0.0, 5.0, 10.0]), "minmax").ravel().tolist()
        [-1.0, 0.0, 1.0]
    """
    if scale is not None:
        scale = check_option("scale", scale, ("standard", "minmax"), "a surface")
    z = np.asarray(z, dtype=np.float64).reshape(-1, 1)
    if scale == "standard":
        z = (z - z.mean()) / z.std()
    elif scale == "minmax":
        z = 2.0 * (z - z.min()) / (z.max() - z.min()) - 1.0
    return z.astype(np.float32)


def rosenbrock(n: int = 51, *, xlim=(-2.0, 2.0), ylim=(-1.0, 3.0),
               scale: str | None = "standard") -> tuple[np.ndarray, np.ndarray]:
    """Rosenbrock's valley ``z = 100 (y - x^2)^2 + (1 - x)^2`` on an ``n x n`` grid.

    Args:
        n: grid points per side. Defaults to 51 (2601 points, as many as the deck's image).
        xlim: x range. Defaults to ``(-2, 2)``.
        ylim: y range. Defaults to ``(-1, 3)``.
        scale: ``"standard"`` (default: zero mean, unit variance), ``"minmax"`` or None.

    Returns:
        ``(xy, z)``: float32 arrays of shapes ``(n * n, 2)`` and ``(n * n, 1)``.

    Example:
        >>> xy, z = rosenbrock(n=3, scale=None)
        >>> xy[4].tolist(), float(z[4, 0])   # (0, 1): 100 * 1 + 1
        ([0.0, 1.0], 101.0)
    """
    xy = grid(n, xlim, ylim).astype(np.float64)
    x, y = xy[:, 0], xy[:, 1]
    z = 100.0 * (y - x ** 2) ** 2 + (1.0 - x) ** 2
    return xy.astype(np.float32), rescale(z, scale)


def sin_sin(n: int = 51, *, xlim=(-math.pi / 2, math.pi / 2), ylim=(-math.pi / 2, math.pi / 2),
            scale: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``z = sin(x) sin(y)`` on an ``n x n`` grid.

    Args:
        n: grid points per side. Defaults to 51.
        xlim: x range. Defaults to ``(-pi/2, pi/2)``.
        ylim: y range. Defaults to ``(-pi/2, pi/2)``.
        scale: None (default: ``z`` is already in ``[-1, 1]``), ``"standard"`` or
            ``"minmax"``.

    Returns:
        ``(xy, z)``: float32 arrays of shapes ``(n * n, 2)`` and ``(n * n, 1)``.

    Example:
        >>> xy, z = sin_sin(n=3)
        >>> z.ravel()[[0, 2, 4, 8]].round(3).tolist()   # corners and the centre
        [1.0, -1.0, 0.0, 1.0]
    """
    xy = grid(n, xlim, ylim).astype(np.float64)
    z = np.sin(xy[:, 0]) * np.sin(xy[:, 1])
    return xy.astype(np.float32), rescale(z, scale)


def _photograph(source: str, index: int) -> np.ndarray:
    """The gray picture as float64 in [0, 1], shape (H, W)."""
    if source == "auto":
        try:
            import skimage.data  # noqa: F401  (optional: installed with the dev extra)
            source = "camera"
        except ImportError:
            source = "fashion_mnist"
    if source == "fashion_mnist":
        images = fashion_mnist.load_data(verbose=False)[1][0]
        return images[int(index)].astype(np.float64) / 255.0
    try:
        import skimage.data
    except ImportError:
        raise ImportError(message(
            f"image(source={source!r}) needs scikit-image, which is not installed.",
            fix="`pip install scikit-image`, or pass source='fashion_mnist'.")) from None
    picture = getattr(skimage.data, source)()
    return np.asarray(picture, dtype=np.float64) / 255.0


def image(size: int = 51, *, source: str = "auto", index: int = 0,
          scale: str | None = "standard") -> tuple[np.ndarray, np.ndarray]:
    """A photograph as a surface ``I = f(x, y)``: gray level against pixel position.

    Args:
        size: the picture is resized to ``size x size`` (antialiased bilinear). Defaults to
            51 (the deck's 2601 gray levels; 24 gives its 576).
        source: ``"auto"`` (default): scikit-image's ``camera`` photograph when
            scikit-image is installed, else Fashion-MNIST test item ``index``; or one of
            ``"camera"``, ``"coins"``, ``"moon"``, ``"page"`` (scikit-image's) or
            ``"fashion_mnist"``.
        index: which Fashion-MNIST test item, for that source. Defaults to 0.
        scale: ``"standard"`` (default: zero mean, unit variance), ``"minmax"`` or None
            (gray levels in ``[0, 1]``).

    Returns:
        ``(xy, z)``: float32 arrays of shapes ``(size * size, 2)`` and ``(size * size, 1)``;
        ``x`` (column) and ``y`` (row, top first) in ``[-1, 1]``.

    Raises:
        ImportError: a scikit-image source without scikit-image.

    Example:
        >>> xy, z = image(size=24)
        >>> z.shape, round(abs(float(z.mean())), 4), round(float(z.std()), 4)
        ((576, 1), 0.0, 1.0)
    """
    size = check_positive_int("size", size, "image()")
    source = check_option("source", source, IMAGE_SOURCES, "image()")
    picture = torch.from_numpy(_photograph(source, index))[None, None]
    small = F.interpolate(picture, size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)[0, 0].numpy()
    xy = grid(size, (-1.0, 1.0), (-1.0, 1.0))
    return xy, rescale(small.clip(0.0, 1.0), scale)
