"""Activation functions of the lecture decks, as pure tensor functions.

Each function maps a tensor to a tensor of the same shape (``softmax`` normalizes along
``axis``). They are plain PyTorch, differentiable by autograd, and run on any device.
``threshold`` and ``sign`` are step functions: their gradient is zero almost everywhere
(and taken as zero at the step), so back-propagation through them leaves the weights
before them unchanged; the decks train such units with the perceptron rule instead.

Example:
    >>> import torch
    >>> from lamina.functional import activations as A
    >>> A.relu(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
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
]


def sign(x: torch.Tensor) -> torch.Tensor:
    """Sign unit of the perceptron: ``sign(x) = +1 if x >= 0 else -1``.

    Unlike ``torch.sign``, zero maps to ``+1``, as in the deck's perceptron
    ``y = 1 if w.x >= 0 else -1``. The gradient is zero everywhere; NaN stays NaN.

    Example:
        >>> sign(torch.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.,  1.,  1.])
    """
    # sign(x) is in {-1, 0, 1}; shifting by 0.5 sends 0 to the positive side. torch.sign
    # has a (zero) derivative, so the result stays in the autograd graph. torch.sign maps
    # NaN to 0, so NaN is passed through explicitly.
    return torch.where(torch.isnan(x), x, torch.sign(torch.sign(x) + 0.5))


def threshold(x: torch.Tensor) -> torch.Tensor:
    """Heaviside step (threshold unit): ``threshold(x) = 1 if x >= 0 else 0``.

    The gradient is zero everywhere; NaN stays NaN.

    Example:
        >>> threshold(torch.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 1., 1.])
    """
    return (sign(x) + 1.0) * 0.5


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid: ``sigmoid(x) = 1 / (1 + exp(-x))``.

    Example:
        >>> sigmoid(torch.tensor([0.0]))
        tensor([0.5000])
    """
    return torch.sigmoid(x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent: ``tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))``.

    Example:
        >>> tanh(torch.tensor([0.0]))
        tensor([0.])
    """
    return torch.tanh(x)


def gaussian(x: torch.Tensor) -> torch.Tensor:
    """Gaussian unit: ``gaussian(x) = exp(-x^2)``.

    Example:
        >>> gaussian(torch.tensor([0.0, 1.0]))
        tensor([1.0000, 0.3679])
    """
    return torch.exp(-x * x)


def identity(x: torch.Tensor) -> torch.Tensor:
    """Identity (linear) unit: ``identity(x) = x``.

    Example:
        >>> identity(torch.tensor([-1.5, 2.0]))
        tensor([-1.5000,  2.0000])
    """
    return x


linear = identity


def saturation(x: torch.Tensor) -> torch.Tensor:
    """Saturating linear unit (hard tanh): ``saturation(x) = min(max(x, -1), 1)``.

    Example:
        >>> saturation(torch.tensor([-3.0, 0.5, 2.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    return F.hardtanh(x)


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit: ``relu(x) = max(x, 0)``.

    Example:
        >>> relu(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return torch.relu(x)


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Softmax along ``axis``: ``softmax(x)_i = exp(x_i) / sum_j exp(x_j)``.

    Computed stably (the maximum is subtracted first).

    Args:
        x: input tensor.
        axis: the axis that sums to one. Defaults to -1.

    Example:
        >>> softmax(torch.tensor([[0.0, 0.0]]))
        tensor([[0.5000, 0.5000]])
    """
    return F.softmax(x, dim=axis)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: ``leaky_relu(x) = x if x >= 0 else negative_slope * x``.

    Args:
        x: input tensor.
        negative_slope: slope for negative inputs. Defaults to 0.01.

    Example:
        >>> leaky_relu(torch.tensor([-2.0, 3.0]), negative_slope=0.5)
        tensor([-1.,  3.])
    """
    return F.leaky_relu(x, negative_slope)


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: ``elu(x) = x if x > 0 else alpha * (exp(x) - 1)``.

    Args:
        x: input tensor.
        alpha: scale of the negative part. Defaults to 1.0.

    Example:
        >>> elu(torch.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    return F.elu(x, alpha)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """Softplus, a smooth ReLU: ``softplus(x) = log(1 + exp(x))``.

    Example:
        >>> softplus(torch.tensor([0.0]))
        tensor([0.6931])
    """
    return F.softplus(x)
