"""``EarlyStopping``: stop when the monitored value stops improving."""

from __future__ import annotations

from typing import Any

from lamina.callbacks import _utils as check
from lamina.callbacks.monitor import MonitorCallback

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    At each epoch end (from ``start_from_epoch`` on) the epoch counts as waiting unless
    the value improved on the best so far and, with a ``baseline``, also beats the
    baseline; training stops once ``wait >= patience`` (as in Keras, ``patience=0`` and
    ``1`` both stop after the first epoch without improvement). Unlike Keras, epochs that
    improve but stay short of the baseline count too, so a run that never reaches the
    baseline stops after ``patience`` epochs, as the baseline is documented to do. On
    stopping it sets ``model.stop_training`` and ``model.stop_reason``. Epoch attributes
    are 0-based; the reason counts epochs from 1, as the progress bar does.

    Args:
        monitor: the key of the epoch logs to watch. Defaults to ``"val_loss"``.
        min_delta: smallest change that counts as an improvement. Defaults to 0.
        patience: epochs without improvement before stopping. Defaults to 0.
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``). Defaults to
            ``"auto"``.
        baseline: a value that must be beaten for the waiting count to reset. Defaults
            to None.
        restore_best_weights: keep a CPU copy of the weights of the best epoch (copied only
            when the value improves) and load it at the end of training, whether training
            stopped early or ran out of epochs. Defaults to False.
        start_from_epoch: epochs to let pass before watching (warm-up). Defaults to 0.

    Attributes:
        best, best_epoch: the best value and its epoch (None before the first).
        wait: epochs since the last improvement.
        stopped_epoch: the epoch at which training was stopped, or None.
        stop_reason: why training stopped, or None.

    Example:
        >>> import lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(1)], input_shape=(3,))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> stop = EarlyStopping(monitor="val_loss", patience=1)
        >>> stop.set_model(model); stop.on_train_begin()
        >>> for epoch, val_loss in enumerate([0.5, 0.4, 0.45, 0.41]):
        ...     stop.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
        ...     if model.stop_training:
        ...         break
        >>> stop.stopped_epoch, stop.best_epoch, stop.best
        (2, 1, 0.4)
        >>> model.stop_reason
        'early stopping at epoch 3 (best epoch 2, val_loss=0.4)'
    """

    _constraints = {"patience": check.nonnegative_int, "start_from_epoch": check.nonnegative_int,
                    "restore_best_weights": check.boolean}

    def __init__(self, monitor: str = "val_loss", *, min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        self._init_args(patience=patience, restore_best_weights=restore_best_weights,
                        start_from_epoch=start_from_epoch)
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta, baseline=baseline)

    def _reset(self) -> None:
        super()._reset()
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None
        self.stop_reason: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = check.cpu_copy(self.model.state_dict())
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            if self.best_epoch is None:  # every value so far was NaN
                best = f"no valid {self.monitor}"
            else:
                best = f"best epoch {self.best_epoch + 1}, {self.monitor}={self.best:.4g}"
            self.stop_reason = f"early stopping at epoch {epoch + 1} ({best})"
            self.model.stop_training = True
            self.model.stop_reason = self.stop_reason

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        """``best``, ``wait``, ``best_epoch``, ``stopped_epoch``, ``stop_reason`` and, with
        ``restore_best_weights``, ``best_weights`` (a dict of CPU tensors, or None)."""
        state = super().state_dict()
        state.update(wait=self.wait, best_epoch=self.best_epoch,
                     stopped_epoch=self.stopped_epoch, stop_reason=self.stop_reason)
        if self.restore_best_weights:
            state["best_weights"] = self.best_weights
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.wait, self.best_epoch = state["wait"], state["best_epoch"]
        self.stopped_epoch, self.stop_reason = state["stopped_epoch"], state["stop_reason"]
        self.best_weights = state.get("best_weights")
