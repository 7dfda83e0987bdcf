"""Network in Network (Lin et al. 2013): mlpconv layers and global average pooling."""

from __future__ import annotations

from lamina._validation import check_probability
from lamina.layers import Activation, AvgPool2D, Dropout, MaxPool2D
from lamina.layers.blocks import MLPConv
from lamina.layers.pooling import GlobalAvgPool2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import (
    assemble,
    check_head,
    check_image_shape,
    check_num_classes,
    head_args_doc,
    resolve_small_input,
)

__all__ = ["NiN"]


def NiN(num_classes: int = 1000, input_shape=(3, 224, 224), *, weights=None,
        include_top: bool = True, pooling: str | None = None, small_input=None,
        dropout: float = 0.5, name: str = "nin") -> Sequential:
    """Network in Network: "mlpconv" blocks, then one map per class averaged to a score.

    Each :class:`~lamina.layers.MLPConv` is a convolution followed by two 1x1 convolutions
    (a small MLP slid over the image). The last block has ``num_classes`` maps; global
    average pooling turns each into a class score (no fully connected layer), then a
    softmax. Deck 004 places it in the taxonomy as "Net in Net: MLPConv".

    * ImageNet layout (the one in *Dive into Deep Learning*): mlpconv 96 (11x11/4) ->
      max pool 3/2 -> mlpconv 256 (5x5) -> pool -> mlpconv 384 (3x3) -> pool -> dropout ->
      mlpconv ``num_classes`` (3x3) -> global average pooling.
    * Small inputs (<= 64 pixels, or ``small_input=True``): the paper's CIFAR-10 model,
      mlpconv (192 5x5, 160, 96) -> max pool 3/2 -> dropout -> mlpconv (192 5x5, 192, 192)
      -> average pool 3/2 -> dropout -> mlpconv (192 3x3, 192, ``num_classes``) -> global
      average pooling; 966,986 parameters with 10 classes.

    Args:
        num_classes: output classes. Defaults to 1000.
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``.
        {head_args}
        small_input: use the CIFAR-10 layout; ``None`` decides from ``input_shape``.
        dropout: dropout rate between blocks. Defaults to 0.5.
        name: model name.

    The head is the last mlpconv block (the one with ``num_classes`` maps), its dropout,
    the global pooling and the softmax: without it the model ends at the last pooling
    (``"pool3"``; ``"pool2"`` for small inputs).

    Returns:
        A built ``Sequential`` ending in a softmax.

    Example:
        >>> import torch
        >>> model = NiN(10, input_shape=(3, 32, 32))
        >>> model(torch.zeros(2, 3, 32, 32)).shape, model.count_params()
        (torch.Size([2, 10]), 966986)
    """
    owner = "NiN"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner, imagenet=False)
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)
    dropout = check_probability("dropout", dropout, owner)
    if resolve_small_input(small_input, input_shape, owner):
        body = [
            MLPConv((192, 160, 96), 5, padding=2, name="mlpconv1"),
            MaxPool2D(3, strides=2, padding="same", name="pool1"),
            Dropout(dropout, name="drop1"),
            MLPConv(192, 5, padding=2, name="mlpconv2"),
            AvgPool2D(3, strides=2, padding="same", name="pool2"),
        ]
        head = [Dropout(dropout, name="drop2"),
                MLPConv((192, 192, num_classes), 3, padding=1, name="mlpconv3")]
    else:
        body = [
            MLPConv(96, 11, strides=4, name="mlpconv1"),
            MaxPool2D(3, strides=2, name="pool1"),
            MLPConv(256, 5, padding=2, name="mlpconv2"),
            MaxPool2D(3, strides=2, name="pool2"),
            MLPConv(384, 3, padding=1, name="mlpconv3"),
            MaxPool2D(3, strides=2, name="pool3"),
        ]
        head = [Dropout(dropout, name="drop3"),
                MLPConv(num_classes, 3, padding=1, name="mlpconv4")]
    head += [GlobalAvgPool2D(name="global_pool"), Activation("softmax", name="predictions")]
    return assemble(body, head, input_shape, name, include_top=include_top, pooling=pooling,
                    weights=weights)


NiN.__doc__ = NiN.__doc__.replace("{head_args}", head_args_doc(imagenet=False))
