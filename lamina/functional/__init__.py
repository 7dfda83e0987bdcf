"""Stateless maths of the decks: activations and losses as pure tensor functions.

Example:
    >>> import torch
    >>> from lamina import functional as LF
    >>> LF.saturation(torch.tensor([-2.0, 0.5]))
    tensor([-1.0000,  0.5000])
"""

from lamina.functional import activations, losses
from lamina.functional.activations import (
    elu,
    gaussian,
    identity,
    leaky_relu,
    linear,
    relu,
    saturation,
    sigmoid,
    sign,
    softmax,
    softplus,
    tanh,
    threshold,
)
from lamina.functional.losses import (
    binary_crossentropy,
    categorical_crossentropy,
    hinge,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_crossentropy,
)

__all__ = [
    "activations",
    "losses",
    "threshold",
    "sign",
    "sigmoid",
    "tanh",
    "gaussian",
    "identity",
    "linear",
    "saturation",
    "relu",
    "softmax",
    "leaky_relu",
    "elu",
    "softplus",
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
]
