"""Argument validators shared by layers, models and estimators.

Each helper raises ``ValueError``/``TypeError`` in the house style, naming the
owner (layer or model) and the argument, so wording stays uniform.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from lamina.errors import message

__all__ = [
    "check_positive_int",
    "check_nonnegative_int",
    "check_probability",
    "check_option",
    "check_int_tuple",
    "check_bool",
    "check_verbose",
    "check_instances",
    "check_shape",
]


def _received(name: str, value: Any) -> str:
    return f"{name}={value!r} (type {type(value).__name__})"


def check_positive_int(name: str, value: Any, owner: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise a house-style error.

    Example:
        >>> check_positive_int("units", 8, "Dense")
        8
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(message(f"Argument `{name}` of {owner} must be an integer >= 1.",
                                 received=_received(name, value)))
    return int(value)


def check_nonnegative_int(name: str, value: Any, owner: str) -> int:
    """Return ``value`` if it is an int >= 0, else raise.

    Example:
        >>> check_nonnegative_int("verbose", 0, "fit")
        0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(message(f"Argument `{name}` of {owner} must be an integer >= 0.",
                                 received=_received(name, value)))
    return int(value)


def check_probability(name: str, value: Any, owner: str, *, inclusive_high: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (or [0, 1] with ``inclusive_high``), else raise.

    Example:
        >>> check_probability("rate", 0.5, "Dropout")
        0.5
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and 0.0 <= value and (value <= 1.0 if inclusive_high else value < 1.0)
    if not ok:
        bound = "[0, 1]" if inclusive_high else "[0, 1)"
        raise ValueError(message(f"Argument `{name}` of {owner} must be a number in {bound}.",
                                 received=_received(name, value)))
    return float(value)


def check_option(name: str, value: Any, options: Sequence[str], owner: str) -> str:
    """Return ``value`` lower-cased if it is one of ``options``, else raise listing them.

    Example:
        >>> check_option("padding", "SAME", ("valid", "same"), "Conv2D")
        'same'
    """
    if isinstance(value, str) and value.lower() in options:
        return value.lower()
    valid = ", ".join(repr(o) for o in options)
    raise ValueError(message(f"Argument `{name}` of {owner} must be one of {valid}.",
                             received=_received(name, value)))


def check_int_tuple(name: str, value: Any, n: int, owner: str, *, minimum: int = 1) -> tuple:
    """Normalize an int or a length-``n`` sequence of ints (each >= ``minimum``) to a tuple.

    Example:
        >>> check_int_tuple("kernel_size", 5, 2, "Conv2D")
        (5, 5)
    """
    items = (value,) * n if isinstance(value, numbers.Integral) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    ok = len(items) == n and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum
        for v in items)
    if not ok:
        raise ValueError(message(
            f"Argument `{name}` of {owner} must be an integer >= {minimum} or a tuple of "
            f"{n} such integers.", received=_received(name, value)))
    return tuple(int(v) for v in items)


def check_bool(name: str, value: Any, owner: str) -> bool:
    """Return ``value`` if it is a bool (Python's or numpy's), else raise: a string such as
    ``"no"`` is truthy and would silently mean True.

    Example:
        >>> check_bool("shuffle", False, "fit")
        False
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(message(f"Argument `{name}` of {owner} must be True or False.",
                                received=_received(name, value)))
    return bool(value)


def check_verbose(value: Any, owner: str) -> int:
    """Return ``verbose`` as 0, 1 or 2 (a bool counts as 0 or 1), else raise.

    Example:
        >>> check_verbose(True, "fit")
        1
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if not isinstance(value, numbers.Integral) or value not in (0, 1, 2):
        raise ValueError(message(
            f"Argument `verbose` of {owner} must be 0 (silent), 1 (progress bar) or 2 (one "
            f"line per epoch).", received=_received("verbose", value)))
    return int(value)


def check_instances(name: str, values: Any, cls: type, owner: str, *,
                    fix: str | None = None) -> list:
    """Return ``values`` (None, a list or a tuple) as a list whose every item is a ``cls``,
    else raise naming the first wrong index.

    Example:
        >>> check_instances("callbacks", None, object, "fit")
        []
    """
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise TypeError(message(
            f"Argument `{name}` of {owner} must be a list of {cls.__name__} objects.",
            received=_received(name, values), fix=f"Pass a list: `{name}=[...]`."))
    for index, value in enumerate(values):
        if not isinstance(value, cls):
            raise TypeError(message(
                f"Argument `{name}` of {owner} must hold {cls.__name__} objects.",
                received=f"{name}[{index}]={value!r} (type {type(value).__name__})",
                fix=fix or f"Pass {cls.__name__} instances (or of a subclass)."))
    return list(values)


def check_shape(name: str, value: Any, owner: str) -> tuple:
    """Return ``value`` (a sequence of ints >= 1, no batch axis) as a tuple of ints, else
    raise.

    Example:
        >>> check_shape("input_shape", [1, 28, 28], "Sequential")
        (1, 28, 28)
    """
    try:
        items = tuple(value)
    except TypeError:
        items = None
    ok = items is not None and all(
        isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= 1
        for v in items)
    if not ok:
        fix = ("Give the per-sample shape without the batch axis, e.g. input_shape=(3,) for "
               "samples of 3 features.")
        raise ValueError(message(
            f"Argument `{name}` of {owner} must be a tuple of integers >= 1 (the shape of one "
            f"sample).", received=_received(name, value), fix=fix))
    return tuple(int(v) for v in items)
