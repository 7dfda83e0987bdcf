"""``ModelCheckpoint``: save the model (or its weights) during training, atomically."""

from __future__ import annotations

import os
import string
from typing import Any

from lamina.callbacks import _utils as check
from lamina.callbacks.monitor import MonitorCallback
from lamina.distributed.env import is_main_process
from lamina.errors import message

__all__ = ["ModelCheckpoint"]

_COUNTERS = ("epoch", "step")


class _Fields:
    """What a path template may name: ``epoch``, ``step`` and the keys of ``logs``.

    Looked up one key at a time, so lazy batch logs sync only for keys the template uses.
    """

    def __init__(self, logs, **counters: int):
        self.logs, self.counters = logs if logs is not None else {}, counters

    def __getitem__(self, key: str):
        return self.counters[key] if key in self.counters else self.logs[key]


def _check_template(name: str, value: Any, owner: str) -> str:
    """``value`` if it is a format string naming only plain keys, else a house-style error."""
    received = f"{name}={value!r}"
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(message(f"Argument `{name}` of {owner} must be a string or a path.",
                                received=f"{received} (type {type(value).__name__})"))
    template = os.fspath(value)
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        bad = [f for f in fields if not f.isidentifier()]
        if bad:
            raise ValueError(f"fields must be plain names, not {{{bad[0]}}}")
        template.format_map({f: 1 if f in _COUNTERS else 1.0 for f in fields})  # logs: floats
    except (ValueError, TypeError) as err:
        raise ValueError(message(
            f"Argument `{name}` of {owner} is not a valid path template: {err}.",
            received=received,
            fix="Use named fields, e.g. 'ckpt-{epoch:02d}-{val_loss:.4f}.lamina'.")) from None
    return template


class ModelCheckpoint(MonitorCallback):
    """Save the model at the end of every epoch, or every ``every_n_steps`` steps.

    ``filepath`` is a ``str.format`` template filled with ``epoch`` (counted from 1, like
    Keras), ``step`` (optimizer steps done so far in this run's count) and the keys of the
    logs: ``"ckpt-{epoch:02d}-{val_loss:.4f}.lamina"``. Its syntax and format specs are
    checked here; a log key it names that the logs lack raises a ValueError listing the
    available keys when the file is first written. Missing folders are created. Files are
    written atomically by ``model.save`` (architecture + weights, for ``lm.load_model``)
    or ``model.save_weights`` (for ``model.load_weights``).

    Args:
        filepath: the path template.
        monitor: the key compared with ``save_best_only``. Defaults to ``"val_loss"``.
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``). Defaults to
            ``"auto"``.
        save_best_only: save only when ``monitor`` improves on the best so far. Defaults
            to False.
        save_weights_only: write only the weights (safetensors). Defaults to False.
        every_n_steps: save at the end of every ``n``-th optimizer step (counted over the
            run) instead of at epoch ends; with ``save_best_only``, ``monitor`` must then
            be a key of the batch logs (running means such as ``"loss"``). Defaults to
            None.

    Attributes:
        best: the best monitored value saved so far (``save_best_only``).
        last_saved: the path of the last file written, or None.

    Example:
        >>> import os, tempfile, lamina as lm
        >>> folder = tempfile.mkdtemp()
        >>> model = lm.Sequential([lm.layers.Dense(1)], input_shape=(3,))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> ckpt = ModelCheckpoint(os.path.join(folder, "m-{epoch:02d}-{val_loss:.2f}.lamina"))
        >>> ckpt.set_model(model); ckpt.on_train_begin()
        >>> ckpt.on_epoch_end(0, {"loss": 0.3, "val_loss": 0.25})
        >>> os.path.basename(ckpt.last_saved)
        'm-01-0.25.lamina'
        >>> lm.load_model(ckpt.last_saved).count_params()
        4
    """

    _constraints = {"filepath": _check_template,
                    "save_best_only": check.boolean, "save_weights_only": check.boolean,
                    "every_n_steps": check.optional_positive_int}

    def __init__(self, filepath, monitor: str = "val_loss", *, mode: str = "auto",
                 save_best_only: bool = False, save_weights_only: bool = False,
                 every_n_steps: int | None = None):
        self._init_args(filepath=filepath, save_best_only=save_best_only,
                        save_weights_only=save_weights_only, every_n_steps=every_n_steps)
        super().__init__(monitor=monitor, mode=mode)
        self.last_saved: str | None = None
        self._epoch, self._epoch_start, self._counted = 0, 0, 0
        if self.every_n_steps is not None:  # dispatched per batch only when asked for
            self.on_train_batch_end = self._on_step_end

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._counted = 0

    def on_epoch_begin(self, epoch, logs=None):
        steps = self.params.get("steps")
        self._epoch = epoch
        self._epoch_start = epoch * steps if steps else self._counted

    def _on_step_end(self, batch, logs=None):
        self._counted = self._epoch_start + batch + 1
        if self._counted % self.every_n_steps == 0:
            self._save(logs)

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps")
        self._epoch = epoch
        self._counted = (epoch + 1) * steps if steps else self._counted
        if self.every_n_steps is None:
            self._save(logs)

    def _save(self, logs) -> None:
        if self.save_best_only:
            current = self.get_monitor_value(logs)
            if not self.is_improvement(current, self.best):
                return
            self.best = current
        if not is_main_process():  # lamina.distributed: rank 0 writes the files
            return
        path = self._format(logs)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.last_saved = path

    def _format(self, logs) -> str:
        try:
            return self.filepath.format_map(
                _Fields(logs, epoch=self._epoch + 1, step=self._counted))
        except KeyError as err:
            keys = [*_COUNTERS, *(logs or {})]
            raise ValueError(message(
                f"Argument `filepath` of ModelCheckpoint names {{{err.args[0]}}}, which is "
                f"not in the logs.", expected="fields among " + ", ".join(keys),
                received=f"filepath={self.filepath!r}",
                fix="Use one of those names, or add validation data for `val_` keys.")) from None

    def state_dict(self) -> dict[str, Any]:
        """``best`` and ``last_saved``."""
        return {**super().state_dict(), "last_saved": self.last_saved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.last_saved = state.get("last_saved")
