"""Spatial reshaping of feature maps: ZeroPadding2D, Cropping2D, UpSampling2D."""

from __future__ import annotations

import numbers
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from lamina._validation import check_int_tuple, check_option
from lamina.errors import message
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["ZeroPadding2D", "Cropping2D", "UpSampling2D"]


def _pairs(name: str, value, owner: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Normalize Keras's 2-D padding/cropping spec to ``((top, bottom), (left, right))``.

    Accepts an int (all four sides), ``(rows, cols)`` (symmetric per axis), or
    ``((top, bottom), (left, right))``; every number an int >= 0.
    """
    def ok(v) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0

    if ok(value):
        return ((int(value),) * 2,) * 2
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(ok(v) for v in value):
            return tuple((int(v), int(v)) for v in value)
        if all(isinstance(v, (tuple, list)) and len(v) == 2 and all(ok(u) for u in v)
               for v in value):
            return tuple((int(a), int(b)) for a, b in value)
    raise ValueError(message(
        f"Argument `{name}` of {owner} must be an int, (rows, cols), or "
        f"((top, bottom), (left, right)), with integers >= 0.",
        received=f"{name}={value!r}"))


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each feature map.

    Args:
        padding: an int (all sides), ``(ph, pw)`` (top and bottom ``ph``, left and right
            ``pw``), or ``((top, bottom), (left, right))``. Defaults to 1.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, H + top + bottom, W + left + right)``.

    Example:
        >>> import torch
        >>> ZeroPadding2D(((1, 0), (0, 2)))(torch.ones(1, 1, 2, 2))
        tensor([[[[0., 0., 0., 0.],
                  [1., 1., 0., 0.],
                  [1., 1., 0., 0.]]]])
    """

    def __init__(self, padding=1, *, name: str | None = None):
        super().__init__(name=name)
        self.padding = _pairs("padding", padding, f"ZeroPadding2D '{self.name}'")
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, h, w = input_shape
        (top, bottom), (left, right) = self.padding
        return (c, h + top + bottom, w + left + right)

    def forward(self, x: Tensor) -> Tensor:
        (top, bottom), (left, right) = self.padding
        return F.pad(x, (left, right, top, bottom))

    def get_config(self) -> dict[str, Any]:
        return {"padding": [list(p) for p in self.padding], **super().get_config()}

    def extra_repr(self) -> str:
        return f"padding={self.padding}"


class Cropping2D(Layer):
    """Removes rows and columns at the borders of each feature map (U-Net's skip crops).

    Args:
        cropping: an int (all sides), ``(ch, cw)`` (top and bottom ``ch``, left and right
            ``cw``), or ``((top, bottom), (left, right))``. Defaults to 0.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, H - top - bottom, W - left - right)``.

    Example:
        >>> import torch
        >>> Cropping2D(((1, 0), (0, 2)))(torch.arange(16.).view(1, 1, 4, 4))
        tensor([[[[ 4.,  5.],
                  [ 8.,  9.],
                  [12., 13.]]]])
    """

    def __init__(self, cropping=0, *, name: str | None = None):
        super().__init__(name=name)
        self.cropping = _pairs("cropping", cropping, f"Cropping2D '{self.name}'")
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, h, w = input_shape
        (top, bottom), (left, right) = self.cropping
        out = (c, h - top - bottom, w - left - right)
        if min(out[1:]) < 1:
            raise ValueError(
                f"Layer '{self.name}' with cropping={self.cropping} would crop input of "
                f"per-sample shape {tuple(input_shape)} to nothing. Expected a crop smaller "
                f"than the input on each axis.")
        return out

    def forward(self, x: Tensor) -> Tensor:
        (top, bottom), (left, right) = self.cropping
        h, w = x.shape[-2:]
        return x[..., top:h - bottom, left:w - right]

    def get_config(self) -> dict[str, Any]:
        return {"cropping": [list(p) for p in self.cropping], **super().get_config()}

    def extra_repr(self) -> str:
        return f"cropping={self.cropping}"


class UpSampling2D(Layer):
    """Upsamples each feature map by integer factors (deck 002's "upsampling and convolution").

    ``"nearest"`` repeats each pixel ``sh x sw`` times; ``"bilinear"`` interpolates with
    half-pixel centres (``align_corners=False``), as Keras does.

    Args:
        size: int or (sh, sw), the upsampling factors. Defaults to 2.
        interpolation: ``"nearest"`` or ``"bilinear"``. Defaults to ``"nearest"``.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, H sh, W sw)``.

    Example:
        >>> import torch
        >>> UpSampling2D(2)(torch.tensor([[[[1.0, 2.0]]]]))
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """

    def __init__(self, size=2, interpolation: str = "nearest", *, name: str | None = None):
        super().__init__(name=name)
        owner = f"UpSampling2D '{self.name}'"
        self.size = check_int_tuple("size", size, 2, owner)
        self.interpolation = check_option("interpolation", interpolation,
                                          ("nearest", "bilinear"), owner)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, h, w = input_shape
        return (c, h * self.size[0], w * self.size[1])

    def forward(self, x: Tensor) -> Tensor:
        out = (x.shape[-2] * self.size[0], x.shape[-1] * self.size[1])
        if self.interpolation == "nearest":
            return F.interpolate(x, size=out, mode="nearest")
        return F.interpolate(x, size=out, mode="bilinear", align_corners=False)

    def get_config(self) -> dict[str, Any]:
        return {"size": list(self.size), "interpolation": self.interpolation,
                **super().get_config()}

    def extra_repr(self) -> str:
        s = f"size={self.size}"
        return s if self.interpolation == "nearest" else f"{s}, interpolation='bilinear'"
