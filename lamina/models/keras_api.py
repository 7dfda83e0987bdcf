"""Keras's batch-level and weight-list utilities, mixed into every ``Model``.

``get_weights``/``set_weights`` move a model's weights in and out as a list of numpy arrays;
``train_on_batch``/``test_on_batch``/``predict_on_batch`` run one batch through the very
loops ``fit``/``evaluate``/``predict`` use (one step, no callbacks, no progress bar).
"""

from __future__ import annotations

import numpy as np
import torch

from lamina.errors import message

__all__ = ["KerasAPI", "keras_result", "num_samples"]


def num_samples(x) -> int:
    """Rows in ``x``: an array or tensor, or a list/tuple/dict of them (several inputs).

    Example:
        >>> num_samples(np.zeros((5, 3))), num_samples([np.zeros((2, 1)), np.zeros((2, 4))])
        (5, 2)
    """
    first = x
    if isinstance(x, dict):
        first = next(iter(x.values()), None)
    elif isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        first = x[0]
    shape = getattr(first, "shape", None)
    if not shape:
        raise ValueError(message(
            "A batch must be an array or tensor with a batch axis (or a list or dict of them).",
            received=f"an object of type {type(x).__name__}",
            fix="Pass numpy arrays or torch tensors, e.g. model.train_on_batch(x[:32], y[:32])."))
    return int(shape[0])


def keras_result(logs: dict[str, float], return_dict: bool = False):
    """Keras's return value for lamina's logs: the loss alone when there is no metric, else
    ``[loss, *metrics]`` (the ``reg_loss`` breakdown left out); the logs as they are with
    ``return_dict``.

    Example:
        >>> keras_result({"loss": 0.5}), keras_result({"loss": 0.5, "accuracy": 0.75})
        (0.5, [0.5, 0.75])
    """
    if return_dict:
        return dict(logs)
    values = [v for k, v in logs.items() if k != "reg_loss"]
    return values[0] if len(values) == 1 else values


class KerasAPI:
    """Mixin of :class:`lamina.Model`: Keras's ``get_weights``/``set_weights`` and the
    ``*_on_batch`` methods.

    Example:
        >>> import numpy as np, lamina as lm
        >>> net = lm.Sequential([lm.layers.Dense(3)], input_shape=(2,))
        >>> [w.shape for w in net.get_weights()]
        [(3, 2), (3,)]
    """

    # -- weights as numpy arrays ---------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """The model's weights as a list of numpy arrays (copies).

        The order is Keras's, layer by layer from input to output: each layer's kernel
        (``weight``), then its bias, then its non-trainable state (a batch norm's running
        mean and variance), exactly the order of ``model.state_dict()``. The arrays have
        lamina's (torch's) layouts: a ``Dense`` kernel is ``(units, in_features)`` (Keras's
        ``(in, units)`` transposed) and a ``Conv2D`` kernel ``(filters, C, kh, kw)``.

        Returns:
            One array per tensor of ``state_dict()``.

        Raises:
            NotBuiltError: the model has no weights yet.

        Example:
            >>> import lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(4), lm.layers.Dense(1)], input_shape=(3,))
            >>> [w.shape for w in net.get_weights()]
            [(4, 3), (4,), (1, 4), (1,)]
        """
        if not self.built:
            self.count_params()  # raises the not-built hint
        return [t.detach().cpu().numpy().copy() for t in self.state_dict().values()]

    def set_weights(self, weights) -> None:
        """Set every weight from a list of arrays shaped as :meth:`get_weights` returns them.

        Nothing is changed unless the whole list fits (count and every shape).

        Args:
            weights: a list or tuple of numpy arrays (or tensors or nested lists), one per
                entry of ``get_weights()``, in that order.

        Raises:
            ValueError: a wrong number of arrays or a wrong shape (naming the weight).
            TypeError: ``weights`` is not a list or tuple.

        Example:
            >>> import numpy as np, lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
            >>> net.set_weights([np.ones((2, 3)), np.zeros(2)])
            >>> net.predict(np.ones((1, 3))).tolist()
            [[3.0, 3.0]]
        """
        if not isinstance(weights, (list, tuple)):
            raise TypeError(message(
                f"`set_weights` of model '{self.name}' takes a list of arrays.",
                received=f"an object of type {type(weights).__name__}",
                fix="Pass a list such as the one `model.get_weights()` returns."))
        if not self.built:
            self.count_params()  # raises the not-built hint
        targets = self.state_dict()
        if len(weights) != len(targets):
            raise ValueError(message(
                f"`set_weights` of model '{self.name}' needs one array per weight.",
                expected=f"{len(targets)} arrays ({', '.join(targets)})",
                received=f"{len(weights)} arrays",
                fix="Take the list from `get_weights()` of a model with the same layers."))
        arrays = []
        for (key, target), value in zip(targets.items(), weights):
            array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
            if array.shape != tuple(target.shape):
                raise ValueError(message(
                    f"`set_weights` of model '{self.name}': weight '{key}' has another shape.",
                    expected=f"shape {tuple(target.shape)}",
                    received=f"shape {array.shape}",
                    fix="Arrays follow lamina's layouts: a Dense kernel is (units, in), "
                        "Keras's transposed."))
            arrays.append(array)
        with torch.no_grad():
            for target, array in zip(targets.values(), arrays):
                target.copy_(torch.as_tensor(array, dtype=target.dtype, device=target.device))

    # -- one batch ----------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, *,
                       return_dict: bool = False):
        """One training step on the batch ``(x, y)``: ``fit``'s own step, for one batch.

        It is ``fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)`` without
        callbacks, except that ``model.history`` keeps the last ``fit``'s history.

        Args:
            x: the batch's inputs (as for ``fit``).
            y: its targets.
            sample_weight: per-sample loss weights, as ``fit`` takes them. Defaults to None.
            class_weight: ``{class: weight}``, as ``fit`` takes it. Defaults to None.
            return_dict: return the logs dict instead of Keras's value. Defaults to False.

        Returns:
            The loss before the update (a float) when the model has no metrics, else
            ``[loss, *metrics]`` in ``compile``'s order (Keras's return value); with
            ``return_dict=True``, ``{"loss": ..., "accuracy": ...}``.

        Example:
            >>> import numpy as np, lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(2, activation="softmax")], input_shape=(3,))
            >>> net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
            ...             metrics=["accuracy"])
            >>> loss, acc = net.train_on_batch(np.ones((4, 3)), np.array([0, 1, 0, 1]))
            >>> acc
            0.5
        """
        trainer = self._require_trainer("train_on_batch")
        kept = self.history
        try:
            history = trainer.fit(x, y, batch_size=num_samples(x), epochs=1, verbose=0,
                                  shuffle=False, sample_weight=sample_weight,
                                  class_weight=class_weight)
        finally:
            self.history = kept
        return keras_result({k: v[-1] for k, v in history.history.items()}, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, *, return_dict: bool = False):
        """Loss and metrics on one batch, without training: ``evaluate`` on that batch
        (``sample_weight`` as ``evaluate`` takes it).

        Returns:
            As :meth:`train_on_batch`: the loss, or ``[loss, *metrics]``, or the dict.

        Example:
            >>> import numpy as np, lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(1)], input_shape=(2,))
            >>> net.compile(optimizer="sgd", loss="mse")
            >>> net.set_weights([np.zeros((1, 2)), np.ones(1)])
            >>> net.test_on_batch(np.zeros((3, 2)), np.zeros((3, 1)))
            1.0
        """
        trainer = self._require_trainer("test_on_batch")
        logs = trainer.evaluate(x, y, batch_size=num_samples(x), verbose=0,
                                sample_weight=sample_weight)
        return keras_result(logs, return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        """The model's outputs for one batch, as numpy: ``predict`` in one batch.

        Example:
            >>> import numpy as np, lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
            >>> net.predict_on_batch(np.zeros((5, 3))).shape
            (5, 2)
        """
        return self.predict(x, batch_size=max(1, num_samples(x)))

    # -- summary ------------------------------------------------------------------------
    def _with_trainable_column(self, table: list[str], rows: list) -> list[str]:
        """``summary(show_trainable=True)``: ``table`` (the header line, then one line per
        row of ``summary_rows()``) with a Trainable column appended: ``Y`` (all the layer's
        weights train), ``N`` (none), ``partial``, or ``-`` for a graph's input rows."""
        width = max(len(text) for text in table) + 2
        return [f"{text:<{width}}{flag}"
                for text, flag in zip(table, ["Trainable", *self._trainable_flags(rows)])]

    def _trainable_flags(self, rows: list) -> list[str]:
        """One flag per summary row; the rows end with one per top-level layer (a graph's
        input rows come first)."""
        layers = self._layer_list()
        flags = ["-"] * max(0, len(rows) - len(layers))
        for layer in layers[len(layers) - (len(rows) - len(flags)):]:
            grads = {p.requires_grad for p in layer.parameters()}
            if not grads:
                grads = {bool(getattr(layer, "trainable", True))}
            flags.append("partial" if len(grads) == 2 else ("Y" if grads.pop() else "N"))
        return flags
