"""Deferred binding: a lamina optimizer may be created before the model has weights.

``lm.optimizers.SGD(lr=0.05, momentum=0.9)`` is a real ``torch.optim.Optimizer``. Created
without ``params`` it holds one placeholder parameter; ``model.compile`` (or
``bind(params)``) swaps in the model's parameters. Created with ``params`` it is an
ordinary PyTorch optimizer.
"""

from __future__ import annotations

import torch

__all__ = ["DeferredOptimizer"]


class DeferredOptimizer:
    """Mixin for ``torch.optim.Optimizer`` subclasses that can be bound to parameters later."""

    def _init_deferred(self, params) -> list:
        """The params to hand to ``Optimizer.__init__``: the real ones, or a placeholder."""
        self._bound = params is not None
        return params if params is not None else [torch.nn.Parameter(torch.zeros(1))]

    @property
    def is_bound(self) -> bool:
        """Whether the optimizer holds real parameters (after ``bind`` or construction)."""
        return self._bound

    def bind(self, params) -> DeferredOptimizer:
        """Replace the parameters by ``params`` (an iterable of tensors or of param-group dicts).

        State from a previous binding is dropped. Returns ``self``.
        """
        self.param_groups = []
        self.state.clear()
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        self._bound = True
        return self

    @property
    def lr(self) -> float:
        """Learning rate of the first parameter group (settable: sets every group)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value
