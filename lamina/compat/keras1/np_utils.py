"""Keras 1's ``keras.utils.np_utils``: class vectors to one-hot matrices and back."""

from __future__ import annotations

import numpy as np

from lamina.errors import message

__all__ = ["to_categorical", "probas_to_classes", "categorical_probas_to_classes"]


def to_categorical(y, nb_classes: int | None = None) -> np.ndarray:
    """One-hot rows for integer class labels: ``Y[i, y[i]] = 1`` (float32).

    Args:
        y: integer labels in ``[0, nb_classes)`` (any shape; flattened).
        nb_classes: number of classes. Defaults to ``max(y) + 1``.

    Returns:
        An array ``(len(y), nb_classes)``.

    Example:
        >>> to_categorical([0, 2, 1]).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    y = np.asarray(y).ravel()
    if y.size and (not np.issubdtype(y.dtype, np.integer) and not np.all(y == np.round(y))):
        raise ValueError(message("to_categorical takes integer class labels.",
                                 received=f"labels of dtype {y.dtype}"))
    y = y.astype(np.int64)
    n = int(y.max()) + 1 if nb_classes is None and y.size else int(nb_classes or 0)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(message("to_categorical labels must lie in [0, nb_classes).",
                                 received=f"labels from {y.min()} to {y.max()}, nb_classes={n}"))
    out = np.zeros((y.size, n), dtype=np.float32)
    out[np.arange(y.size), y] = 1.0
    return out


def categorical_probas_to_classes(p) -> np.ndarray:
    """The argmax of each row of class probabilities.

    Example:
        >>> categorical_probas_to_classes([[0.1, 0.9], [0.8, 0.2]]).tolist()
        [1, 0]
    """
    return np.argmax(np.asarray(p), axis=1)


def probas_to_classes(y_pred) -> np.ndarray:
    """Classes from predictions: the argmax of several columns, else ``p > 0.5`` as 0/1.

    Example:
        >>> probas_to_classes([[0.2], [0.7]]).tolist()
        [0, 1]
    """
    y_pred = np.asarray(y_pred)
    if y_pred.ndim > 1 and y_pred.shape[1] > 1:
        return categorical_probas_to_classes(y_pred)
    return (y_pred.ravel() > 0.5).astype("int32")
