"""Keras 1's ``Sequential`` and functional ``Model``: lamina models with Keras 1's
``compile``, ``fit(nb_epoch=...)``, ``evaluate``, ``predict_classes`` and ``predict_proba``.

Training runs lamina's own loop (``lamina.Model.fit``); only the arguments and return values
follow Keras 1:

- ``fit(x, y, batch_size=32, nb_epoch=10, verbose=1, callbacks=[], validation_split=0.,
  validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
  initial_epoch=0)`` returns lamina's ``History``, whose ``history`` dict also carries
  Keras 1's ``acc``/``val_acc`` keys beside ``accuracy``/``val_accuracy``;
- ``evaluate`` returns the loss, or ``[loss, *metrics]`` when compiled with metrics;
- ``predict`` batches by 32, as Keras 1; ``predict_classes`` gives the argmax (or the 0/1
  threshold of a single sigmoid output);
- ``get_weights``/``set_weights``/``train_on_batch``/``test_on_batch``/``predict_on_batch``
  are lamina's (:class:`lamina.models.keras_api.KerasAPI`), which follow Keras.
"""

from __future__ import annotations

import numpy as np

from lamina.compat.keras1 import optimizers
from lamina.errors import message
from lamina.models.functional import Functional
from lamina.models.keras_api import keras_result
from lamina.models.sequential import Sequential as _Sequential

__all__ = ["Keras1Sequential", "Keras1Model", "Sequential", "Model"]

_COMPILE_EXTRAS = ("loss_weights", "sample_weight_mode")


class _Keras1Training:
    """Keras 1's signatures of ``compile``/``fit``/``evaluate``/``predict`` over lamina's."""

    def compile(self, optimizer, loss, metrics=None, **kwargs) -> None:
        """Keras 1's ``compile(optimizer, loss, metrics=[])``: names give Keras 1's
        optimizers (``"sgd"``, ``"adam"``, ...; see :mod:`lamina.compat.keras1.optimizers`).

        Example:
            >>> from lamina.compat.keras1 import Activation, Dense, Sequential
            >>> model = Sequential([Dense(2, input_dim=3), Activation("softmax")])
            >>> model.compile(loss="categorical_crossentropy", optimizer="sgd")
        """
        extra = {k: v for k, v in kwargs.items() if v is not None}
        unknown = [k for k in extra if k not in _COMPILE_EXTRAS]
        if unknown:
            raise TypeError(message(f"compile of lamina.compat.keras1 got unexpected arguments "
                                    f"{unknown}.", expected=f"Keras 1's {list(_COMPILE_EXTRAS)}"))
        super().compile(optimizer=optimizers.get(optimizer), loss=loss, metrics=metrics,
                        **extra)

    def fit(self, x, y=None, batch_size: int = 32, nb_epoch: int | None = None, verbose=1,
            callbacks=None, validation_split: float = 0.0, validation_data=None, shuffle=True,
            class_weight=None, sample_weight=None, initial_epoch: int = 0, *,
            epochs: int | None = None):
        """Keras 1's ``fit``: ``nb_epoch`` epochs (``epochs=`` is Keras 2's name for it;
        give one). Defaults to 10 epochs, as Keras 1. ``shuffle="batch"`` shuffles like
        ``True``. Returns the ``History``.

        Example:
            >>> import numpy as np
            >>> from lamina.compat.keras1 import Activation, Dense, Sequential
            >>> model = Sequential([Dense(2, input_dim=3), Activation("softmax")])
            >>> model.compile(loss="categorical_crossentropy", optimizer="sgd",
            ...               metrics=["accuracy"])
            >>> h = model.fit(np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]], batch_size=4, nb_epoch=2,
            ...               verbose=0)
            >>> len(h.history["acc"]), h.history["acc"] == h.history["accuracy"]
            (2, True)
        """
        if nb_epoch is not None and epochs is not None:
            raise ValueError(message("fit takes `nb_epoch` (Keras 1) or `epochs` (Keras 2), "
                                     "not both.", received=f"nb_epoch={nb_epoch}, "
                                                           f"epochs={epochs}"))
        epochs = nb_epoch if nb_epoch is not None else (epochs if epochs is not None else 10)
        weights = {k: v for k, v in (("class_weight", class_weight),
                                     ("sample_weight", sample_weight)) if v is not None}
        history = super().fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                              validation_split=validation_split, validation_data=validation_data,
                              shuffle=shuffle == "batch" or shuffle, callbacks=callbacks or (),
                              initial_epoch=initial_epoch, **weights)
        for key in list(history.history):
            if key.endswith("accuracy"):
                history.history[key[:-len("accuracy")] + "acc"] = history.history[key]
        return history

    def evaluate(self, x, y=None, batch_size: int = 32, verbose=1, sample_weight=None):
        """Keras 1's ``evaluate``: the loss, or ``[loss, *metrics]`` when compiled with
        metrics (lamina's ``evaluate`` returns a dict).

        Example:
            >>> import numpy as np
            >>> from lamina.compat.keras1 import Dense, Sequential
            >>> model = Sequential([Dense(1, input_dim=2)])
            >>> model.compile(loss="mse", optimizer="sgd")
            >>> model.set_weights([np.zeros((1, 2)), np.ones(1)])
            >>> model.evaluate(np.zeros((3, 2)), np.zeros((3, 1)), verbose=0)
            1.0
        """
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        return keras_result(super().evaluate(x, y, batch_size=batch_size, verbose=verbose,
                                             **weights), False)

    def predict(self, x, batch_size: int = 32, verbose=0) -> np.ndarray:
        """The model's outputs for ``x`` (probabilities after a softmax), as numpy."""
        return super().predict(x, batch_size=batch_size)

    def predict_proba(self, x, batch_size: int = 32, verbose=1) -> np.ndarray:
        """Keras 1's ``predict_proba``: ``predict`` for a model ending in a softmax or
        sigmoid."""
        return self.predict(x, batch_size=batch_size)

    def predict_classes(self, x, batch_size: int = 32, verbose=1) -> np.ndarray:
        """Keras 1's class predictions: the argmax over the last axis, or ``proba > 0.5`` as
        0/1 for a single output unit.

        Example:
            >>> import numpy as np
            >>> from lamina.compat.keras1 import Dense, Sequential
            >>> model = Sequential([Dense(2, input_dim=2)])
            >>> model.set_weights([np.eye(2), np.zeros(2)])
            >>> model.predict_classes(np.array([[1.0, 0.0], [0.0, 3.0]]), verbose=0).tolist()
            [0, 1]
        """
        proba = self.predict(x, batch_size=batch_size)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")


class Keras1Sequential(_Keras1Training, _Sequential):
    """Keras 1's ``Sequential(layers=None, name=None)``: lamina's ``Sequential`` with Keras 1's
    training signatures (see the module docstring). The first layer's ``input_shape`` /
    ``input_dim`` builds it, as in Keras 1.

    Example:
        >>> from lamina.compat.keras1 import Activation, Dense, Sequential
        >>> model = Sequential()
        >>> model.add(Dense(4, input_dim=3)); model.add(Activation("relu")); model.add(Dense(2))
        >>> model.output_shape
        (2,)
    """

    def __init__(self, layers=None, name: str | None = None, *, input_shape=None):
        super().__init__(layers, input_shape=input_shape, name=name)


class Keras1Model(_Keras1Training, Functional):
    """Keras 1's functional ``Model(input=..., output=...)`` (``inputs``/``outputs`` too).

    Example:
        >>> from lamina.compat.keras1 import Dense, Input, Model
        >>> x = Input(shape=(3,))
        >>> model = Model(input=x, output=Dense(2, activation="softmax")(x))
        >>> model.output_shape
        (2,)
    """

    def __init__(self, input=None, output=None, name: str | None = None, *,
                 inputs=None, outputs=None):
        super().__init__(inputs if inputs is not None else input,
                         outputs if outputs is not None else output, name=name)


#: Keras 1's names (the classes register in lamina's layer registry under their own names,
#: ``Keras1Sequential`` and ``Keras1Model``, so lamina's ``Sequential`` keeps its own).
Sequential = Keras1Sequential
Model = Keras1Model
