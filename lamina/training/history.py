"""History: per-epoch logs as plain data, returned by ``fit``."""

from __future__ import annotations

import json
from typing import Any

from lamina.callbacks.base import Callback

__all__ = ["History"]


class History(Callback):
    """Records the logs of every epoch: ``history.history["val_loss"]`` is a list.

    Index it by key (``history["loss"]``) or by epoch and key
    (``history[-1, "val_accuracy"]``, ``history[:, "loss"]``). It serializes to JSON.

    Example:
        >>> h = History()
        >>> h.on_epoch_end(0, {"loss": 0.5}); h.on_epoch_end(1, {"loss": 0.25})
        >>> h[:, "loss"], h.epoch
        ([0.5, 0.25], [0, 1])
    """

    order = -10

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.history[key]
        index, name = key
        return self.history[name][index]

    def __len__(self) -> int:
        return len(self.epoch)

    def to_json(self) -> str:
        """The epochs and logs as a JSON string."""
        return json.dumps({"epoch": self.epoch, "history": self.history,
                           "stop_reason": self.stop_reason})

    @classmethod
    def from_json(cls, text: str) -> History:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        h = cls()
        h.epoch, h.history, h.stop_reason = data["epoch"], data["history"], data["stop_reason"]
        return h

    def state_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.history = list(state["epoch"]), dict(state["history"])
        self.stop_reason = state.get("stop_reason")

    def plot(self, metrics=None):
        """A matplotlib figure of each metric, train next to ``val_`` (see ``lamina.viz``)."""
        from lamina.viz.training import plot_history

        return plot_history(self, metrics)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
