"""Convolution layers (channels-first, like PyTorch): Conv1D, Conv2D, Conv2DTranspose."""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina._shapes import (
    conv_output_length,
    conv_transpose_crop,
    conv_transpose_output_length,
    same_padding,
)
from lamina._validation import check_int_tuple, check_option, check_positive_int
from lamina.errors import LaminaWarning, message
from lamina.layers._activated import ActivatedLayer
from lamina.layers.input_spec import InputSpec

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose"]

_CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def resolve_padding(padding, rank: int, owner: str):
    """Normalize ``padding`` to ``"valid"``, ``"same"`` or a tuple of ``rank`` ints >= 0."""
    if isinstance(padding, str):
        return check_option("padding", padding, ("valid", "same"), owner)
    if isinstance(padding, numbers.Integral) or isinstance(padding, (tuple, list)):
        return check_int_tuple("padding", padding, rank, owner, minimum=0)
    raise ValueError(message(f"Argument `padding` of {owner} must be 'valid', 'same' or "
                             f"non-negative integers.", received=f"padding={padding!r}"))


def _set_geometry(layer, filters, kernel_size, strides, dilation_rate) -> str:
    """Checks and sets a (transposed) convolution's ``filters``, ``kernel_size``, ``strides``
    and ``dilation_rate``; returns the layer's name as error messages write it."""
    owner = f"{type(layer).__name__} '{layer.name}'"
    layer.filters = check_positive_int("filters", filters, owner)
    layer.kernel_size = check_int_tuple("kernel_size", kernel_size, layer.rank, owner)
    layer.strides = check_int_tuple("strides", strides, layer.rank, owner)
    layer.dilation_rate = check_int_tuple("dilation_rate", dilation_rate, layer.rank, owner)
    return owner


class _Conv(ActivatedLayer):
    """N-d convolution ``y = f(W * x + b)`` with Keras arguments and channels-first data."""

    rank = 2
    #: a convolution (what the execution plan, ``lamina.fast.plan``, looks for)
    is_convolution = True

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", activation=None, *,
                 dilation_rate=1, groups: int = 1, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 name: str | None = None):
        super().__init__(activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, name=name)
        owner = _set_geometry(self, filters, kernel_size, strides, dilation_rate)
        self.groups = check_positive_int("groups", groups, owner)
        if self.filters % self.groups:
            raise ValueError(message(f"Argument `filters` of {owner} must be divisible by "
                                     f"`groups`.", received=f"filters={filters}, groups={groups}"))
        self.padding = resolve_padding(padding, self.rank, owner)
        self.input_spec = InputSpec(ndim=self.rank + 1)
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None
        self._pad_arg: Any = 0       # what F.conv receives
        self._pre_pad: tuple | None = None   # asymmetric "same" padding done by F.pad
        self._planned_for: tuple | None = None   # spatial size the "same" plan was made for

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        in_channels = self.input_shape[0]
        if in_channels % self.groups:
            raise ValueError(message(
                f"Layer '{self.name}' has groups={self.groups}, which must divide the input "
                f"channels.", received=f"input with {in_channels} channels"))
        self.weight = nn.Parameter(torch.empty(
            self.filters, in_channels // self.groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(self.filters)) if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 1, axes={0: in_channels})
        self._pad_arg, self._pre_pad = self._plan_padding(self.input_shape[1:])
        self._planned_for = tuple(self.input_shape[1:])
        self.reset_parameters()

    def _plan_padding(self, spatial: tuple) -> tuple:
        """(padding for F.conv, padding for F.pad or None) for inputs of ``spatial`` size."""
        if self.padding == "valid":
            return 0, None
        if self.padding != "same":
            return self.padding, None
        pads = [same_padding(n, k, s, d) for n, k, s, d in
                zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
        if all(a == b for a, b in pads):
            return tuple(a for a, _ in pads), None
        return 0, tuple(p for pair in reversed(pads) for p in pair)  # F.pad: last axis first

    def _pad_totals(self, spatial: tuple) -> list[int]:
        if self.padding == "valid":
            return [0] * self.rank
        if self.padding == "same":
            return [sum(same_padding(n, k, s, d)) for n, k, s, d in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
        return [2 * p for p in self.padding]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        spatial = input_shape[1:]
        out = [conv_output_length(n, k, s, p, d) for n, k, s, p, d in
               zip(spatial, self.kernel_size, self.strides, self._pad_totals(spatial),
                   self.dilation_rate)]
        if min(out) < 1:
            raise ValueError(
                f"Layer '{self.name}' with kernel_size={self.kernel_size} cannot slide over "
                f"input of per-sample shape {tuple(input_shape)}: the output would be empty. "
                f"Use padding='same' or a larger input.")
        return (self.filters, *out)

    def pad(self, x: Tensor) -> tuple[Tensor, Any]:
        """``x`` zero-padded where ``F.conv`` cannot pad it, and the padding left to ``F.conv``
        (``"same"`` padding depends on the input size when strides > 1)."""
        pad_arg, pre_pad = self._pad_arg, self._pre_pad
        if self.padding == "same" and tuple(x.shape[2:]) != self._planned_for:
            pad_arg, pre_pad = self._plan_padding(tuple(x.shape[2:]))
        return (x if pre_pad is None else F.pad(x, pre_pad)), pad_arg

    def preactivation(self, x: Tensor) -> Tensor:
        x, pad_arg = self.pad(x)
        return _CONV_FN[self.rank](x, self.weight, self.bias, self.strides, pad_arg,
                                   self.dilation_rate, self.groups)

    def get_config(self) -> dict[str, Any]:
        padding = self.padding if isinstance(self.padding, str) else list(self.padding)
        return {"filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": padding,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                **super().get_config()}

    def extra_repr(self) -> str:
        in_c = "?" if self.weight is None else self.weight.shape[1] * self.groups
        s = f"{in_c} -> {self.filters}, kernel_size={self.kernel_size}"
        if self.strides != (1,) * self.rank:
            s += f", strides={self.strides}"
        if self.padding not in ("valid", (0,) * self.rank):
            s += f", padding={self.padding!r}"
        if self.dilation_rate != (1,) * self.rank:
            s += f", dilation_rate={self.dilation_rate}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + self._activation_repr() + ("" if self.use_bias else ", use_bias=False")


class Conv1D(_Conv):
    """1-D convolution over ``(N, C, L)`` sequences: ``y = f(W * x + b)``.

    ``Conv2D`` along one axis: each of the ``filters`` output channels slides a ``C x k``
    filter over the sequence.

    Args:
        filters: number of output channels.
        kernel_size: int or (k,).
        strides: int or (s,). Defaults to 1.
        padding: ``"valid"`` (none), ``"same"`` (output ``ceil(L / s)``, any stride, as in
            Keras), or an int / (p,) of zeros on each side. Defaults to ``"valid"``.
        activation: name or callable. Defaults to identity.
        dilation_rate: int or (d,). Defaults to 1.
        groups: channel groups. Defaults to 1.
        use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, name: as for ``Dense``.

    Input shape:
        ``(N, C, L)``.
    Output shape:
        ``(N, filters, L_out)`` with ``L_out = floor((L + P - d (k - 1) - 1) / s) + 1``.

    Example:
        >>> import torch
        >>> Conv1D(4, 3, strides=2, padding="same")(torch.zeros(2, 1, 9)).shape
        torch.Size([2, 4, 5])
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over ``(N, C, H, W)`` images: ``y = f(W * x + b)``.

    Each of the ``filters`` output maps sums a ``C x kh x kw`` filter slid over the input
    (the deck's "sliding a 3D filter over the image"). With ``kernel_size=1`` it is the
    decks' "1x1 convolution": each output map is a linear combination of the input maps.

    Args:
        filters: number of output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw). Defaults to 1.
        padding: ``"valid"`` (none), ``"same"`` (output ``ceil(H / s)``, any stride, as in
            Keras), or an int / (ph, pw) of zeros on each side. Defaults to ``"valid"``.
        activation: name or callable. Defaults to identity.
        dilation_rate: int or tuple. Defaults to 1.
        groups: channel groups. Defaults to 1.
        use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, name: as for ``Dense``.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, filters, H_out, W_out)`` with
        ``H_out = floor((H + P - d (k - 1) - 1) / s) + 1``.

    Example:
        >>> import torch
        >>> conv = Conv2D(6, 5, padding="same", activation="relu")
        >>> conv(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 6, 28, 28])
    """

    rank = 2

    def __init__(self, filters: int, kernel_size, *args, **kwargs):
        if args:
            _warn_keras1_kernel(filters, kernel_size, args[0])
        super().__init__(filters, kernel_size, *args, **kwargs)

    __init__.__signature__ = inspect.signature(_Conv.__init__)


def _warn_keras1_kernel(filters, kernel_size, strides) -> None:
    """Warn about ``Conv2D(f, k, k)``: a positional stride equal to the kernel size is what
    a port of Keras 1's ``Convolution2D(nb_filter, nb_row, nb_col)`` writes for a k x k
    kernel, and it silently builds a stride-k convolution instead."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral):
        return
    if strides == kernel_size and kernel_size > 1:
        warnings.warn(message(
            f"Conv2D({filters}, {kernel_size}, {strides}) builds a {kernel_size}x{kernel_size} "
            f"convolution with stride {strides}: the third positional argument of Conv2D is "
            f"`strides`, while Keras 1's Convolution2D(nb_filter, nb_row, nb_col) meant a "
            f"{kernel_size}x{strides} kernel.",
            fix=f"For a {kernel_size}x{kernel_size} kernel with stride 1 write "
                f"Conv2D({filters}, ({kernel_size}, {strides})); to keep stride {strides}, pass "
                f"it by keyword (strides={strides}), which does not warn."),
            LaminaWarning, stacklevel=4)



class _ConvTranspose(ActivatedLayer):
    """N-d transposed convolution with Keras's output sizes, channels-first."""

    rank = 2
    is_convolution = True

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", activation=None, *,
                 output_padding=None, dilation_rate=1, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 name: str | None = None):
        super().__init__(activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, name=name)
        owner = _set_geometry(self, filters, kernel_size, strides, dilation_rate)
        self.padding = check_option("padding", padding, ("valid", "same"), owner)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = check_int_tuple("output_padding", output_padding, self.rank,
                                                  owner, minimum=0)
            if any(a >= s for a, s in zip(self.output_padding, self.strides)):
                raise ValueError(message(
                    f"Argument `output_padding` of {owner} must be smaller than `strides` "
                    f"on every axis.", received=f"output_padding={output_padding!r}, "
                                                f"strides={strides!r}"))
        self.input_spec = InputSpec(ndim=self.rank + 1)
        self.weight: nn.Parameter | None = None
        self.bias: nn.Parameter | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        in_channels = self.input_shape[0]
        # torch's layout (in, out, *k); its fans then equal Keras's for a transposed kernel
        self.weight = nn.Parameter(torch.empty(in_channels, self.filters, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(self.filters)) if self.use_bias else None
        self.input_spec = InputSpec(ndim=self.rank + 1, axes={0: in_channels})
        self.reset_parameters()

    def _output_paddings(self) -> tuple:
        return self.output_padding or (None,) * self.rank

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        out = [conv_transpose_output_length(n, k, s, self.padding, a, d) for n, k, s, a, d in
               zip(input_shape[1:], self.kernel_size, self.strides, self._output_paddings(),
                   self.dilation_rate)]
        if min(out) < 1:
            raise ValueError(
                f"Layer '{self.name}' with kernel_size={self.kernel_size} and output_padding="
                f"{self.output_padding} gives an empty output for input of per-sample shape "
                f"{tuple(input_shape)}. Use a larger output_padding or padding='valid'.")
        return (self.filters, *out)

    def preactivation(self, x: Tensor) -> Tensor:
        starts, torch_extra, trim = [], [], []
        for n, k, s, a, d in zip(x.shape[2:], self.kernel_size, self.strides,
                                 self._output_paddings(), self.dilation_rate):
            start, stop = conv_transpose_crop(n, k, s, self.padding, a, d)
            full = (n - 1) * s + d * (k - 1) + 1
            # torch keeps [start, full - start + extra): set extra for `stop`, or trim after
            extra = stop + start - full
            starts.append(start)
            torch_extra.append(max(extra, 0))
            trim.append(max(-extra, 0))
        y = _CONV_TRANSPOSE_FN[self.rank](x, self.weight, self.bias, self.strides, tuple(starts),
                                          tuple(torch_extra), 1, self.dilation_rate)
        if any(trim):
            y = y[(..., *(slice(0, m - t) for m, t in zip(y.shape[2:], trim)))]
        return y

    def get_config(self) -> dict[str, Any]:
        output_padding = None if self.output_padding is None else list(self.output_padding)
        return {"filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "output_padding": output_padding, "dilation_rate": list(self.dilation_rate),
                **super().get_config()}

    def extra_repr(self) -> str:
        in_c = "?" if self.weight is None else self.weight.shape[0]
        s = f"{in_c} -> {self.filters}, kernel_size={self.kernel_size}"
        if self.strides != (1,) * self.rank:
            s += f", strides={self.strides}"
        if self.padding != "valid":
            s += f", padding={self.padding!r}"
        if self.output_padding is not None:
            s += f", output_padding={self.output_padding}"
        if self.dilation_rate != (1,) * self.rank:
            s += f", dilation_rate={self.dilation_rate}"
        return s + self._activation_repr() + ("" if self.use_bias else ", use_bias=False")


class Conv2DTranspose(_ConvTranspose):
    """Fractional-stride (transposed) 2-D convolution, deck 002: ``y = f(W^T * x + b)``.

    Each input pixel adds a copy of its ``filters x kh x kw`` kernel, scaled by its value,
    to the output, the copies ``strides`` pixels apart: the gradient of a ``Conv2D`` with
    the same kernel and strides, which upsamples by ``strides`` (Noh et al. 2015, deck 002's
    "getting spatial resolution back"). Output sizes and values are Keras's; with
    ``padding="same"`` the layer is exactly the adjoint (transpose) of
    ``Conv2D(padding="same")`` with the same strides on an ``(H s, W s)`` input. The weight
    has torch's layout ``(C, filters, kh, kw)``, so it loads into ``nn.ConvTranspose2d``.

    Args:
        filters: number of output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw): the upsampling factor. Defaults to 1.
        padding: ``"valid"`` or ``"same"`` (output ``H s``). Defaults to ``"valid"``.
        activation: name or callable. Defaults to identity.
        output_padding: int or (ah, aw), each smaller than its stride: extra rows and
            columns at the end, to pick one of the input sizes a strided convolution maps
            to the same output size. Defaults to None (Keras's sizes below).
        dilation_rate: int or (dh, dw). Defaults to 1.
        use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, name: as for ``Dense``.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, filters, H_out, W_out)``, with ``k' = d (k - 1) + 1``:
        ``"valid"``: ``H_out = (H - 1) s + max(k', s)``, or ``(H - 1) s + k' + a`` given
        ``output_padding=a``; ``"same"``: ``H_out = H s``, or ``(H - 1) s + (k' mod 2) + a``.

    Example:
        >>> import torch
        >>> up = Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")
        >>> up(torch.zeros(2, 8, 7, 7)).shape
        torch.Size([2, 3, 14, 14])
        >>> Conv2DTranspose(1, 3, strides=2).compute_output_shape((8, 7, 7))
        (1, 15, 15)
    """

    rank = 2
