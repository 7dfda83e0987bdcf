"""The metric protocol: running sums on the device, read once per epoch.

A metric keeps its state (a running ``total`` and ``count``, or a confusion matrix, or
histograms) as tensors on the device of the first ``y_pred`` it sees (float64, or float32
where the device has no float64). ``update`` only launches tensor ops, never a host sync;
``result()`` returns a tensor; the trainer reads it once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from lamina._registry import Registry
from lamina.errors import message

__all__ = ["METRICS", "Metric", "Mean", "MeanMetricWrapper", "sum_dtype", "weights_like",
           "sparse_labels", "shape_error"]

METRICS = Registry("metric")


def sum_dtype(device: torch.device) -> torch.dtype:
    """The dtype of running sums: float64, or float32 on devices without float64 (MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


class Metric:
    """Base class: a running ``total / count`` kept on the device.

    Subclasses implement :meth:`update`, adding to the state with :meth:`_accumulate` (or
    :meth:`_accumulate_mean` for values averaged with optional sample weights).

    Args:
        name: the key under which the trainer logs the result. Defaults to the class's.

    Attributes:
        name: the log key (``"accuracy"``, ``"loss"``, ...).
        direction: ``"max"`` if larger is better, ``"min"`` otherwise (used by
            ``mode="auto"`` in the monitoring callbacks).

    Example:
        >>> class MaxError(Metric):
        ...     default_name = "max_error"
        ...     def update(self, y_pred, y_true, sample_weight=None):
        ...         self._accumulate_mean((y_pred - y_true).abs(), sample_weight)
        >>> m = MaxError()
        >>> m.update(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0]))
        >>> m.result()
        tensor(1., dtype=torch.float64)
    """

    default_name: ClassVar[str] = "metric"
    direction: str = "min"
    #: True when, for ``(N, C)`` scores with ``C > 1``, ``update`` reads only the order of
    #: each row (its argmax, its top k), which a fused softmax or sigmoid does not change:
    #: ``fit`` then skips applying it.
    reads_argmax_only: ClassVar[bool] = False
    #: False for metrics whose result is not one number (a confusion matrix): the trainer
    #: keeps them out of the epoch logs; read them with ``metric.result()``.
    scalar_result: ClassVar[bool] = True

    def __init__(self, *, name: str | None = None):
        self.name = name or self.default_name
        self.reset()

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        """Add one batch (``sample_weight``: one weight per sample, or per element);
        subclasses override this."""
        raise TypeError(f"{type(self).__name__} must implement `update`.")

    def _accumulate(self, total: torch.Tensor, count: int | float | torch.Tensor) -> None:
        """Add ``total`` (a 0-d tensor) and ``count`` to the running state, on the device."""
        total = total.detach()
        if self._total is None or self._total.device != total.device:
            dtype = sum_dtype(total.device)
            self._total = torch.zeros((), dtype=dtype, device=total.device)
            self._count = torch.zeros((), dtype=dtype, device=total.device)
        self._total += total
        self._count += count

    def _accumulate_mean(self, values: torch.Tensor, sample_weight=None) -> None:
        """Add every element of ``values``, weighted Keras's way when weights are given:
        the result is ``sum(w * v) / sum(w)``, a sample's weight applying to all its
        elements."""
        if sample_weight is None:
            self._accumulate(values.sum(), values.numel())
            return
        w = weights_like(sample_weight, values, self.name)
        self._accumulate((values.to(w.dtype) * w).sum(), w.sum())

    def result(self) -> torch.Tensor:
        """The metric over everything since :meth:`reset`, a 0-d tensor (NaN if nothing)."""
        if self._total is None:
            return torch.tensor(float("nan"))
        return self._total / self._count

    def reset(self) -> None:
        """Forget all batches."""
        self._total: torch.Tensor | None = None
        self._count: torch.Tensor | None = None

    def state_dict(self) -> dict[str, Any]:
        """The running state (for exact resume)."""
        return {
            "total": None if self._total is None else self._total.clone(),
            "count": None if self._count is None else self._count.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state from :meth:`state_dict`."""
        self._total, self._count = state["total"], state["count"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted running mean of a value: ``sum(w_i v_i) / sum(w_i)``; used for the loss.

    ``update(value, weight)`` adds a scalar (or every element of a tensor) with weight
    ``weight``, typically the batch size, so batch means combine into the data-set mean.

    Example:
        >>> m = Mean(name="loss")
        >>> m.update(torch.tensor(1.0), weight=3)
        >>> m.update(torch.tensor(5.0), weight=1)
        >>> m.result()
        tensor(2., dtype=torch.float64)
    """

    default_name = "mean"
    direction = "min"

    def update(self, value: torch.Tensor, weight: float = 1.0) -> None:
        """Add ``value`` with weight ``weight`` (a number or a 0-d tensor)."""
        value = torch.as_tensor(value)
        self._accumulate(value.sum() * weight, value.numel() * weight)


class MeanMetricWrapper(Metric):
    """A function ``fn(y_pred, y_true)`` returning a batch mean (or per-sample values).

    A scalar result is weighted by the batch size (by the sum of the sample weights when
    given); a tensor result by its element count (each value by its sample's weight).

    Args:
        fn: the metric function.
        name: log key. Defaults to ``fn.__name__``.
        direction: ``"max"`` or ``"min"``. Defaults to ``"max"`` when the name contains
            ``"acc"``, else ``"min"`` (Keras's rule).

    Example:
        >>> m = MeanMetricWrapper(lambda p, t: (p - t).abs().amax(dim=1), name="worst")
        >>> m.update(torch.tensor([[1.0, 4.0]]), torch.zeros(1, 2))
        >>> m.result()
        tensor(4., dtype=torch.float64)
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        name: str | None = None,
        direction: str | None = None,
    ):
        name = name or getattr(fn, "__name__", type(fn).__name__)
        super().__init__(name=name)
        self.fn = fn
        if direction is None:
            direction = "max" if "acc" in name else "min"
        if direction not in ("max", "min"):
            raise ValueError(
                message(
                    "Argument `direction` of MeanMetricWrapper is not valid.",
                    expected="'max' or 'min'",
                    received=f"direction={direction!r}",
                )
            )
        self.direction = direction

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        value = torch.as_tensor(self.fn(y_pred, y_true))
        if value.ndim > 0:
            self._accumulate_mean(value, sample_weight)
        elif sample_weight is None:
            self._accumulate(value * y_pred.shape[0], y_pred.shape[0])
        else:
            total = weights_like(sample_weight, y_pred.new_empty(y_pred.shape[:1]), self.name).sum()
            self._accumulate(value * total, total)


def weights_like(sample_weight, values: torch.Tensor, name: str) -> torch.Tensor:
    """``sample_weight`` as a float tensor of ``values``'s shape, on its device.

    One weight per sample (shape ``(N,)`` or ``(N, 1)``) applies to all the sample's
    elements; a tensor of ``values``'s shape weights each element.

    Example:
        >>> weights_like(torch.tensor([1.0, 2.0]), torch.zeros(2, 3), "m")[1]
        tensor([2., 2., 2.], dtype=torch.float64)
    """
    w = torch.as_tensor(sample_weight, device=values.device).to(sum_dtype(values.device))
    n = values.shape[0] if values.ndim else 1
    if w.shape != values.shape and w.numel() == n and w.ndim <= 2:
        w = w.reshape((n,) + (1,) * max(values.ndim - 1, 0))
    try:
        return torch.broadcast_to(w, values.shape)
    except RuntimeError:
        raise ValueError(message(
            f"Metric '{name}' cannot use these sample weights.",
            expected=f"one weight per sample, shape ({n},), or one per element, shape "
                     f"{tuple(values.shape)}",
            received=f"sample_weight.shape={tuple(w.shape)}",
            fix="Pass a 1-d array with one weight per sample.")) from None


def sparse_labels(name: str, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Integer labels of shape ``(N, ...)`` for class scores ``y_pred`` of shape
    ``(N, C, ...)``, from sparse labels (``(N, ...)``, or ``(N, 1)`` for ``(N, C)``) or
    one-hot targets of ``y_pred``'s shape.

    Example:
        >>> sparse_labels("m", torch.zeros(2, 3), torch.tensor([[0, 0, 1], [1, 0, 0]]))
        tensor([2, 0])
    """
    if y_true.shape == y_pred.shape:
        return y_true.argmax(dim=1)
    sample_shape = y_pred.shape[:1] + y_pred.shape[2:]
    if y_pred.ndim == 2 and y_true.shape == sample_shape + (1,):
        y_true = y_true.reshape(sample_shape)
    if y_true.shape != sample_shape:
        raise ValueError(shape_error(
            name, y_pred, y_true, f"integer labels of shape {tuple(sample_shape)} or one-hot "
                                  f"targets of shape {tuple(y_pred.shape)}"))
    return y_true.long()


def shape_error(name: str, y_pred: torch.Tensor, y_true: torch.Tensor, expected: str) -> str:
    """The message for targets whose shape does not fit the predictions."""
    return message(
        f"Metric '{name}' cannot compare `y_pred` and `y_true`.",
        expected=expected,
        received=f"y_pred.shape={tuple(y_pred.shape)}, y_true.shape={tuple(y_true.shape)}",
    )
