"""``TerminateOnNaN``: the NaN guard."""

from __future__ import annotations

import math

from lamina.callbacks import _utils as check
from lamina.callbacks.base import Callback, TrainingStopped

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training at the first step whose loss is NaN or infinite, and undo the epoch.

    This callback opts in to one device sync per step: it reads the batch logs' running
    loss after every optimizer step (the running mean turns non-finite at the first bad
    step and stays so). At the first non-finite value it:

    * loads the *last good weights*, the weights (and optimizer state) at the start of the
      epoch in which the loss became non-finite, kept as a CPU copy at each epoch start;
    * sets ``model.stop_training = True``, and ``stop_reason`` on itself and the model;
    * raises :class:`TrainingStopped`, which ``fit`` catches to end training at once.

    It never deletes or writes any file: earlier checkpoints stay as they are.

    Attributes:
        stop_reason: e.g. ``"non-finite loss (nan) at epoch 3, step 5"`` (counted from 1),
            or None.
        stopped_epoch, stopped_step: where it happened (0-based epoch and batch index), or
            None.

    Example:
        >>> import lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(1)], input_shape=(3,))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> guard = TerminateOnNaN()
        >>> guard.set_model(model); guard.on_train_begin(); guard.on_epoch_begin(0)
        >>> guard.on_train_batch_end(0, {"loss": 0.5})
        >>> try:
        ...     guard.on_train_batch_end(1, {"loss": float("nan")})
        ... except TrainingStopped as stop:
        ...     print(stop.reason)
        non-finite loss (nan) at epoch 1, step 2
    """

    order = -30  # before other batch-end readers

    def __init__(self):
        super().__init__()
        self._reset()

    def _reset(self) -> None:
        self.stop_reason: str | None = None
        self.stopped_epoch: int | None = None
        self.stopped_step: int | None = None
        self._epoch = 0
        self._weights = self._optimizer_state = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._weights = check.cpu_copy(self.model.state_dict())
        optimizer = self._optimizer()
        self._optimizer_state = None if optimizer is None else check.cpu_copy(
            optimizer.state_dict())

    def on_train_batch_end(self, batch, logs=None):
        value = None if logs is None else logs.get("loss")  # the one device sync per step
        if value is None or math.isfinite(loss := float(value)):
            return
        self._restore()
        self.stopped_epoch, self.stopped_step = self._epoch, batch
        self.stop_reason = f"non-finite loss ({loss}) at epoch {self._epoch + 1}, step {batch + 1}"
        self.model.stop_training = True
        self.model.stop_reason = self.stop_reason
        raise TrainingStopped(self.stop_reason)

    def _optimizer(self):
        trainer = getattr(self.model, "_trainer", None)
        return getattr(trainer, "optimizer", None)

    def _restore(self) -> None:
        if self._weights is not None:
            self.model.load_state_dict(self._weights)
        optimizer = self._optimizer()
        if optimizer is not None and self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
