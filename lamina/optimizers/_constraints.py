"""Declarative argument checks for optimizers and schedules.

A class declares ``_constraints = {"lr": Number("learning rate", low=0), ...}`` and its
``__init__`` calls ``check_constraints`` once; every message then has the same shape::

    Invalid learning rate: argument `lr` of SGD must be a number >= 0. Received: lr=-1 (type int).

(These helpers belong with ``lamina/_validation.py``; they live here until they are moved.)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from lamina.errors import message

__all__ = ["Number", "Flag", "check_constraints"]


@dataclass(frozen=True)
class Number:
    """A real number (or integer) in an interval, optionally ``None``.

    Args:
        label: what the value is, in words ("learning rate"), used in the message.
        low: lower bound, or None for none. Defaults to 0.
        high: upper bound, or None for none. Defaults to None.
        low_open: exclude ``low``. Defaults to False.
        high_open: exclude ``high``. Defaults to False.
        optional: also accept ``None``. Defaults to False.
        integer: require an integer. Defaults to False.

    Example:
        >>> Number("momentum", 0, 1, high_open=True).describe()
        'a number in [0, 1)'
        >>> Number("momentum", 0, 1, high_open=True).accepts(1.0)
        False
    """

    label: str
    low: float | None = 0.0
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    integer: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        if value is None:
            return self.optional
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """The constraint in words: ``"a number >= 0"``, ``"a number in [0, 1)"``."""
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            text = (f"{kind} in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        elif self.low is not None:
            text = f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        else:
            text = f"a finite {kind.split()[-1]}"
        return text + (" or None" if self.optional else "")


@dataclass(frozen=True)
class Flag:
    """A bool.

    Example:
        >>> Flag("Nesterov flag").accepts(1)
        False
    """

    label: str

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is True or False."""
        return isinstance(value, bool)

    def describe(self) -> str:
        """``"True or False"``."""
        return "True or False"


def check_constraints(constraints: dict, owner: str, values: dict) -> None:
    """Raise a house-style ``ValueError`` for the first value that breaks its constraint.

    Names without a constraint are not checked.

    Example:
        >>> check_constraints({"lr": Number("learning rate")}, "SGD", {"lr": -1})
        Traceback (most recent call last):
        ...
        ValueError: Invalid learning rate: argument `lr` of SGD must be a number >= 0. Received: lr=-1 (type int).
    """
    for name, value in values.items():
        constraint = constraints.get(name)
        if constraint is not None and not constraint.accepts(value):
            raise ValueError(message(
                f"Invalid {constraint.label}: argument `{name}` of {owner} must be "
                f"{constraint.describe()}.",
                received=f"{name}={value!r} (type {type(value).__name__})"))
