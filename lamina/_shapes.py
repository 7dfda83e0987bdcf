"""Shape arithmetic for convolutions and pooling (per spatial axis)."""

from __future__ import annotations

import math

__all__ = ["conv_output_length", "same_padding", "pool_output_length"]


def conv_output_length(length: int, kernel: int, stride: int, pad_total: int,
                       dilation: int = 1) -> int:
    """``floor((L + P - d (k - 1) - 1) / s) + 1``, the size of a convolution's output axis.

    Example:
        >>> conv_output_length(28, 5, 1, 0)
        24
    """
    return (length + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding so that the output has ``ceil(L / s)`` positions, as in Keras.

    The extra pixel of an odd total goes after, like TensorFlow's ``"SAME"``.

    Example:
        >>> same_padding(28, 5, 1)
        (2, 2)
        >>> same_padding(28, 3, 2)
        (0, 1)
    """
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - length, 0)
    return total // 2, total - total // 2


def pool_output_length(length: int, pool: int, stride: int, pad_total: int = 0) -> int:
    """Output size of a pooling axis (floor mode): ``floor((L + P - k) / s) + 1``.

    Example:
        >>> pool_output_length(28, 2, 2)
        14
    """
    return (length + pad_total - pool) // stride + 1
