"""Geometric transforms: crops, flips, shifts, rotations (index gathers and ``grid_sample``)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina._validation import check_nonnegative_int, check_option
from lamina.augment._base import (
    Transform,
    _as_nchw,
    _check_fraction_pair,
    _check_number,
    _check_range,
)

__all__ = ["translate", "affine", "RandomCrop", "RandomFlip", "RandomTranslation",
           "RandomAffine", "RandomRotation"]


def translate(x: Tensor, dy, dx, fill: float = 0.0) -> Tensor:
    """Shift each image by whole pixels, filling the uncovered border with ``fill``.

    ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]`` where that pixel exists, else
    ``fill``: positive ``dy`` moves the content down, positive ``dx`` to the right.

    Args:
        x: images ``(N, ..., H, W)``.
        dy: vertical shifts, an int or an integer tensor ``(N,)``.
        dx: horizontal shifts, an int or an integer tensor ``(N,)``.
        fill: value of the uncovered pixels. Defaults to 0.

    Returns:
        The shifted images, a new tensor shaped like ``x``.

    Example:
        >>> import torch
        >>> translate(torch.arange(1., 10.).reshape(1, 1, 3, 3), 1, -1)
        tensor([[[[0., 0., 0.],
                  [2., 3., 0.],
                  [5., 6., 0.]]]])
    """
    flat = _as_nchw(x, "translate")
    n, _, h, w = flat.shape
    dy = torch.as_tensor(dy, device=x.device).long().expand(n)
    dx = torch.as_tensor(dx, device=x.device).long().expand(n)
    rows = torch.arange(h, device=x.device) - dy[:, None]          # (N, H) source rows
    cols = torch.arange(w, device=x.device) - dx[:, None]          # (N, W) source columns
    inside = (((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :])
    # one gather over flattened images: ~3x faster than 4-d advanced indexing on CPU
    index = rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]
    index = index.reshape(n, 1, h * w).expand(-1, flat.shape[1], -1)
    out = flat.flatten(2).gather(2, index).reshape(flat.shape)
    out = torch.where(inside[:, None], out, torch.as_tensor(fill, dtype=x.dtype, device=x.device))
    return out.reshape(x.shape)


def affine(x: Tensor, degrees=0.0, shift=(0.0, 0.0), scale=1.0, fill: float = 0.0) -> Tensor:
    """Rotate, scale and shift each image about its centre, with bilinear interpolation.

    One ``affine_grid`` + ``grid_sample`` for the whole batch (``align_corners=False``, so
    pixel centres map to pixel centres: 0 and 90 degree rotations of a square image are
    exact up to rounding). Areas that come from outside the image get ``fill``.

    Args:
        x: float images ``(N, ..., H, W)``.
        degrees: counter-clockwise rotation (as the image is displayed, row 0 on top), a
            number or a tensor ``(N,)``. Defaults to 0.
        shift: ``(dy, dx)`` in pixels (down, right), numbers or tensors ``(N,)``.
            Defaults to no shift.
        scale: zoom factor (> 1 enlarges), a number or a tensor ``(N,)``. Defaults to 1.
        fill: value outside the source image. Defaults to 0.

    Returns:
        The transformed images, shaped like ``x``.

    Example:
        >>> import torch
        >>> x = torch.arange(4.).reshape(1, 1, 2, 2)
        >>> torch.allclose(affine(x, degrees=90), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)
        True
    """
    flat = _as_nchw(x, "affine", floating=True)
    n, _, h, w = flat.shape

    def per_sample(value):
        return torch.as_tensor(value, dtype=x.dtype, device=x.device).expand(n)

    theta = torch.deg2rad(per_sample(degrees))
    cos, sin, s = torch.cos(theta), torch.sin(theta), per_sample(scale)
    dy, dx = per_sample(shift[0]), per_sample(shift[1])
    # output pixel q samples the input at M^-1 (q - t), M = s R(theta), in pixel units
    # (y down, so a visual counter-clockwise turn is R(-theta) in (x, y)); then normalized
    # coordinates: x_n = x_pix / (W / 2), y_n = y_pix / (H / 2).
    a11, a12, a21, a22 = cos / s, -sin / s * (h / w), sin / s * (w / h), cos / s
    tx, ty = 2 * dx / w, 2 * dy / h
    mat = torch.stack([
        torch.stack([a11, a12, -(a11 * tx + a12 * ty)], -1),
        torch.stack([a21, a22, -(a21 * tx + a22 * ty)], -1)], 1)
    grid = F.affine_grid(mat, list(flat.shape), align_corners=False)
    out = F.grid_sample(flat - fill, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False) + fill
    return out.reshape(x.shape)



class RandomCrop(Transform):
    """Pad each image by ``padding`` pixels, then crop an ``H x W`` window at a random place.

    The classic CIFAR augmentation (pad 4, crop 32). Each sample gets its own offset, uniform
    over the ``(2 padding + 1)^2`` possible ones; the padded border is ``fill``. With
    ``padding=0`` it is the identity.

    Args:
        padding: pixels added on each side (>= 0). Defaults to 4.
        fill: value of the padding. Defaults to 0.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> RandomCrop(2)(torch.rand(8, 1, 28, 28)).shape
        torch.Size([8, 1, 28, 28])
    """

    def __init__(self, padding: int = 4, fill: float = 0.0, *, generator=None):
        super().__init__(generator=generator)
        self.padding = check_nonnegative_int("padding", padding, "RandomCrop")
        self.fill = _check_number("fill", fill, "RandomCrop")

    def apply(self, x: Tensor) -> Tensor:
        if self.padding == 0:
            return x
        shifts = self.randint(-self.padding, self.padding, 2, x.shape[0], like=x)
        return translate(x, shifts[0], shifts[1], self.fill)

    def get_config(self) -> dict[str, Any]:
        return {"padding": self.padding, "fill": self.fill}


class RandomFlip(Transform):
    """Mirror images left-right and/or upside down, each sample with probability ``p``.

    Args:
        mode: ``"horizontal"`` (left-right), ``"vertical"`` (upside down) or
            ``"horizontal_and_vertical"`` (each axis with its own coin). Defaults to
            ``"horizontal"``.
        p: probability of flipping (per sample and axis). Defaults to 0.5.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> x = torch.arange(4.).reshape(1, 1, 2, 2)
        >>> RandomFlip(p=1.0)(x)
        tensor([[[[1., 0.],
                  [3., 2.]]]])
    """

    def __init__(self, mode: str = "horizontal", p: float = 0.5, *, generator=None):
        super().__init__(p=p, generator=generator)
        self.mode = check_option("mode", mode, ("horizontal", "vertical",
                                                "horizontal_and_vertical"), "RandomFlip")

    def __call__(self, x: Tensor) -> Tensor:
        flat = _as_nchw(x, "RandomFlip")
        out = flat
        for axis, on in ((-1, "horizontal"), (-2, "vertical")):
            if on in self.mode and self.p > 0:
                coin = self.rand(flat.shape[0], like=flat) < self.p
                out = torch.where(coin[:, None, None, None], out.flip(axis), out)
        return out.reshape(x.shape)

    def get_config(self) -> dict[str, Any]:
        return {"mode": self.mode, "p": self.p}



class RandomAffine(Transform):
    """Random rotation, shift and zoom about the centre, in one batched ``grid_sample``.

    Each sample draws an angle uniform in ``[-max_degrees, max_degrees]``, a shift uniform
    in ``[-max_shift H, max_shift H] x [-max_shift W, max_shift W]`` pixels (not rounded)
    and a zoom uniform in ``scale``; see :func:`affine`.

    Args:
        max_degrees: largest rotation, in degrees. Defaults to 0.
        max_shift: largest shift, as a fraction of the height and width (a number, or
            ``(fy, fx)``). Defaults to 0.
        scale: ``(low, high)`` zoom range, or None for no zoom. Defaults to None.
        fill: value of areas that come from outside the image. Defaults to 0.
        p: probability that a given sample is transformed. Defaults to 1.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> RandomAffine(15, max_shift=0.1, scale=(0.9, 1.1))(torch.rand(4, 3, 8, 8)).shape
        torch.Size([4, 3, 8, 8])
    """

    needs_float = True

    def __init__(self, max_degrees: float = 0.0, max_shift=0.0, scale=None, fill: float = 0.0,
                 *, p: float = 1.0, generator=None):
        super().__init__(p=p, generator=generator)
        owner = type(self).__name__
        self.max_degrees = _check_number("max_degrees", max_degrees, owner, minimum=0.0)
        self.max_shift = _check_fraction_pair("max_shift", max_shift, owner)
        if scale is not None:
            scale = _check_range("scale", scale, owner, minimum=1e-6, maximum=math.inf)
        self.scale = scale
        self.fill = _check_number("fill", fill, owner)

    def apply(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        degrees = self.uniform(-self.max_degrees, self.max_degrees, n, like=x)
        fy, fx = self.max_shift
        shift = (0.0, 0.0) if fy == fx == 0.0 else (
            self.uniform(-fy * h, fy * h, n, like=x), self.uniform(-fx * w, fx * w, n, like=x))
        scale = 1.0 if self.scale is None else self.uniform(*self.scale, n, like=x)
        return affine(x, degrees, shift, scale, self.fill)

    def get_config(self) -> dict[str, Any]:
        return {"max_degrees": self.max_degrees, "max_shift": self.max_shift,
                "scale": self.scale, "fill": self.fill, "p": self.p}


class RandomRotation(RandomAffine):
    """Rotate each image about its centre by an angle uniform in ``[-max_degrees, max_degrees]``.

    Bilinear interpolation; corners that come from outside the image get ``fill``.

    Args:
        max_degrees: largest rotation, in degrees (>= 0). Defaults to 10.
        fill: value of the uncovered corners. Defaults to 0.
        p: probability that a given sample is rotated. Defaults to 1.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> x = torch.rand(4, 1, 5, 5)
        >>> torch.allclose(RandomRotation(0.0)(x), x, atol=1e-6)
        True
    """

    def __init__(self, max_degrees: float = 10.0, fill: float = 0.0, *, p: float = 1.0,
                 generator=None):
        super().__init__(max_degrees, fill=fill, p=p, generator=generator)

    def get_config(self) -> dict[str, Any]:
        return {"max_degrees": self.max_degrees, "fill": self.fill, "p": self.p}


class RandomTranslation(Transform):
    """Shift each image by a random whole number of pixels, filling the border with ``fill``.

    The shift is uniform over the integers in ``[-round(max_shift H), round(max_shift H)]``
    (and likewise for the width); see :func:`translate`.

    Args:
        max_shift: largest shift as a fraction of the size (a number, or ``(fy, fx)``).
            Defaults to 0.1.
        fill: value of the uncovered border. Defaults to 0.
        p: probability that a given sample is shifted. Defaults to 1.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> RandomTranslation(0.1)(torch.rand(4, 1, 28, 28)).shape  # shifts up to 3 pixels
        torch.Size([4, 1, 28, 28])
    """

    def __init__(self, max_shift=0.1, fill: float = 0.0, *, p: float = 1.0, generator=None):
        super().__init__(p=p, generator=generator)
        self.max_shift = _check_fraction_pair("max_shift", max_shift, "RandomTranslation")
        self.fill = _check_number("fill", fill, "RandomTranslation")

    def apply(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        my, mx = round(self.max_shift[0] * h), round(self.max_shift[1] * w)
        return translate(x, self.randint(-my, my, n, like=x), self.randint(-mx, mx, n, like=x),
                         self.fill)

    def get_config(self) -> dict[str, Any]:
        return {"max_shift": self.max_shift, "fill": self.fill, "p": self.p}
