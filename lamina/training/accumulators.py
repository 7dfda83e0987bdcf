"""Loss and metric sums of an epoch, kept on the device and read back in one sync."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from lamina.training.outputs import Heads, Targets, metric_input

__all__ = ["Accumulators", "HeadAccumulators", "RunningLogs"]


class Accumulators:
    """Running sums of the loss, the penalties and the metrics since :meth:`reset`.

    Args:
        metrics: ``lamina.metrics.Metric`` objects.
        output_activation: applied to the outputs before the metrics read them, when a final
            softmax/sigmoid is fused into the loss (None otherwise).
        device: where restored sums go.

    Example:
        >>> acc = Accumulators([])
        >>> acc.track(torch.zeros(4, 2), torch.zeros(4), torch.tensor(0.5), None)
        >>> acc.results()
        {'loss': 0.5}
    """

    def __init__(self, metrics, output_activation=None, device=None):
        self.metrics = list(metrics)
        self.output_activation = output_activation
        self.device = device
        self.reset()

    def reset(self) -> None:
        """Zero the sums."""
        self.loss_sum: Tensor | None = None
        self.reg_sum: Tensor | None = None
        self.count = 0
        for metric in self.metrics:
            metric.reset()

    def track(self, out: Tensor, y: Tensor, loss: Tensor, reg: Tensor | None) -> None:
        """Add a batch's mean loss (and penalty) and update the metrics; no host sync."""
        self._add_losses(loss, reg, y.shape[0])
        if self.metrics:
            pred = metric_input(out, self.output_activation, self.metrics)
            for metric in self.metrics:
                metric.update(pred, y)

    def results(self) -> dict[str, float]:
        """Mean loss, mean penalty and the metrics, read back in one sync."""
        if self.count == 0:
            return {}
        names, values = self._loss_means()
        names += [m.name for m in self.metrics]
        values += [m.result() for m in self.metrics]
        return _read(names, values)

    def _add_losses(self, loss: Tensor, reg: Tensor | None, n: int) -> None:
        """Add a batch of ``n`` samples' mean loss and penalty to the sums."""
        self.loss_sum = loss * n if self.loss_sum is None else self.loss_sum.add_(loss * n)
        if reg is not None:
            self.reg_sum = reg * n if self.reg_sum is None else self.reg_sum.add_(reg * n)
        self.count += n

    def _loss_means(self) -> tuple[list[str], list[Tensor]]:
        """``["loss"(, "reg_loss")]`` and their means so far, still on the device."""
        names, values = ["loss"], [self.loss_sum / self.count]
        if self.reg_sum is not None:
            names.append("reg_loss")
            values.append(self.reg_sum / self.count)
        return names, values

    def state_dict(self) -> dict:
        """The sums, for an exact resume in the middle of an epoch."""
        return {"loss_sum": self.loss_sum, "reg_sum": self.reg_sum, "count": self.count,
                "metrics": [m.state_dict() for m in self.metrics]}

    def load_state_dict(self, state: dict) -> None:
        """Put back sums saved by :meth:`state_dict`."""
        def to(t):
            return t if t is None or self.device is None else t.to(self.device)

        self.loss_sum, self.reg_sum = to(state["loss_sum"]), to(state["reg_sum"])
        self.count = state["count"]
        for metric, ms in zip(self.metrics, state["metrics"]):
            metric.load_state_dict({k: to(v) for k, v in ms.items()})


def _read(names: list[str], values: list[Tensor]) -> dict[str, float]:
    # a metric whose result is not one number (confusion_matrix) stays out of the logs
    names, values = zip(*[(n, v) for n, v in zip(names, values) if v.numel() == 1])
    numbers = torch.stack([v.detach().float().reshape(()).cpu() for v in values]).tolist()
    return dict(zip(names, numbers))


class HeadAccumulators(Accumulators):
    """The sums of a model with several outputs, or of weighted data: the loss, the
    penalties, each output's loss (when logged) and each output's metrics, the weighted
    ones fed the batch's sample weights.

    Args:
        heads: the outputs (:class:`lamina.training.outputs.Heads`), also the loss whose
            ``terms`` are read after each batch.
        device: where restored sums go.

    Example:
        >>> from lamina import losses
        >>> from lamina.training.outputs import Head
        >>> heads = Heads([Head("a", losses.get("mse"), 1.0, [], []),
        ...                Head("b", losses.get("mse"), 1.0, [], [])])
        >>> acc = HeadAccumulators(heads)
        >>> out, y = (torch.ones(2, 1), torch.zeros(2, 1)), (torch.zeros(2, 1),) * 2
        >>> targets = Targets(y, (None, None))
        >>> acc.track(out, targets, heads(out, targets), None)
        >>> acc.results()
        {'loss': 1.0, 'a_loss': 1.0, 'b_loss': 0.0}
    """

    def __init__(self, heads: Heads, device=None):
        self.heads = heads
        super().__init__(heads.metrics, None, device)

    def reset(self) -> None:
        super().reset()
        self.term_sums: list = [None] * self.heads.n_terms

    def track(self, out, y: Targets, loss: Tensor, reg: Tensor | None) -> None:
        """Add a batch: the losses (each output's from ``heads.terms``) and the metrics."""
        n = y.values[0].shape[0]
        self._add_losses(loss, reg, n)
        if self.heads.loss_terms_logged:
            self.term_sums = [t * n if s is None else s.add_(t * n)
                              for s, t in zip(self.term_sums, self.heads.terms)]
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for head, o, target, weight in zip(self.heads.heads, outs, y.values, y.weights):
            if not (head.metrics or head.weighted_metrics):
                continue
            pred = metric_input(o, head.activation, head.metrics + head.weighted_metrics)
            for metric in head.metrics:
                metric.update(pred, target)
            for metric in head.weighted_metrics:
                if weight is None:
                    metric.update(pred, target)
                else:
                    metric.update(pred, target, sample_weight=weight)

    def results(self) -> dict[str, float]:
        """``loss``, ``reg_loss``, the outputs' losses and the metrics, in one sync."""
        if self.count == 0:
            return {}
        names, values = self._loss_means()
        if self.heads.loss_terms_logged:
            values += [s / self.count for s in self.term_sums]
        names += self.heads.log_names()
        values += [m.result() for m in self.metrics]
        return _read(names, values)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "terms": list(self.term_sums)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        terms = state["terms"]
        if len(terms) != len(self.term_sums):
            raise ValueError(f"{len(terms)} output losses saved, {len(self.term_sums)} now")
        self.term_sums = [t if t is None or self.device is None else t.to(self.device)
                          for t in terms]


class RunningLogs(Mapping):
    """Batch logs read lazily: a value syncs with the device only when it is looked up.

    Example:
        >>> acc = Accumulators([]); logs = RunningLogs(acc)
        >>> acc.track(torch.zeros(2, 1), torch.zeros(2), torch.tensor(0.25), None)
        >>> logs["loss"]
        0.25
    """

    def __init__(self, accumulators: Accumulators):
        self._acc = accumulators

    def __getitem__(self, key):
        return self._acc.results()[key]

    def __iter__(self):
        return iter(self._acc.results())

    def __len__(self):
        return len(self._acc.results())

    def items(self):
        return self._acc.results().items()
