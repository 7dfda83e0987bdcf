"""ResNet (He et al. 2015): residual blocks with skip connections, ImageNet and CIFAR-10 depths."""

from __future__ import annotations

from lamina._validation import check_option
from lamina.errors import message
from lamina.layers import Dense, MaxPool2D
from lamina.layers.blocks import ConvBlock, ResidualBlock
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

__all__ = ["ResNet", "RESNET_IMAGENET", "RESNET_CIFAR_DEPTHS"]

#: ImageNet depths: (bottleneck blocks?, blocks per stage); stages of 64, 128, 256, 512.
RESNET_IMAGENET = {18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)),
                   50: (True, (3, 4, 6, 3)), 101: (True, (3, 4, 23, 3)),
                   152: (True, (3, 8, 36, 3))}
#: The CIFAR-10 depths of the paper's table 6 (any ``6n + 2`` works).
RESNET_CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def _variant(depth, variant, owner: str) -> str:
    if variant is not None:
        variant = check_option("variant", variant, ("imagenet", "cifar"), owner)
    ok_imagenet = depth in RESNET_IMAGENET
    ok_cifar = isinstance(depth, int) and depth >= 8 and (depth - 2) % 6 == 0
    if variant is None:
        variant = "imagenet" if ok_imagenet else "cifar" if ok_cifar else None
    if variant is None or (variant == "imagenet" and not ok_imagenet) or (
            variant == "cifar" and not ok_cifar):
        raise ValueError(message(
            f"Argument `depth` of {owner} must be an ImageNet depth (18, 34, 50, 101, 152) or "
            f"a CIFAR depth 6n + 2 (20, 32, 44, 56, 110, ...).",
            received=f"depth={depth!r}, variant={variant!r}"))
    return variant


def ResNet(depth: int = 18, num_classes: int | None = None, input_shape=None, *,
           weights=None, include_top: bool = True, pooling: str | None = None,
           variant: str | None = None, small_input=None, projection: str | None = None,
           name: str | None = None) -> Sequential:
    """ResNet-``depth``: a stem, stages of :class:`~lamina.layers.ResidualBlock`, average pool, FC.

    Each block computes ``relu(F(x) + x)``: the "skip" connections of deck 001, which let
    152 layers train. The layer count ``depth`` picks the network:

    * ImageNet (18, 34, 50, 101, 152; torchvision's layout, ResNet v1.5): conv 7x7/2 (64)
      with batch normalization and ReLU, max pool 3/2, four stages of 64, 128, 256 and 512
      filters (stride 2 from the second on; basic blocks for 18/34, bottleneck blocks with
      expansion 4 for 50+), global average pooling, FC ``num_classes`` with a softmax.
      Shortcuts that change shape are 1x1 projections (option B). At 3x224x224 with 1000
      classes: ResNet-18 11,689,512, ResNet-34 21,797,672, ResNet-50 25,557,032,
      ResNet-101 44,549,160, ResNet-152 60,192,808 parameters, as torchvision.
      The stem's max pool pads with zeros (a ``ZeroPadding2D``), which equals torch's
      -inf padding because its input comes out of a ReLU.
      Small inputs (<= 64 pixels, or ``small_input=True``) get a 3x3 stride-1 stem without
      max pooling (the usual CIFAR adaptation), so 32x32 images reach the last stage as
      4x4 maps.
    * CIFAR-10 (``6n + 2``: 20, 32, 44, 56, 110; the paper's section 4.2): conv 3x3 (16),
      three stages of ``n`` basic blocks with 16, 32 and 64 filters, global average
      pooling, FC. Shortcuts default to option A (``projection="zero_pad"``: subsampled
      identity padded with zero channels, no parameters), as in the paper: with 10
      classes ResNet-20 has 269,722 parameters (0.27M, the paper's table 6), ResNet-32
      464,154, ResNet-56 853,018. ``projection="auto"`` (option B, two 1x1 projections)
      gives ResNet-20 272,474.

    Depths 50 and 152 are also ``6n + 2``; they mean the ImageNet networks unless
    ``variant="cifar"``.

    Args:
        depth: number of weight layers. Defaults to 18.
        num_classes: output classes. Defaults to 1000 (ImageNet) or 10 (CIFAR).
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``
            (ImageNet) or ``(3, 32, 32)`` (CIFAR).
        {head_args}
        variant: ``"imagenet"`` or ``"cifar"``; ``None`` decides from ``depth``.
        small_input: ImageNet depths only: use the small-input stem; ``None`` decides from
            ``input_shape``.
        projection: the blocks' shortcut option (``"auto"``, ``"always"``, ``"zero_pad"``;
            see :class:`~lamina.layers.ResidualBlock`). Defaults to ``"auto"`` (ImageNet)
            or ``"zero_pad"`` (CIFAR).
        name: model name. Defaults to ``"resnet18"`` ...

    Returns:
        A built ``Sequential`` ending in a softmax; without the head, in the last block
        (``"conv5_3"`` for ResNet-50) or the ``"global_pool"`` layer.

    Example:
        >>> ResNet(18).count_params(), ResNet(50).count_params()
        (11689512, 25557032)
        >>> model = ResNet(20)                      # CIFAR-10, option A shortcuts
        >>> model.count_params(), model.output_shape
        (269722, (10,))
        >>> ResNet(50, include_top=False, pooling="avg").output_shape
        (2048,)
    """
    owner = "ResNet"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner)
    variant = _variant(depth, variant, owner)
    cifar = variant == "cifar"
    num_classes = check_num_classes((10 if cifar else 1000) if num_classes is None
                                    else num_classes, owner)
    input_shape = check_image_shape(((3, 32, 32) if cifar else (3, 224, 224))
                                    if input_shape is None else input_shape, owner)
    projection = projection or ("zero_pad" if cifar else "auto")
    if cifar:
        bottleneck, counts, widths = False, ((depth - 2) // 6,) * 3, (16, 32, 64)
        stem = [ConvBlock(16, 3, padding=1, name="conv1")]
    else:
        (bottleneck, counts), widths = RESNET_IMAGENET[depth], (64, 128, 256, 512)
        if resolve_small_input(small_input, input_shape, owner):
            stem = [ConvBlock(64, 3, padding=1, name="conv1")]
        else:
            stem = [ConvBlock(64, 7, strides=2, padding=3, name="conv1"),
                    ZeroPadding2D(1, name="pool1_pad"), MaxPool2D(3, strides=2, name="pool1")]
    blocks = []
    for stage, (count, filters) in enumerate(zip(counts, widths)):
        for i in range(count):
            strides = 2 if stage > 0 and i == 0 else 1
            blocks.append(ResidualBlock(filters, strides, bottleneck, projection=projection,
                                        name=f"conv{stage + 2}_{i + 1}"))
    head = [GlobalAvgPool2D(name="global_pool"),
            Dense(num_classes, activation="softmax", name="predictions")]
    return assemble([*stem, *blocks], head, input_shape, name or f"resnet{depth}",
                    include_top=include_top, pooling=pooling, weights=weights,
                    variant=None if cifar else f"resnet{depth}")


ResNet.__doc__ = ResNet.__doc__.replace("{head_args}", head_args_doc())
