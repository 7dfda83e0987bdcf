"""Preprocessing inside the model: standardization learned from data, and rescaling.

With these as the model's first layers, a saved model takes raw inputs: the statistics
``Normalization.adapt`` measured are buffers, saved and loaded with the weights.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["Normalization", "Rescaling"]


class Normalization(Layer):
    """Standardize features with statistics of the data: ``y = (x - mean) / sqrt(var)``.

    ``adapt(data)`` measures the mean and the (population) variance of each feature over
    all the other axes (the batch axis included), streaming over batches in float64;
    they are buffers, so ``save_model``/``load_model`` keep them and a deployed model
    standardizes its own input. A feature of zero variance is divided by ``1e-7``
    (Keras's ``max(sqrt(var), epsilon)``) - it is constant, so it becomes 0. Before
    ``adapt`` (and without ``mean``/``variance``) the layer passes its input through.

    Args:
        axis: the feature axis or axes, counted on the batched input ``(N, ...)`` (so 1 is
            the channel axis of channels-first images and the feature axis of ``(N, F)``
            tables; -1 the last). ``None``: one mean and variance over everything.
            Defaults to 1.
        mean: the mean per feature (a number or a sequence), instead of ``adapt``.
        variance: the variance per feature, given with ``mean``.
        name: the layer's name.

    Input shape:
        ``(N, ...)`` with the feature axes of the shape it was built or adapted with.

    Output shape:
        Same as the input.

    Example:
        >>> import numpy as np, lamina as lm
        >>> x = np.random.default_rng(0).normal(5.0, 3.0, size=(1000, 4)).astype("float32")
        >>> norm = Normalization().adapt(x)
        >>> y = norm(torch.from_numpy(x))
        >>> [round(float(v), 4) + 0.0 for v in (y.mean(), y.std(unbiased=False))]
        [0.0, 1.0]
    """

    epsilon = 1e-7

    def __init__(self, axis: int | tuple[int, ...] | None = 1, *, mean=None, variance=None,
                 name: str | None = None):
        super().__init__(name=name)
        self.axis = _check_axis(axis, f"Normalization '{self.name}'")
        if (mean is None) != (variance is None):
            raise ValueError(message(
                f"Normalization '{self.name}' got only one of `mean` and `variance`.",
                fix="Pass both, or neither and call `adapt(data)`."))
        self.init_mean = _as_list(mean)
        self.init_variance = _as_list(variance)
        self.register_buffer("mean", None)  # made by build, set by adapt
        self.register_buffer("variance", None)

    def _feature_axes(self, sample_ndim: int) -> tuple[int, ...]:
        """The feature axes as per-sample axis indices (0 = the axis after the batch)."""
        if self.axis is None:
            return ()
        axes = []
        for a in self.axis:
            full = a if a >= 0 else a + sample_ndim + 1
            if not 1 <= full <= sample_ndim:
                raise ValueError(message(
                    f"Normalization '{self.name}' has axis={a}, which is not a feature axis "
                    f"of inputs with {sample_ndim} axes per sample.",
                    expected=f"an axis in 1..{sample_ndim} or -{sample_ndim}..-1 (0 is the "
                             f"batch axis)", fix="Pass another `axis=`, or None for one "
                                                 "mean over everything."))
            axes.append(full - 1)
        return tuple(sorted(set(axes)))

    def build(self, input_shape: tuple) -> None:
        features = self._feature_axes(len(input_shape))
        self.input_spec = InputSpec(ndim=len(input_shape),
                                    axes={a: int(input_shape[a]) for a in features})
        self._record_build(input_shape)
        shape = tuple(int(d) if i in features else 1 for i, d in enumerate(input_shape))
        self.mean, self.variance = torch.zeros(shape), torch.ones(shape)
        if self.init_mean is not None:
            with torch.no_grad():
                self.mean.copy_(self._broadcast("mean", self.init_mean, shape))
                self.variance.copy_(self._broadcast("variance", self.init_variance, shape))

    def _broadcast(self, what: str, values: list, shape: tuple) -> Tensor:
        t = torch.tensor(values, dtype=torch.float32)
        if t.numel() == math.prod(shape):
            return t.reshape(shape)
        if t.numel() == 1:
            return t.reshape(()).expand(shape)
        raise ValueError(message(
            f"Normalization '{self.name}' got a `{what}` that does not fit its features.",
            expected=f"one number, or {math.prod(shape)} (statistics of shape {shape})",
            received=f"{t.numel()} numbers"))

    def adapt(self, data, *, batch_size: int | None = 4096) -> Normalization:
        """Set the mean and variance to those of ``data``, over all axes but the features.

        Args:
            data: an array or tensor ``(N, ...)`` (read ``batch_size`` rows at a time,
                so a memory-mapped array is never loaded whole), or an iterable of such
                batches (a batch may be an ``(x, y)`` pair; ``x`` is used).
            batch_size: rows per step for an array. Defaults to 4096.

        Returns:
            The layer.
        """
        batches = _batches(data, check_positive_int("batch_size", batch_size, "adapt")
                           if batch_size is not None else None)
        count, mean, m2 = 0, None, None
        for x in batches:
            if not self.built:
                self.build_shapes(tuple(x.shape[1:]))
            elif self.input_spec is not None:
                self.input_spec.check(tuple(x.shape[1:]), self.name)
            n, batch_mean, batch_m2 = self._moments(x)
            if n == 0:
                continue
            if mean is None:
                count, mean, m2 = n, batch_mean, batch_m2
                continue
            delta = batch_mean - mean  # Chan et al.'s merge of two (count, mean, M2)
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + batch_m2 + delta.square() * (count * n / total)
            count = total
        if mean is None:
            raise ValueError(message(f"Normalization '{self.name}' cannot adapt to no data.",
                                     fix="Pass at least one sample to `adapt`."))
        with torch.no_grad():
            self.mean.copy_(mean.reshape(self.mean.shape))
            self.variance.copy_((m2 / count).reshape(self.variance.shape))
        return self

    def _moments(self, x: Tensor) -> tuple[int, Tensor, Tensor]:
        """Sample count, mean and sum of squared deviations of a batch, per feature."""
        x = x.to(torch.float64)
        features = {a + 1 for a in self._feature_axes(x.ndim - 1)}
        reduce = tuple(a for a in range(x.ndim) if a not in features)
        n = math.prod(x.shape[a] for a in reduce)
        if n == 0:
            return 0, None, None
        mean = x.mean(dim=reduce, keepdim=True)
        m2 = (x - mean).square().sum(dim=reduce, keepdim=True)
        return n, mean[0], m2[0]

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.variance.sqrt().clamp_min(self.epsilon)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        axis = self.axis if self.axis is None or len(self.axis) > 1 else self.axis[0]
        config = {"axis": list(axis) if isinstance(axis, tuple) else axis}
        if self.init_mean is not None:
            config.update(mean=self.init_mean, variance=self.init_variance)
        return {**config, **super().get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Normalization:
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)

    def extra_repr(self) -> str:
        return "" if self.axis == (1,) else f"axis={self.axis}"


class Rescaling(Layer):
    """Rescale the input: ``y = x * scale + offset`` (``scale=1/255`` maps bytes to [0, 1];
    ``scale=1/127.5, offset=-1`` to [-1, 1]).

    Args:
        scale: the factor.
        offset: added after scaling. Defaults to 0.0.
        name: the layer's name.

    Input shape:
        Any.

    Output shape:
        Same as the input.

    Example:
        >>> Rescaling(1 / 127.5, offset=-1.0)(torch.tensor([0.0, 255.0]))
        tensor([-1.,  1.])
    """

    def __init__(self, scale: float, offset: float = 0.0, *, name: str | None = None):
        super().__init__(name=name)
        self.scale = _check_number("scale", scale, f"Rescaling '{self.name}'")
        self.offset = _check_number("offset", offset, f"Rescaling '{self.name}'")

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.offset

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "offset": self.offset, **super().get_config()}

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}" + (f", offset={self.offset:g}" if self.offset else "")


def _check_number(name: str, value, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(message(f"Argument `{name}` of {owner} must be a finite number.",
                                 received=f"{name}={value!r} (type {type(value).__name__})"))
    return float(value)


def _check_axis(axis, owner: str) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else axis
    if (not isinstance(axes, (tuple, list)) or not axes
            or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes)
            or 0 in axes):
        raise ValueError(message(
            f"Argument `axis` of {owner} must be a non-zero int, a tuple of them, or None.",
            expected="1 for channels or table columns (0 is the batch axis)",
            received=f"axis={axis!r}"))
    return tuple(int(a) for a in axes)


def _as_list(values) -> list | None:
    if values is None:
        return None
    return np.asarray(values, dtype=np.float64).reshape(-1).tolist()


def _batches(data, batch_size: int | None) -> Iterable[Tensor]:
    """Tensors from an array/tensor (``batch_size`` rows at a time) or an iterable of
    batches (``(x, y)`` pairs give ``x``)."""
    if isinstance(data, (np.ndarray, Tensor)):
        step = batch_size or max(len(data), 1)
        for start in range(0, len(data), step):
            chunk = data[start:start + step]  # a copy of a memory map's rows, or a view
            yield torch.from_numpy(np.array(chunk)) if isinstance(chunk, np.ndarray) else chunk
        return
    for batch in data:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield batch if isinstance(batch, Tensor) else torch.from_numpy(np.array(batch))
