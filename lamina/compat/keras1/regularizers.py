"""Keras 1's weight regularizers (``W_regularizer=l2(0.01)``) as lamina's.

Example:
    >>> l2(0.01).l2
    0.01
"""

from __future__ import annotations

from lamina import regularizers

__all__ = ["l1", "l2", "l1l2"]


def l1(l: float = 0.01) -> regularizers.L1:  # noqa: E741 - Keras 1's argument name
    """Keras 1's ``l1(l)``: the penalty ``l * sum(|W|)``.

    Example:
        >>> l1(0.1).l1
        0.1
    """
    return regularizers.L1(l)


def l2(l: float = 0.01) -> regularizers.L2:  # noqa: E741 - Keras 1's argument name
    """Keras 1's ``l2(l)``: the penalty ``l * sum(W^2)``.

    Example:
        >>> l2(0.5).l2
        0.5
    """
    return regularizers.L2(l)


def l1l2(l1: float = 0.01, l2: float = 0.01) -> regularizers.L1L2:
    """Keras 1's ``l1l2(l1, l2)``: ``l1 * sum(|W|) + l2 * sum(W^2)``.

    Example:
        >>> l1l2(0.1, 0.2).l2
        0.2
    """
    return regularizers.L1L2(l1, l2)
