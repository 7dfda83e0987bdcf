"""Shape arithmetic for convolutions and pooling (per spatial axis)."""

from __future__ import annotations

import math

__all__ = ["conv_output_length", "same_padding", "pool_output_length",
           "conv_transpose_output_length", "conv_transpose_crop"]


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


def conv_transpose_output_length(length: int, kernel: int, stride: int, padding: str,
                                 output_padding: int | None = None, dilation: int = 1) -> int:
    """Output size of a transposed-convolution axis, as Keras computes it.

    With ``k' = d (k - 1) + 1``: ``"valid"`` gives ``(L - 1) s + max(k', s)``, ``"same"``
    gives ``L s``; an explicit ``output_padding`` ``a`` gives ``(L - 1) s + k' + a``
    (``"valid"``) or ``(L - 1) s + (k' mod 2) + a`` (``"same"``).

    Example:
        >>> conv_transpose_output_length(7, 3, 2, "valid")
        15
        >>> conv_transpose_output_length(7, 3, 2, "same")
        14
    """
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return (length - 1) * stride + span + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + span % 2 + output_padding


def conv_transpose_crop(length: int, kernel: int, stride: int, padding: str,
                        output_padding: int | None = None, dilation: int = 1) -> tuple[int, int]:
    """``(start, stop)``: the positions of the full transposed convolution a layer keeps.

    The full output has ``(L - 1) s + k'`` positions (``k' = d (k - 1) + 1``); the layer
    keeps ``[start, stop)``, :func:`conv_transpose_output_length` of them, where positions
    past the full output are zeros (before the bias). For ``"same"`` the surplus is split as
    TensorFlow's SAME padding splits it (the odd one at the end), so the layer is the adjoint
    of a ``"same"`` convolution with the same strides; ``"valid"`` keeps the start.

    Example:
        >>> conv_transpose_crop(7, 3, 2, "same")   # full 15, keep 14
        (0, 14)
        >>> conv_transpose_crop(7, 4, 2, "same")   # full 16, keep 14
        (1, 15)
        >>> conv_transpose_crop(7, 1, 2, "same")   # full 13, keep 14: one zero at the end
        (0, 14)
    """
    full = (length - 1) * stride + dilation * (kernel - 1) + 1
    out = conv_transpose_output_length(length, kernel, stride, padding, output_padding, dilation)
    start = max(full - out, 0) // 2 if padding == "same" else 0
    return start, start + out
