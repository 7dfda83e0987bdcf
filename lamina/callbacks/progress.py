"""Keras-like progress reporting on tqdm: a live bar per epoch, or one line per epoch."""

from __future__ import annotations

import sys
import time

from lamina.callbacks.base import Callback

__all__ = ["ProgressBar", "format_logs"]


def format_logs(logs) -> str:
    """``loss: 0.4321 - accuracy: 0.8765`` from a mapping of numbers.

    Per-layer diagnostics (keys with a ``/``, such as ``GradientStats``'s
    ``grad_norm/dense``) stay in the logs and the ``History`` but are not printed.

    Example:
        >>> format_logs({"loss": 0.5, "accuracy": 0.75, "grad_norm/dense": 0.1})
        'loss: 0.5000 - accuracy: 0.7500'
    """
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()
                      if k not in ("lr", "time") and "/" not in k)


class ProgressBar(Callback):
    """Shows training progress; ``fit`` adds one for ``verbose > 0``.

    ``verbose=1``: a live tqdm bar per epoch (loss, metrics, ETA) when the output is a
    terminal, else one line per epoch; ``verbose=2``: one line per epoch. The bar reads the
    running logs (a device sync) at most every ``interval`` seconds.

    Args:
        verbose: 1 or 2.
        interval: seconds between two bar refreshes. Defaults to 0.25.
        file: where to write. Defaults to ``sys.stdout``.

    Example:
        >>> ProgressBar(verbose=2).order > 0
        True
    """

    order = 100

    def __init__(self, verbose: int = 1, interval: float = 0.25, file=None):
        super().__init__()
        self.verbose, self.interval = verbose, interval
        self.file = file
        self._bar = None

    def _out(self):
        return self.file if self.file is not None else sys.stdout

    def _live(self) -> bool:
        out = self._out()
        return self.verbose == 1 and hasattr(out, "isatty") and out.isatty()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._seen, self._last_draw = 0, 0.0
        if self._live():
            from tqdm.auto import tqdm

            epochs = self.params.get("epochs", "?")
            self._bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{epochs}",
                             file=self._out(), unit="step", leave=True, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        now = time.perf_counter()
        if now - self._last_draw >= self.interval:
            self._bar.update(batch + 1 - self._seen)
            self._seen = batch + 1
            self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)
            self._last_draw = now

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._bar is not None:
            self._bar.update(self._bar.total - self._seen if self._bar.total else 0)
            self._bar.set_postfix_str(format_logs(logs), refresh=True)
            self._bar.close()
            self._bar = None
            return
        seconds = time.perf_counter() - self._epoch_start
        epochs = self.params.get("epochs", "?")
        print(f"Epoch {epoch + 1}/{epochs} - {seconds:.1f}s - {format_logs(logs)}",
              file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
