"""Argument validators shared by layers, models and estimators.

Each helper raises ``ValueError``/``TypeError`` in the house style, naming the
owner (layer or model) and the argument, so wording stays uniform.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from lamina.errors import message

__all__ = [
    "check_positive_int",
    "check_nonnegative_int",
    "check_probability",
    "check_option",
    "check_int_tuple",
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
