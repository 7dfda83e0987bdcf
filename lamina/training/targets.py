"""Checks of the targets ``y`` against the loss and the model's output, done once per call."""

from __future__ import annotations

from torch import Tensor

from lamina.errors import message
from lamina.layers.input_spec import format_shape

__all__ = ["check_targets", "missing_targets"]


def _first_where(mask: Tensor) -> int:
    return int(mask.reshape(len(mask), -1).any(1).nonzero()[0])


def missing_targets(model, loss_name: str, owner: str) -> ValueError:
    """The error for a compiled model called without ``y`` (raise it).

    Example:
        >>> "needs `y`" in str(missing_targets(None, "mse", "fit"))
        True
    """
    name = getattr(model, "name", type(model).__name__)
    loss = f" with loss '{loss_name}'" if loss_name else ""
    return ValueError(message(
        f"Model '{name}' is compiled{loss}, which compares its output with targets: "
        f"`{owner}` needs `y`.", received="y=None",
        fix=f"Call `{owner.split()[0]}(x, y)` (for an autoencoder, y=x)."))


def check_targets(loss_name: str, y: Tensor, out_shape: tuple | None, owner: str) -> Tensor:
    """Validate ``y`` for the loss ``loss_name`` and a per-sample model output ``out_shape``.

    Returns ``y``, cast to int64 when integral floats are given as class labels.

    Example:
        >>> import torch
        >>> check_targets("sparse_categorical_crossentropy", torch.tensor([0, 2]), (3,), "fit")
        tensor([0, 2])
    """
    classes = out_shape[0] if out_shape else None
    if loss_name == "sparse_categorical_crossentropy":
        if y.is_floating_point():
            if not bool((y == y.round()).all()):
                raise ValueError(message(
                    f"`y` given to {owner} must hold integer class labels for "
                    f"sparse_categorical_crossentropy.", received=f"y of dtype {y.dtype} with "
                    f"fractional values", fix="For one-hot or soft targets use "
                    "loss='categorical_crossentropy'."))
            y = y.long()
        if y.dim() == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if classes is not None and y.dim() == 2 and y.shape[1] == classes:
            raise ValueError(message(
                f"`y` given to {owner} looks one-hot, but the loss "
                f"sparse_categorical_crossentropy expects integer labels of shape (N,).",
                received=f"y of shape {tuple(y.shape)}",
                fix="Use loss='categorical_crossentropy' for one-hot targets, or pass "
                    "y.argmax(1)."))
        if classes is not None and tuple(y.shape[1:]) != tuple(out_shape[1:]):
            expected = format_shape(tuple(out_shape[1:]))
            raise ValueError(message(
                f"`y` given to {owner} must hold one integer label per output position, of "
                f"shape {expected}, for sparse_categorical_crossentropy and a model output "
                f"of shape {format_shape(tuple(out_shape))} (classes on axis 1).",
                received=f"y of shape {tuple(y.shape)}"))
        if classes is not None and len(y):
            bad = (y < 0) | (y >= classes)
            if bool(bad.any()):
                i = _first_where(bad)
                raise ValueError(message(
                    f"Labels given to {owner} must be integers in [0, {classes}) for a model "
                    f"with {classes} outputs.",
                    received=f"labels from {int(y.min())} to {int(y.max())} (e.g. "
                             f"{int(y[bad][0])} at sample {i})",
                    fix=f"Give the last layer as many units as there are classes "
                        f"(Dense({int(y.max()) + 1})) or fix the labels."))
    elif loss_name == "categorical_crossentropy":
        if y.dim() == 1 or (classes is not None and y.dim() >= 2 and y.shape[1] != classes):
            raise ValueError(message(
                f"`y` given to {owner} must be one-hot (or soft) targets of shape "
                f"(N, {classes if classes is not None else 'C'}) for categorical_crossentropy.",
                received=f"y of shape {tuple(y.shape)}",
                fix="For integer labels use loss='sparse_categorical_crossentropy'."))
    elif loss_name == "binary_crossentropy" and len(y):
        yf = y.float()
        if bool(((yf < 0) | (yf > 1)).any()):
            raise ValueError(message(
                f"Targets given to {owner} must lie in [0, 1] for binary_crossentropy.",
                received=f"values from {float(yf.min())} to {float(yf.max())}"))
    return y
