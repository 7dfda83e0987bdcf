"""Shared plumbing of the zoo: argument checks and the base of models with skip connections."""

from __future__ import annotations

import numbers
import os
from typing import Any

from lamina._validation import check_bool, check_option, check_positive_int
from lamina.errors import message
from lamina.layers.input_spec import InputSpec
from lamina.layers.pooling import GlobalAvgPool2D, GlobalMaxPool2D
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.transfer.pretrained import load_pretrained

__all__ = ["check_image_shape", "resolve_small_input", "check_num_classes", "GraphModel",
           "check_head", "assemble", "head_args_doc"]

_HEAD_ARGS = """weights: ``None`` (random initialization), {imagenet}the path or URL of a
            state dict in torchvision's naming (safetensors or ``torch.save``) or of a
            lamina weights file; see :func:`lamina.transfer.load_pretrained`.{stem}
            Defaults to None.
        include_top: keep the classifier head. ``False`` ends the model at the last
            convolutional features, ``(C, H, W)`` maps (the head's weights in a
            pretrained file are skipped). Defaults to True.
        pooling: with ``include_top=False``, ``"avg"`` or ``"max"`` adds global
            pooling (a layer named ``"global_pool"``), so the model returns a feature
            vector ``(C,)``; ``None`` keeps the maps. Defaults to None."""
_IMAGENET = """``"imagenet"`` (torchvision's published
            ImageNet weights, downloaded once into lamina's cache and checked against
            their hash), """


def head_args_doc(imagenet: bool = True) -> str:
    """The ``Args:`` text of ``weights``, ``include_top`` and ``pooling``, spliced into the
    zoo's docstrings (``imagenet``: the family has torchvision ImageNet weights)."""
    stem = " With weights,\n            ``small_input`` defaults to False (the full-size stem)." if imagenet else ""
    return _HEAD_ARGS.format(imagenet=_IMAGENET if imagenet else "", stem=stem)

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


def check_head(weights, include_top, pooling, small_input, owner: str, *,
               imagenet: bool = True):
    """Check the zoo's ``weights``, ``include_top`` and ``pooling`` arguments.

    Returns ``(include_top, pooling, small_input)``; in a family with torchvision weights
    (``imagenet``), a model with weights gets the full-size stem unless ``small_input``
    says otherwise (torchvision's files have it).

    Example:
        >>> check_head("imagenet", False, "avg", None, "ResNet")
        (False, 'avg', False)
    """
    include_top = check_bool("include_top", include_top, owner)
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError(message(
            f"Argument `weights` of {owner} must be None, 'imagenet', a file path or a URL.",
            received=f"weights={weights!r} (type {type(weights).__name__})"))
    if pooling is not None:
        pooling = check_option("pooling", pooling, ("avg", "max"), owner)
        if include_top:
            raise ValueError(message(
                f"Argument `pooling` of {owner} applies to the features of a model without "
                f"its classifier head.", received=f"pooling={pooling!r}, include_top=True",
                fix=f"Pass `{owner}(..., include_top=False, pooling={pooling!r})`, or leave "
                    f"out `pooling`."))
    if imagenet and weights is not None and small_input is None:
        small_input = False
    return include_top, pooling, small_input


def assemble(features: list, head: list, input_shape: tuple, name: str, *, include_top: bool,
             pooling: str | None, weights=None, variant: str | None = None) -> Sequential:
    """The zoo's last step: features (+ head, or + global pooling), built, weights loaded.

    Args:
        features: the layers up to the last convolutional features.
        head: the classifier layers after them (dropped when ``include_top=False``).
        input_shape: per-sample input shape.
        name: the model's name.
        include_top: keep ``head``.
        pooling: ``None``, ``"avg"`` or ``"max"``: global pooling after the features
            (only without the head).
        weights: ``None``, ``"imagenet"``, a path or a URL (see
            :func:`lamina.transfer.load_pretrained`).
        variant: the torchvision model whose ImageNet weights ``"imagenet"`` means, e.g.
            ``"resnet18"``, ``"vgg16_bn"``.

    Returns:
        A built ``Sequential``.

    Example:
        >>> from lamina.layers import Conv2D, Dense, Flatten
        >>> m = assemble([Conv2D(4, 3, name="conv")], [Flatten(), Dense(2)], (1, 8, 8), "t",
        ...              include_top=False, pooling="max")
        >>> [layer.name for layer in m.layers], m.output_shape
        (['conv', 'global_pool'], (4,))
    """
    layers = list(features)
    if include_top:
        layers += head
    elif pooling is not None:
        pool = GlobalAvgPool2D if pooling == "avg" else GlobalMaxPool2D
        layers.append(pool(name="global_pool"))
    model = Sequential(layers, input_shape=input_shape, name=name)
    if weights is not None:
        load_pretrained(model, weights, variant=variant)
    return model


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
