"""Shared plumbing for layers that end with an optional activation (Dense, Conv2D, ...)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lamina import activations, initializers, regularizers
from lamina.layers.base import Layer

__all__ = ["ActivatedLayer"]


class ActivatedLayer(Layer):
    """A weighted layer whose output passes through ``activation``.

    Subclasses implement ``preactivation(x)`` (the affine part) and ``build``. The
    model uses ``preactivation`` to fuse a final softmax/sigmoid into the loss.
    """

    def __init__(self, *, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 name: str | None = None):
        super().__init__(name=name)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.activity_loss: Tensor | None = None
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def preactivation(self, x: Tensor) -> Tensor:
        """The layer's output before its activation."""
        raise TypeError(f"{type(self).__name__} must define `preactivation`.")

    def forward(self, x: Tensor) -> Tensor:
        y = self.activation(self.preactivation(x))
        if self.activity_regularizer is not None and self.training:
            # per-sample mean, so the penalty does not grow with the batch size
            self.activity_loss = self.activity_regularizer(y) / y.shape[0]
        return y

    def regularization_penalties(self):
        """``(regularizer, tensor)`` pairs whose penalties ``fit`` adds to the loss."""
        pairs = [(self.kernel_regularizer, self.weight)]
        if self.bias is not None:
            pairs.append((self.bias_regularizer, self.bias))
        return [(reg, t) for reg, t in pairs if reg is not None]

    def reset_parameters(self) -> None:
        """Weights from ``kernel_initializer``; bias from ``bias_initializer``."""
        self.kernel_initializer(self.weight)
        if self.bias is not None:
            self.bias_initializer(self.bias)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(activation=self.activation_name, use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer),
                      kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                      bias_regularizer=regularizers.serialize(self.bias_regularizer),
                      activity_regularizer=regularizers.serialize(self.activity_regularizer))
        return config

    def _activation_repr(self) -> str:
        return "" if self.activation_name == "identity" else f", activation={self.activation_name}"
