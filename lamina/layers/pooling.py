"""Pooling layers (the decks' "subsampling"): max, average, Lp, global, and max unpooling."""

from __future__ import annotations

import math
import numbers
import weakref
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from lamina._shapes import pool_output_length, same_padding
from lamina._validation import check_int_tuple, check_option
from lamina.errors import message
from lamina.functional.conv import lp_pool2d, max_unpool2d
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec, format_shape

__all__ = [
    "MaxPool1D", "AvgPool1D", "MaxPool2D", "AvgPool2D", "LpPool2D", "MaxUnpool2D",
    "GlobalAvgPool1D", "GlobalMaxPool1D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    "MaxPooling1D", "AveragePooling1D", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
]

_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d}

#: The latest ``MaxPool2D(keep_indices=True)`` of each name: how ``MaxUnpool2D(pool="name")``
#: (and so a saved and reloaded model) finds its pool. Weak, so it keeps no layer alive.
_INDEX_KEEPERS: weakref.WeakValueDictionary[str, MaxPool2D] = weakref.WeakValueDictionary()


class _Pool(Layer):
    """Shared arguments and shape arithmetic of ``rank``-d pooling over windows."""

    rank = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", *, name: str | None = None):
        super().__init__(name=name)
        owner = f"{type(self).__name__} '{self.name}'"
        self.pool_size = check_int_tuple("pool_size", pool_size, self.rank, owner)
        self.strides = self.pool_size if strides is None else check_int_tuple(
            "strides", strides, self.rank, owner)
        self.padding = check_option("padding", padding, ("valid", "same"), owner)
        self.input_spec = InputSpec(ndim=self.rank + 1)
        self._pre_pad: tuple | None = None
        self._planned_for: tuple | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self._planned_for = tuple(self.input_shape[1:])
        self._pre_pad = self._plan_padding(self._planned_for)

    def _plan_padding(self, spatial: tuple) -> tuple | None:
        """F.pad's argument (last axis first) for ``"same"`` pooling of ``spatial``, or None."""
        if self.padding != "same":
            return None
        pads = [same_padding(n, k, s) for n, k, s in zip(spatial, self.pool_size, self.strides)]
        flat = tuple(p for pair in reversed(pads) for p in pair)
        return flat if any(flat) else None

    def _padding_for(self, x: Tensor) -> tuple | None:
        """The plan made at build, or a new one if ``x`` has another spatial size."""
        if self.padding == "same" and tuple(x.shape[2:]) != self._planned_for:
            return self._plan_padding(tuple(x.shape[2:]))
        return self._pre_pad

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, *spatial = input_shape
        if self.padding == "same":
            out = [-(-n // s) for n, s in zip(spatial, self.strides)]
        else:
            out = [pool_output_length(n, k, s) for n, k, s in
                   zip(spatial, self.pool_size, self.strides)]
        if min(out) < 1:
            raise ValueError(
                f"Layer '{self.name}' with pool_size={self.pool_size} cannot pool input of "
                f"per-sample shape {tuple(input_shape)}: the output would be empty.")
        return (c, *out)

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, **super().get_config()}

    def extra_repr(self) -> str:
        s = f"pool_size={self.pool_size}"
        if self.strides != self.pool_size:
            s += f", strides={self.strides}"
        return s + ("" if self.padding == "valid" else f", padding={self.padding!r}")


class _MaxPool(_Pool):
    def pad(self, x: Tensor) -> Tensor:
        """``x`` padded with -inf for ``"same"`` pooling (padding never wins a window)."""
        pre_pad = self._padding_for(x)
        return x if pre_pad is None else F.pad(x, pre_pad, value=float("-inf"))

    def forward(self, x: Tensor) -> Tensor:
        return _MAX_POOL[self.rank](self.pad(x), self.pool_size, self.strides)


class _AvgPool(_Pool):
    def forward(self, x: Tensor) -> Tensor:
        pool = _AVG_POOL[self.rank]
        pre_pad = self._padding_for(x)
        if pre_pad is None:
            return pool(x, self.pool_size, self.strides)
        ones = x.new_ones((1, 1, *x.shape[2:]))
        total = pool(F.pad(x, pre_pad), self.pool_size, self.strides)
        count = pool(F.pad(ones, pre_pad), self.pool_size, self.strides)
        return total / count


class MaxPool1D(_MaxPool):
    """1-D max pooling: the largest value of each ``pool_size`` window of a sequence.

    Args:
        pool_size: int or (k,). Defaults to 2.
        strides: int or (s,). Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (pads with -inf so padding never wins).

    Input shape:
        ``(N, C, L)``.
    Output shape:
        ``(N, C, floor((L - k) / s) + 1)``; ``ceil(L / s)`` with ``"same"``.

    Example:
        >>> import torch
        >>> MaxPool1D(2)(torch.tensor([[[1.0, 3.0, 2.0, 0.0, 5.0]]]))
        tensor([[[3., 2.]]])
    """

    rank = 1


class AvgPool1D(_AvgPool):
    """1-D average pooling: the mean of each ``pool_size`` window of a sequence.

    With ``padding="same"`` the padded zeros are not counted in the mean, as in Keras.

    Args:
        pool_size: int or (k,). Defaults to 2.
        strides: int or (s,). Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Input shape:
        ``(N, C, L)``.
    Output shape:
        ``(N, C, floor((L - k) / s) + 1)``; ``ceil(L / s)`` with ``"same"``.

    Example:
        >>> import torch
        >>> AvgPool1D(2)(torch.tensor([[[1.0, 3.0, 2.0, 0.0]]]))
        tensor([[[2., 1.]]])
    """

    rank = 1


class MaxPool2D(_MaxPool):
    """Max pooling: the largest value of each ``pool_size`` window, every ``strides`` pixels.

    For unpooling (deck 002; SegNet, DeconvNet) the layer can also give the position of each
    maximum, as a flat index into its input's ``H x W`` plane (``F.max_pool2d``'s
    convention, also with ``"same"`` padding): ``return_indices=True`` makes the forward
    return ``(pooled, indices)`` (for explicit code; not inside ``Sequential``);
    ``keep_indices=True`` returns the pooled tensor only and keeps ``self.indices`` and
    ``self.input_size`` of the last forward, for a ``MaxUnpool2D(pool=this_layer)`` later in
    the same ``Sequential``.

    ``fit``/``predict`` may run non-overlapping windows through a faster kernel with the same
    values and gradients (:mod:`lamina.fast`); the layer itself is ``F.max_pool2d``.

    Args:
        pool_size: int or (ph, pw). Defaults to 2.
        strides: int or tuple. Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (pads with -inf so padding never wins).
        return_indices: return ``(pooled, indices)``. Defaults to False.
        keep_indices: store the last indices for a linked ``MaxUnpool2D``. Defaults to False.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, floor((H - ph) / sh) + 1, ...)``; ``ceil(H / sh)`` with ``"same"``. The
        indices have the same shape (``int64``).

    Example:
        >>> import torch
        >>> MaxPool2D(2)(torch.arange(16.).reshape(1, 1, 4, 4))
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> pooled, indices = MaxPool2D(2, return_indices=True)(torch.arange(16.).view(1, 1, 4, 4))
        >>> indices
        tensor([[[[ 5,  7],
                  [13, 15]]]])
    """

    rank = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", *,
                 return_indices: bool = False, keep_indices: bool = False,
                 name: str | None = None):
        super().__init__(pool_size, strides, padding, name=name)
        self.return_indices = bool(return_indices)
        self.keep_indices = bool(keep_indices)
        self.indices: Tensor | None = None
        self.input_size: tuple | None = None
        if self.keep_indices:
            _INDEX_KEEPERS[self.name] = self

    def forward(self, x: Tensor):
        if not (self.return_indices or self.keep_indices):
            return super().forward(x)
        pre_pad = self._padding_for(x)
        padded = x if pre_pad is None else F.pad(x, pre_pad, value=float("-inf"))
        y, indices = F.max_pool2d(padded, self.pool_size, self.strides, return_indices=True)
        if pre_pad is not None:  # positions in the padded plane -> in the input plane
            left, _, top, _ = pre_pad
            width = padded.shape[-1]
            indices = (indices // width - top) * x.shape[-1] + indices % width - left
        if self.keep_indices:
            self.indices, self.input_size = indices, tuple(x.shape[-2:])
        return (y, indices) if self.return_indices else y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "return_indices": self.return_indices,
                "keep_indices": self.keep_indices}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        s += ", return_indices=True" if self.return_indices else ""
        return s + (", keep_indices=True" if self.keep_indices else "")


class AvgPool2D(_AvgPool):
    """Average pooling: the mean of each ``pool_size`` window (LeNet's subsampling).

    With ``padding="same"`` the padded zeros are not counted in the mean, as in Keras.

    Args:
        pool_size: int or (ph, pw). Defaults to 2.
        strides: int or tuple. Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, floor((H - ph) / sh) + 1, ...)``; ``ceil(H / sh)`` with ``"same"``.

    Example:
        >>> import torch
        >>> AvgPool2D(2)(torch.ones(1, 1, 4, 4)).shape
        torch.Size([1, 1, 2, 2])
    """

    rank = 2


class LpPool2D(_Pool):
    """Lp pooling (deck 001: "max, average, Lp"): ``y = (sum_{window} x^p)^(1/p)``.

    ``p=1`` is sum pooling, ``p=2`` L2 pooling, and a large ``p`` approaches max pooling
    of non-negative inputs. The power is of the raw values, as in ``nn.LPPool2d``: for odd
    or non-integer ``p`` feed non-negative inputs (after a ReLU) or see
    :func:`lamina.functional.conv.lp_pool2d` for what happens to negative ones.

    Args:
        p: the exponent, a number > 0. Defaults to 2.
        pool_size: int or (ph, pw). Defaults to 2.
        strides: int or tuple. Defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (zeros, which add nothing to the sum).

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C, floor((H - ph) / sh) + 1, ...)``; ``ceil(H / sh)`` with ``"same"``.

    Example:
        >>> import torch
        >>> LpPool2D(2, pool_size=(1, 2))(torch.tensor([[[[3.0, 4.0]]]]))
        tensor([[[[5.]]]])
    """

    def __init__(self, p: float = 2, pool_size=2, strides=None, padding="valid", *,
                 name: str | None = None):
        super().__init__(pool_size, strides, padding, name=name)
        if (isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(p)
                or p <= 0):
            raise ValueError(message(
                f"Argument `p` of LpPool2D '{self.name}' must be a finite number > 0.",
                received=f"p={p!r} (type {type(p).__name__})",
                fix="For p -> infinity use MaxPool2D."))
        self.p = float(p) if not isinstance(p, numbers.Integral) else int(p)

    def forward(self, x: Tensor) -> Tensor:
        pre_pad = self._padding_for(x)
        if pre_pad is not None:
            x = F.pad(x, pre_pad)
        return lp_pool2d(x, self.p, self.pool_size, self.strides)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, **super().get_config()}

    def extra_repr(self) -> str:
        return f"p={self.p}, {super().extra_repr()}"


class MaxUnpool2D(Layer):
    """Max unpooling (deck 002's "unpooling"; DeconvNet, SegNet): values back to their argmax.

    ``y[n, c, indices[n, c, i, j]] = x[n, c, i, j]`` and 0 elsewhere, where ``indices`` are
    the positions of the maxima a ``MaxPool2D`` picked. Two ways to get them:

    * explicitly: ``pooled, indices = MaxPool2D(2, return_indices=True)(x)``, then
      ``MaxUnpool2D(2)(pooled, indices, output_size=x.shape[-2:])``;
    * linked, for ``Sequential`` encoder-decoders: ``pool = MaxPool2D(2, keep_indices=True)``
      and ``MaxUnpool2D(pool=pool)``, which reads the indices and the input size of the
      pool's last forward. ``pool`` may also be the pool's name: the latest
      ``MaxPool2D(keep_indices=True)`` created with that name (that is how a model reloaded
      from its config relinks).

    Args:
        pool_size: int or (ph, pw). Defaults to 2, or the linked pool's.
        strides: int or tuple. Defaults to ``pool_size``, or the linked pool's.
        pool: a ``MaxPool2D(keep_indices=True)`` or its name. Defaults to None.

    Input shape:
        ``(N, C, h, w)``, plus ``indices`` of the same shape when not linked.
    Output shape:
        ``(N, C, H, W)``: ``output_size`` if given, else the linked pool's input size, else
        ``H = (h - 1) sh + ph``.

    Example:
        >>> import torch
        >>> from lamina import Sequential
        >>> pool = MaxPool2D(2, keep_indices=True)
        >>> model = Sequential([pool, MaxUnpool2D(pool=pool)], input_shape=(1, 4, 4))
        >>> model(torch.arange(16.).view(1, 1, 4, 4))[0, 0]
        tensor([[ 0.,  0.,  0.,  0.],
                [ 0.,  5.,  0.,  7.],
                [ 0.,  0.,  0.,  0.],
                [ 0., 13.,  0., 15.]])
    """

    def __init__(self, pool_size=None, strides=None, *, pool=None, name: str | None = None):
        super().__init__(name=name)
        owner = f"MaxUnpool2D '{self.name}'"
        pool = None if pool is None else self._resolve_pool(pool, owner)
        object.__setattr__(self, "_pool", pool)  # a link, not a submodule (no double listing)
        default = (2, 2) if pool is None else pool.pool_size
        self.pool_size = default if pool_size is None else check_int_tuple(
            "pool_size", pool_size, 2, owner)
        default = self.pool_size if pool is None else pool.strides
        self.strides = default if strides is None else check_int_tuple(
            "strides", strides, 2, owner)
        if pool is not None and (self.pool_size, self.strides) != (pool.pool_size, pool.strides):
            raise ValueError(message(
                f"{owner} must undo the windows of its pool '{pool.name}'.",
                expected=f"pool_size={pool.pool_size}, strides={pool.strides} (or leave them out)",
                received=f"pool_size={pool_size!r}, strides={strides!r}"))
        self.input_spec = InputSpec(ndim=3)

    @staticmethod
    def _resolve_pool(pool, owner: str) -> MaxPool2D:
        fix = "Create the pool as `MaxPool2D(2, keep_indices=True)` and pass it as `pool=`."
        if isinstance(pool, str):
            found = _INDEX_KEEPERS.get(pool)
            if found is None:
                raise ValueError(message(
                    f"{owner} links to pool '{pool}', but no MaxPool2D(keep_indices=True) of "
                    f"that name exists.", received=f"pool={pool!r}", fix=fix))
            return found
        if not isinstance(pool, MaxPool2D) or not pool.keep_indices:
            raise ValueError(message(
                f"Argument `pool` of {owner} must be a MaxPool2D that keeps its indices.",
                received=f"pool={pool!r}", fix=fix))
        return pool

    @property
    def pool(self) -> MaxPool2D | None:
        """The linked ``MaxPool2D``, or None."""
        return self._pool

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        c, h, w = input_shape
        pool = self._pool
        if pool is not None and pool.input_shape is not None:
            pooled = pool.compute_output_shape(pool.input_shape)
            if tuple(pooled[1:]) != (h, w):
                raise ValueError(
                    f"Layer '{self.name}' unpools the output of '{pool.name}', "
                    f"{format_shape(pooled)}, but its input is {format_shape(input_shape)}. "
                    f"Received: input of shape {format_shape(input_shape)}.")
            return (c, *pool.input_shape[1:])
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        return (c, (h - 1) * sh + ph, (w - 1) * sw + pw)

    def forward(self, x: Tensor, indices: Tensor | None = None, output_size=None) -> Tensor:
        if indices is None:
            indices, output_size = self._linked_indices(output_size)
        if indices.shape != x.shape:
            raise ValueError(message(
                f"Layer '{self.name}' needs one index per input value.",
                expected=f"indices of shape {tuple(x.shape)}",
                received=f"indices of shape {tuple(indices.shape)}"))
        return max_unpool2d(x, indices, self.pool_size, self.strides, output_size)

    def _linked_indices(self, output_size) -> tuple:
        pool = self._pool
        if pool is None:
            raise ValueError(message(
                f"Layer '{self.name}' needs the positions of the maxima (`indices`) to unpool.",
                received="no `indices` and no linked `pool`",
                fix="Pass them: `pooled, indices = MaxPool2D(2, return_indices=True)(x)`, then "
                    "`MaxUnpool2D(2)(pooled, indices)`; or, in a Sequential, link the pool: "
                    "`pool = MaxPool2D(2, keep_indices=True)` ... `MaxUnpool2D(pool=pool)`."))
        if pool.indices is None:
            raise ValueError(message(
                f"Layer '{self.name}' reads the indices of pool '{pool.name}', which has not "
                f"run yet.", fix="Call the pool before the unpooling (earlier in the model)."))
        return pool.indices, pool.input_size if output_size is None else output_size

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                "pool": None if self._pool is None else self._pool.name,
                **super().get_config()}

    def extra_repr(self) -> str:
        s = f"pool_size={self.pool_size}"
        if self.strides != self.pool_size:
            s += f", strides={self.strides}"
        return s + ("" if self._pool is None else f", pool={self._pool.name!r}")


class _GlobalPool(Layer):
    """Reduces every spatial axis to one value per channel (``rank`` axes; None: any)."""

    rank: int | None = 2
    reduce = "mean"

    def __init__(self, keepdims: bool = False, *, name: str | None = None):
        super().__init__(name=name)
        self.keepdims = bool(keepdims)
        self.input_spec = (InputSpec(ndim=self.rank + 1) if self.rank is not None else
                           InputSpec(min_ndim=2, hint="Pass (N, C, ...) maps with at least "
                                                      "one spatial axis after the channels."))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rank = len(input_shape) - 1 if self.rank is None else self.rank
        return (input_shape[0], *((1,) * rank if self.keepdims else ()))

    def forward(self, x: Tensor) -> Tensor:
        axes = tuple(range(2, x.ndim))
        if self.reduce == "max":
            return x.amax(dim=axes, keepdim=self.keepdims)
        return x.mean(dim=axes, keepdim=self.keepdims)

    def get_config(self) -> dict[str, Any]:
        return {"keepdims": self.keepdims, **super().get_config()}

    def extra_repr(self) -> str:
        return "keepdims=True" if self.keepdims else ""


class GlobalAvgPool1D(_GlobalPool):
    """Global average pooling of sequences: ``y_c = mean_t x_{c,t}``.

    Args:
        keepdims: keep the length axis (size 1). Defaults to False.

    Input shape:
        ``(N, C, L)``.
    Output shape:
        ``(N, C)``, or ``(N, C, 1)`` with ``keepdims=True``.

    Example:
        >>> import torch
        >>> GlobalAvgPool1D()(torch.tensor([[[1.0, 2.0, 6.0]]]))
        tensor([[3.]])
    """

    rank = 1


class GlobalMaxPool1D(_GlobalPool):
    """Global max pooling of sequences: ``y_c = max_t x_{c,t}``.

    Args:
        keepdims: keep the length axis (size 1). Defaults to False.

    Input shape:
        ``(N, C, L)``.
    Output shape:
        ``(N, C)``, or ``(N, C, 1)`` with ``keepdims=True``.

    Example:
        >>> import torch
        >>> GlobalMaxPool1D()(torch.tensor([[[1.0, 2.0, 6.0]]]))
        tensor([[6.]])
    """

    rank = 1
    reduce = "max"


class GlobalAvgPool2D(_GlobalPool):
    """Global average pooling (NiN, GoogLeNet, class activation maps): ``y_c = mean_ij x_cij``.

    The decks' "feature map pooling": one value per map, whatever the input size, so a
    fully convolutional network can take any image size.

    Args:
        keepdims: keep the two spatial axes (size 1). Defaults to False.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C)``, or ``(N, C, 1, 1)`` with ``keepdims=True``.

    Example:
        >>> import torch
        >>> GlobalAvgPool2D()(torch.ones(2, 3, 5, 4)).shape
        torch.Size([2, 3])
    """

    rank = 2


class GlobalMaxPool2D(_GlobalPool):
    """Global max pooling: ``y_c = max_ij x_cij``, one value per feature map.

    Args:
        keepdims: keep the two spatial axes (size 1). Defaults to False.

    Input shape:
        ``(N, C, H, W)``.
    Output shape:
        ``(N, C)``, or ``(N, C, 1, 1)`` with ``keepdims=True``.

    Example:
        >>> import torch
        >>> GlobalMaxPool2D(keepdims=True)(torch.arange(8.).view(1, 2, 2, 2)).flatten()
        tensor([3., 7.])
    """

    rank = 2
    reduce = "max"


class GlobalAvgPool(_GlobalPool):
    """Global average pooling over every spatial axis, whatever their number: ``y_c = mean
    x_c...``; the same as :class:`GlobalAvgPool1D` on sequences and :class:`GlobalAvgPool2D`
    on images, and it takes volumes too.

    Args:
        keepdims: keep the spatial axes (size 1). Defaults to False.

    Input shape:
        ``(N, C, *spatial)``, one spatial axis or more.
    Output shape:
        ``(N, C)``, or ``(N, C, 1, ...)`` with ``keepdims=True``.

    Example:
        >>> import torch
        >>> GlobalAvgPool()(torch.ones(2, 3, 4, 5, 6)).shape
        torch.Size([2, 3])
    """

    rank = None


class GlobalMaxPool(_GlobalPool):
    """Global max pooling over every spatial axis, whatever their number: ``y_c = max
    x_c...``; the same as :class:`GlobalMaxPool1D` on sequences and :class:`GlobalMaxPool2D`
    on images. Takes ``keepdims`` and the shapes of :class:`GlobalAvgPool`.

    Example:
        >>> import torch
        >>> GlobalMaxPool()(torch.tensor([[[1.0, 7.0, 2.0]]]))
        tensor([[7.]])
    """

    rank = None
    reduce = "max"


MaxPooling1D = MaxPool1D
AveragePooling1D = AvgPool1D
MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
GlobalAveragePooling1D = GlobalAvgPool1D
GlobalMaxPooling1D = GlobalMaxPool1D
GlobalAveragePooling2D = GlobalAvgPool2D
GlobalMaxPooling2D = GlobalMaxPool2D
