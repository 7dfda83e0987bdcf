"""Metrics that accumulate on the device, with no host sync per batch.

A metric keeps its running state (a ``total`` and ``count``, a confusion matrix, or
threshold histograms) as tensors on the device of the first ``y_pred`` it sees. ``update``
only launches tensor ops; ``result()`` returns a tensor; the trainer reads it once per
epoch. Each batch is weighted by its number of samples (or positions), or by the sample
weights given to ``update(y_pred, y_true, sample_weight=w)``, so the result over uneven
batches equals the metric over the whole data set.

Metrics see the model's final outputs (probabilities, not logits), except metrics that read
only the order of each row (``reads_argmax_only``, as ``Accuracy``): with a softmax or
sigmoid fused into the loss, ``fit`` hands them the logits, whose order is the same.

By name: ``"accuracy"``, ``"top_k_accuracy"``, ``"precision"``, ``"recall"``, ``"f1"``,
``"auc"``, ``"mean_iou"``, ``"confusion_matrix"``, ``"mse"``, ``"mae"``; or as objects
(``TopKAccuracy(k=3)``, ``AUC(curve="PR")``, ``F1Score(average="micro")``).

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

from lamina.errors import message
from lamina.metrics.accuracy import Accuracy, MeanAbsoluteError, MeanSquaredError, TopKAccuracy
from lamina.metrics.auc import AUC
from lamina.metrics.base import METRICS, Mean, MeanMetricWrapper, Metric
from lamina.metrics.confusion import ConfusionMatrix, F1Score, MeanIoU, Precision, Recall

__all__ = [
    "METRICS",
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "TopKAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Precision",
    "Recall",
    "F1Score",
    "AUC",
    "MeanIoU",
    "ConfusionMatrix",
    "get",
]


def get(identifier: str | Metric | type | Callable) -> Metric:
    """Resolve a metric; a name or class gives a new instance.

    Args:
        identifier: a registered name (case-insensitive: ``"accuracy"``/``"acc"``,
            ``"top_k_accuracy"``, ``"f1"``, ``"mse"``, ...; the name as written becomes the
            log key), a
            :class:`Metric` instance (returned as is) or subclass (instantiated), or a
            function ``fn(y_pred, y_true)`` (wrapped in :class:`MeanMetricWrapper`).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
        TypeError: for anything else.

    Example:
        >>> get("acc")
        Accuracy(name='acc')
        >>> get("top_k_accuracy").k, get("mse").direction
        (5, 'min')
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
