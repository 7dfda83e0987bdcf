"""Area under the ROC or precision-recall curve, from counts at fixed thresholds (Keras's way).

The thresholds are Keras's: ``-eps``, ``i / (T - 1)`` for ``i = 1 .. T - 2``, ``1 + eps``.
A batch adds each prediction's (weighted) count to a histogram bin, the number of
thresholds below it, separately for positives and negatives; nothing else happens per
batch. ``result()`` turns the histograms into true and false positives per threshold
(reversed cumulative sums) and integrates:

- ROC: the trapezoid rule over the points ``(fpr_t, tpr_t)``, as Keras's default
  ``summation_method="interpolation"``; scikit-learn's ``roc_auc_score`` up to the
  predictions that share a bin.
- PR: Keras's interpolated area (Davis & Goadrich 2006): between two thresholds, true
  and false positives grow linearly together, and the precision ``tp / (tp + fp)`` along
  that segment is integrated over the recall exactly. It estimates scikit-learn's
  ``average_precision_score`` (the step sum ``sum_n (R_n - R_{n-1}) P_n`` over every
  distinct score) with the order inside a bin unknown; the plain step sum over the bins
  would under-read it by about 2e-3 at 200 thresholds.
"""

from __future__ import annotations

from typing import Any

import torch

from lamina._validation import check_option
from lamina.errors import message
from lamina.metrics.base import METRICS, Metric, shape_error, sparse_labels, sum_dtype, weights_like

__all__ = ["AUC"]


@METRICS.register("auc")
class AUC(Metric):
    """Area under the ROC curve (or the precision-recall curve) at ``num_thresholds`` cuts.

    Predictions are probabilities in ``[0, 1]`` (or logits with ``from_logits=True``).
    Targets are 0/1 of the predictions' shape (binary or multi-label), or sparse labels for
    ``(N, C)`` scores (turned one-hot). Several columns are pooled into one curve, Keras's
    ``multi_label=False`` and scikit-learn's ``average="micro"``. Sample weights weight
    every count. With 200 thresholds it is within about 1e-3 of scikit-learn's
    ``roc_auc_score`` / ``average_precision_score`` on spread-out scores.

    Args:
        num_thresholds: T, the number of thresholds (> 1). Defaults to 200.
        curve: ``"ROC"`` or ``"PR"`` (precision-recall, see :mod:`lamina.metrics.auc`).
            Defaults to ``"ROC"``.
        from_logits: apply a sigmoid to ``y_pred`` first. Defaults to False.
        name: log key. Defaults to ``"auc"``.

    Example:
        >>> auc = AUC()
        >>> auc.update(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> auc.result()
        tensor(0.7500, dtype=torch.float64)
    """

    default_name = "auc"
    direction = "max"

    def __init__(self, num_thresholds: int = 200, *, curve: str = "ROC",
                 from_logits: bool = False, name: str | None = None):
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) \
                or num_thresholds < 2:
            raise ValueError(message("Argument `num_thresholds` of AUC must be an integer > 1.",
                                     received=f"num_thresholds={num_thresholds!r}"))
        self.num_thresholds = num_thresholds
        self.curve = check_option("curve", curve, ("roc", "pr"), "AUC").upper()
        self.from_logits = bool(from_logits)
        super().__init__(name=name)

    def thresholds(self, device=None) -> torch.Tensor:
        """Keras's thresholds: ``-eps``, ``i / (T - 1)`` for ``0 < i < T - 1``, ``1 + eps``."""
        t = torch.arange(self.num_thresholds, dtype=torch.float64, device=device)
        t = t / (self.num_thresholds - 1)
        t[0], t[-1] = -1e-7, 1.0 + 1e-7
        return t

    def reset(self) -> None:
        self._positives: torch.Tensor | None = None  # weighted count per bin, T + 1 bins
        self._negatives: torch.Tensor | None = None
        self._cuts: torch.Tensor | None = None

    def state_dict(self) -> dict[str, Any]:
        return {k: None if v is None else v.clone()
                for k, v in (("positives", self._positives), ("negatives", self._negatives))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._positives, self._negatives = state["positives"], state["negatives"]
        self._cuts = None

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> None:
        y_true = self._targets(y_pred, y_true)
        prob = torch.sigmoid(y_pred) if self.from_logits else y_pred
        device = prob.device
        if self._positives is None or self._positives.device != device:
            self._positives = torch.zeros(self.num_thresholds + 1, dtype=sum_dtype(device),
                                          device=device)
            self._negatives = torch.zeros_like(self._positives)
        if self._cuts is None or self._cuts.device != device:
            self._cuts = self.thresholds(device).to(sum_dtype(device))
        w = (torch.ones(prob.shape, dtype=self._positives.dtype, device=device)
             if sample_weight is None else weights_like(sample_weight, prob, self.name))
        # bin b: the b thresholds strictly below the prediction (it is a positive call there)
        bins = torch.bucketize(prob.detach().to(self._cuts.dtype).contiguous(), self._cuts)
        bins = bins.reshape(-1)
        positive = (y_true > 0.5).reshape(-1)
        w = w.reshape(-1)
        self._positives.index_add_(0, bins, w * positive)
        self._negatives.index_add_(0, bins, w * ~positive)

    def _targets(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        if y_true.shape == y_pred.shape:
            return y_true
        if y_true.numel() == y_pred.numel() and y_true.shape[:1] == y_pred.shape[:1]:
            return y_true.reshape(y_pred.shape)
        if y_pred.ndim >= 2 and y_pred.shape[1] > 1:
            labels = sparse_labels(self.name, y_pred, y_true)
            return torch.nn.functional.one_hot(labels, y_pred.shape[1]).movedim(-1, 1)
        raise ValueError(shape_error(self.name, y_pred, y_true,
                                     "0/1 targets of `y_pred`'s shape or sparse labels"))

    def counts(self) -> tuple[torch.Tensor, ...]:
        """True positives, false positives, total positives and negatives per threshold."""
        def above(hist):  # count in the bins above threshold t: bins t + 1 .. T
            return hist.flip(0).cumsum(0).flip(0)[1:]

        return (above(self._positives), above(self._negatives), self._positives.sum(),
                self._negatives.sum())

    def result(self) -> torch.Tensor:
        if self._positives is None:
            return torch.tensor(float("nan"))
        tp, fp, pos, neg = self.counts()
        recall = tp / pos
        if self.curve == "ROC":
            fpr = fp / neg
            return ((fpr[:-1] - fpr[1:]) * (recall[:-1] + recall[1:]) / 2).sum()
        return _interpolated_pr_area(tp, fp, pos)

    def __repr__(self) -> str:
        return (f"AUC(num_thresholds={self.num_thresholds}, curve={self.curve!r}, "
                f"name={self.name!r})")


def _interpolated_pr_area(tp: torch.Tensor, fp: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Area under the PR curve with ``tp`` linear in ``p = tp + fp`` between thresholds:
    ``sum_t slope_t (dtp_t + b_t log(p_t / p_{t+1})) / pos``, ``tp = slope p + b``."""
    called = tp + fp
    dtp, dcalled = tp[:-1] - tp[1:], called[:-1] - called[1:]
    slope = torch.where(dcalled > 0, dtp / dcalled.clamp_min(1e-30), 0.0)
    intercept = tp[1:] - slope * called[1:]
    both = (called[:-1] > 0) & (called[1:] > 0)
    ratio = torch.where(both, called[:-1] / called[1:].clamp_min(1e-30), 1.0)
    return (slope * (dtp + intercept * torch.log(ratio))).sum() / pos
