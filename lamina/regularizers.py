"""Weight and activity penalties added to the cost, as deck 001 writes it.

``K = sum of losses + beta * sum |W|^p``: ``l1(beta)`` is ``p = 1``, ``l2(beta)`` is ``p = 2``.
Give one to a layer (``Dense(64, kernel_regularizer=lm.regularizers.l2(1e-4))``); ``fit``
adds the penalties to the loss it minimizes and logs their sum as ``reg_loss``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lamina._registry import Registry
from lamina.errors import message

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "REGULARIZERS"]

REGULARIZERS = Registry("regularizer")


class Regularizer:
    """A penalty ``R(W)`` on a tensor; subclasses define ``__call__``."""

    def __call__(self, x: Tensor) -> Tensor:
        raise TypeError(f"{type(self).__name__} must define __call__(x).")

    def get_config(self) -> dict[str, Any]:
        return {}


def _check_factor(name: str, value, owner: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(message(f"Argument `{name}` of {owner} must be a number >= 0.",
                                 received=f"{name}={value!r}"))
    return float(value)


@REGULARIZERS.register("l1_l2")
class L1L2(Regularizer):
    """``l1 * sum |W| + l2 * sum W^2``.

    Args:
        l1: factor of the L1 term. Defaults to 0.
        l2: factor of the L2 term. Defaults to 0.

    Example:
        >>> import torch
        >>> L1L2(l1=0.5, l2=0.25)(torch.tensor([1.0, -2.0]))
        tensor(2.7500)
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _check_factor("l1", l1, type(self).__name__)
        self.l2 = _check_factor("l2", l2, type(self).__name__)

    def __call__(self, x: Tensor) -> Tensor:
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


@REGULARIZERS.register("l1")
class L1(L1L2):
    """``beta * sum |W|`` (deck 001's penalty with p = 1; drives weights to exactly zero).

    Example:
        >>> import torch
        >>> L1(0.1)(torch.tensor([1.0, -3.0]))
        tensor(0.4000)
    """

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


@REGULARIZERS.register("l2")
class L2(L1L2):
    """``beta * sum W^2`` (deck 001's penalty with p = 2, "weight decay").

    Example:
        >>> import torch
        >>> L2(0.1)(torch.tensor([1.0, -3.0]))
        tensor(1.)
    """

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:
    """``L1(l1)``: ``l1 * sum |W|``.

    Example:
        >>> l1(0.1).l1
        0.1
    """
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    """``L2(l2)``: ``l2 * sum W^2``.

    Example:
        >>> l2(1e-4).l2
        0.0001
    """
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """``L1L2(l1, l2)``: both penalties.

    Example:
        >>> l1_l2(0.1, 0.2).get_config()
        {'l1': 0.1, 'l2': 0.2}
    """
    return L1L2(l1, l2)


def get(identifier) -> Regularizer | None:
    """A regularizer from None, a name (``"l2"``, default factor 0.01), a config dict, an
    instance or a callable ``tensor -> scalar``.

    Example:
        >>> get("l2").l2
        0.01
    """
    if identifier is None or isinstance(identifier, Regularizer) or (
            callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, str):
        return REGULARIZERS.lookup(identifier)()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return REGULARIZERS.lookup(identifier["class_name"])(**identifier.get("config", {}))
    raise TypeError(message("Could not use this object as a regularizer.",
                            expected="None, 'l1', 'l2', 'l1_l2', a Regularizer or a callable",
                            received=f"type {type(identifier).__name__}"))


def serialize(reg) -> dict[str, Any] | None:
    """Config dict for saving (``{"class_name": ..., "config": ...}``), or None.

    Example:
        >>> serialize(l2(0.5))
        {'class_name': 'l2', 'config': {'l2': 0.5}}
    """
    if reg is None:
        return None
    if not isinstance(reg, Regularizer):
        raise ValueError("Only lamina Regularizer objects can be saved in a model config; "
                         "use lm.regularizers.l1/l2/l1_l2 or subclass Regularizer.")
    name = {L1: "l1", L2: "l2"}.get(type(reg), "l1_l2")
    return {"class_name": name, "config": reg.get_config()}

