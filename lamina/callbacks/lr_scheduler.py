"""Learning-rate callbacks: ``LearningRateScheduler`` and ``ReduceLROnPlateau``.

Both set the rate of every parameter group of ``model.optimizer``, keeping the ratios
between groups, and add the rate used during the epoch to the epoch logs as ``"lr"``
(they run before ``History``, so it is recorded).
"""

from __future__ import annotations

from typing import Any

from lamina.callbacks import _utils as check
from lamina.callbacks.base import Callback
from lamina.callbacks.monitor import MonitorCallback
from lamina.errors import message
from lamina.optimizers.base import apply_lr, get_lr

__all__ = ["LearningRateScheduler", "ReduceLROnPlateau"]


class LearningRateScheduler(Callback):
    """Set the learning rate from a schedule, every epoch or every step.

    ``schedule`` is either

    * a Keras-style function ``schedule(epoch, lr) -> new_lr``, called at the start of each
      epoch (0-based) with the optimizer's current rate, or
    * a schedule object with ``__call__(t) -> lr`` and an attribute ``unit``: ``"epoch"``
      (called with the epoch at each epoch start) or ``"step"`` (called with the global
      step, counted from 0 over the run, before every optimizer step).

    Args:
        schedule: the function or schedule object.
        verbose: 1 prints the rate set at each epoch start. Defaults to 0.

    Raises:
        ValueError: if a schedule returns something other than a finite number >= 0.

    Example:
        >>> import torch, lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(1)], input_shape=(3,))
        >>> model.compile(optimizer=lm.optimizers.SGD(lr=0.1), loss="mse")
        >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
        >>> history = model.fit(torch.zeros(4, 3), torch.zeros(4, 1), batch_size=2, epochs=3,
        ...                     verbose=0, callbacks=[halve])
        >>> history["lr"]
        [0.1, 0.05, 0.025]
    """

    order = -20  # before History, which records the "lr" it adds
    _constraints = {"verbose": check.nonnegative_int}

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(message(
                "Argument `schedule` of LearningRateScheduler must be callable: a function "
                "`(epoch, lr) -> lr` or a schedule object with `unit`.",
                received=f"schedule={schedule!r} (type {type(schedule).__name__})"))
        unit = getattr(schedule, "unit", None)
        if unit is not None:
            unit = check.options("epoch", "step")("unit", unit, "the schedule object")
        self.schedule, self.unit = schedule, unit
        self._init_args(verbose=verbose)
        self._epoch, self._epoch_start, self._counted = 0, 0, 0
        if unit == "step":  # dispatched per batch only for step schedules
            self.on_train_batch_begin = self._on_step_begin

    def on_train_begin(self, logs=None):
        self._counted = 0

    def on_epoch_begin(self, epoch, logs=None):
        steps = self.params.get("steps")
        self._epoch = epoch
        self._epoch_start = epoch * steps if steps else self._counted
        if self.unit == "step":
            return
        optimizer = self.model.optimizer
        if self.unit is None:
            lr = self.schedule(epoch, get_lr(optimizer))
        else:
            lr = self.schedule(epoch)
        self._set(check.check_lr(lr, "LearningRateScheduler", f"epoch {epoch}"))

    def _on_step_begin(self, batch, logs=None):
        step = self._epoch_start + batch
        self._counted = step + 1
        lr = check.check_lr(self.schedule(step), "LearningRateScheduler", f"step {step}")
        apply_lr(self.model.optimizer, lr)
        if batch == 0 and self.verbose:
            print(f"Epoch {self._epoch + 1}: LearningRateScheduler setting the learning rate "
                  f"to {lr:.6g} (step {step}).")

    def _set(self, lr: float) -> None:
        apply_lr(self.model.optimizer, lr)
        if self.verbose:
            print(f"Epoch {self._epoch + 1}: LearningRateScheduler setting the learning rate "
                  f"to {lr:.6g}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = get_lr(self.model.optimizer)


def _factor(name: str, value: Any, owner: str) -> float:
    if not check.is_real(value) or not 0.0 < value < 1.0:
        raise ValueError(message(f"Argument `{name}` of {owner} must be a number in (0, 1): "
                                 f"the rate is multiplied by it.",
                                 received=f"{name}={value!r}"))
    return float(value)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    After ``patience`` epochs without an improvement larger than ``min_delta``, the rate
    becomes ``max(lr * factor, min_lr)``; then ``cooldown`` epochs pass before waiting
    starts again (as in Keras, the epoch on which the cooldown runs out counts). ``lr`` is
    the optimizer's rate (that of the groups bound without their own ``lr``); the other
    groups keep their ratio to it.

    Args:
        monitor: the key of the epoch logs to watch. Defaults to ``"val_loss"``.
        factor: the multiplier, in (0, 1). Defaults to 0.1.
        patience: epochs without improvement before reducing. Defaults to 10.
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``). Defaults to
            ``"auto"``.
        min_delta: smallest change that counts as an improvement. Defaults to 1e-4.
        cooldown: epochs to wait after a reduction before counting again. Defaults to 0.
        min_lr: the rate is never reduced below it. Defaults to 0.
        verbose: 1 prints each reduction. Defaults to 0.

    Attributes:
        best, wait, cooldown_counter: the state (see ``state_dict``).

    Example:
        >>> import lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(1)], input_shape=(3,))
        >>> model.compile(optimizer=lm.optimizers.SGD(lr=0.1), loss="mse")
        >>> plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
        >>> plateau.set_model(model); plateau.on_train_begin()
        >>> for epoch, loss in enumerate([1.0, 0.5, 0.5, 0.5]):
        ...     plateau.on_epoch_end(epoch, {"loss": loss})
        >>> model.optimizer.param_groups[0]["lr"]
        0.025
    """

    order = -20  # before History, which records the "lr" it adds
    _constraints = {"factor": _factor, "patience": check.nonnegative_int,
                    "cooldown": check.nonnegative_int, "min_lr": check.nonnegative_real,
                    "verbose": check.nonnegative_int}

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, *, patience: int = 10,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0, verbose: int = 0):
        self._init_args(factor=factor, patience=patience, cooldown=cooldown, min_lr=min_lr,
                        verbose=verbose)
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)

    def _reset(self) -> None:
        super()._reset()
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = get_lr(optimizer)
        if logs is not None:
            logs["lr"] = lr
        current = self.get_monitor_value(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and lr > self.min_lr:
                new_lr = max(lr * self.factor, self.min_lr)
                apply_lr(optimizer, new_lr)
                self.cooldown_counter, self.wait = self.cooldown, 0
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing the learning rate "
                          f"to {new_lr:.6g}.")

    def state_dict(self) -> dict[str, Any]:
        """``best``, ``wait`` and ``cooldown_counter``."""
        return {**super().state_dict(), "wait": self.wait,
                "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.wait, self.cooldown_counter = state["wait"], state["cooldown_counter"]
