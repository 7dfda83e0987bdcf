"""``CSVLogger``: one CSV row per epoch."""

from __future__ import annotations

import csv
import os
from typing import Any

from lamina.callbacks import _utils as check
from lamina.callbacks.base import Callback
from lamina.distributed.env import is_main_process
from lamina.errors import message

__all__ = ["CSVLogger"]


def _separator(name: str, value: Any, owner: str) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
        raise ValueError(message(f"Argument `{name}` of {owner} must be one character (not a "
                                 f"quote or a line break).", received=f"{name}={value!r}"))
    return value


class CSVLogger(Callback):
    """Write the logs of each epoch as a row of a CSV file, flushed at once.

    The columns are ``epoch`` (counted from 0, as Keras writes it) then the keys of the
    first epoch's logs, in their order; a key missing later is written ``NA``, a key that
    appears later is left out. With ``append=True`` (or after :meth:`load_state_dict`,
    for resume) an existing file is extended and its header kept.

    Args:
        filename: the CSV file.
        separator: the column separator. Defaults to ``","``.
        append: add to an existing file instead of replacing it. Defaults to False.

    Example:
        >>> import csv, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> logger = CSVLogger(path)
        >>> logger.on_train_begin()
        >>> logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
        >>> logger.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.5})
        >>> logger.on_train_end()
        >>> with open(path, newline="") as f:
        ...     list(csv.reader(f))
        [['epoch', 'loss', 'val_loss'], ['0', '0.5', '0.75'], ['1', '0.25', '0.5']]
    """

    order = 90  # after the callbacks that add keys (lr) to the logs
    _constraints = {"filename": check.path, "separator": _separator, "append": check.boolean}

    def __init__(self, filename, separator: str = ",", *, append: bool = False):
        super().__init__()
        self._init_args(filename=filename, separator=separator, append=append)
        self.keys: list[str] | None = None
        self._file = None
        self._writer = None
        self._resuming = False

    def on_train_begin(self, logs=None):
        if not is_main_process():  # lamina.distributed: rank 0 writes the files
            return
        self._close()
        extend = self.append or self._resuming
        if not self._resuming:
            self.keys = None
        self._resuming = False
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if extend and exists and self.keys is None:
            with open(self.filename, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self.keys = header[1:] if header else None
        self._file = open(self.filename, "a" if extend else "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator)
        if self.keys is not None and not (extend and exists):  # resumed, but the file is gone
            self._writer.writerow(["epoch", *self.keys])

    def on_epoch_end(self, epoch, logs=None):
        if not is_main_process():  # lamina.distributed: rank 0 writes the files
            return
        if self._file is None:
            self.on_train_begin()
        logs = logs if logs is not None else {}
        if self.keys is None:
            self.keys = list(logs)
            self._writer.writerow(["epoch", *self.keys])
        self._writer.writerow([epoch, *(logs.get(key, "NA") for key in self.keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None

    def state_dict(self) -> dict[str, Any]:
        """``keys``: the columns after ``epoch`` (None before the header is written)."""
        return {"keys": self.keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.keys = None if state["keys"] is None else list(state["keys"])
        self._resuming = True
