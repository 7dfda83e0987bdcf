"""The weight and activity penalties ``fit`` adds to the data loss (deck 003's regularizers)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Penalties"]


class Penalties:
    """A model's penalties: ``(regularizer, weight)`` pairs and layers with an activity penalty.

    :meth:`collect` reads them from the layers at the start of a call (the model is built
    by then); a compiled whole step reads them afresh inside its transform (``fresh=True``).

    Example:
        >>> import lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(2, kernel_regularizer=lm.regularizers.l2(
        ...     0.1))], input_shape=(3,))
        >>> [tuple(t.shape) for _, t in Penalties(model).pairs()]
        [(2, 3)]
    """

    def __init__(self, model: nn.Module, device=None):
        self.model, self.device = model, device
        self.weights: list = []
        self.activity_layers: list = []

    def pairs(self) -> list:
        """The model's ``(regularizer, tensor)`` pairs, read from its layers now."""
        return [pair for module in self.model.modules()
                if hasattr(module, "regularization_penalties")
                for pair in module.regularization_penalties()]

    def collect(self) -> None:
        """Find the penalties once per call."""
        self.weights = self.pairs()
        self.activity_layers = [m for m in self.model.modules()
                                if getattr(m, "activity_regularizer", None) is not None]

    def total(self, activity: bool = False, pairs=None) -> Tensor:
        """Sum of the weight penalties (and of the layers' activity penalties if ``activity``)."""
        pairs = self.weights if pairs is None else pairs
        terms = [reg(w) for reg, w in pairs]
        if activity:
            terms += [layer.activity_loss for layer in self.activity_layers
                      if layer.activity_loss is not None]
        return torch.stack(terms).sum() if terms else torch.zeros((), device=self.device)

    def add_to(self, loss: Tensor, fresh: bool = False) -> tuple[Tensor, Tensor | None]:
        """``(loss + penalties, penalties)``, or ``(loss, None)`` for a model without any;
        ``fresh`` reads the weights from the layers now instead of at :meth:`collect`."""
        pairs = self.pairs() if fresh else self.weights
        if not pairs and not self.activity_layers:
            return loss, None
        reg = self.total(activity=True, pairs=pairs)
        return loss + reg, reg.detach()

    def clear_activity(self) -> None:
        """Forget the layers' last activity penalties."""
        for layer in self.activity_layers:
            layer.activity_loss = None
