"""Shared plumbing of the zoo: argument checks and the base of models with skip connections."""

from __future__ import annotations

import numbers
from typing import Any

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.layers.input_spec import InputSpec
from lamina.models.model import Model

__all__ = ["check_image_shape", "resolve_small_input", "check_num_classes", "GraphModel"]

#: Inputs whose height or width is at most this many pixels get the small-input stem.
SMALL_INPUT_MAX = 64


def check_image_shape(input_shape, owner: str) -> tuple[int, int, int]:
    """``input_shape`` as a ``(channels, height, width)`` tuple of positive ints, else raise.

    Example:
        >>> check_image_shape([3, 32, 32], "VGG")
        (3, 32, 32)
    """
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                                  and d >= 1 for d in shape):
        raise ValueError(message(
            f"Argument `input_shape` of {owner} must be (channels, height, width), channels "
            f"first, without the batch axis.", received=f"input_shape={input_shape!r}",
            fix="For 28x28 grey images pass input_shape=(1, 28, 28)."))
    return tuple(int(d) for d in shape)


def check_num_classes(num_classes, owner: str) -> int:
    """``num_classes`` if it is an int >= 1, else raise.

    Example:
        >>> check_num_classes(10, "AlexNet")
        10
    """
    return check_positive_int("num_classes", num_classes, owner)


def resolve_small_input(small_input, input_shape: tuple, owner: str) -> bool:
    """``small_input`` as a bool; ``None`` means "height or width <= 64 pixels".

    Example:
        >>> resolve_small_input(None, (3, 32, 32), "ResNet"), resolve_small_input(None, (3, 224, 224), "ResNet")
        (True, False)
    """
    if small_input is None:
        return min(input_shape[1:]) <= SMALL_INPUT_MAX
    if not isinstance(small_input, bool):
        raise ValueError(message(f"Argument `small_input` of {owner} must be True, False or "
                                 f"None (automatic).", received=f"small_input={small_input!r}"))
    return small_input


class GraphModel(Model):
    """A ``Model`` whose ``forward`` wires its sub-layers by hand (skips, branches).

    Subclasses create their layers in ``__init__``, then call ``self._init_build(input_shape)``;
    ``_build_layers(input_shape)`` builds them in forward order (each ``layer.build_shapes``)
    and returns the output shape, so ``summary()`` works before training. ``get_config``
    must return the constructor's arguments, so ``lm.load_model`` can rebuild the model.
    """

    def __init__(self, *, name: str | None = None):
        super().__init__(name=name)
        self.input_spec = InputSpec(ndim=3)

    def _init_build(self, input_shape) -> None:
        if input_shape is not None:
            self.build(tuple(input_shape))

    def build(self, input_shape: tuple) -> None:
        """Build every sub-layer for per-sample ``input_shape``, recording shapes."""
        self._record_build(input_shape)
        self.output_shape = tuple(self._build_layers(self.input_shape))
        self.input_spec = InputSpec(ndim=3, axes={0: self.input_shape[0]})

    def _build_layers(self, input_shape: tuple) -> tuple:
        raise TypeError(f"{type(self).__name__} must define `_build_layers`.")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.built and tuple(input_shape) == self.input_shape:
            return self.output_shape
        return super().compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} must define `get_config`.")
