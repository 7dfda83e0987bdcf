"""The All Convolutional Net (Springenberg et al. 2015): strided convolutions replace pooling."""

from __future__ import annotations

from lamina.layers import Activation, Conv2D, Dropout
from lamina.layers.blocks import HE_FAN_OUT
from lamina.layers.pooling import GlobalAvgPool2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import check_image_shape, check_num_classes

__all__ = ["AllConvNet"]


def AllConvNet(num_classes: int = 10, input_shape=(3, 32, 32), *, dropout: bool = True,
               name: str = "all_cnn_c") -> Sequential:
    """All-CNN-C: only convolutions; 3x3 convolutions at stride 2 do the subsampling.

    Springenberg et al.'s model C for CIFAR-10 (deck 004 shows their pooling ablation):
    input dropout 0.2 -> conv 96, conv 96, conv 96 stride 2 -> dropout 0.5 -> conv 192,
    conv 192, conv 192 stride 2 -> dropout 0.5 -> conv 192 (3x3, no padding), conv 192
    (1x1), conv ``num_classes`` (1x1) -> global average pooling -> softmax. Every
    convolution is followed by a ReLU; the 3x3 ones use padding 1, except the seventh. With
    10 classes it has 1,369,738 parameters. Being fully convolutional, it takes any image
    of at least 20x20 pixels.

    Args:
        num_classes: output classes. Defaults to 10.
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 32, 32)``.
        dropout: use the paper's dropout layers. Defaults to True.
        name: model name.

    Returns:
        A built ``Sequential`` ending in a softmax.

    Example:
        >>> import torch
        >>> model = AllConvNet()
        >>> model(torch.zeros(2, 3, 32, 32)).shape, model.count_params()
        (torch.Size([2, 10]), 1369738)
    """
    owner = "AllConvNet"
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)

    def conv(filters, kernel_size, name, strides=1, padding=1):
        return Conv2D(filters, kernel_size, strides, padding, activation="relu",
                      kernel_initializer=HE_FAN_OUT, name=name)

    def drop(rate, name):
        return [Dropout(rate, name=name)] if dropout else []

    return Sequential([
        *drop(0.2, "drop_input"),
        conv(96, 3, "conv1"), conv(96, 3, "conv2"), conv(96, 3, "conv3", strides=2),
        *drop(0.5, "drop3"),
        conv(192, 3, "conv4"), conv(192, 3, "conv5"), conv(192, 3, "conv6", strides=2),
        *drop(0.5, "drop6"),
        conv(192, 3, "conv7", padding=0), conv(192, 1, "conv8", padding=0),
        conv(num_classes, 1, "conv9", padding=0),
        GlobalAvgPool2D(name="global_pool"),
        Activation("softmax", name="predictions"),
    ], input_shape=input_shape, name=name)
