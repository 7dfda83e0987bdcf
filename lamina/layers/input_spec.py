"""One checker for the shapes a layer accepts.

Shapes here are *per sample*: the batch axis is left out, as in ``input_shape=(1, 28, 28)``.
Axis indices in ``axes`` therefore count from the first non-batch axis (``0`` is the
channel axis of a channels-first image, ``-1`` the feature axis of a vector).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["InputSpec", "format_shape"]


def format_shape(shape, batch: bool = True) -> str:
    """Render a per-sample shape with a leading batch axis, e.g. ``(N, 1, 28, 28)``.

    Example:
        >>> format_shape((1, 28, 28))
        '(N, 1, 28, 28)'
    """
    dims = (["N"] if batch else []) + [str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


@dataclass
class InputSpec:
    """What a layer accepts: exact rank, minimum rank, and fixed axis sizes.

    Args:
        ndim: exact number of per-sample axes, or None.
        min_ndim: minimum number of per-sample axes, or None.
        axes: mapping from per-sample axis index to its required size.
        hint: a fix to suggest when the check fails.

    Example:
        >>> spec = InputSpec(min_ndim=1, axes={-1: 400})
        >>> spec.check((400,), "dense_2")
        >>> spec.check((256,), "dense_2")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: Layer 'dense_2' expects input with last axis of size 400...
    """

    ndim: int | None = None
    min_ndim: int | None = None
    axes: dict[int, int] = field(default_factory=dict)
    hint: str | None = None

    def check(self, shape, layer_name: str) -> None:
        """Raise ``ValueError`` naming ``layer_name`` if per-sample ``shape`` does not fit."""
        shape = tuple(shape)
        received = f"Received: input of shape {format_shape(shape)}."
        fix = f" {self.hint}" if self.hint else ""
        if self.ndim is not None and len(shape) != self.ndim:
            raise ValueError(
                f"Layer '{layer_name}' expects input with {self.ndim} axes per sample "
                f"(shape (N, ...) with {self.ndim} dims after the batch). {received}{fix}")
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(
                f"Layer '{layer_name}' expects input with at least {self.min_ndim} axes per "
                f"sample. {received}{fix}")
        for axis, size in self.axes.items():
            if -len(shape) <= axis < len(shape) and shape[axis] != size:
                where = "last axis" if axis == -1 else f"axis {axis + 1 if axis >= 0 else axis}"
                raise ValueError(
                    f"Layer '{layer_name}' expects input with {where} of size {size}. "
                    f"{received}{fix}")
