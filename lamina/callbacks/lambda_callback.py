"""``LambdaCallback``: a callback made of plain functions."""

from __future__ import annotations

from lamina.callbacks.base import Callback
from lamina.errors import message

__all__ = ["LambdaCallback"]

_INDEXED = ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end")


def _hook(fn, indexed: bool):
    """``fn`` as a hook that always receives ``logs`` (None when the caller gives none)."""
    if indexed:
        def hook(index, logs=None):
            return fn(index, logs)
    else:
        def hook(logs=None):
            return fn(logs)
    return hook


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given, with Keras's signatures.

    ``on_epoch_begin``/``on_epoch_end`` take ``(epoch, logs)``, the batch hooks
    ``(batch, logs)`` and ``on_train_begin``/``on_train_end`` take ``(logs)``; ``logs`` is
    None where ``fit`` passes none. Only the hooks given count as overridden, so a
    ``LambdaCallback`` without batch functions costs nothing per batch.

    Args:
        on_epoch_begin: called at the start of each epoch.
        on_epoch_end: called at the end of each epoch.
        on_train_batch_begin: called before each training step.
        on_train_batch_end: called after each training step (batch logs are lazy: reading a
            value syncs with the device).
        on_train_begin: called once when training starts.
        on_train_end: called once when training ends.

    Example:
        >>> seen = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
        >>> cb.on_epoch_end(0, {"loss": 0.5}); seen
        [0.5]
    """

    def __init__(self, *, on_epoch_begin=None, on_epoch_end=None, on_train_batch_begin=None,
                 on_train_batch_end=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end}
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(message(f"Argument `{name}` of LambdaCallback must be callable.",
                                        received=f"{name}={fn!r} (type {type(fn).__name__})"))
            setattr(self, name, _hook(fn, name in _INDEXED))
