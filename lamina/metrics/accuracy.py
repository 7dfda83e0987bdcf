"""Mean-of-a-value metrics: accuracy, top-k accuracy, mean squared and absolute error."""

from __future__ import annotations

import torch

from lamina._validation import check_positive_int
from lamina.metrics.base import METRICS, Metric, shape_error, sparse_labels

__all__ = ["Accuracy", "TopKAccuracy", "MeanSquaredError", "MeanAbsoluteError"]


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

    With ``sample_weight``: ``sum(w * correct) / sum(w)`` (Keras's, and scikit-learn's
    ``accuracy_score(..., sample_weight=w)``).

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

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        self._accumulate_mean(self._correct(y_pred, y_true), sample_weight)

    def _correct(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        multiclass = y_pred.ndim >= 2 and y_pred.shape[1] > 1
        if not multiclass:
            if y_true.numel() != y_pred.numel() or y_true.shape[:1] != y_pred.shape[:1]:
                raise ValueError(shape_error(
                    self.name, y_pred, y_true, "binary targets with one value per prediction"))
            return (y_pred.reshape(y_true.shape) > self.threshold) == (y_true > self.threshold)
        return y_pred.argmax(dim=1) == sparse_labels(self.name, y_pred, y_true)


@METRICS.register("top_k_accuracy", "top_k_categorical_accuracy",
                  "sparse_top_k_categorical_accuracy")
class TopKAccuracy(Metric):
    """Fraction of samples whose label is among the ``k`` highest scores: ``mean(rank < k)``.

    ``rank`` is the number of classes scored strictly higher than the true one, so a tie
    with the true class counts in its favour. ILSVRC's "top-5 error" is ``1 -`` this with
    ``k=5``. Targets are sparse labels ``(N, ...)`` (or ``(N, 1)``) or one-hot, for scores
    ``y_pred`` of shape ``(N, C, ...)``; weighted as :class:`Accuracy`. Equals
    scikit-learn's ``top_k_accuracy_score`` (without ties).

    Args:
        k: how many top scores count. Defaults to 5.
        name: log key. Defaults to ``"top_k_accuracy"``.

    Example:
        >>> top2 = TopKAccuracy(k=2)
        >>> top2.update(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]]), torch.tensor([1, 0]))
        >>> top2.result()
        tensor(0.5000, dtype=torch.float64)
    """

    default_name = "top_k_accuracy"
    direction = "max"
    #: The order within each row is all it reads, and a softmax keeps it.
    reads_argmax_only = True

    def __init__(self, k: int = 5, *, name: str | None = None):
        super().__init__(name=name)
        self.k = check_positive_int("k", k, "TopKAccuracy")

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        if y_pred.ndim < 2 or y_pred.shape[1] < 2:
            raise ValueError(shape_error(self.name, y_pred, y_true,
                                         "class scores `y_pred` of shape (N, C, ...), C >= 2"))
        labels = sparse_labels(self.name, y_pred, y_true)
        true_score = y_pred.gather(1, labels.unsqueeze(1))
        rank = (y_pred > true_score).sum(dim=1)
        self._accumulate_mean(rank < self.k, sample_weight)

    def __repr__(self) -> str:
        return f"TopKAccuracy(k={self.k}, name={self.name!r})"


class _ErrorMetric(Metric):
    """Mean of an elementwise error over every element of every batch."""

    direction = "min"

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} must implement `_error`.")

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        if y_true.shape != y_pred.shape:
            if y_true.numel() != y_pred.numel() or y_true.shape[:1] != y_pred.shape[:1]:
                raise ValueError(shape_error(self.name, y_pred, y_true,
                                             "`y_true` with the shape of `y_pred`"))
            y_true = y_true.reshape(y_pred.shape)
        self._accumulate_mean(self._error(y_pred - y_true), sample_weight)


@METRICS.register("mean_squared_error", "mse")
class MeanSquaredError(_ErrorMetric):
    """Mean squared error over all elements: ``mean((y_pred - y_true)^2)``.

    With ``sample_weight``: the weighted mean of the samples' mean squared errors, as
    Keras's (scikit-learn's ``mean_squared_error(..., sample_weight=w)``).

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
    """Mean absolute error over all elements: ``mean(|y_pred - y_true|)``; weighted as
    :class:`MeanSquaredError`.

    Example:
        >>> m = MeanAbsoluteError()
        >>> m.update(torch.tensor([0.0, 3.0]), torch.tensor([1.0, 1.0]))
        >>> m.result()
        tensor(1.5000, dtype=torch.float64)
    """

    default_name = "mean_absolute_error"

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.abs()
