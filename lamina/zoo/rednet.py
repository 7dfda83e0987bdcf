"""RED-Net (Mao, Shen & Yang 2016): a convolutional encoder-decoder with symmetric skips."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.layers import Conv2D
from lamina.layers.blocks import HE_FAN_OUT
from lamina.layers.conv import Conv2DTranspose
from lamina.zoo._base import GraphModel, check_image_shape

__all__ = ["REDNet"]


class REDNet(GraphModel):
    """RED-Net: convolutions encode, transposed convolutions decode, skips join mirror layers.

    For image restoration (denoising, super-resolution, JPEG deblocking; deck 001 lists
    denoising among the uses of such networks). ``depth / 2`` convolutions (3x3,
    ``filters`` maps, ReLU) extract features; ``depth / 2`` transposed convolutions
    (3x3) map them back, the last one to the image's channels. Every ``skip_every`` layers
    a skip connection adds the encoder's feature map to the output of the mirror decoder
    layer, before its ReLU (``h_j = relu(deconv_j(h_{j-1}) + e_{n-j})``), which eases
    training and passes image detail through. No pooling, as the paper recommends, so every
    map has the input's size. With ``residual=True`` the input is also added to the output,
    so the network predicts the correction (the noise, for denoising). Train with
    ``loss="mse"``.

    Args:
        depth: total number of layers, even (RED-Net-10, -20, -30). Defaults to 30.
        input_shape: ``(channels, height, width)``. Defaults to ``(1, 64, 64)``.
        filters: maps of every hidden layer. Defaults to 64.
        skip_every: encoder layers between skips. Defaults to 2.
        residual: add the input to the output. Defaults to True.
        name: model name. Defaults to ``"rednet30"`` ...

    Example:
        >>> import torch
        >>> model = REDNet(10, input_shape=(1, 16, 16), filters=8)
        >>> model(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(self, depth: int = 30, input_shape=(1, 64, 64), *, filters: int = 64,
                 skip_every: int = 2, residual: bool = True, name: str | None = None):
        owner = "REDNet"
        depth = check_positive_int("depth", depth, owner)
        if depth % 2 or depth < 2:
            raise ValueError(message(f"Argument `depth` of {owner} must be an even number "
                                     f"(as many encoder as decoder layers).",
                                     received=f"depth={depth}"))
        super().__init__(name=name or f"rednet{depth}")
        self.depth = depth
        self.filters = check_positive_int("filters", filters, owner)
        self.skip_every = check_positive_int("skip_every", skip_every, owner)
        self.residual = bool(residual)
        input_shape = check_image_shape(input_shape, owner) if input_shape is not None else None
        n = depth // 2
        for i in range(1, n + 1):
            self.add_module(f"conv{i}", Conv2D(self.filters, 3, padding=1, activation="relu",
                                               kernel_initializer=HE_FAN_OUT, name=f"conv{i}"))
        self._decoder_built = False
        self._init_build(input_shape)

    def _skip_source(self, j: int) -> int | None:
        """The encoder layer whose output joins decoder layer ``j`` (1-based), or None."""
        m = self.depth // 2 - j
        return m if 0 < m and m % self.skip_every == 0 else None

    def _build_layers(self, input_shape: tuple) -> tuple:
        n = self.depth // 2
        channels = input_shape[0]
        if not self._decoder_built:   # the last layer's width is the input's channel count
            for j in range(1, n + 1):
                self.add_module(f"deconv{j}", Conv2DTranspose(
                    self.filters if j < n else channels, 3, padding="same",
                    kernel_initializer=HE_FAN_OUT, name=f"deconv{j}"))
            self._decoder_built = True
        shape = input_shape
        for i in range(1, n + 1):
            shape = getattr(self, f"conv{i}").build_shapes(shape)
        for j in range(1, n + 1):
            shape = getattr(self, f"deconv{j}").build_shapes(shape)
        return shape

    def forward(self, x: Tensor) -> Tensor:
        n = self.depth // 2
        features = [x]
        h = x
        for i in range(1, n + 1):
            h = getattr(self, f"conv{i}")(h)
            features.append(h)
        for j in range(1, n):
            h = getattr(self, f"deconv{j}")(h)
            source = self._skip_source(j)
            h = F.relu(h + features[source] if source is not None else h)
        out = getattr(self, f"deconv{n}")(h)
        return out + x if self.residual else out

    def get_config(self) -> dict[str, Any]:
        return {"depth": self.depth,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "filters": self.filters, "skip_every": self.skip_every,
                "residual": self.residual, "name": self.name}
