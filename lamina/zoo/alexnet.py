"""AlexNet (Krizhevsky et al. 2012) and ZFNet (Zeiler & Fergus 2013), as deck 001 shows them."""

from __future__ import annotations

from lamina._validation import check_probability
from lamina.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import (
    assemble,
    check_head,
    check_image_shape,
    check_num_classes,
    head_args_doc,
    resolve_small_input,
)

__all__ = ["AlexNet", "ZFNet"]


def _features(conv1, conv2, widths) -> list:
    return [
        conv1,
        MaxPool2D(3, strides=2, name="pool1"),
        conv2,
        MaxPool2D(3, strides=2, name="pool2"),
        Conv2D(widths[0], 3, padding=1, activation="relu", name="conv3"),
        Conv2D(widths[1], 3, padding=1, activation="relu", name="conv4"),
        Conv2D(widths[2], 3, padding=1, activation="relu", name="conv5"),
        MaxPool2D(3, strides=2, name="pool5"),
    ]


def _classifier(num_classes: int, dropout: float) -> list:
    return [
        Flatten(name="flatten"),
        Dropout(dropout, name="drop6"),
        Dense(4096, activation="relu", name="fc6"),
        Dropout(dropout, name="drop7"),
        Dense(4096, activation="relu", name="fc7"),
        Dense(num_classes, activation="softmax", name="predictions"),
    ]


def AlexNet(num_classes: int = 1000, input_shape=(3, 224, 224), *, weights=None,
            include_top: bool = True, pooling: str | None = None, small_input=None,
            dropout: float = 0.5, name: str = "alexnet") -> Sequential:
    """AlexNet: five convolutions, three max-poolings, three fully connected layers.

    torchvision's single-GPU layout (64-192-384-256-256 filters, from Krizhevsky's "one
    weird trick" paper): conv 11x11/4 -> pool 3/2 -> conv 5x5 -> pool -> three 3x3 convs ->
    pool -> dropout, FC 4096 -> dropout, FC 4096 -> FC ``num_classes`` with a softmax, ReLU
    everywhere else. At 3x224x224 with 1000 classes it has 61,100,840 parameters (deck
    001's "60 million parameters"). The deck's 2012 network had 96-256-384-384-256 filters
    split over two GPUs.

    Small inputs (height or width <= 64 pixels, or ``small_input=True``) get a 3x3 stride-1
    first convolution instead of 11x11 stride 4, so 32x32 images reach the classifier as
    3x3 maps rather than vanishing.

    Args:
        num_classes: output classes. Defaults to 1000.
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``.
        {head_args}
        small_input: use the small-input stem; ``None`` decides from ``input_shape``.
        dropout: dropout rate before fc6 and fc7. Defaults to 0.5.
        name: model name.

    Returns:
        A built ``Sequential`` ending in a softmax; without the head, in ``"pool5"`` or the
        ``"global_pool"`` layer.

    Example:
        >>> import torch
        >>> model = AlexNet(10, input_shape=(3, 32, 32))
        >>> model(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """
    owner = "AlexNet"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner)
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)
    dropout = check_probability("dropout", dropout, owner)
    small = resolve_small_input(small_input, input_shape, owner)
    conv1 = (Conv2D(64, 3, padding=1, activation="relu", name="conv1") if small
             else Conv2D(64, 11, strides=4, padding=2, activation="relu", name="conv1"))
    conv2 = Conv2D(192, 5, padding=2, activation="relu", name="conv2")
    return assemble(_features(conv1, conv2, (384, 256, 256)),
                    _classifier(num_classes, dropout), input_shape, name,
                    include_top=include_top, pooling=pooling, weights=weights,
                    variant="alexnet")


def ZFNet(num_classes: int = 1000, input_shape=(3, 224, 224), *, weights=None,
          include_top: bool = True, pooling: str | None = None, small_input=None,
          dropout: float = 0.5, name: str = "zfnet") -> Sequential:
    """ZFNet: AlexNet with a finer first layer and wider middle layers.

    Deck 001: "AlexNet but CONV1: change from (11x11 stride 4) to (7x7 stride 2); CONV3,4,5:
    instead of 384, 384, 256 filters use 512, 1024, 512". As in Zeiler & Fergus's paper,
    conv1 has 96 filters (padding 1) and conv2 256 filters of 5x5 at stride 2, so a 224x224
    image still reaches the classifier as 6x6 maps: 224 -> 110 -> pool 54 -> 27 -> pool 13
    -> 13 -> pool 6. At 3x224x224 with 1000 classes that is 107,627,624 parameters.

    Small inputs (<= 64 pixels, or ``small_input=True``) get a 3x3 stride-1 conv1 and a
    stride-1 conv2.

    Args:
        num_classes: output classes. Defaults to 1000.
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``.
        {head_args}
        small_input: use the small-input stem; ``None`` decides from ``input_shape``.
        dropout: dropout rate before fc6 and fc7. Defaults to 0.5.
        name: model name.

    Returns:
        A built ``Sequential`` ending in a softmax; without the head, in ``"pool5"`` or the
        ``"global_pool"`` layer.

    Example:
        >>> import torch
        >>> model = ZFNet(10, input_shape=(3, 32, 32))
        >>> [layer.filters for layer in model.layers[4:7]], model(torch.zeros(1, 3, 32, 32)).shape
        ([512, 1024, 512], torch.Size([1, 10]))
    """
    owner = "ZFNet"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner, imagenet=False)
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)
    dropout = check_probability("dropout", dropout, owner)
    small = resolve_small_input(small_input, input_shape, owner)
    if small:
        conv1 = Conv2D(96, 3, padding=1, activation="relu", name="conv1")
        conv2 = Conv2D(256, 5, padding=2, activation="relu", name="conv2")
    else:
        conv1 = Conv2D(96, 7, strides=2, padding=1, activation="relu", name="conv1")
        conv2 = Conv2D(256, 5, strides=2, padding=2, activation="relu", name="conv2")
    return assemble(_features(conv1, conv2, (512, 1024, 512)),
                    _classifier(num_classes, dropout), input_shape, name,
                    include_top=include_top, pooling=pooling, weights=weights)


AlexNet.__doc__ = AlexNet.__doc__.replace("{head_args}", head_args_doc())
ZFNet.__doc__ = ZFNet.__doc__.replace("{head_args}", head_args_doc(imagenet=False))
