"""Pooling layers (the decks' "subsampling"): max and average over windows."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from lamina._shapes import pool_output_length, same_padding
from lamina._validation import check_int_tuple, check_option
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["MaxPool2D", "AvgPool2D", "MaxPooling2D", "AveragePooling2D"]


class _Pool2D(Layer):
    """Shared arguments and shape arithmetic of 2-D pooling."""

    def __init__(self, pool_size=2, strides=None, padding="valid", *, name: str | None = None):
        super().__init__(name=name)
        owner = f"{type(self).__name__} '{self.name}'"
        self.pool_size = check_int_tuple("pool_size", pool_size, 2, owner)
        self.strides = self.pool_size if strides is None else check_int_tuple(
            "strides", strides, 2, owner)
        self.padding = check_option("padding", padding, ("valid", "same"), owner)
        self.input_spec = InputSpec(ndim=3)
        self._pre_pad: tuple | None = None
        self._planned_for: tuple | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self._planned_for = tuple(self.input_shape[1:])
        self._pre_pad = self._plan_padding(self._planned_for)

    def _plan_padding(self, spatial: tuple) -> tuple | None:
        """F.pad's argument (last axis first) for ``"same"`` pooling of ``spatial``, or None."""
        if self.padding != "same":
            return None
        pads = [same_padding(n, k, s) for n, k, s in zip(spatial, self.pool_size, self.strides)]
        flat = tuple(p for pair in reversed(pads) for p in pair)
        return flat if any(flat) else None

    def _padding_for(self, x: Tensor) -> tuple | None:
        """The plan made at build, or a new one if ``x`` has another spatial size."""
        if self.padding == "same" and tuple(x.shape[2:]) != self._planned_for:
            return self._plan_padding(tuple(x.shape[2:]))
        return self._pre_pad

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, *spatial = input_shape
        if self.padding == "same":
            out = [-(-n // s) for n, s in zip(spatial, self.strides)]
        else:
            out = [pool_output_length(n, k, s) for n, k, s in
                   zip(spatial, self.pool_size, self.strides)]
        if min(out) < 1:
            raise ValueError(
                f"Layer '{self.name}' with pool_size={self.pool_size} cannot pool input of "
                f"per-sample shape {tuple(input_shape)}: the output would be empty.")
        return (c, *out)

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, **super().get_config()}

    def extra_repr(self) -> str:
        s = f"pool_size={self.pool_size}"
        if self.strides != self.pool_size:
            s += f", strides={self.strides}"
        return s + ("" if self.padding == "valid" else f", padding={self.padding!r}")


class MaxPool2D(_Pool2D):
    """Max pooling: the largest value of each ``pool_size`` window, every ``strides`` pixels.

    Args:
        pool_size: int or (ph, pw). Defaults to 2.
        strides: int or tuple. Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (pads with -inf so padding never wins).

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, floor((H - ph) / sh) + 1, ...)``; ``ceil(H / sh)`` with ``"same"``.

    Example:
        >>> import torch
        >>> MaxPool2D(2)(torch.arange(16.).reshape(1, 1, 4, 4))
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """

    def forward(self, x: Tensor) -> Tensor:
        pre_pad = self._padding_for(x)
        if pre_pad is not None:
            x = F.pad(x, pre_pad, value=float("-inf"))
        return F.max_pool2d(x, self.pool_size, self.strides)


class AvgPool2D(_Pool2D):
    """Average pooling: the mean of each ``pool_size`` window (LeNet's subsampling).

    With ``padding="same"`` the padded zeros are not counted in the mean, as in Keras.

    Args:
        pool_size: int or (ph, pw). Defaults to 2.
        strides: int or tuple. Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Example:
        >>> import torch
        >>> AvgPool2D(2)(torch.ones(1, 1, 4, 4)).shape
        torch.Size([1, 1, 2, 2])
    """

    def forward(self, x: Tensor) -> Tensor:
        pre_pad = self._padding_for(x)
        if pre_pad is None:
            return F.avg_pool2d(x, self.pool_size, self.strides)
        ones = x.new_ones((1, 1, *x.shape[2:]))
        total = F.avg_pool2d(F.pad(x, pre_pad), self.pool_size, self.strides)
        count = F.avg_pool2d(F.pad(ones, pre_pad), self.pool_size, self.strides)
        return total / count


MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
