"""Metrics that accumulate on the device, with no host sync per batch.

A metric keeps a running ``total`` and ``count`` as tensors on the device of the first
``y_pred`` it sees (float64, or float32 where the device has no float64). ``update``
only launches tensor ops; ``result()`` returns a 0-d tensor; the trainer reads it once per
epoch. Each batch is weighted by its number of samples (or positions), so the result
over uneven batches equals the metric over the whole data set.

Metrics see the model's final outputs (probabilities, not logits), except metrics that read
only each row's argmax (``reads_argmax_only``, as ``Accuracy``): with a softmax or sigmoid
fused into the loss, ``fit`` hands them the logits, whose argmax is the same.

Example:
    >>> import torch
    >>> from lamina import metrics
    >>> acc = metrics.get("accuracy")
    >>> acc.update(torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0]))
    >>> acc.update(torch.tensor([[0.3, 0.7]]), torch.tensor([1]))
    >>> acc.result()
    tensor(0.6667, dtype=torch.float64)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from lamina._registry import Registry
from lamina.errors import message

__all__ = [
    "METRICS",
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "get",
]

METRICS = Registry("metric")


class Metric:
    """Base class: a running ``total / count`` kept on the device.

    Subclasses implement :meth:`update`, adding to the state with :meth:`_accumulate`.

    Args:
        name: the key under which the trainer logs the result. Defaults to the class's.

    Attributes:
        name: the log key (``"accuracy"``, ``"loss"``, ...).
        direction: ``"max"`` if larger is better, ``"min"`` otherwise (used by
            ``mode="auto"`` in the monitoring callbacks).

    Example:
        >>> class MaxError(Metric):
        ...     default_name = "max_error"
        ...     def update(self, y_pred, y_true):
        ...         self._accumulate((y_pred - y_true).abs().sum(), y_pred.numel())
        >>> m = MaxError()
        >>> m.update(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0]))
        >>> m.result()
        tensor(1., dtype=torch.float64)
    """

    default_name: ClassVar[str] = "metric"
    direction: str = "min"
    #: True when, for ``(N, C)`` scores with ``C > 1``, ``update`` reads only each row's argmax,
    #: which a fused softmax or sigmoid does not change: ``fit`` then skips applying it.
    reads_argmax_only: ClassVar[bool] = False

    def __init__(self, *, name: str | None = None):
        self.name = name or self.default_name
        self.reset()

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> None:
        """Add one batch; subclasses override this."""
        raise TypeError(f"{type(self).__name__} must implement `update`.")

    def _accumulate(self, total: torch.Tensor, count: int | float | torch.Tensor) -> None:
        """Add ``total`` (a 0-d tensor) and ``count`` to the running state, on the device."""
        total = total.detach()
        if self._total is None or self._total.device != total.device:
            dtype = torch.float32 if total.device.type == "mps" else torch.float64
            self._total = torch.zeros((), dtype=dtype, device=total.device)
            self._count = torch.zeros((), dtype=dtype, device=total.device)
        self._total += total
        self._count += count

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

    A scalar result is weighted by the batch size; a tensor result by its element count.

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

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> None:
        value = torch.as_tensor(self.fn(y_pred, y_true))
        if value.ndim == 0:
            self._accumulate(value * y_pred.shape[0], y_pred.shape[0])
        else:
            self._accumulate(value.sum(), value.numel())


def _shape_error(name: str, y_pred: torch.Tensor, y_true: torch.Tensor, expected: str) -> str:
    return message(
        f"Metric '{name}' cannot compare `y_pred` and `y_true`.",
        expected=expected,
        received=f"y_pred.shape={tuple(y_pred.shape)}, y_true.shape={tuple(y_true.shape)}",
    )


@METRICS.register("accuracy", "acc")
class Accuracy(Metric):
    """Fraction of correct predictions: ``mean(prediction == label)``.

    The kind of target is decided from the shapes:

    - sparse: ``y_pred`` (N, C, ...) with C > 1 and integer labels ``y_true`` (N, ...)
      (or (N, 1) for (N, C)): ``argmax(y_pred, 1) == y_true``;
    - one-hot: ``y_true`` with ``y_pred``'s shape (N, C, ...), C > 1:
      ``argmax(y_pred, 1) == argmax(y_true, 1)``;
    - binary: ``y_pred`` (N,) or (N, 1, ...) probabilities:
      ``(y_pred > threshold) == (y_true > threshold)``, which reads targets in {0, 1}
      (and in {-1, 1} with ``threshold=0`` for raw scores).

    Args:
        threshold: decision threshold for binary targets. Defaults to 0.5.
        name: log key. Defaults to ``"accuracy"``.

    Example:
        >>> acc = Accuracy()
        >>> acc.update(torch.tensor([0.9, 0.4, 0.7]), torch.tensor([1.0, 0.0, 0.0]))
        >>> acc.result()
        tensor(0.6667, dtype=torch.float64)
    """

    default_name = "accuracy"
    direction = "max"
    reads_argmax_only = True

    def __init__(self, *, threshold: float = 0.5, name: str | None = None):
        super().__init__(name=name)
        self.threshold = threshold

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> None:
        correct = self._correct(y_pred, y_true)
        self._accumulate(correct.sum(), correct.numel())

    def _correct(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        multiclass = y_pred.ndim >= 2 and y_pred.shape[1] > 1
        if not multiclass:
            if y_true.numel() != y_pred.numel() or y_true.shape[:1] != y_pred.shape[:1]:
                raise ValueError(
                    _shape_error(
                        self.name, y_pred, y_true, "binary targets with one value per prediction"
                    )
                )
            return (y_pred.reshape(y_true.shape) > self.threshold) == (y_true > self.threshold)
        if y_true.shape == y_pred.shape:
            return y_pred.argmax(dim=1) == y_true.argmax(dim=1)
        sparse_shape = y_pred.shape[:1] + y_pred.shape[2:]
        if y_pred.ndim == 2 and y_true.shape == sparse_shape + (1,):
            y_true = y_true.reshape(sparse_shape)
        if y_true.shape != sparse_shape:
            raise ValueError(
                _shape_error(
                    self.name,
                    y_pred,
                    y_true,
                    f"integer labels of shape {tuple(sparse_shape)} or one-hot targets of shape "
                    f"{tuple(y_pred.shape)}",
                )
            )
        return y_pred.argmax(dim=1) == y_true


class _ErrorMetric(Metric):
    """Mean of an elementwise error over every element of every batch."""

    direction = "min"

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} must implement `_error`.")

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> None:
        if y_true.shape != y_pred.shape:
            if y_true.numel() != y_pred.numel() or y_true.shape[:1] != y_pred.shape[:1]:
                raise ValueError(
                    _shape_error(self.name, y_pred, y_true, "`y_true` with the shape of `y_pred`")
                )
            y_true = y_true.reshape(y_pred.shape)
        self._accumulate(self._error(y_pred - y_true).sum(), y_pred.numel())


@METRICS.register("mean_squared_error", "mse")
class MeanSquaredError(_ErrorMetric):
    """Mean squared error over all elements: ``mean((y_pred - y_true)^2)``.

    Example:
        >>> m = MeanSquaredError()
        >>> m.update(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0]))
        >>> m.result()
        tensor(1., dtype=torch.float64)
    """

    default_name = "mean_squared_error"

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.square()


@METRICS.register("mean_absolute_error", "mae")
class MeanAbsoluteError(_ErrorMetric):
    """Mean absolute error over all elements: ``mean(|y_pred - y_true|)``.

    Example:
        >>> m = MeanAbsoluteError()
        >>> m.update(torch.tensor([0.0, 3.0]), torch.tensor([1.0, 1.0]))
        >>> m.result()
        tensor(1.5000, dtype=torch.float64)
    """

    default_name = "mean_absolute_error"

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.abs()


def get(identifier: str | Metric | type | Callable) -> Metric:
    """Resolve a metric; a name or class gives a new instance.

    Args:
        identifier: a registered name (case-insensitive: ``"accuracy"``/``"acc"``,
            ``"mse"``, ``"mae"``; the name as written becomes the log key), a
            :class:`Metric` instance (returned as is) or subclass (instantiated), or a
            function ``fn(y_pred, y_true)`` (wrapped in :class:`MeanMetricWrapper`).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
        TypeError: for anything else.

    Example:
        >>> get("acc")
        Accuracy(name='acc')
        >>> get("mse").direction
        'min'
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        return METRICS.lookup(identifier)(name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(
        message(
            "Could not interpret the metric identifier.",
            expected="a name such as 'accuracy', a Metric instance or class, or a function "
            "fn(y_pred, y_true)",
            received=f"metric={identifier!r} (type {type(identifier).__name__})",
        )
    )
