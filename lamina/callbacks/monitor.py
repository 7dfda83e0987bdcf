"""``MonitorCallback``: the one place that decides whether a monitored value improved."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lamina.callbacks import _utils as check
from lamina.callbacks.base import Callback
from lamina.errors import message

__all__ = ["MonitorCallback"]


class MonitorCallback(Callback):
    """Base of callbacks that watch one value of the logs (``EarlyStopping``, ...).

    It owns the monitored key, the direction and the thresholds, and decides what counts
    as an improvement: in ``"min"`` mode ``current < best - min_delta``, in ``"max"`` mode
    ``current > best + min_delta``; a NaN is never an improvement. State is reset at
    ``on_train_begin``, so one instance can serve several ``fit`` calls, except right after
    :meth:`load_state_dict`, whose state the next ``fit`` continues from (resume).

    Args:
        monitor: the key to watch: ``"val_loss"``, ``"val_accuracy"``, ``"loss"``, ...
            Defaults to ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"``: the direction of the compiled metric of
            that name (``val_`` stripped; ``"loss"`` is ``"min"``), otherwise ``"max"`` for
            names containing ``"acc"`` and ``"min"`` for the rest. Defaults to ``"auto"``.
        min_delta: smallest change that counts as an improvement. Defaults to 0.
        baseline: a value to beat (see the subclasses), or None. Defaults to None.

    Attributes:
        best: the best value seen so far, or None.

    Raises:
        ValueError: for an unknown ``mode``; at the first epoch whose logs lack
            ``monitor``, listing the keys the logs have.

    Example:
        >>> watch = MonitorCallback(monitor="val_accuracy", min_delta=0.01)
        >>> watch.direction
        'max'
        >>> watch.is_improvement(0.905, 0.9), watch.is_improvement(0.92, 0.9)
        (False, True)
    """

    _constraints = {"monitor": check.text, "mode": check.options("auto", "min", "max"),
                    "min_delta": check.nonnegative_real, "baseline": check.optional_real}

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0,
                 baseline: float | None = None):
        super().__init__()
        self._init_args(monitor=monitor, mode=mode, min_delta=min_delta, baseline=baseline)
        self._direction: str | None = None
        self._resuming = False
        self._reset()

    def _reset(self) -> None:
        """Forget what earlier training saw (subclasses extend it)."""
        self.best: float | None = None

    def on_train_begin(self, logs=None):
        if self._resuming:
            self._resuming = False
        else:
            self._reset()
        self._direction = None  # "auto" may resolve differently for another model

    # -- direction and improvement -------------------------------------------------------
    @property
    def direction(self) -> str:
        """``"min"`` or ``"max"``: ``mode``, or for ``"auto"`` what the metric says."""
        if self.mode != "auto":
            return self.mode
        if self._direction is None:
            self._direction = self._auto_direction()
        return self._direction

    def _auto_direction(self) -> str:
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        if name == "loss":
            return "min"
        trainer = getattr(self.model, "_trainer", None)
        for metric in getattr(trainer, "metrics", ()):
            if metric.name == name:
                return metric.direction
        return "max" if "acc" in name else "min"

    def is_improvement(self, current: float, reference: float | None) -> bool:
        """Whether ``current`` beats ``reference`` by more than ``min_delta``."""
        if math.isnan(current):
            return False
        if reference is None:
            return True
        if self.direction == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def get_monitor_value(self, logs: Mapping[str, Any] | None) -> float:
        """``logs[monitor]`` as a float; raises a ValueError naming the keys there are."""
        logs = logs if logs is not None else {}
        try:
            return float(logs[self.monitor])
        except KeyError:
            pass
        keys = list(logs)
        if self.monitor.startswith("val_") and not any(k.startswith("val_") for k in keys):
            fix = ("Pass `validation_data=(x_val, y_val)` or `validation_split=0.2` to `fit`, "
                   "or monitor a training key such as `monitor='loss'`.")
        else:
            fix = "Set `monitor=` to one of the available keys."
        raise ValueError(message(
            f"{type(self).__name__} monitors '{self.monitor}', which is not in the logs.",
            expected="one of " + (", ".join(repr(k) for k in keys) or "(no keys)"),
            received=f"monitor={self.monitor!r}", fix=fix))

    # -- resume --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self._resuming = True
