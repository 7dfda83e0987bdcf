"""Activation functions by name: ``activations.get("relu")``.

The functions themselves live in :mod:`lamina.functional.activations`; this module names
them, so layers can take ``activation="relu"`` and model configs can store the name.

Example:
    >>> import torch
    >>> from lamina import activations
    >>> activations.get("ReLU")(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    >>> activations.serialize(activations.get("linear"))
    'identity'
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lamina._registry import Registry
from lamina.errors import message
from lamina.functional import activations as _fa

__all__ = ["ACTIVATIONS", "get", "serialize"]

ACTIVATIONS = Registry("activation")

ACTIVATIONS.register("threshold", "heaviside", "step")(_fa.threshold)
ACTIVATIONS.register("sign")(_fa.sign)
ACTIVATIONS.register("sigmoid", "logistic")(_fa.sigmoid)
ACTIVATIONS.register("tanh")(_fa.tanh)
ACTIVATIONS.register("gaussian")(_fa.gaussian)
ACTIVATIONS.register("identity", "linear")(_fa.identity)
ACTIVATIONS.register("saturation", "hard_tanh", "hardtanh")(_fa.saturation)
ACTIVATIONS.register("relu")(_fa.relu)
ACTIVATIONS.register("softmax")(_fa.softmax)
ACTIVATIONS.register("leaky_relu")(_fa.leaky_relu)
ACTIVATIONS.register("elu")(_fa.elu)
ACTIVATIONS.register("softplus")(_fa.softplus)

ActivationLike = Callable[[torch.Tensor], torch.Tensor]


def get(identifier: str | ActivationLike | None) -> ActivationLike:
    """Resolve an activation from a name, a callable, or ``None``.

    Args:
        identifier: ``None`` (the identity), a registered name (case-insensitive, e.g.
            ``"relu"``, ``"saturation"``, ``"linear"``), or any callable, returned as is.

    Returns:
        The activation function.

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
        TypeError: for anything else.

    Example:
        >>> get(None) is get("identity")
        True
        >>> get("SIGMOID")(torch.tensor([0.0]))
        tensor([0.5000])
    """
    if identifier is None:
        return _fa.identity
    if isinstance(identifier, str):
        return ACTIVATIONS.lookup(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        message(
            "Could not interpret the activation identifier.",
            expected="a name such as 'relu', a callable, or None",
            received=f"activation={identifier!r} (type {type(identifier).__name__})",
        )
    )


def serialize(activation: str | ActivationLike | None) -> str:
    """The canonical registered name of an activation, for model configs.

    Args:
        activation: a registered function, one of its names, or ``None`` (the identity).

    Returns:
        The primary name (an alias such as ``"linear"`` gives ``"identity"``).

    Raises:
        ValueError: if ``activation`` is a callable that is not registered: configs store
            names, so a custom function must be registered first.

    Example:
        >>> serialize(get("hardtanh"))
        'saturation'
    """
    if activation is None:
        return "identity"
    if isinstance(activation, str):
        return ACTIVATIONS.canonical(activation)
    for name in ACTIVATIONS.names():
        if ACTIVATIONS.lookup(name) is activation:
            return ACTIVATIONS.canonical(name)
    raise ValueError(
        message(
            "Cannot serialize an unregistered activation: model configs store activations "
            "by registered name.",
            received=f"activation={activation!r}",
            fix="Pass a name such as activation='relu', or register the function first: "
            "`lamina.activations.ACTIVATIONS.register('my_act')(my_act)`.",
        )
    )
