"""U-Net (Ronneberger et al. 2015): an encoder-decoder with skip connections by concatenation."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina._validation import check_positive_int
from lamina.layers import Conv2D
from lamina.layers.blocks import ConvBlock
from lamina.layers.conv import Conv2DTranspose
from lamina.layers.pooling import MaxPool2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import GraphModel, check_image_shape, check_num_classes

__all__ = ["UNet"]


class UNet(GraphModel):
    """U-Net: a contracting path, an expanding path, and skips that stack encoder maps on.

    Deck 002, "U-Net and skip-connections: passing feature maps across through stacking".
    Encoder level ``i`` (``i = 1 .. depth``) applies two 3x3 convolutions with
    ``base_filters * 2**(i-1)`` maps and ReLUs, keeps the result for the skip, and max-pools
    2x2; the bottleneck has ``base_filters * 2**depth`` maps. Each decoder level upsamples
    with a 2x2 transposed convolution at stride 2 (halving the maps), concatenates the
    skip from the encoder level of the same size on the channel axis, and applies two 3x3
    convolutions; a final 1x1 convolution gives ``num_classes`` maps.

    Unlike the paper, the 3x3 convolutions use padding 1, so the output has the input's
    size and no crop is needed, and each is followed by batch normalization
    (``batch_norm=False`` gives the paper's plain convolutions with biases). An input whose
    sides are not multiples of ``2**depth`` is zero-padded at the bottom and right and the
    output cropped back.

    The output is a map of class **logits** ``(N, num_classes, H, W)``, without softmax:
    compile with ``loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True)`` and
    integer masks ``(N, H, W)``.

    Args:
        num_classes: output maps (classes). Defaults to 2.
        input_shape: ``(channels, height, width)``. Defaults to ``(1, 64, 64)``.
        base_filters: maps of the first level (the paper's 64). Defaults to 16.
        depth: number of poolings. Defaults to 4 (the paper's).
        batch_norm: normalize after each convolution. Defaults to True.
        name: model name.

    Example:
        >>> import torch
        >>> model = UNet(3, input_shape=(1, 32, 32), base_filters=4, depth=2)
        >>> model(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, num_classes: int = 2, input_shape=(1, 64, 64), base_filters: int = 16,
                 depth: int = 4, *, batch_norm: bool = True, name: str = "unet"):
        super().__init__(name=name)
        owner = "UNet"
        self.num_classes = check_num_classes(num_classes, owner)
        self.base_filters = check_positive_int("base_filters", base_filters, owner)
        self.depth = check_positive_int("depth", depth, owner)
        self.batch_norm = bool(batch_norm)
        widths = [self.base_filters * 2 ** i for i in range(self.depth + 1)]
        for i in range(1, self.depth + 1):
            self.add_module(f"enc{i}", self._double_conv(widths[i - 1], f"enc{i}"))
            self.add_module(f"pool{i}", MaxPool2D(2, name=f"pool{i}"))
        self.bottleneck = self._double_conv(widths[-1], "bottleneck")
        for i in range(self.depth, 0, -1):
            self.add_module(f"up{i}", Conv2DTranspose(widths[i - 1], 2, strides=2,
                                                      name=f"up{i}"))
            self.add_module(f"dec{i}", self._double_conv(widths[i - 1], f"dec{i}"))
        self.head = Conv2D(self.num_classes, 1, name="head")
        self._init_build(check_image_shape(input_shape, owner)
                         if input_shape is not None else None)

    def _double_conv(self, filters: int, name: str) -> Sequential:
        return Sequential([
            ConvBlock(filters, 3, padding=1, batch_norm=self.batch_norm, name=f"{name}_conv1"),
            ConvBlock(filters, 3, padding=1, batch_norm=self.batch_norm, name=f"{name}_conv2"),
        ], name=name)

    def _level(self, kind: str, i: int):
        return getattr(self, f"{kind}{i}")

    def _build_layers(self, input_shape: tuple) -> tuple:
        m = 2 ** self.depth
        c, h, w = input_shape
        shape = (c, h + (-h) % m, w + (-w) % m)
        skips = []
        for i in range(1, self.depth + 1):
            shape = self._level("enc", i).build_shapes(shape)
            skips.append(shape)
            shape = self._level("pool", i).build_shapes(shape)
        shape = self.bottleneck.build_shapes(shape)
        for i in range(self.depth, 0, -1):
            up = self._level("up", i).build_shapes(shape)
            skip = skips[i - 1]
            shape = self._level("dec", i).build_shapes((skip[0] + up[0], *skip[1:]))
        self.head.build_shapes(shape)
        return (self.num_classes, h, w)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.depth
        if h % m or w % m:
            x = F.pad(x, (0, (-w) % m, 0, (-h) % m))
        skips = []
        for i in range(1, self.depth + 1):
            x = self._level("enc", i)(x)
            skips.append(x)
            x = self._level("pool", i)(x)
        x = self.bottleneck(x)
        for i in range(self.depth, 0, -1):
            x = torch.cat([skips[i - 1], self._level("up", i)(x)], dim=1)
            x = self._level("dec", i)(x)
        return self.head(x)[..., :h, :w]

    def get_config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "base_filters": self.base_filters, "depth": self.depth,
                "batch_norm": self.batch_norm, "name": self.name}
