"""The epochs of one ``fit``: each runs the trainer's epoch, validates, tells the callbacks
and checkpoints; the loop ends at the last epoch or when a callback stops training."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.callbacks.base import CallbackList
from lamina.training.history import History
from lamina.training.resume import RunState

if TYPE_CHECKING:
    from lamina.training.trainer import Trainer

__all__ = ["EpochLoop"]


class EpochLoop:
    """The epochs of one ``fit``: run, validate, report to the callbacks, checkpoint.

    ``Trainer.fit`` builds one per call; it records why training ended in the history.

    Example:
        >>> import numpy as np, lamina as lm
        >>> model = lm.models.Sequential([lm.layers.Dense(1, input_shape=(2,))])
        >>> model.compile("sgd", "mse")
        >>> model.fit(np.zeros((4, 2)), np.zeros((4, 1)), batch_size=4, epochs=2,
        ...           verbose=0).stop_reason
        'max epochs reached (2)'
    """

    def __init__(self, trainer: Trainer, data, val, batch_size: int, shuffle: bool,
                 cbs: CallbackList, saver, checkpoint_every: int | None):
        self.trainer, self.data, self.val, self.cbs = trainer, data, val, cbs
        self.batch_size, self.shuffle = batch_size, shuffle
        self.saver, self.checkpoint_every = saver, checkpoint_every
        self.batch_cbs = cbs if (cbs.wants("on_train_batch_begin")
                                 or cbs.wants("on_train_batch_end")) else None

    def run(self, run: RunState, epochs: int, history: History) -> None:
        trainer, model = self.trainer, self.trainer.model
        while run.epoch < epochs and not model.stop_training:
            epoch = run.epoch
            self.cbs.on_epoch_begin(epoch)
            logs = trainer.run_epoch(self.data, self.batch_size, self.shuffle, run,
                                     self.batch_cbs, self.saver, self.checkpoint_every)
            if self.val is not None:
                val_logs = trainer.validate(self.val, self.batch_size)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            self.cbs.on_epoch_end(epoch, logs)
            run.epoch, run.step = epoch + 1, 0
            if self.saver is not None:
                self.saver()
        if model.stop_training:
            history.stop_reason = (model.stop_reason
                                   or f"stopped by a callback after epoch {run.epoch}")
        else:
            history.stop_reason = f"max epochs reached ({epochs})"
