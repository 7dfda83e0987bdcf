"""The callback protocol (Keras's hook names) and the list that dispatches it.

Batch hooks are dispatched only to callbacks that override them, decided once when the
list is made; a run with no such callback pays nothing per batch. A callback overrides a
hook by defining it in its class or by setting it on the instance
(``LambdaCallback``, ``ModelCheckpoint(every_n_steps=...)``).
"""

from __future__ import annotations

from typing import Any

from lamina.errors import LaminaError

__all__ = ["Callback", "CallbackList", "TrainingStopped"]


class TrainingStopped(LaminaError):
    """Raised by a callback hook to end ``fit`` at once, in the middle of an epoch.

    ``model.stop_training = True`` stops only after the current epoch; a callback that
    must stop now (``TerminateOnNaN``) raises this instead. The contract:

    * the raising callback first puts the model in the state it wants (for example,
      restores good weights) and sets ``model.stop_training`` and ``model.stop_reason``;
    * ``fit`` catches it, skips ``on_epoch_end`` for the interrupted epoch, records
      ``reason`` as ``history.stop_reason``, runs ``on_train_end`` and returns the
      history; no warning, since stopping was asked for.

    Args:
        reason: why training stopped, one line (kept as ``reason`` and as the message).

    Example:
        >>> err = TrainingStopped("non-finite loss (nan) at epoch 2, step 5")
        >>> err.reason
        'non-finite loss (nan) at epoch 2, step 5'
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class of callbacks: override any hook; every base hook does nothing.

    Hooks: ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
    ``on_train_batch_begin/end(batch, logs)``, and the same for ``test`` and ``predict``.
    ``self.model`` is the model being trained and ``self.params`` holds ``epochs``,
    ``steps`` and ``verbose``. Set ``self.model.stop_training = True`` to stop after the
    current epoch (and ``self.model.stop_reason`` to say why), or raise
    :class:`TrainingStopped` to stop at once. Callbacks run in increasing ``order`` (the
    progress bar last).

    Batch ``logs`` are computed lazily: reading a value synchronizes with the device, so
    read them only when you need them.

    Example:
        >>> class PrintEpoch(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, sorted(logs))
    """

    order = 0

    def __init__(self):
        self.model = None
        self.params: dict[str, Any] = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def state_dict(self) -> dict[str, Any]:
        """State needed to resume exactly (stateless callbacks return {})."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def _init_args(self, **values: Any) -> None:
        """Check each argument with the ``_constraints`` validator of its name; set it."""
        constraints: dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):
            constraints.update(vars(klass).get("_constraints", {}))
        for name, value in values.items():
            setattr(self, name, constraints[name](name, value, type(self).__name__))


def _overrides(cb: Callback, hook: str) -> bool:
    """Whether ``cb`` defines ``hook``, in its class or as an instance attribute."""
    if hook in getattr(cb, "__dict__", {}):
        return True
    return getattr(type(cb), hook) is not getattr(Callback, hook)


class CallbackList:
    """Calls each hook on every callback, in ``order``; batch hooks only where overridden."""

    def __init__(self, callbacks, *, model=None, params=None):
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)
        self._batch = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)]
                       for hook in _BATCH_HOOKS}

    def wants(self, hook: str) -> bool:
        """Whether any callback overrides the batch ``hook``."""
        return bool(self._batch[hook])

    def __getattr__(self, hook: str):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        targets = self._batch.get(hook, self.callbacks)

        def call(*args, **kwargs):
            for cb in targets:
                getattr(cb, hook)(*args, **kwargs)

        return call
