"""DenseNet (Huang et al. 2016): every layer of a block sees all the block's earlier maps."""

from __future__ import annotations

from lamina._validation import check_int_tuple, check_positive_int
from lamina.layers import Activation, BatchNorm, Dense, MaxPool2D
from lamina.layers.blocks import ConvBlock, DenseBlock, TransitionBlock
from lamina.layers.pooling import GlobalAvgPool2D
from lamina.layers.reshaping import ZeroPadding2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import (
    assemble,
    check_head,
    check_image_shape,
    check_num_classes,
    head_args_doc,
    resolve_small_input,
)

__all__ = ["DenseNet121"]


def DenseNet121(num_classes: int = 1000, input_shape=(3, 224, 224), *, weights=None,
                include_top: bool = True, pooling: str | None = None, small_input=None,
                growth_rate: int = 32, block_config=(6, 12, 24, 16),
                num_init_features: int = 64, bn_size: int = 4, dropout: float = 0.0,
                name: str = "densenet121") -> Sequential:
    """DenseNet-121 (DenseNet-BC, ``k = 32``), torchvision's layout.

    Stem conv 7x7/2 (64, with batch normalization and ReLU) and max pool 3/2; four
    :class:`~lamina.layers.DenseBlock` of 6, 12, 24 and 16 layers, separated by
    :class:`~lamina.layers.TransitionBlock` that halve the channels and the resolution;
    batch normalization, ReLU, global average pooling, FC ``num_classes`` with a softmax.
    At 3x224x224 with 1000 classes it has 7,978,856 parameters, torchvision's count. The
    stem's max pool pads with zeros, which equals torch's -inf padding after a ReLU.

    Small inputs (<= 64 pixels, or ``small_input=True``) get a 3x3 stride-1 stem without
    max pooling: a 32x32 image reaches the last block as 4x4 maps.

    Args:
        num_classes: output classes. Defaults to 1000.
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``.
        {head_args}
        small_input: use the small-input stem; ``None`` decides from ``input_shape``.
        growth_rate: channels added per layer (``k``). Defaults to 32.
        block_config: layers per dense block. Defaults to ``(6, 12, 24, 16)`` (121 layers:
            ``2 * 58`` in the blocks, stem, 3 transitions, classifier; ``(6, 12, 32, 32)`` is
            DenseNet-169).
        num_init_features: channels of the stem. Defaults to 64.
        bn_size: bottleneck width in multiples of ``growth_rate``. Defaults to 4.
        dropout: dropout rate after each dense layer. Defaults to 0.
        name: model name.

    Returns:
        A built ``Sequential`` ending in a softmax; without the head, in ``"relu5"``
        (the normalized last block, 1024 maps) or the ``"global_pool"`` layer.

    Example:
        >>> DenseNet121().count_params()
        7978856
        >>> DenseNet121(10, input_shape=(3, 32, 32)).output_shape
        (10,)
    """
    owner = "DenseNet121"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner)
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)
    growth_rate = check_positive_int("growth_rate", growth_rate, owner)
    features = check_positive_int("num_init_features", num_init_features, owner)
    block_config = check_int_tuple("block_config", block_config, len(tuple(block_config)),
                                   owner)
    if resolve_small_input(small_input, input_shape, owner):
        layers = [ConvBlock(features, 3, padding=1, name="conv0")]
    else:
        layers = [ConvBlock(features, 7, strides=2, padding=3, name="conv0"),
                  ZeroPadding2D(1, name="pool0_pad"), MaxPool2D(3, strides=2, name="pool0")]
    for i, num_layers in enumerate(block_config, 1):
        layers.append(DenseBlock(num_layers, growth_rate, bn_size, dropout,
                                 name=f"denseblock{i}"))
        features += num_layers * growth_rate
        if i < len(block_config):
            features //= 2
            layers.append(TransitionBlock(features, name=f"transition{i}"))
    layers += [BatchNorm(name="norm5"), Activation("relu", name="relu5")]
    head = [GlobalAvgPool2D(name="global_pool"),
            Dense(num_classes, activation="softmax", name="predictions")]
    return assemble(layers, head, input_shape, name, include_top=include_top, pooling=pooling,
                    weights=weights, variant="densenet121")


DenseNet121.__doc__ = DenseNet121.__doc__.replace("{head_args}", head_args_doc())
