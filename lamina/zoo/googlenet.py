"""GoogLeNet (Szegedy et al. 2014): Inception modules and average pooling instead of FC layers."""

from __future__ import annotations

from lamina._validation import check_probability
from lamina.layers import Dense, Dropout, MaxPool2D
from lamina.layers.blocks import ConvBlock, InceptionModule
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

__all__ = ["GoogLeNet", "GOOGLENET_MODULES"]

#: ``(c1, c3r, c3, c5r, c5, pool_proj)`` of each Inception module (the paper's table 1).
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def GoogLeNet(num_classes: int = 1000, input_shape=(3, 224, 224), *, weights=None,
              include_top: bool = True, pooling: str | None = None, small_input=None,
              c5_kernel_size: int = 3, batch_norm: bool = True, dropout: float = 0.2,
              name: str = "googlenet") -> Sequential:
    """GoogLeNet (Inception v1), torchvision's layout without the auxiliary classifiers.

    Stem: conv 7x7/2 (64) -> max pool 3/2 -> conv 1x1 (64) -> conv 3x3 (192) -> max pool
    3/2; then Inception modules 3a, 3b -> pool -> 4a..4e -> pool -> 5a, 5b (sizes in
    :data:`GOOGLENET_MODULES`), global average pooling (deck 001: "AveragePooling instead
    of FullyConnected layer at output"), dropout and one FC layer with a softmax.

    As in torchvision, every convolution is followed by batch normalization (epsilon 1e-3)
    and the "5x5" branch uses a 3x3 kernel; so at 3x224x224 with 1000 classes the model
    has 6,624,904 parameters, torchvision's count. ``c5_kernel_size=5`` gives the paper's
    5x5 branch (7,005,832 parameters). The stem's max poolings use ``padding="same"``,
    which equals torchvision's ``ceil_mode=True`` on even sizes (all of them at 224x224).

    Small inputs (<= 64 pixels, or ``small_input=True``) get a 3x3 stride-1 first
    convolution and no stem pooling, so 32x32 images reach the modules at 32x32.

    Args:
        num_classes: output classes. Defaults to 1000.
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``.
        {head_args}
        small_input: use the small-input stem; ``None`` decides from ``input_shape``.
        c5_kernel_size: kernel of the Inception "5x5" branch. Defaults to 3 (torchvision).
        batch_norm: normalize after each convolution (``False``: the 2014 network, with
            biases). Defaults to True.
        dropout: dropout rate before the classifier. Defaults to 0.2 (torchvision; the
            paper used 0.4).
        name: model name.

    torchvision's ImageNet GoogLeNet was trained on inputs scaled to ``[-1, 1]``
    (``(x - 0.5) / 0.5``; its ``transform_input=True`` converts ImageNet-normalized
    images to that): see :data:`lamina.transfer.imagenet.PREPROCESSING`.

    Returns:
        A built ``Sequential`` ending in a softmax; without the head, in
        ``"inception5b"`` (1024 maps) or the ``"global_pool"`` layer.

    Example:
        >>> GoogLeNet().count_params()
        6624904
        >>> GoogLeNet(10, input_shape=(3, 32, 32)).output_shape
        (10,)
    """
    owner = "GoogLeNet"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner)
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)
    dropout = check_probability("dropout", dropout, owner)
    small = resolve_small_input(small_input, input_shape, owner)

    def conv(filters, kernel_size, name, strides=1, padding=0):
        return ConvBlock(filters, kernel_size, strides, padding, batch_norm=batch_norm,
                         epsilon=1e-3, name=name)

    def inception(key):
        return InceptionModule(*GOOGLENET_MODULES[key], c5_kernel_size=c5_kernel_size,
                               batch_norm=batch_norm, name=f"inception{key}")

    if small:
        stem = [conv(64, 3, "conv1", padding=1), conv(64, 1, "conv2"),
                conv(192, 3, "conv3", padding=1)]
    else:
        stem = [conv(64, 7, "conv1", strides=2, padding=3),
                MaxPool2D(3, strides=2, padding="same", name="pool1"),
                conv(64, 1, "conv2"), conv(192, 3, "conv3", padding=1),
                MaxPool2D(3, strides=2, padding="same", name="pool2")]
    features = [
        *stem,
        inception("3a"), inception("3b"),
        MaxPool2D(3, strides=2, padding="same", name="pool3"),
        *(inception(k) for k in ("4a", "4b", "4c", "4d", "4e")),
        MaxPool2D(2, strides=2, padding="same", name="pool4"),
        inception("5a"), inception("5b"),
    ]
    head = [GlobalAvgPool2D(name="global_pool"), Dropout(dropout, name="dropout"),
            Dense(num_classes, activation="softmax", name="predictions")]
    return assemble(features, head, input_shape, name, include_top=include_top,
                    pooling=pooling, weights=weights, variant="googlenet")


GoogLeNet.__doc__ = GoogLeNet.__doc__.replace("{head_args}", head_args_doc())
