"""Private helpers shared by the callbacks: argument validators, snapshots, the optimizer.

Validators take ``(name, value, owner)`` and return the (normalized) value or raise in the
house style; callbacks list them in a class-level ``_constraints`` dict (STYLE habit 5)
and store their arguments with ``Callback._init_args``.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import torch

from lamina._validation import check_nonnegative_int, check_option, check_positive_int
from lamina.errors import message

__all__ = ["is_real", "nonnegative_int", "positive_int", "optional_positive_int", "nonnegative_real",
           "optional_real", "boolean", "text", "path", "options", "cpu_copy", "check_lr"]


def _received(name: str, value: Any) -> str:
    return f"{name}={value!r} (type {type(value).__name__})"


def is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


nonnegative_int = check_nonnegative_int
positive_int = check_positive_int


def optional_positive_int(name: str, value: Any, owner: str) -> int | None:
    return None if value is None else check_positive_int(name, value, owner)


def nonnegative_real(name: str, value: Any, owner: str) -> float:
    if not is_real(value) or not value >= 0 or math.isinf(value):
        raise ValueError(message(f"Argument `{name}` of {owner} must be a finite number >= 0.",
                                 received=_received(name, value)))
    return float(value)


def optional_real(name: str, value: Any, owner: str) -> float | None:
    if value is None:
        return None
    if not is_real(value) or math.isnan(value):
        raise ValueError(message(f"Argument `{name}` of {owner} must be a number or None.",
                                 received=_received(name, value)))
    return float(value)


def boolean(name: str, value: Any, owner: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(message(f"Argument `{name}` of {owner} must be True or False.",
                                received=_received(name, value)))
    return value


def text(name: str, value: Any, owner: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(message(f"Argument `{name}` of {owner} must be a non-empty string.",
                                received=_received(name, value)))
    return value


def path(name: str, value: Any, owner: str) -> str:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise TypeError(message(f"Argument `{name}` of {owner} must be a non-empty path.",
                                received=_received(name, value)))
    return os.fspath(value)


def options(*choices: str):
    """A validator accepting one of ``choices`` (case-insensitive)."""

    def check(name: str, value: Any, owner: str) -> str:
        return check_option(name, value, choices, owner)

    return check


def cpu_copy(obj: Any) -> Any:
    """A detached CPU copy of every tensor in a nested dict/list/tuple; other values as is."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {key: cpu_copy(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(value) for value in obj)
    return obj


def check_lr(value: Any, owner: str, where: str) -> float:
    """``value`` as a float if it is a finite number >= 0 (a 0-d tensor is fine), else raise."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if not is_real(value) or not 0 <= value < math.inf:
        raise ValueError(message(f"The schedule of {owner} must return a finite learning rate "
                                 f">= 0 ({where}).", received=_received("lr", value)))
    return float(value)
