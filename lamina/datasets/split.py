"""Train / validation / test split of arrays, stratified by class, reproducible by seed."""

from __future__ import annotations

import numbers

import numpy as np

from lamina.errors import message

__all__ = ["split"]


def split(x, y=None, *, validation: float = 0.1, test: float = 0.1, stratify: bool = True,
          seed: int = 0):
    """Split ``(x, y)`` into shuffled, disjoint train, validation and test parts.

    With ``stratify=True`` each class is split on its own, so every part keeps the class
    proportions of ``y`` (a class of ``n`` samples gives ``round(n * test)`` test and
    ``round(n * validation)`` validation samples, the rest train). Without it, or without
    ``y``, the whole set is split in the same proportions.

    Args:
        x: an array (or tensor, or anything ``numpy`` indexes) of ``N`` samples.
        y: ``N`` labels (integer classes, or one-hot rows), or None.
        validation: fraction for validation, in ``[0, 1)``. Defaults to 0.1.
        test: fraction for test, in ``[0, 1)``. Defaults to 0.1.
        stratify: keep the class proportions of ``y`` in each part. Defaults to True.
        seed: the shuffle's seed; the same seed gives the same split. Defaults to 0.

    Returns:
        ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``, or
        ``x_train, x_val, x_test`` when ``y`` is None.

    Example:
        >>> import numpy as np
        >>> x, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
        >>> (xt, yt), (xv, yv), (xs, ys) = split(x, y, validation=0.2, test=0.2)
        >>> len(yt), np.bincount(yv).tolist(), np.bincount(ys).tolist()
        (6, [1, 1], [1, 1])
    """
    validation = _fraction("validation", validation)
    test = _fraction("test", test)
    if validation + test >= 1:
        raise ValueError(message(
            "`validation` and `test` of split leave no training data.",
            expected="validation + test < 1", received=f"validation={validation}, test={test}"))
    n = len(x)
    if y is not None and len(y) != n:
        raise ValueError(message("`x` and `y` of split have different numbers of samples.",
                                 received=f"len(x)={n}, len(y)={len(y)}"))
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)]
    if stratify and y is not None and n:
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot rows
            labels = labels.argmax(axis=1)
        _, codes = np.unique(labels.reshape(n, -1)[:, 0], return_inverse=True)
        codes = codes.reshape(-1)
        groups = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        group = rng.permutation(group)
        n_test, n_val = round(len(group) * test), round(len(group) * validation)
        parts[2].append(group[:n_test])
        parts[1].append(group[n_test:n_test + n_val])
        parts[0].append(group[n_test + n_val:])
    index = [rng.permutation(np.concatenate(p)) if p else np.arange(0) for p in parts]
    if y is None:
        return tuple(x[i] for i in index)
    return tuple((x[i], y[i]) for i in index)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(message(f"Argument `{name}` of split must be a fraction in [0, 1).",
                                 received=f"{name}={value!r}"))
    return float(value)
