"""Merge layers: combine a list of tensors into one (skip connections, multi-branch graphs).

Each merge layer is called on a *list* of tensors, real or symbolic (``lm.Input``), and
checks the per-sample shapes once, when it is built from the first list it sees.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lamina.layers.base import Layer
from lamina.layers.input_spec import format_shape

__all__ = ["Add", "Concatenate", "Multiply"]


def _shapes_str(shapes) -> str:
    return "[" + ", ".join(format_shape(s) for s in shapes) + "]"


class _Merge(Layer):
    """Base of the merge layers: a list of at least two tensors in, one tensor out.

    Subclasses implement ``_merge_shapes(shapes)`` (checks and output shape) and
    ``forward(inputs)``.
    """

    list_input = True

    def build(self, input_shape) -> None:
        """Check the list of per-sample shapes and mark the layer built (no weights)."""
        shapes = self._as_shapes(input_shape)
        self._merge_shapes(shapes)
        self._mark_built(shapes)

    def _mark_built(self, shapes: list[tuple]) -> None:
        self.input_shape = shapes
        self.mark_built()

    def build_shapes(self, input_shape) -> tuple:
        """Build for a list of per-sample shapes; record and return the output shape."""
        shapes = self._as_shapes(input_shape)
        out = self._merge_shapes(shapes)
        self._mark_built(shapes)
        self.output_shape = out
        return out

    def compute_output_shape(self, input_shape) -> tuple:
        return self._merge_shapes(self._as_shapes(input_shape))

    def _as_shapes(self, input_shape) -> list[tuple]:
        if not isinstance(input_shape, (list, tuple)) or not all(
                isinstance(s, (list, tuple, torch.Size)) for s in input_shape):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) merges a list of tensors. "
                f"Received: input of shape {format_shape(tuple(input_shape))}. Call it on a "
                f"list, e.g. `{type(self).__name__}()([x1, x2])`.")
        if len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects a list of at least 2 "
                f"tensors. Received: {len(input_shape)}.")
        return [tuple(int(d) for d in s) for s in input_shape]

    def _merge_shapes(self, shapes: list[tuple]) -> tuple:
        raise TypeError(f"{type(self).__name__} must implement `_merge_shapes`.")

    def _mismatch(self, expected: str, shapes) -> ValueError:
        return ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects {expected}. "
                          f"Received: inputs of shapes {_shapes_str(shapes)}.")


class _ElementWise(_Merge):
    """Element-wise merge: shapes must agree axis by axis, where a size of 1 broadcasts."""

    def _merge_shapes(self, shapes: list[tuple]) -> tuple:
        if len({len(s) for s in shapes}) != 1:
            raise self._mismatch("inputs with the same number of axes", shapes)
        out = []
        for sizes in zip(*shapes):
            big = {d for d in sizes if d != 1}
            if len(big) > 1:
                raise self._mismatch("inputs of the same shape (a size of 1 broadcasts)",
                                     shapes)
            out.append(big.pop() if big else 1)
        return tuple(out)


class Add(_ElementWise):
    """Sum of a list of tensors of the same shape (a residual connection: ``Add()([x, f(x)])``).

    Axes of size 1 broadcast, as in torch (per sample, without adding axes).

    Args:
        name: layer name.

    Input shape:
        A list of at least two tensors ``(N, *shape)`` of the same shape.

    Output shape:
        ``(N, *shape)``.

    Example:
        >>> import torch
        >>> from lamina import layers
        >>> layers.Add()([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[2., 2., 2.],
                [2., 2., 2.]])
    """

    def forward(self, inputs: list[Tensor]) -> Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Multiply(_ElementWise):
    """Element-wise product of a list of tensors of the same shape (gating, attention masks).

    Axes of size 1 broadcast, as in torch: ``Multiply()([x, w])`` with ``x`` of shape
    ``(N, C, H, W)`` and ``w`` of shape ``(N, C, 1, 1)`` scales each channel.

    Args:
        name: layer name.

    Input shape:
        A list of at least two tensors ``(N, *shape)`` of the same shape.

    Output shape:
        ``(N, *shape)``.

    Example:
        >>> import torch
        >>> from lamina import layers
        >>> layers.Multiply()([torch.full((1, 2), 3.0), torch.full((1, 2), 2.0)])
        tensor([[6., 6.]])
    """

    def forward(self, inputs: list[Tensor]) -> Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Concatenate(_Merge):
    """Join a list of tensors along one axis (the channels by default).

    ``axis`` counts the batch axis, as ``torch.cat``'s ``dim`` does: for channels-first
    images ``(N, C, H, W)`` the default ``axis=1`` stacks the channels (as in Inception
    blocks and U-Net skips); ``axis=-1`` joins the last axis. The batch axis (0) cannot be
    chosen. All other axes must have the same size.

    Args:
        axis: the axis to join along, counting the batch axis. Defaults to 1.
        name: layer name.

    Input shape:
        A list of at least two tensors with the same number of axes.

    Output shape:
        The common shape, with the sizes along ``axis`` summed.

    Example:
        >>> import torch
        >>> from lamina import layers
        >>> layers.Concatenate()([torch.zeros(2, 3, 4, 4), torch.zeros(2, 5, 4, 4)]).shape
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, axis: int = 1, *, name: str | None = None):
        super().__init__(name=name)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ValueError(
                f"Argument `axis` of Concatenate must be a non-zero int (it counts the batch "
                f"axis, which cannot be joined; 1 is the channel axis). Received: "
                f"axis={axis!r} (type {type(axis).__name__}).")
        self.axis = axis

    def _merge_shapes(self, shapes: list[tuple]) -> tuple:
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise self._mismatch("inputs with the same number of axes", shapes)
        axis = self.axis - 1 if self.axis > 0 else rank + self.axis
        if not 0 <= axis < rank:
            need = self.axis if self.axis > 0 else -self.axis
            raise self._mismatch(f"inputs with at least {need} axes per sample to join along "
                                 f"axis={self.axis} (the batch axis counts as 0)", shapes)
        rest = {s[:axis] + s[axis + 1:] for s in shapes}
        if len(rest) != 1:
            raise self._mismatch(f"inputs whose sizes match on every axis but axis {self.axis}",
                                 shapes)
        return (*shapes[0][:axis], sum(s[axis] for s in shapes), *shapes[0][axis + 1:])

    def forward(self, inputs: list[Tensor]) -> Tensor:
        return torch.cat(list(inputs), dim=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

    def extra_repr(self) -> str:
        return "" if self.axis == 1 else f"axis={self.axis}"
