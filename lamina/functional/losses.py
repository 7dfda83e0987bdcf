"""Loss functions as pure tensor functions: ``fn(y_pred, y_true, *, from_logits, reduction)``.

Shapes follow torch: the batch is axis 0 and, for the cross-entropies, the classes are
axis 1, so ``(N, C)`` and ``(N, C, H, W)`` (segmentation) both work. Every function first
computes an elementwise loss, then reduces it:

- ``"none"``: one loss per sample, shape ``(N,)``: the mean over all non-batch positions;
- ``"mean"``: the mean of those, i.e. the mean over every position (torch's ``"mean"``);
- ``"sum"``: the sum of the per-sample losses (Keras's ``"sum"``). For ``(N, D)`` targets
  this is ``1/D`` of torch's ``F.mse_loss(..., reduction="sum")``.

With ``from_logits=True`` the cross-entropies take raw scores and fuse the sigmoid or
softmax into the log (stable for any logit). With probabilities, they clip them to
``[EPSILON, 1 - EPSILON]`` before the log, as Keras does, so a saturated prediction gives a
large but finite loss (and a zero gradient).

Example:
    >>> import torch
    >>> from lamina.functional import losses
    >>> losses.mean_squared_error(torch.tensor([[1.0, 3.0]]), torch.tensor([[1.0, 1.0]]))
    tensor(2.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lamina.errors import message

__all__ = [
    "EPSILON",
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
]

EPSILON = 1e-7
_REDUCTIONS = ("mean", "sum", "none")


def _check_options(name: str, from_logits: bool, reduction: str, *, logits_ok: bool) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            message(
                f"Argument `reduction` of {name} is not valid.",
                expected="one of 'mean', 'sum', 'none'",
                received=f"reduction={reduction!r}",
            )
        )
    if from_logits and not logits_ok:
        raise ValueError(
            message(
                f"{name} does not take `from_logits=True`: only the cross-entropies do.",
                received="from_logits=True",
                fix="Drop `from_logits`.",
            )
        )


def _reduce(elementwise: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce an elementwise loss of shape (N, ...) as the module docstring says."""
    if reduction == "mean":
        return elementwise.mean()
    per_sample = elementwise
    if elementwise.ndim > 1:
        per_sample = elementwise.reshape(elementwise.shape[0], -1).mean(dim=1)
    return per_sample if reduction == "none" else per_sample.sum()


def _match(
    name: str, y_pred: torch.Tensor, y_true: torch.Tensor, fix: str | None = None
) -> torch.Tensor:
    """``y_true`` with ``y_pred``'s shape and dtype; (N,) and (N, 1) are interchangeable."""
    if y_true.shape != y_pred.shape:
        if y_pred.shape == y_true.shape + (1,) or y_true.shape == y_pred.shape + (1,):
            y_true = y_true.reshape(y_pred.shape)
        else:
            raise ValueError(
                message(
                    f"{name} needs `y_true` with the same shape as `y_pred`.",
                    received=f"y_pred.shape={tuple(y_pred.shape)}, "
                    f"y_true.shape={tuple(y_true.shape)}",
                    fix=fix,
                )
            )
    return y_true.to(y_pred.dtype)


def _class_probabilities(y_pred: torch.Tensor) -> torch.Tensor:
    """Normalize along the class axis and clip to [EPSILON, 1 - EPSILON] (Keras's rule)."""
    return (y_pred / y_pred.sum(dim=1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)


def _check_class_axis(name: str, y_pred: torch.Tensor) -> None:
    if y_pred.ndim < 2:
        raise ValueError(
            message(
                f"{name} needs `y_pred` of shape (N, C, ...) with the classes on axis 1.",
                received=f"y_pred.shape={tuple(y_pred.shape)}",
                fix="For a single probability per sample use `binary_crossentropy`.",
            )
        )


def mean_squared_error(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean squared error: ``mean((y_pred - y_true)^2)``.

    Args:
        y_pred: predictions, shape (N, ...).
        y_true: targets of the same shape ((N,) and (N, 1) are interchangeable).
        from_logits: must be False (kept so all losses share one signature).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Defaults to ``"mean"``.

    Example:
        >>> mean_squared_error(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0]))
        tensor(1.)
    """
    _check_options("mean_squared_error", from_logits, reduction, logits_ok=False)
    y_true = _match("mean_squared_error", y_pred, y_true)
    return _reduce((y_pred - y_true).square(), reduction)


def mean_absolute_error(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean absolute error: ``mean(|y_pred - y_true|)``.

    Args are as for :func:`mean_squared_error`.

    Example:
        >>> mean_absolute_error(torch.tensor([0.0, 3.0]), torch.tensor([1.0, 1.0]))
        tensor(1.5000)
    """
    _check_options("mean_absolute_error", from_logits, reduction, logits_ok=False)
    y_true = _match("mean_absolute_error", y_pred, y_true)
    return _reduce((y_pred - y_true).abs(), reduction)


def binary_crossentropy(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary cross-entropy: ``-mean(y log p + (1 - y) log(1 - p))``, ``p = sigmoid(z)``.

    Args:
        y_pred: probabilities ``p`` in [0, 1], or logits ``z`` if ``from_logits``; any shape.
        y_true: targets in [0, 1] of the same shape ((N,) and (N, 1) are interchangeable).
        from_logits: whether ``y_pred`` holds logits. Defaults to False.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Defaults to ``"mean"``.

    Example:
        >>> binary_crossentropy(torch.tensor([0.0]), torch.tensor([1.0]), from_logits=True)
        tensor(0.6931)
    """
    _check_options("binary_crossentropy", from_logits, reduction, logits_ok=True)
    y_true = _match("binary_crossentropy", y_pred, y_true)
    if from_logits:
        loss = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        loss = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log1p(-p))
    return _reduce(loss, reduction)


def categorical_crossentropy(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Categorical cross-entropy: ``-sum_c y_c log p_c``, ``p = softmax(z)`` over axis 1.

    With probabilities, ``y_pred`` is first renormalized to sum to one along axis 1, as
    Keras does.

    Args:
        y_pred: probabilities, or logits if ``from_logits``; shape (N, C, ...).
        y_true: one-hot or soft targets of the same shape.
        from_logits: whether ``y_pred`` holds logits. Defaults to False.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Defaults to ``"mean"``.

    Example:
        >>> categorical_crossentropy(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.0, 1.0]]))
        tensor(0.6931)
    """
    name = "categorical_crossentropy"
    _check_options(name, from_logits, reduction, logits_ok=True)
    _check_class_axis(name, y_pred)
    y_true = _match(
        name, y_pred, y_true, fix="For integer labels use `sparse_categorical_crossentropy`."
    )
    if from_logits:
        if reduction == "mean":  # the mean over every position, in one fused kernel
            return F.cross_entropy(y_pred, y_true)
        loss = F.cross_entropy(y_pred, y_true, reduction="none")
    else:
        loss = -(y_true * torch.log(_class_probabilities(y_pred))).sum(dim=1)
    return _reduce(loss, reduction)


def sparse_categorical_crossentropy(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy with integer labels: ``-log p_y``, ``p = softmax(z)`` over axis 1.

    From logits this is ``F.cross_entropy``; with probabilities, ``y_pred`` is renormalized
    along axis 1 and clipped before the log, as Keras does.

    Args:
        y_pred: probabilities, or logits if ``from_logits``; shape (N, C, ...).
        y_true: class indices in [0, C), shape (N, ...) (also (N, 1) for (N, C) input).
            Float labels are cast to int64.
        from_logits: whether ``y_pred`` holds logits. Defaults to False.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Defaults to ``"mean"``.

    Example:
        >>> sparse_categorical_crossentropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]),
        ...                                 from_logits=True)
        tensor(0.6931)
    """
    name = "sparse_categorical_crossentropy"
    _check_options(name, from_logits, reduction, logits_ok=True)
    _check_class_axis(name, y_pred)
    expected = y_pred.shape[:1] + y_pred.shape[2:]
    if y_true.shape != expected:
        if y_pred.ndim == 2 and y_true.shape == expected + (1,):
            y_true = y_true.reshape(expected)
        else:
            one_hot = y_true.shape == y_pred.shape
            raise ValueError(
                message(
                    f"{name} needs integer labels `y_true` of shape {tuple(expected)} for "
                    f"`y_pred` of shape {tuple(y_pred.shape)}.",
                    received=f"y_true.shape={tuple(y_true.shape)}",
                    fix="For one-hot targets use `categorical_crossentropy`." if one_hot else None,
                )
            )
    y_true = y_true.long()
    if from_logits:
        if reduction == "mean":  # the mean over every position, in one fused kernel
            return F.cross_entropy(y_pred, y_true)
        loss = F.cross_entropy(y_pred, y_true, reduction="none")
    else:
        loss = F.nll_loss(torch.log(_class_probabilities(y_pred)), y_true, reduction="none")
    return _reduce(loss, reduction)


def hinge(
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    *,
    from_logits: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """Hinge loss: ``mean(max(0, 1 - y * y_pred))`` with targets ``y`` in {-1, 1}.

    Targets in {0, 1} are converted to {-1, 1} (``y = 2 y - 1``) when every target of the
    batch is 0 or 1, as Keras does; the test runs on the device, without a host sync.

    Args:
        y_pred: raw scores, any shape.
        y_true: targets in {-1, 1} or {0, 1}, same shape ((N,) and (N, 1) interchangeable).
        from_logits: must be False (scores are already raw).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. Defaults to ``"mean"``.

    Example:
        >>> hinge(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0]))
        tensor(0.2500)
    """
    _check_options("hinge", from_logits, reduction, logits_ok=False)
    y_true = _match("hinge", y_pred, y_true)
    is_01 = ((y_true == 0) | (y_true == 1)).all()
    y_true = torch.where(is_01, 2.0 * y_true - 1.0, y_true)
    return _reduce(torch.relu(1.0 - y_true * y_pred), reduction)
