"""Normalizations (deck 002): batch normalization and local contrast normalization."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina._validation import check_positive_int, check_probability
from lamina.errors import message
from lamina.functional.conv import local_contrast_norm
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["BatchNorm", "BatchNormalization", "LocalContrastNorm", "LocalContrastNormalization"]


class BatchNorm(Layer):
    """Batch normalization over the channel axis 1: ``y = gamma (x - mean) / sqrt(var + eps) + beta``.

    In training, mean and variance are the batch's (per channel, over batch and spatial
    axes) and running averages are updated; in ``eval()`` mode the running averages are used.
    Works on ``(N, C)``, ``(N, C, L)`` and ``(N, C, H, W)`` inputs.

    Args:
        momentum: weight of the new batch in the running averages, PyTorch's convention
            (Keras's ``momentum=0.99`` is PyTorch's ``0.01``). Defaults to 0.1.
        epsilon: added to the variance. Defaults to 1e-5.
        center: learn ``beta``. Defaults to True.
        scale: learn ``gamma``. Defaults to True.

    Example:
        >>> import torch
        >>> bn = BatchNorm()
        >>> y = bn(torch.randn(64, 3, 8, 8) * 5 + 2)
        >>> round(float(y.detach().mean()), 3) == 0.0
        True
    """

    #: A batch norm: it runs in inference mode inside a frozen layer (``trainable=False``).
    normalizes_batches = True

    def __init__(self, momentum: float = 0.1, epsilon: float = 1e-5, *, center: bool = True,
                 scale: bool = True, name: str | None = None):
        super().__init__(name=name)
        self.momentum = check_probability("momentum", momentum, f"BatchNorm '{self.name}'",
                                          inclusive_high=True)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.input_spec = InputSpec(min_ndim=1)
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        c = self.input_shape[0]
        self.weight = nn.Parameter(torch.empty(c)) if self.scale else None
        self.bias = nn.Parameter(torch.empty(c)) if self.center else None
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.input_spec = InputSpec(min_ndim=1, axes={0: c})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma = 1, beta = 0, running mean 0 and variance 1."""
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            self.num_batches_tracked.add_(1)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, **super().get_config()}

    def extra_repr(self) -> str:
        c = "?" if self.input_shape is None else self.input_shape[0]
        return f"{c}, momentum={self.momentum}, epsilon={self.epsilon}"


def _check_positive_number(name: str, value, owner: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(message(f"Argument `{name}` of {owner} must be a finite number > 0.",
                                 received=f"{name}={value!r} (type {type(value).__name__})"))
    return float(value)


class LocalContrastNorm(Layer):
    """Local contrast normalization (deck 002, LCN; Jarrett et al. 2009): ``y = v / max(c, sigma)``.

    Normalizes each pixel against a Gaussian neighbourhood taken across all channels: the
    subtractive step ``v = x - sum_{c,p,q} w_pq x`` removes the local mean, the divisive step
    divides by the local standard deviation ``sigma = sqrt(sum_{c,p,q} w_pq v^2)``, or by
    its per-image mean ``c`` where that is larger (so flat regions are not amplified).
    ``sum w = 1``; at the border the window is renormalized over the pixels inside the
    image, and ``sigma`` is floored at ``epsilon``. The maths is
    :func:`lamina.functional.conv.local_contrast_norm`. No weights.

    Args:
        kernel_size: odd side of the Gaussian window. Defaults to 9.
        sigma: its standard deviation in pixels. Defaults to ``kernel_size / 4``.
        epsilon: the floor of ``sigma``. Defaults to 1e-4.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, H, W)``.

    Example:
        >>> import torch
        >>> lcn = LocalContrastNorm(5)
        >>> y = lcn(torch.rand(2, 3, 16, 16) * 10 + 4)
        >>> y.shape, bool(y.mean().abs() < 0.1)
        (torch.Size([2, 3, 16, 16]), True)
    """

    def __init__(self, kernel_size: int = 9, sigma: float | None = None,
                 epsilon: float = 1e-4, *, name: str | None = None):
        super().__init__(name=name)
        owner = f"LocalContrastNorm '{self.name}'"
        self.kernel_size = check_positive_int("kernel_size", kernel_size, owner)
        if self.kernel_size % 2 == 0:
            raise ValueError(message(
                f"Argument `kernel_size` of {owner} must be odd, so the window has a centre.",
                received=f"kernel_size={kernel_size!r}", fix=f"Use {kernel_size + 1}."))
        self.sigma = None if sigma is None else _check_positive_number("sigma", sigma, owner)
        self.epsilon = _check_positive_number("epsilon", epsilon, owner)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return local_contrast_norm(x, self.kernel_size, self.sigma, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "sigma": self.sigma, "epsilon": self.epsilon,
                **super().get_config()}

    def extra_repr(self) -> str:
        parts = [f"kernel_size={self.kernel_size}"]
        if self.sigma is not None:
            parts.append(f"sigma={self.sigma}")
        if self.epsilon != 1e-4:
            parts.append(f"epsilon={self.epsilon}")
        return ", ".join(parts)


BatchNormalization = BatchNorm
LocalContrastNormalization = LocalContrastNorm
