"""Fully convolutional networks for semantic segmentation (Long, Shelhamer & Darrell 2015)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina._validation import check_option, check_probability
from lamina.layers import Conv2D, Dropout, MaxPool2D
from lamina.layers.blocks import HE_FAN_OUT
from lamina.layers.conv import Conv2DTranspose
from lamina.models.sequential import Sequential
from lamina.zoo._base import GraphModel, check_image_shape, check_num_classes

__all__ = ["FCN", "FCN_BACKBONES", "bilinear_kernel"]

#: Backbones: convolutions and filters per stage (five stages, each ending in a 2x2 max
#: pool), then fc6 as a convolution (filters, kernel) and fc7 as a 1x1 convolution.
FCN_BACKBONES = {
    "vgg16": {"stages": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), "fc": (4096, 7)},
    "small": {"stages": ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)), "fc": (256, 3)},
}


def bilinear_kernel(channels: int, kernel_size: int) -> Tensor:
    """Weights ``(channels, channels, k, k)`` that make a transposed convolution bilinear.

    Each channel is upsampled on its own (the weight is zero between channels), FCN's
    ``upsample_filt``; with stride ``s`` and kernel ``2 s`` it interpolates by ``s``.

    Example:
        >>> bilinear_kernel(1, 4)[0, 0, 0]
        tensor([0.0625, 0.1875, 0.1875, 0.0625])
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    ramp = 1 - (torch.arange(kernel_size, dtype=torch.float32) - center).abs() / factor
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = ramp[:, None] * ramp[None, :]
    return weight


def _bilinear_initializer(tensor: Tensor, generator=None) -> Tensor:
    """Initializer of the upsampling layers: :func:`bilinear_kernel` (needs ``C_in == C_out``)."""
    with torch.no_grad():
        return tensor.copy_(bilinear_kernel(tensor.shape[0], tensor.shape[-1]))


class FCN(GraphModel):
    """FCN-32s, -16s or -8s: a ConvNet classifier made fully convolutional, then upsampled.

    Deck 002's "fully convolutional nets": the backbone's FC layers become convolutions
    (fc6, fc7), a 1x1 convolution scores every class at 1/32 of the resolution, and
    transposed convolutions (initialized to bilinear interpolation, then learned) bring the
    scores back to the input size. FCN-16s adds scores from the pool4 maps before the last
    16x upsampling, FCN-8s also from pool3 before 8x (skip connections, by addition; the
    skip scorers start at zero, as in the paper).

    Backbones: ``"vgg16"`` (the paper's: VGG-16's convolutions, fc6 a 7x7 convolution of
    4096 maps, fc7 1x1: FCN-8s has 134,489,759 parameters with 21 classes, as the
    paper's Caffe model) or ``"small"`` (a VGG-like net with 16-128
    filters, for small images and tests). Convolutions use padding 1 (fc6 ``"same"``)
    rather than the paper's 100-pixel padding and crops, so the maps are exactly 1/2, 1/4,
    ... of the input; an input whose sides are not multiples of 32 is zero-padded at the
    bottom and right and the output cropped back.

    The output is a map of class **logits** ``(N, num_classes, H, W)``, without softmax:
    compile with ``loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True)`` and
    integer label maps ``(N, H, W)``; ``logits.argmax(1)`` is the segmentation.

    Args:
        variant: ``"32s"``, ``"16s"`` or ``"8s"``. Defaults to ``"8s"``.
        num_classes: classes, background included. Defaults to 21 (PASCAL VOC).
        input_shape: ``(channels, height, width)``. Defaults to ``(3, 224, 224)``.
        backbone: ``"vgg16"`` or ``"small"``. Defaults to ``"vgg16"``.
        dropout: dropout rate after fc6 and fc7. Defaults to 0.5.
        name: model name. Defaults to ``"fcn8s"`` ...

    Example:
        >>> import torch
        >>> model = FCN("8s", num_classes=3, input_shape=(3, 64, 64), backbone="small")
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 3, 64, 64])
    """

    def __init__(self, variant: str = "8s", num_classes: int = 21, input_shape=(3, 224, 224),
                 *, backbone: str = "vgg16", dropout: float = 0.5, name: str | None = None):
        owner = "FCN"
        variant = check_option("variant", variant, ("32s", "16s", "8s"), owner)
        super().__init__(name=name or f"fcn{variant}")
        self.variant = variant
        self.num_classes = check_num_classes(num_classes, owner)
        self.backbone = check_option("backbone", backbone, tuple(FCN_BACKBONES), owner)
        self.dropout = check_probability("dropout", dropout, owner)
        spec = FCN_BACKBONES[self.backbone]
        for i, (n_convs, filters) in enumerate(spec["stages"], 1):
            self.add_module(f"stage{i}", Sequential([
                *(Conv2D(filters, 3, padding=1, activation="relu", kernel_initializer=HE_FAN_OUT,
                         name=f"conv{i}_{j}") for j in range(1, n_convs + 1)),
                MaxPool2D(2, name=f"pool{i}")], name=f"stage{i}"))
        fc_filters, fc_kernel = spec["fc"]
        self.head = Sequential([
            Conv2D(fc_filters, fc_kernel, padding="same", activation="relu", name="fc6"),
            Dropout(dropout, name="drop6"),
            Conv2D(fc_filters, 1, activation="relu", name="fc7"),
            Dropout(dropout, name="drop7"),
        ], name="head")
        self.score_fr = Conv2D(num_classes, 1, name="score_fr")
        if variant == "32s":
            self.upscore32 = self._up(32, "upscore32")
        else:
            self.score_pool4 = Conv2D(num_classes, 1, kernel_initializer="zeros",
                                      name="score_pool4")
            self.upscore2 = self._up(2, "upscore2")
        if variant == "16s":
            self.upscore16 = self._up(16, "upscore16")
        if variant == "8s":
            self.score_pool3 = Conv2D(num_classes, 1, kernel_initializer="zeros",
                                      name="score_pool3")
            self.upscore_pool4 = self._up(2, "upscore_pool4")
            self.upscore8 = self._up(8, "upscore8")
        self._init_build(check_image_shape(input_shape, owner)
                         if input_shape is not None else None)

    def _up(self, factor: int, name: str) -> Conv2DTranspose:
        return Conv2DTranspose(self.num_classes, 2 * factor, strides=factor, padding="same",
                               use_bias=False, kernel_initializer=_bilinear_initializer,
                               name=name)

    def _padded(self, shape: tuple) -> tuple:
        c, h, w = shape
        return (c, h + (-h) % 32, w + (-w) % 32)

    def _build_layers(self, input_shape: tuple) -> tuple:
        shape = self._padded(input_shape)
        for i in range(1, 6):
            shape = getattr(self, f"stage{i}").build_shapes(shape)
            if i == 3:
                pool3 = shape
            if i == 4:
                pool4 = shape
        shape = self.score_fr.build_shapes(self.head.build_shapes(shape))
        if self.variant == "32s":
            shape = self.upscore32.build_shapes(shape)
        else:
            self.score_pool4.build_shapes(pool4)
            shape = self.upscore2.build_shapes(shape)
        if self.variant == "16s":
            shape = self.upscore16.build_shapes(shape)
        if self.variant == "8s":
            self.score_pool3.build_shapes(pool3)
            shape = self.upscore8.build_shapes(self.upscore_pool4.build_shapes(shape))
        return (self.num_classes, *input_shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % 32, (-w) % 32
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        pool3 = self.stage3(self.stage2(self.stage1(x)))
        pool4 = self.stage4(pool3)
        score = self.score_fr(self.head(self.stage5(pool4)))
        if self.variant == "32s":
            return self.upscore32(score)[..., :h, :w]
        score = self.upscore2(score) + self.score_pool4(pool4)
        if self.variant == "16s":
            return self.upscore16(score)[..., :h, :w]
        score = self.upscore_pool4(score) + self.score_pool3(pool3)
        return self.upscore8(score)[..., :h, :w]

    def get_config(self) -> dict[str, Any]:
        return {"variant": self.variant, "num_classes": self.num_classes,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "backbone": self.backbone, "dropout": self.dropout, "name": self.name}
