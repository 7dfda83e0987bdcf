"""``TensorBoard``: epoch scalars for TensorBoard (needs the ``tensorboard`` package)."""

from __future__ import annotations

from lamina.callbacks import _utils as check
from lamina.callbacks.base import Callback
from lamina.distributed.env import is_main_process

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Write every value of the epoch logs as a TensorBoard scalar.

    Each key (``loss``, ``accuracy``, ``val_loss``, ``lr``, ...) is one scalar plot, with the
    epoch (0-based) as the step. It uses ``torch.utils.tensorboard.SummaryWriter``, which
    needs the ``tensorboard`` package; view the plots with ``tensorboard --logdir logs``.

    Args:
        log_dir: the folder of the event files. Defaults to ``"logs"``.

    Raises:
        ImportError: if ``tensorboard`` is not installed (with the ``pip`` command).

    Example:
        >>> import tempfile
        >>> try:
        ...     board = TensorBoard(log_dir=tempfile.mkdtemp())  # then fit(..., callbacks=[board])
        ... except ImportError as err:  # tensorboard is an optional dependency
        ...     "pip install tensorboard" in str(err)
        ... else:
        ...     board.log_dir != ""
        True
    """

    order = 90  # after the callbacks that add keys (lr) to the logs
    _constraints = {"log_dir": check.path}

    def __init__(self, log_dir="logs"):
        super().__init__()
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError("The TensorBoard callback needs the `tensorboard` package. "
                              "Install it with `pip install tensorboard`.") from None
        self._init_args(log_dir=log_dir)
        self._writer_class = SummaryWriter
        self._writer = None

    def on_train_begin(self, logs=None):
        if not is_main_process():  # lamina.distributed: rank 0 writes the files
            return
        self._close()
        self._writer = self._writer_class(log_dir=self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if not is_main_process():  # lamina.distributed: rank 0 writes the files
            return
        if self._writer is None:
            self.on_train_begin()
        for key, value in (logs or {}).items():
            self._writer.add_scalar(key, float(value), epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
