"""Blocks: layers made of layers, the repeated units of the decks' deep ConvNets.

Each block is a lamina ``Layer`` whose sub-layers (``Conv2D``, ``BatchNorm``, pooling) are
built from the input's channel count, so a block drops into a ``Sequential`` like any
layer and ``print(model)`` shows its parts. The skip connections of ResNet and DenseNet
and the parallel branches of Inception live in each block's plain-PyTorch ``forward``.
Layouts and parameter names follow torchvision, so parameter counts match its models.

Example:
    >>> import torch
    >>> from lamina import layers
    >>> block = layers.ResidualBlock(8, strides=2)
    >>> block(torch.zeros(1, 4, 16, 16)).shape
    torch.Size([1, 8, 8, 8])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina import activations, initializers
from lamina._validation import (
    check_int_tuple,
    check_option,
    check_positive_int,
    check_probability,
)
from lamina.errors import message
from lamina.layers.base import Layer
from lamina.layers.conv import Conv2D, resolve_padding
from lamina.layers.input_spec import InputSpec
from lamina.layers.normalization import BatchNorm
from lamina.layers.pooling import AvgPool2D, MaxPool2D

__all__ = ["ConvBlock", "ResidualBlock", "InceptionModule", "DenseBlock", "TransitionBlock",
           "MLPConv"]


#: torchvision's initialization of ReLU networks, ``kaiming_normal_(mode="fan_out")``: the
#: default of every block's convolutions (and cheap: no truncation loop).
HE_FAN_OUT = initializers.VarianceScaling(2.0, mode="fan_out", distribution="untruncated_normal")


def _build_chain(layers, shape: tuple) -> tuple:
    """Build ``layers`` in turn from per-sample ``shape``, recording shapes; the last shape."""
    for layer in layers:
        shape = layer.build_shapes(shape)
    return shape


def _chain_shape(layers, shape: tuple) -> tuple:
    """Output shape of built ``layers`` applied in turn (shape arithmetic, no forward)."""
    for layer in layers:
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def _padding_config(padding):
    return padding if isinstance(padding, str) else list(padding)


class _Block(Layer):
    """A layer of sub-layers over ``(N, C, H, W)`` images: checks rank, then pins ``C``."""

    def __init__(self, *, name: str | None = None):
        super().__init__(name=name)
        self.input_spec = InputSpec(ndim=3)

    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _pin_channels(self) -> None:
        self.input_spec = InputSpec(ndim=3, axes={0: self.input_shape[0]})

    def _in_channels(self) -> str:
        return "?" if self.input_shape is None else str(self.input_shape[0])


class ConvBlock(_Block):
    """Convolution, batch normalization, activation: torchvision's ``BasicConv2d``.

    With ``batch_norm=True`` the convolution has no bias (the normalization's ``beta``
    replaces it); with ``batch_norm=False`` it is a plain ``Conv2D`` with a bias.

    Args:
        filters: output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw). Defaults to 1.
        padding: ``"valid"``, ``"same"`` or an int / (ph, pw) of zeros on each side.
            Defaults to ``"valid"``.
        batch_norm: insert a ``BatchNorm`` after the convolution. Defaults to True.
        activation: name or callable applied last. Defaults to ``"relu"``.
        epsilon: the normalization's epsilon (GoogLeNet uses 1e-3). Defaults to 1e-5.
        kernel_initializer: initializer of the convolution. Defaults to
            :data:`HE_FAN_OUT` (torchvision's He normal with fan-out).
        name: layer name.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, filters, H_out, W_out)``, as for ``Conv2D``.

    Example:
        >>> import torch
        >>> block = ConvBlock(16, 3, padding=1)
        >>> block(torch.zeros(2, 3, 8, 8)).shape, block.count_params()
        (torch.Size([2, 16, 8, 8]), 464)
    """

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", *,
                 batch_norm: bool = True, activation="relu", epsilon: float = 1e-5,
                 kernel_initializer=HE_FAN_OUT, name: str | None = None):
        super().__init__(name=name)
        self.batch_norm = bool(batch_norm)
        self.epsilon = float(epsilon)
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.conv = Conv2D(filters, kernel_size, strides, padding, use_bias=not self.batch_norm,
                           kernel_initializer=kernel_initializer, name=f"{self.name}/conv")
        self.bn = BatchNorm(epsilon=epsilon, name=f"{self.name}/bn") if self.batch_norm else None

    def _parts(self) -> list:
        return [self.conv] + ([self.bn] if self.bn is not None else [])

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        _build_chain(self._parts(), self.input_shape)
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _chain_shape(self._parts(), input_shape)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        c = self.conv
        return {"filters": c.filters, "kernel_size": list(c.kernel_size),
                "strides": list(c.strides), "padding": _padding_config(c.padding),
                "batch_norm": self.batch_norm, "activation": self.activation_name,
                "epsilon": self.epsilon,
                "kernel_initializer": initializers.serialize(c.kernel_initializer),
                **super().get_config()}

    def extra_repr(self) -> str:
        return "" if self.activation_name == "relu" else f"activation={self.activation_name}"


class ResidualBlock(_Block):
    """He et al.'s residual block: ``y = relu(F(x) + shortcut(x))``.

    The basic block (ResNet-18/34, CIFAR ResNets) is ``F = BN(conv3x3(relu(BN(conv3x3 x))))``
    with ``filters`` output channels; the bottleneck block (ResNet-50/101/152) is
    1x1 (``filters``) -> 3x3 (``filters``, carries the stride) -> 1x1
    (``filters * expansion``), each followed by batch normalization, with ReLUs between.
    Convolutions have no bias. This is torchvision's ``BasicBlock``/``Bottleneck``
    (ResNet v1.5: the stride sits on the 3x3 convolution).

    The shortcut is the identity when ``F`` keeps the shape. When it does not (a stride,
    or a new channel count), ``projection`` chooses He et al.'s option:

    * ``"auto"`` (option B): a 1x1 convolution with the stride, then batch normalization;
      the identity elsewhere. torchvision's layout.
    * ``"always"`` (option C): that projection in every block.
    * ``"zero_pad"`` (option A): the identity, subsampled with the stride and padded with
      zero channels; it adds no parameters (the paper's CIFAR-10 ResNets).

    Args:
        filters: channels of the 3x3 convolutions.
        strides: stride of the block (2 halves the height and width). Defaults to 1.
        bottleneck: use the 1x1-3x3-1x1 bottleneck. Defaults to False.
        expansion: output channels are ``filters * expansion`` in a bottleneck block
            (ignored by the basic block). Defaults to 4.
        projection: ``"auto"``, ``"always"`` or ``"zero_pad"``. Defaults to ``"auto"``.
        kernel_initializer: initializer of the convolutions. Defaults to
            :data:`HE_FAN_OUT` (torchvision's He normal with fan-out).
        name: layer name.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, out_channels, ceil(H / strides), ceil(W / strides))``.

    Example:
        >>> import torch
        >>> block = ResidualBlock(16, bottleneck=True)
        >>> block(torch.zeros(1, 64, 8, 8)).shape, block.count_params()
        (torch.Size([1, 64, 8, 8]), 4544)
    """

    def __init__(self, filters: int, strides: int = 1, bottleneck: bool = False,
                 expansion: int = 4, projection: str = "auto", *,
                 kernel_initializer=HE_FAN_OUT, name: str | None = None):
        super().__init__(name=name)
        owner = self._owner()
        self.filters = check_positive_int("filters", filters, owner)
        self.strides = check_positive_int("strides", strides, owner)
        self.bottleneck = bool(bottleneck)
        self.expansion = check_positive_int("expansion", expansion, owner)
        self.projection = check_option("projection", projection,
                                       ("auto", "always", "zero_pad"), owner)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.out_channels = self.filters * self.expansion if self.bottleneck else self.filters
        n = self.name
        if self.bottleneck:
            self.conv1 = self._conv(self.filters, 1, 1, 0, f"{n}/conv1")
            self.bn1 = BatchNorm(name=f"{n}/bn1")
            self.conv2 = self._conv(self.filters, 3, self.strides, 1, f"{n}/conv2")
            self.bn2 = BatchNorm(name=f"{n}/bn2")
            self.conv3 = self._conv(self.out_channels, 1, 1, 0, f"{n}/conv3")
            self.bn3 = BatchNorm(name=f"{n}/bn3")
        else:
            self.conv1 = self._conv(self.filters, 3, self.strides, 1, f"{n}/conv1")
            self.bn1 = BatchNorm(name=f"{n}/bn1")
            self.conv2 = self._conv(self.filters, 3, 1, 1, f"{n}/conv2")
            self.bn2 = BatchNorm(name=f"{n}/bn2")
        self.shortcut_conv: Conv2D | None = None
        self.shortcut_bn: BatchNorm | None = None

    def _conv(self, filters, kernel_size, strides, padding, name) -> Conv2D:
        return Conv2D(filters, kernel_size, strides, padding, use_bias=False,
                      kernel_initializer=self.kernel_initializer, name=name)

    def _main(self) -> list:
        parts = [self.conv1, self.bn1, self.conv2, self.bn2]
        return parts + [self.conv3, self.bn3] if self.bottleneck else parts

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        in_channels = self.input_shape[0]
        _build_chain(self._main(), self.input_shape)
        reshapes = self.strides != 1 or in_channels != self.out_channels
        if self.projection == "always" or (self.projection == "auto" and reshapes):
            self.shortcut_conv = self._conv(self.out_channels, 1, self.strides, 0,
                                            f"{self.name}/shortcut_conv")
            self.shortcut_bn = BatchNorm(name=f"{self.name}/shortcut_bn")
            _build_chain([self.shortcut_conv, self.shortcut_bn], self.input_shape)
        elif self.projection == "zero_pad" and in_channels > self.out_channels:
            raise ValueError(message(
                f"{self._owner()} with projection='zero_pad' cannot shrink {in_channels} input "
                f"channels to {self.out_channels}.", received=f"input with {in_channels} channels",
                fix="Use projection='auto' (a 1x1 convolution shortcut)."))
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _chain_shape(self._main(), input_shape)

    def shortcut(self, x: Tensor) -> Tensor:
        """The skip path: identity, projection, or subsampled identity padded with zeros."""
        if self.shortcut_conv is not None:
            return self.shortcut_bn(self.shortcut_conv(x))
        if self.strides != 1:
            x = x[:, :, ::self.strides, ::self.strides]
        extra = self.out_channels - x.shape[1]
        return F.pad(x, (0, 0, 0, 0, 0, extra)) if extra else x

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            out = F.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
        else:
            out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "strides": self.strides, "bottleneck": self.bottleneck,
                "expansion": self.expansion, "projection": self.projection,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                **super().get_config()}

    def extra_repr(self) -> str:
        s = f"{self._in_channels()} -> {self.out_channels}"
        if self.strides != 1:
            s += f", strides={self.strides}"
        if self.bottleneck:
            s += ", bottleneck=True"
        return s + ("" if self.projection == "auto" else f", projection={self.projection!r}")


class InceptionModule(_Block):
    """GoogLeNet's Inception module (v1): four parallel branches, concatenated on channels.

    Branches: a 1x1 convolution (``c1``); 1x1 (``c3r``) then 3x3 (``c3``); 1x1 (``c5r``)
    then ``c5_kernel_size`` x ``c5_kernel_size`` (``c5``); 3x3 max pooling at stride 1
    then 1x1 (``pool_proj``). Every convolution is a :class:`ConvBlock` (convolution
    without bias, batch normalization with ``epsilon=1e-3``, ReLU), as torchvision's
    GoogLeNet; ``batch_norm=False`` gives Szegedy et al.'s original convolutions with
    biases. All branches keep the height and width.

    Args:
        c1: channels of the 1x1 branch.
        c3r: channels of the 1x1 reduction before the 3x3 convolution.
        c3: channels of the 3x3 convolution.
        c5r: channels of the 1x1 reduction before the "5x5" convolution.
        c5: channels of the "5x5" convolution.
        pool_proj: channels of the 1x1 projection after the max pooling.
        c5_kernel_size: kernel of the "5x5" branch (odd). The paper's is 5; torchvision's
            GoogLeNet uses 3 (and so does :func:`lamina.zoo.GoogLeNet`, to match its
            6,624,904 parameters). Defaults to 5.
        batch_norm: normalize after each convolution. Defaults to True.
        kernel_initializer: initializer of the convolutions. Defaults to
            :data:`HE_FAN_OUT` (torchvision's He normal with fan-out).
        name: layer name.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, c1 + c3 + c5 + pool_proj, H, W)``.

    Example:
        >>> import torch
        >>> block = InceptionModule(64, 96, 128, 16, 32, 32)   # GoogLeNet's "3a"
        >>> block(torch.zeros(1, 192, 7, 7)).shape
        torch.Size([1, 256, 7, 7])
    """

    def __init__(self, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int, *,
                 c5_kernel_size: int = 5, batch_norm: bool = True,
                 kernel_initializer=HE_FAN_OUT, name: str | None = None):
        super().__init__(name=name)
        owner = self._owner()
        sizes = {"c1": c1, "c3r": c3r, "c3": c3, "c5r": c5r, "c5": c5, "pool_proj": pool_proj}
        self.sizes = {k: check_positive_int(k, v, owner) for k, v in sizes.items()}
        k5 = check_positive_int("c5_kernel_size", c5_kernel_size, owner)
        if k5 % 2 == 0:
            raise ValueError(message(
                f"Argument `c5_kernel_size` of {owner} must be odd, so the branch keeps the "
                f"height and width.", received=f"c5_kernel_size={c5_kernel_size}"))
        self.c5_kernel_size = k5
        self.batch_norm = bool(batch_norm)
        self.kernel_initializer = initializers.get(kernel_initializer)
        n = self.name

        def conv(filters, kernel_size, part):
            return ConvBlock(filters, kernel_size, padding=kernel_size // 2,
                             batch_norm=self.batch_norm, epsilon=1e-3,
                             kernel_initializer=self.kernel_initializer, name=f"{n}/{part}")

        self.branch1 = conv(c1, 1, "branch1")
        self.branch2_reduce = conv(c3r, 1, "branch2_reduce")
        self.branch2 = conv(c3, 3, "branch2")
        self.branch3_reduce = conv(c5r, 1, "branch3_reduce")
        self.branch3 = conv(c5, k5, "branch3")
        self.branch4_pool = MaxPool2D(3, strides=1, padding="same", name=f"{n}/branch4_pool")
        self.branch4 = conv(pool_proj, 1, "branch4")

    def _branches(self) -> list[list]:
        return [[self.branch1], [self.branch2_reduce, self.branch2],
                [self.branch3_reduce, self.branch3], [self.branch4_pool, self.branch4]]

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        for branch in self._branches():
            _build_chain(branch, self.input_shape)
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shapes = [_chain_shape(branch, input_shape) for branch in self._branches()]
        return (sum(s[0] for s in shapes), *shapes[0][1:])

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1(x),
            self.branch2(self.branch2_reduce(x)),
            self.branch3(self.branch3_reduce(x)),
            self.branch4(self.branch4_pool(x)),
        ], dim=1)

    def get_config(self) -> dict[str, Any]:
        return {**self.sizes, "c5_kernel_size": self.c5_kernel_size,
                "batch_norm": self.batch_norm,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                **super().get_config()}

    def extra_repr(self) -> str:
        out = sum(self.sizes[k] for k in ("c1", "c3", "c5", "pool_proj"))
        return f"{self._in_channels()} -> {out}"


class _DenseLayer(_Block):
    """One layer of a dense block: BN-ReLU-conv1x1 (``bn_size * growth``)-BN-ReLU-conv3x3."""

    def __init__(self, growth_rate: int, bn_size: int, dropout: float, kernel_initializer,
                 *, name: str):
        super().__init__(name=name)
        self.dropout = dropout
        self.norm1 = BatchNorm(name=f"{name}/norm1")
        self.conv1 = Conv2D(bn_size * growth_rate, 1, use_bias=False,
                            kernel_initializer=kernel_initializer, name=f"{name}/conv1")
        self.norm2 = BatchNorm(name=f"{name}/norm2")
        self.conv2 = Conv2D(growth_rate, 3, padding=1, use_bias=False,
                            kernel_initializer=kernel_initializer, name=f"{name}/conv2")

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        _build_chain([self.norm1, self.conv1, self.norm2, self.conv2], self.input_shape)
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _chain_shape([self.conv1, self.conv2], input_shape)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(F.relu(self.norm1(x)))
        x = self.conv2(F.relu(self.norm2(x)))
        return F.dropout(x, self.dropout, self.training) if self.dropout else x


class DenseBlock(_Block):
    """Huang et al.'s dense block: each layer sees every earlier feature map.

    Layer ``i`` takes the concatenation ``[x, h_1, ..., h_{i-1}]`` and adds ``growth_rate``
    new channels ``h_i = conv3x3(relu(BN(conv1x1(relu(BN(.))))))``, the 1x1 "bottleneck"
    having ``bn_size * growth_rate`` channels (DenseNet-BC; convolutions without bias, as in
    torchvision). The block returns ``[x, h_1, ..., h_L]``.

    Args:
        num_layers: number of layers ``L``.
        growth_rate: channels each layer adds (``k`` in the paper).
        bn_size: bottleneck width, in multiples of ``growth_rate``. Defaults to 4.
        dropout: dropout rate after each layer. Defaults to 0.
        kernel_initializer: initializer of the convolutions. Defaults to
            :data:`HE_FAN_OUT` (torchvision's He normal with fan-out).
        name: layer name.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C + num_layers * growth_rate, H, W)``.

    Example:
        >>> import torch
        >>> block = DenseBlock(3, growth_rate=4)
        >>> block(torch.zeros(1, 8, 6, 6)).shape
        torch.Size([1, 20, 6, 6])
    """

    def __init__(self, num_layers: int, growth_rate: int, bn_size: int = 4,
                 dropout: float = 0.0, *, kernel_initializer=HE_FAN_OUT,
                 name: str | None = None):
        super().__init__(name=name)
        owner = self._owner()
        self.num_layers = check_positive_int("num_layers", num_layers, owner)
        self.growth_rate = check_positive_int("growth_rate", growth_rate, owner)
        self.bn_size = check_positive_int("bn_size", bn_size, owner)
        self.dropout = check_probability("dropout", dropout, owner)
        self.kernel_initializer = initializers.get(kernel_initializer)
        for i in range(self.num_layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(
                self.growth_rate, self.bn_size, self.dropout, self.kernel_initializer,
                name=f"{self.name}/denselayer{i + 1}"))

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        c, *spatial = self.input_shape
        for i, layer in enumerate(self.children()):
            layer.build_shapes((c + i * self.growth_rate, *spatial))
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, *spatial = input_shape
        return (c + self.num_layers * self.growth_rate, *spatial)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.children():
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)

    def get_config(self) -> dict[str, Any]:
        return {"num_layers": self.num_layers, "growth_rate": self.growth_rate,
                "bn_size": self.bn_size, "dropout": self.dropout,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                **super().get_config()}

    def extra_repr(self) -> str:
        s = f"{self.num_layers} layers, growth_rate={self.growth_rate}"
        s += "" if self.bn_size == 4 else f", bn_size={self.bn_size}"
        return s + ("" if not self.dropout else f", dropout={self.dropout}")


class TransitionBlock(_Block):
    """DenseNet's transition between dense blocks: BN, ReLU, 1x1 convolution, 2x2 average pool.

    The 1x1 convolution (no bias) sets the channel count, usually half the input's
    (compression 0.5, DenseNet-BC); the pooling halves height and width.

    Args:
        filters: output channels.
        kernel_initializer: initializer of the convolution. Defaults to
            :data:`HE_FAN_OUT` (torchvision's He normal with fan-out).
        name: layer name.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, filters, floor(H / 2), floor(W / 2))``.

    Example:
        >>> import torch
        >>> TransitionBlock(4)(torch.zeros(1, 8, 6, 6)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, filters: int, *, kernel_initializer=HE_FAN_OUT, name: str | None = None):
        super().__init__(name=name)
        self.norm = BatchNorm(name=f"{self.name}/norm")
        self.conv = Conv2D(filters, 1, use_bias=False, kernel_initializer=kernel_initializer,
                           name=f"{self.name}/conv")
        self.pool = AvgPool2D(2, name=f"{self.name}/pool")

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        _build_chain([self.norm, self.conv, self.pool], self.input_shape)
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _chain_shape([self.conv, self.pool], input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(F.relu(self.norm(x))))

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.conv.filters,
                "kernel_initializer": initializers.serialize(self.conv.kernel_initializer),
                **super().get_config()}

    def extra_repr(self) -> str:
        return f"{self._in_channels()} -> {self.conv.filters}"


class MLPConv(_Block):
    """Network in Network's "mlpconv" layer: a kxk convolution then two 1x1 convolutions.

    The two 1x1 convolutions act as a small MLP shared across positions (Lin et al. 2013);
    each of the three convolutions has a bias and is followed by ``activation``.

    Args:
        filters: output channels of the three convolutions: an int (all three alike) or
            three ints ``(kxk, first 1x1, second 1x1)``.
        kernel_size: kernel of the first convolution, int or (kh, kw).
        strides: stride of the first convolution. Defaults to 1.
        padding: padding of the first convolution (``"valid"``, ``"same"`` or ints).
            Defaults to ``"valid"``.
        activation: applied after each convolution. Defaults to ``"relu"``.
        kernel_initializer: initializer of the convolutions. Defaults to
            :data:`HE_FAN_OUT` (torchvision's He normal with fan-out).
        name: layer name.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, filters[-1], H_out, W_out)``, ``H_out`` as for the first convolution.

    Example:
        >>> import torch
        >>> block = MLPConv((192, 160, 96), 5, padding=2)   # NiN's first CIFAR-10 layer
        >>> block(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 96, 32, 32])
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", *, activation="relu",
                 kernel_initializer=HE_FAN_OUT, name: str | None = None):
        super().__init__(name=name)
        owner = self._owner()
        self.filters = check_int_tuple("filters", filters, 3, owner)
        self.kernel_size = check_int_tuple("kernel_size", kernel_size, 2, owner)
        self.strides = check_int_tuple("strides", strides, 2, owner)
        self.padding = resolve_padding(padding, 2, owner)
        self.activation_name = activations.serialize(activations.get(activation))
        self.kernel_initializer = initializers.get(kernel_initializer)
        f0, f1, f2 = self.filters
        kw = {"activation": self.activation_name, "kernel_initializer": self.kernel_initializer}
        self.conv = Conv2D(f0, kernel_size, strides, padding, name=f"{self.name}/conv", **kw)
        self.mlp1 = Conv2D(f1, 1, name=f"{self.name}/mlp1", **kw)
        self.mlp2 = Conv2D(f2, 1, name=f"{self.name}/mlp2", **kw)

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        _build_chain([self.conv, self.mlp1, self.mlp2], self.input_shape)
        self._pin_channels()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _chain_shape([self.conv, self.mlp1, self.mlp2], input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp2(self.mlp1(self.conv(x)))

    def get_config(self) -> dict[str, Any]:
        return {"filters": list(self.filters), "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": _padding_config(self.padding),
                "activation": self.activation_name,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                **super().get_config()}

    def extra_repr(self) -> str:
        return "" if self.activation_name == "relu" else f"activation={self.activation_name}"

