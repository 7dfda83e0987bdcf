"""Loss and metric sums of an epoch, kept on the device and read back in one sync."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = ["Accumulators", "RunningLogs"]


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
        n = y.shape[0]
        self.loss_sum = loss * n if self.loss_sum is None else self.loss_sum.add_(loss * n)
        if reg is not None:
            self.reg_sum = reg * n if self.reg_sum is None else self.reg_sum.add_(reg * n)
        self.count += n
        if self.metrics:
            pred = out
            if self.output_activation is not None and not self._argmax_invariant(out):
                pred = self.output_activation(out)
            for metric in self.metrics:
                metric.update(pred, y)

    def _argmax_invariant(self, out: Tensor) -> bool:
        """Whether the metrics read only the argmax of each row of ``(N, C)`` scores, which
        the fused output activation (softmax or sigmoid, monotone along a row) keeps."""
        return (out.ndim == 2 and out.shape[1] > 1
                and all(metric.reads_argmax_only for metric in self.metrics))

    def results(self) -> dict[str, float]:
        """Mean loss, mean penalty and the metrics, read back in one sync."""
        if self.count == 0:
            return {}
        names, values = ["loss"], [self.loss_sum / self.count]
        if self.reg_sum is not None:
            names.append("reg_loss")
            values.append(self.reg_sum / self.count)
        names += [m.name for m in self.metrics]
        values += [m.result() for m in self.metrics]
        numbers = torch.stack([v.detach().float().reshape(()).cpu() for v in values]).tolist()
        return dict(zip(names, numbers))

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
