"""Core layers: Dense, Activation, Flatten, Reshape, Dropout."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina import activations
from lamina._validation import check_positive_int, check_probability
from lamina.errors import message
from lamina.layers._activated import ActivatedLayer
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["Dense", "Activation", "Flatten", "Reshape", "Dropout"]


class Dense(ActivatedLayer):
    """Fully connected layer: ``y = f(x W^T + b)``, applied to the last axis.

    The deck's summing neuron ``O_j = f(W_0j + sum_i W_ij e_i)`` for ``units`` neurons at
    once. The input size is inferred when the layer is built.

    Args:
        units: number of output neurons (>= 1).
        activation: name or callable (``"relu"``, ``"sigmoid"``, ...). Defaults to identity.
        use_bias: add the bias ``b``. Defaults to True.
        kernel_initializer: initializer of ``W``. Defaults to ``"glorot_uniform"``.
        bias_initializer: initializer of ``b``. Defaults to ``"zeros"``.
        kernel_regularizer: penalty on ``W`` added to the loss (``lm.regularizers.l2(1e-4)``).
        bias_regularizer: penalty on ``b``.
        activity_regularizer: penalty on the layer's output (per-sample mean).
        name: layer name.

    Input shape:
        ``(N, ..., in_features)``.
    Output shape:
        ``(N, ..., units)``.

    Example:
        >>> import torch
        >>> dense = Dense(4, activation="relu")
        >>> dense(torch.ones(2, 3)).shape
        torch.Size([2, 4])
    """

    def __init__(self, units: int, activation=None, *, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 name: str | None = None):
        super().__init__(activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, name=name)
        self.units = check_positive_int("units", units, f"Dense '{self.name}'")
        self.input_spec = InputSpec(min_ndim=1)
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        in_features = self.input_shape[-1]
        self.weight = nn.Parameter(torch.empty(self.units, in_features))
        self.bias = nn.Parameter(torch.empty(self.units)) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=1, axes={-1: in_features},
                                    hint="Check the layer before it (a missing Flatten?).")
        self.reset_parameters()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def preactivation(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, **super().get_config()}

    def extra_repr(self) -> str:
        in_f = "?" if self.weight is None else self.weight.shape[1]
        bias = "" if self.use_bias else ", use_bias=False"
        return f"{in_f} -> {self.units}{self._activation_repr()}{bias}"


class Activation(Layer):
    """Applies an activation function element-wise (softmax over the last axis).

    Args:
        activation: a name from ``lamina.activations`` (``"threshold"``, ``"sign"``,
            ``"sigmoid"``, ``"tanh"``, ``"gaussian"``, ``"identity"``, ``"saturation"``,
            ``"relu"``, ``"softmax"``, ...) or a callable.
        name: layer name.

    Example:
        >>> import torch
        >>> Activation("saturation")(torch.tensor([[-3.0, 0.5, 2.0]]))
        tensor([[-1.0000,  0.5000,  1.0000]])
    """

    def __init__(self, activation, *, name: str | None = None):
        super().__init__(name=name)
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.activation_name, **super().get_config()}

    def extra_repr(self) -> str:
        return self.activation_name


class Flatten(Layer):
    """Flattens every axis but the batch: ``(N, C, H, W) -> (N, C*H*W)``.

    Example:
        >>> import torch
        >>> Flatten()(torch.zeros(2, 3, 4, 5)).shape
        torch.Size([2, 60])
    """

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (math.prod(input_shape),)

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1).

    Args:
        target_shape: per-sample output shape, without the batch axis.

    Example:
        >>> import torch
        >>> Reshape((1, 28, 28))(torch.zeros(2, 784)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, target_shape, *, name: str | None = None):
        super().__init__(name=name)
        shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in shape) > 1 or any(d == 0 or d < -1 for d in shape):
            raise ValueError(message(
                f"Argument `target_shape` of Reshape '{self.name}' must hold positive sizes "
                f"and at most one -1.", received=f"target_shape={target_shape!r}"))
        self.target_shape = shape

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        n_in = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        shape = self.target_shape
        if -1 in shape:
            shape = tuple(n_in // known if d == -1 else d for d in shape)
        if math.prod(shape) != n_in:
            raise ValueError(
                f"Layer '{self.name}' cannot reshape input of per-sample shape {input_shape} "
                f"({n_in} values) to {self.target_shape}. Expected a target with {n_in} values.")
        return shape

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {"target_shape": list(self.target_shape), **super().get_config()}

    def extra_repr(self) -> str:
        return f"target_shape={self.target_shape}"


class Dropout(Layer):
    """Inverted dropout: zero each value with probability ``rate`` in training, scale by 1/(1-rate).

    Active only in ``model.train()`` mode; the identity in ``eval()`` mode.

    Args:
        rate: drop probability in [0, 1).

    Example:
        >>> import torch
        >>> Dropout(0.5).eval()(torch.ones(1, 4))
        tensor([[1., 1., 1., 1.]])
    """

    def __init__(self, rate: float, *, name: str | None = None):
        super().__init__(name=name)
        self.rate = check_probability("rate", rate, f"Dropout '{self.name}'")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.rate, self.training)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, **super().get_config()}

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
