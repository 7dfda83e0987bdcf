"""Batch normalization."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina._validation import check_probability
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["BatchNorm", "BatchNormalization"]


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


BatchNormalization = BatchNorm
