"""Deck 002's "sliding window: FC as convolutions": make a trained classifier fully convolutional."""

from __future__ import annotations

import copy

import torch

from lamina.errors import NotBuiltError, message
from lamina.layers import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten
from lamina.models.sequential import Sequential
from lamina.zoo._base import check_image_shape

__all__ = ["to_fully_convolutional"]

_KEPT = (Dropout, BatchNorm, Activation)


def to_fully_convolutional(model: Sequential, *, input_shape=None,
                           name: str | None = None) -> Sequential:
    """A copy of a ``Sequential`` classifier whose fully connected layers are convolutions.

    The first ``Dense`` after the ``Flatten`` becomes a ``Conv2D`` whose kernel covers the
    whole feature map it used to see (``C x h x w``, the weights reshaped), and each later
    ``Dense`` a 1x1 ``Conv2D``; the ``Flatten`` disappears. On the training size the new
    model gives the same scores as ``(N, classes, 1, 1)`` maps; on a larger image it slides
    the classifier over every window at once and returns a map of class scores, computing
    the shared convolutions only once (OverFeat; deck 002, "FC as convolutions").

    The score at output position ``(i, j)`` is the classifier's output on the crop whose
    top-left corner is ``(i s, j s)``, ``s`` being the product of the strides before the
    ``Flatten``, exactly when the feature layers use no padding (``"valid"``); with
    padding, crops near the image border differ where the original saw zeros.

    A final softmax (a ``Dense(..., activation="softmax")`` or an ``Activation("softmax")``)
    is dropped, because lamina's softmax normalizes the last axis: the new model returns
    class **logits** ``(N, classes, H', W')``; ``torch.softmax(y, dim=1)`` gives the
    probabilities. Weights are copied (the original is not modified); ``Dropout``,
    ``BatchNorm`` and element-wise ``Activation`` layers after the ``Flatten`` are kept.

    Args:
        model: a built ``Sequential`` with ``(C, H, W)`` inputs: feature layers, one
            ``Flatten``, then ``Dense`` (and ``Dropout``/``BatchNorm``/``Activation``) layers.
        input_shape: ``(C, H, W)`` to build the new model for (its ``summary()`` then shows
            the score maps' size, and ``fit``/``evaluate``, which check the input shape,
            accept such images). Defaults to the classifier's ``input_shape``.
        name: name of the new model. Defaults to the old one's with ``_fcn`` appended.

    Returns:
        A built ``Sequential``; any image at least as large as the training size works.

    Raises:
        TypeError: if ``model`` is not a ``Sequential``.
        ValueError: if it is not built, has no ``Flatten``, or has a layer after the
            ``Flatten`` that has no convolutional equivalent.

    Example:
        >>> import torch, lamina as lm
        >>> clf = lm.zoo.LeNet5(input_shape=(1, 32, 32))
        >>> fcn = to_fully_convolutional(clf)
        >>> fcn(torch.zeros(1, 1, 40, 40)).shape       # 3x3 windows, 4 pixels apart
        torch.Size([1, 10, 3, 3])
        >>> to_fully_convolutional(clf, input_shape=(1, 64, 64)).output_shape
        (10, 9, 9)
    """
    if not isinstance(model, Sequential):
        raise TypeError(message("`to_fully_convolutional` takes a `Sequential` classifier.",
                                received=f"an object of type {type(model).__name__}"))
    if not model.built:
        raise NotBuiltError(
            f"Sequential '{model.name}' is not built, so the feature-map size the first Dense "
            f"layer sees is unknown. Pass `input_shape=` to the model or call "
            f"`model.build(input_shape)` first.")
    layers = list(model.layers)
    flat = next((i for i, layer in enumerate(layers) if isinstance(layer, Flatten)), None)
    if flat is None or len(layers[flat].input_shape) != 3:
        raise ValueError(message(
            f"Sequential '{model.name}' needs a `Flatten` of (C, H, W) feature maps followed "
            f"by `Dense` layers to become fully convolutional.",
            received=f"layers {[type(layer).__name__ for layer in layers]}"))
    channels, *kernel = layers[flat].input_shape
    new_layers = [copy.deepcopy(layer) for layer in layers[:flat]]
    copies: list[tuple[Conv2D, Dense]] = []
    last = len(layers) - 1
    for index in range(flat + 1, len(layers)):
        layer = layers[index]
        softmax = getattr(layer, "activation_name", None) == "softmax"
        if softmax and index != last:
            raise ValueError(message(
                f"Layer '{layer.name}' applies a softmax before the last layer; lamina's "
                f"softmax normalizes the last axis, which is not the class axis of a map.",
                received=f"a softmax at position {index} of {last + 1} layers"))
        if isinstance(layer, Dense):
            config = layer.get_config()
            config.pop("units")
            if softmax:
                config["activation"] = None
            conv = Conv2D(layer.units, tuple(kernel), **config)
            new_layers.append(conv)
            copies.append((conv, layer))
            kernel = [1, 1]
        elif isinstance(layer, Activation) and softmax:
            continue
        elif isinstance(layer, _KEPT):
            new_layers.append(copy.deepcopy(layer))
        else:
            raise ValueError(message(
                f"Layer '{getattr(layer, 'name', index)}' ({type(layer).__name__}) after the "
                f"Flatten has no convolutional equivalent.",
                expected="Dense, Dropout, BatchNorm or Activation layers after the Flatten",
                received=f"a {type(layer).__name__}"))
    if input_shape is not None:
        input_shape = check_image_shape(input_shape, "to_fully_convolutional")
        if input_shape[0] != model.input_shape[0]:
            raise ValueError(message(
                f"Argument `input_shape` of to_fully_convolutional must keep the "
                f"{model.input_shape[0]} input channels of '{model.name}'.",
                received=f"input_shape={input_shape}"))
    fcn = Sequential(new_layers, input_shape=input_shape or model.input_shape,
                     name=name or f"{model.name}_fcn")
    fcn.fully_convolutional = True  # fit/predict accept any larger image
    with torch.no_grad():
        for conv, dense in copies:
            conv.weight.copy_(dense.weight.reshape(conv.weight.shape))
            if dense.bias is not None:
                conv.bias.copy_(dense.bias)
    return fcn
