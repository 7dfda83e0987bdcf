"""Metrics read off a confusion matrix: precision, recall, F1, mean IoU, the matrix itself.

Each keeps one ``(C, C)`` matrix of (weighted) counts on the device, rows the true class
and columns the predicted one (scikit-learn's ``confusion_matrix`` layout), added to with
one ``index_add_`` per batch. The predicted class is the argmax of class scores
``(N, C, ...)``, or ``y_pred > threshold`` for one probability per prediction (two
classes, 1 the positive one), or ``y_pred`` itself when it holds integer class ids.
Targets are integer labels, one-hot rows, or 0/1 for the binary case.

Per-class values (``tp`` the diagonal, ``predicted`` the column sums, ``actual`` the row
sums; a 0/0 counts as 0, scikit-learn's ``zero_division=0``)::

    precision = tp / predicted     recall = tp / actual
    f1 = 2 tp / (predicted + actual)     iou = tp / (predicted + actual - tp)

averaged by ``average``: ``"binary"`` (the positive class's value), ``"macro"`` (the mean
over the classes that occur in the targets or the predictions, as scikit-learn's default
labels), ``"weighted"`` (weighted by ``actual``) or ``"micro"`` (pooled counts: for one
label per sample, the accuracy).
"""

from __future__ import annotations

from typing import Any

import torch

from lamina._validation import check_option, check_positive_int
from lamina.errors import message
from lamina.metrics.base import METRICS, Metric, shape_error, sparse_labels, sum_dtype, weights_like

__all__ = ["ConfusionMatrix", "Precision", "Recall", "F1Score", "MeanIoU"]

_AVERAGES = ("binary", "macro", "micro", "weighted")


class _ConfusionMetric(Metric):
    """A running ``(C, C)`` confusion matrix; subclasses turn it into their result."""

    direction = "max"
    reads_argmax_only = True  # for (N, C) scores: only each row's argmax

    def __init__(self, num_classes: int | None = None, *, threshold: float = 0.5,
                 ignore_class: int | None = None, name: str | None = None):
        owner = type(self).__name__
        self.num_classes = (None if num_classes is None
                            else check_positive_int("num_classes", num_classes, owner))
        self.threshold = float(threshold)
        self.ignore_class = ignore_class
        super().__init__(name=name)

    # -- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        self._matrix: torch.Tensor | None = None  # flat (C * C,), row = true class

    def state_dict(self) -> dict[str, Any]:
        return {"matrix": None if self._matrix is None else self._matrix.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._matrix = state["matrix"]

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        pred, true, c = self._labels(y_pred, y_true)
        w = (torch.ones(true.shape, dtype=sum_dtype(true.device), device=true.device)
             if sample_weight is None else weights_like(sample_weight, true, self.name))
        if self.ignore_class is not None:
            keep = true != self.ignore_class
            w, true, pred = w * keep, torch.where(keep, true, 0), torch.where(keep, pred, 0)
        if self._matrix is None or self._matrix.device != true.device:
            self._matrix = torch.zeros(c * c, dtype=w.dtype, device=true.device)
        elif self._matrix.numel() != c * c:
            raise ValueError(message(
                f"Metric '{self.name}' got {c} classes after batches with "
                f"{int(self._matrix.numel() ** 0.5)}.", fix="Call `reset()` between data "
                "sets with different numbers of classes, or pass `num_classes=`."))
        self._matrix.index_add_(0, (true * c + pred).reshape(-1), w.reshape(-1))

    def _labels(self, y_pred: torch.Tensor, y_true: torch.Tensor):
        """Predicted and true class ids of the same shape, and the number of classes."""
        if not y_pred.is_floating_point():  # class ids
            if self.num_classes is None:
                raise ValueError(message(
                    f"Metric '{self.name}' got integer class ids as `y_pred`, which do not "
                    f"say how many classes there are.",
                    fix=f"Pass `num_classes=` to {type(self).__name__}, or class scores."))
            if y_true.numel() != y_pred.numel():
                raise ValueError(shape_error(self.name, y_pred, y_true,
                                             "class ids `y_true` of `y_pred`'s shape"))
            return y_pred.long(), y_true.reshape(y_pred.shape).long(), self.num_classes
        if y_pred.ndim >= 2 and y_pred.shape[1] > 1:
            c = y_pred.shape[1]
            pred, true = y_pred.argmax(dim=1), sparse_labels(self.name, y_pred, y_true)
        else:
            if y_true.numel() != y_pred.numel() or y_true.shape[:1] != y_pred.shape[:1]:
                raise ValueError(shape_error(self.name, y_pred, y_true,
                                             "binary targets with one value per prediction"))
            c = 2
            pred = (y_pred.reshape(y_true.shape) > self.threshold).long()
            true = (y_true > self.threshold).long()
        if self.num_classes is not None and self.num_classes != c:
            raise ValueError(shape_error(self.name, y_pred, y_true,
                                         f"scores for num_classes={self.num_classes} classes"))
        return pred, true, c

    def matrix(self) -> torch.Tensor | None:
        """The ``(C, C)`` counts so far (rows true, columns predicted), or None."""
        if self._matrix is None:
            return None
        c = int(round(self._matrix.numel() ** 0.5))
        return self._matrix.reshape(c, c)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


@METRICS.register("confusion_matrix")
class ConfusionMatrix(_ConfusionMetric):
    """The confusion matrix: ``M[i, j]`` = (weighted) number of class-``i`` samples
    predicted as ``j``; scikit-learn's ``confusion_matrix(y_true, y_pred, labels=range(C))``.

    Its result is a ``(C, C)`` tensor, not a number, so ``fit`` and ``evaluate`` leave it out
    of their logs (``scalar_result = False``): pass the object to ``compile``, then read
    ``metric.result()`` after ``evaluate`` (it holds the last evaluated data set; after
    ``fit``, the last epoch's validation data, if any, else its training data), or feed it
    batches yourself.

    Args:
        num_classes: C. Defaults to the number of columns of ``y_pred`` (2 for one
            probability per sample); required when ``y_pred`` holds class ids.
        threshold: decision threshold for one probability per prediction. Defaults to 0.5.
        ignore_class: a target label (such as a void label 255) left out of the counts.
        name: Defaults to ``"confusion_matrix"``.

    Example:
        >>> cm = ConfusionMatrix()
        >>> cm.update(torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), torch.tensor([0, 1, 1]))
        >>> cm.result()
        tensor([[1., 0.],
                [1., 1.]], dtype=torch.float64)
    """

    default_name = "confusion_matrix"
    scalar_result = False

    def result(self) -> torch.Tensor:
        """The ``(C, C)`` matrix (a NaN scalar before any batch)."""
        m = self.matrix()
        return torch.tensor(float("nan")) if m is None else m.clone()


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    return torch.where(den > 0, num / den.clamp_min(torch.finfo(den.dtype).tiny), 0.0)


class _AveragedMetric(_ConfusionMetric):
    """A per-class value ``_per_class(tp, predicted, actual)`` averaged by ``average``."""

    def __init__(self, num_classes: int | None = None, *, average: str | None = None,
                 pos_label: int = 1, threshold: float = 0.5, ignore_class: int | None = None,
                 name: str | None = None):
        super().__init__(num_classes, threshold=threshold, ignore_class=ignore_class, name=name)
        self.average = (None if average is None
                        else check_option("average", average, _AVERAGES, type(self).__name__))
        self.pos_label = int(pos_label)

    def _per_class(self, tp, predicted, actual) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} must implement `_per_class`.")

    def result(self) -> torch.Tensor:
        m = self.matrix()
        if m is None:
            return torch.tensor(float("nan"))
        tp, predicted, actual = m.diagonal(), m.sum(dim=0), m.sum(dim=1)
        c = m.shape[0]
        average = self.average or ("binary" if c == 2 else "macro")
        if average == "micro":
            return self._per_class(tp.sum(), predicted.sum(), actual.sum())
        values = self._per_class(tp, predicted, actual)
        if average == "binary":
            if c != 2:
                raise ValueError(message(
                    f"Metric '{self.name}' has average='binary' but {c} classes.",
                    fix="Use average='macro', 'micro' or 'weighted' for several classes."))
            return values[self.pos_label]
        if average == "weighted":
            return (values * actual).sum() / actual.sum()
        present = (predicted + actual) > 0
        return (values * present).sum() / present.sum()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(average={self.average!r}, name={self.name!r})"


_AVERAGE_DOC = """
    Args:
        num_classes: C. Defaults to the number of columns of ``y_pred`` (2 for one
            probability per sample); required when ``y_pred`` holds class ids.
        average: ``"binary"``, ``"macro"``, ``"micro"`` or ``"weighted"`` (see
            :mod:`lamina.metrics.confusion`). Defaults to ``"binary"`` for two classes and
            ``"macro"`` for more.
        pos_label: the positive class for ``average="binary"``. Defaults to 1.
        threshold: decision threshold for one probability per prediction. Defaults to 0.5.
        ignore_class: a target label (such as a void label 255) left out of the counts.
        name: log key."""


@METRICS.register("precision")
class Precision(_AveragedMetric):
    __doc__ = """Precision: ``tp / (tp + fp)``, the fraction of positive calls that are right.

    Equals scikit-learn's ``precision_score`` with the same ``average`` (and
    ``sample_weight``).
    """ + _AVERAGE_DOC + """

    Example:
        >>> p = Precision()
        >>> p.update(torch.tensor([0.9, 0.8, 0.3, 0.7]), torch.tensor([1, 0, 1, 1]))
        >>> p.result()
        tensor(0.6667, dtype=torch.float64)
    """

    default_name = "precision"

    def _per_class(self, tp, predicted, actual):
        return _ratio(tp, predicted)


@METRICS.register("recall")
class Recall(_AveragedMetric):
    __doc__ = """Recall: ``tp / (tp + fn)``, the fraction of a class's samples that are found.

    Equals scikit-learn's ``recall_score`` with the same ``average`` (and ``sample_weight``).
    """ + _AVERAGE_DOC + """

    Example:
        >>> r = Recall()
        >>> r.update(torch.tensor([0.9, 0.8, 0.3, 0.7]), torch.tensor([1, 0, 1, 1]))
        >>> r.result()
        tensor(0.6667, dtype=torch.float64)
    """

    default_name = "recall"

    def _per_class(self, tp, predicted, actual):
        return _ratio(tp, actual)


@METRICS.register("f1", "f1_score")
class F1Score(_AveragedMetric):
    __doc__ = """F1 score, the harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``.

    Equals scikit-learn's ``f1_score`` with the same ``average`` (and ``sample_weight``);
    ``"macro"`` averages the per-class F1 scores.
    """ + _AVERAGE_DOC + """

    Example:
        >>> f1 = F1Score(average="macro")
        >>> f1.update(torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]), torch.tensor([0, 1, 1]))
        >>> f1.result()
        tensor(0.6667, dtype=torch.float64)
    """

    default_name = "f1"

    def _per_class(self, tp, predicted, actual):
        return _ratio(2 * tp, predicted + actual)


@METRICS.register("mean_iou", "iou")
class MeanIoU(_ConfusionMetric):
    """Mean intersection over union (segmentation): ``mean_c tp_c / (tp_c + fp_c + fn_c)``.

    The mean runs over the classes present in the targets or the predictions (Keras's
    ``MeanIoU`` and scikit-learn's ``jaccard_score(average="macro")``); every pixel counts
    as a sample. For ``(N, C, H, W)`` scores and ``(N, H, W)`` label maps.

    Args:
        num_classes: C. Defaults to the number of channels of ``y_pred``; required when
            ``y_pred`` holds class ids.
        threshold: decision threshold for one probability per pixel. Defaults to 0.5.
        ignore_class: a target label (such as a void label 255) left out of the counts.
        name: Defaults to ``"mean_iou"``.

    Example:
        >>> iou = MeanIoU(num_classes=3)
        >>> iou.update(torch.tensor([[0, 1], [1, 2]]), torch.tensor([[0, 1], [2, 2]]))
        >>> iou.result()
        tensor(0.6667, dtype=torch.float64)
    """

    default_name = "mean_iou"

    def result(self) -> torch.Tensor:
        m = self.matrix()
        if m is None:
            return torch.tensor(float("nan"))
        tp = m.diagonal()
        union = m.sum(dim=0) + m.sum(dim=1) - tp
        present = union > 0
        return (_ratio(tp, union) * present).sum() / present.sum()
