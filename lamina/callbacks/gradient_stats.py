"""GradientStats: each layer's gradient and weight norms per epoch (deck 003's vanishing
gradients in a deep feed-forward net, measured while it trains)."""

from __future__ import annotations

from typing import Any

import torch

from lamina.callbacks import _utils as check
from lamina.callbacks.base import Callback

__all__ = ["GradientStats"]


class GradientStats(Callback):
    """Record, per epoch, each layer's gradient norm (averaged over the epoch's batches)
    and its weight norm (at the epoch's end).

    A layer's norm is over all the parameters it holds itself (weight and bias):
    ``||g|| = sqrt(sum_p ||grad p||^2)``. After every training step the per-layer norms are
    added to a running sum on the device, with no host sync; the epoch's mean is read
    once, at its end. Layers are the modules holding trainable parameters, named by their
    ``name`` (lamina layers) or their path in the model.

    The values go to :attr:`history` as ``grad_norm/<layer>`` and ``weight_norm/<layer>``
    lists and, with ``log=True``, into the epoch logs, so the ``History`` that ``fit``
    returns holds them too (for ``lm.viz.gradient_norms(history)``, ``CSVLogger``, ...).

    Args:
        log: add the norms to the epoch logs. Defaults to True.

    Attributes:
        layers: the layer names, input side first.
        history: ``{"grad_norm/<layer>": [per epoch], "weight_norm/<layer>": [...]}``.

    Example:
        >>> import torch, lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(4, name="a"), lm.layers.Dense(1, name="b")],
        ...                       input_shape=(3,))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> stats = GradientStats()
        >>> h = model.fit(torch.randn(8, 3), torch.randn(8, 1), batch_size=4, epochs=2,
        ...               verbose=0, callbacks=[stats])
        >>> stats.layers, len(h["grad_norm/a"])
        (['a', 'b'], 2)
    """

    order = -20  # before History, which records what it adds to the logs
    _constraints = {"log": check.boolean}

    def __init__(self, log: bool = True):
        super().__init__()
        self._init_args(log=log)
        self.layers: list[str] = []
        self.history: dict[str, list[float]] = {}
        self._params: list[torch.Tensor] = []
        self._owner: torch.Tensor | None = None
        self._sum: torch.Tensor | None = None
        self._batches = 0

    def on_train_begin(self, logs=None):
        self.layers, self._params, owner = [], [], []
        for path, module in self.model.named_modules():
            own = [p for p in module.parameters(recurse=False) if p.requires_grad]
            if not own:
                continue
            name = getattr(module, "name", None) or path or "model"
            self.layers.append(name if name not in self.layers else path)
            self._params += own
            owner += [len(self.layers) - 1] * len(own)
        self._owner = torch.tensor(owner, dtype=torch.long)
        self.history = {}
        self._sum, self._batches = None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._sum, self._batches = None, 0

    def _layer_norms(self, tensors: list[torch.Tensor | None]) -> torch.Tensor | None:
        """Per-layer ``sqrt(sum ||t||^2)`` of the tensors (one per parameter), on their
        device; a missing tensor (no gradient) counts as 0."""
        present = [i for i, t in enumerate(tensors) if t is not None]
        if not present:
            return None
        device = tensors[present[0]].device
        norms = torch._foreach_norm([tensors[i].detach() for i in present])
        squares = torch.stack([n.float() for n in norms]).square()
        owner = self._owner.to(device)
        if len(present) < len(tensors):
            owner = owner[torch.tensor(present, device=device)]
        total = torch.zeros(len(self.layers), device=device).index_add_(0, owner, squares)
        return total.sqrt()

    def on_train_batch_end(self, batch, logs=None):
        norms = self._layer_norms([p.grad for p in self._params])
        if norms is None:
            return
        self._sum = norms if self._sum is None else self._sum.add_(norms)
        self._batches += 1

    def on_epoch_end(self, epoch, logs=None):
        weights = self._layer_norms(list(self._params))
        if weights is None:
            return
        grads = (self._sum / self._batches if self._sum is not None
                 else torch.full_like(weights, float("nan")))
        values = torch.stack([grads, weights.to(grads.device)]).cpu().tolist()  # one sync
        new = {f"grad_norm/{n}": g for n, g in zip(self.layers, values[0])}
        new.update({f"weight_norm/{n}": w for n, w in zip(self.layers, values[1])})
        for key, value in new.items():
            self.history.setdefault(key, []).append(value)
        if self.log and logs is not None:
            logs.update(new)

    def gradient_ratio(self, epoch: int = -1) -> float:
        """First layer's mean gradient norm over the last layer's, at ``epoch``: far below 1
        when gradients vanish towards the input.

        Example:
            >>> s = GradientStats(); s.layers = ["a", "b"]
            >>> s.history = {"grad_norm/a": [1e-4], "grad_norm/b": [1e-1]}
            >>> round(s.gradient_ratio(), 6)
            0.001
        """
        first, last = self.layers[0], self.layers[-1]
        return self.history[f"grad_norm/{first}"][epoch] / self.history[f"grad_norm/{last}"][epoch]

    def state_dict(self) -> dict[str, Any]:
        return {"history": {k: list(v) for k, v in self.history.items()},
                "sum": None if self._sum is None else self._sum.detach().cpu().clone(),
                "batches": self._batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = {k: list(v) for k, v in state["history"].items()}
        device = self._params[0].device if self._params else None
        self._sum = None if state["sum"] is None else state["sum"].to(device)
        self._batches = int(state["batches"])
