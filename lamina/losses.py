"""Loss objects, by name or class: ``losses.get("sparse_categorical_crossentropy")``.

Each class is a thin holder of its configuration (``from_logits``, ``reduction``) around a
pure function of :mod:`lamina.functional.losses`. Calling it is ``loss(y_pred, y_true)``,
the order of torch's ``loss_fn(input, target)``.

Softmax/sigmoid fusion: a class whose ``fusable_activation`` equals a model's final
activation (``"softmax"`` for the categorical cross-entropies, ``"sigmoid"`` for binary
cross-entropy) lets ``compile`` strip that activation during training and use
``loss.with_logits()``, which computes the same loss from the logits in one stable step.

Example:
    >>> import torch
    >>> from lamina import losses
    >>> loss = losses.get("sparse_categorical_crossentropy")
    >>> loss.fusable_activation
    'softmax'
    >>> loss.with_logits()(torch.zeros(1, 2), torch.tensor([1]))
    tensor(0.6931)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from lamina._registry import Registry
from lamina.errors import message
from lamina.functional import losses as _fl

__all__ = [
    "LOSSES",
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "Hinge",
    "get",
    "serialize",
]

LOSSES = Registry("loss")


class Loss:
    """Base class of losses: ``loss(y_pred, y_true) -> tensor``.

    Subclasses implement :meth:`call`. State is configuration only.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities (only for
            losses that take logits). Defaults to False.
        reduction: ``"mean"`` (a scalar), ``"sum"`` (sum of per-sample losses) or
            ``"none"`` (a vector of per-sample losses). Defaults to ``"mean"``.

    Attributes:
        name: the loss's registered name.
        fusable_activation: the final activation this loss can absorb when computed from
            logits (``"softmax"``, ``"sigmoid"``), or None.

    Example:
        >>> class Quartic(Loss):
        ...     def call(self, y_pred, y_true):
        ...         return ((y_pred - y_true) ** 4).mean()
        >>> Quartic()(torch.tensor([2.0]), torch.tensor([0.0]))
        tensor(16.)
    """

    name: ClassVar[str] = "loss"
    fusable_activation: ClassVar[str | None] = None
    _accepts_logits: ClassVar[bool] = True

    def __init__(self, *, from_logits: bool = False, reduction: str = "mean"):
        owner = type(self).__name__
        if not isinstance(from_logits, bool):
            raise TypeError(
                message(
                    f"Argument `from_logits` of {owner} must be a bool.",
                    received=f"from_logits={from_logits!r}",
                )
            )
        if from_logits and not self._accepts_logits:
            raise ValueError(
                message(
                    f"{owner} does not take `from_logits=True`: only the cross-entropies do.",
                    received="from_logits=True",
                    fix="Drop `from_logits`.",
                )
            )
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                message(
                    f"Argument `reduction` of {owner} is not valid.",
                    expected="one of 'mean', 'sum', 'none'",
                    received=f"reduction={reduction!r}",
                )
            )
        self.from_logits = from_logits
        self.reduction = reduction

    def __call__(self, y_pred: torch.Tensor, y_true: torch.Tensor,
                 sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        if sample_weight is None:
            return self.call(y_pred, y_true)
        return self.weighted(y_pred, y_true, sample_weight)

    def weighted(self, y_pred: torch.Tensor, y_true: torch.Tensor,
                 sample_weight: torch.Tensor) -> torch.Tensor:
        """The loss with a weight per sample, reduced as Keras 3 reduces it.

        With per-sample losses ``l_i`` (the mean over a sample's other axes) and weights
        ``w_i`` of a batch of ``N``: ``"mean"`` is ``sum_i w_i l_i / N`` (Keras's
        ``"sum_over_batch_size"``: divided by the batch size, not by the sum of the
        weights), ``"sum"`` is ``sum_i w_i l_i`` and ``"none"`` the vector ``w_i l_i``.

        Args:
            y_pred: the predictions, batch first.
            y_true: the targets.
            sample_weight: ``N`` weights, shape ``(N,)`` or ``(N, 1)``.

        Raises:
            ValueError: when the loss gives no per-sample values (a plain function
                returning one number) or the weights do not have one value per sample.

        Example:
            >>> mse = MeanSquaredError()
            >>> mse(torch.tensor([1.0, 3.0]), torch.zeros(2), sample_weight=torch.tensor([2.0, 0.0]))
            tensor(1.)
        """
        per_sample = copy.copy(self)
        per_sample.reduction = "none"
        values = per_sample.call(y_pred, y_true)
        name = getattr(self, "name", type(self).__name__)
        if values.ndim == 0:
            raise ValueError(message(
                f"Loss '{name}' returns one number per batch, so it cannot weight samples.",
                fix="Return one value per sample (shape (N,)) from the loss function, or "
                    "train without sample_weight/class_weight."))
        weight = torch.as_tensor(sample_weight, device=values.device).to(values.dtype)
        if weight.ndim == 2 and weight.shape[1] == 1:
            weight = weight[:, 0]
        if weight.shape != values.shape[:1]:
            raise ValueError(message(
                f"`sample_weight` of loss '{name}' must hold one weight per sample.",
                expected=f"shape ({values.shape[0]},)",
                received=f"shape {tuple(weight.shape)}"))
        weighted = values * weight.reshape(-1, *[1] * (values.ndim - 1))
        if self.reduction == "none":
            return weighted
        total = weighted.sum()
        return total / max(values.numel(), 1) if self.reduction == "mean" else total

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        """Compute the loss; subclasses override this."""
        raise TypeError(f"{type(self).__name__} must implement `call`.")

    def with_logits(self) -> Loss:
        """A copy of this loss that takes logits (``from_logits=True``).

        Raises:
            ValueError: if this loss has no logits form.
        """
        if not self._accepts_logits:
            raise ValueError(
                message(
                    f"{type(self).__name__} has no logits form.",
                    fix="Only fuse losses whose `fusable_activation` is set.",
                )
            )
        new = copy.copy(self)
        new.from_logits = True
        return new

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for :meth:`from_config`."""
        return {"from_logits": self.from_logits, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Rebuild a loss from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        defaults = {"from_logits": False, "reduction": "mean"}
        args = ", ".join(
            f"{k}={v!r}" for k, v in self.get_config().items() if defaults.get(k, object()) != v
        )
        return f"{type(self).__name__}({args})"


@LOSSES.register("mean_squared_error", "mse")
class MeanSquaredError(Loss):
    """Mean squared error: ``mean((y_pred - y_true)^2)``.

    Example:
        >>> MeanSquaredError()(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0]))
        tensor(1.)
    """

    name = "mean_squared_error"
    _accepts_logits = False

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return _fl.mean_squared_error(y_pred, y_true, reduction=self.reduction)


@LOSSES.register("mean_absolute_error", "mae")
class MeanAbsoluteError(Loss):
    """Mean absolute error: ``mean(|y_pred - y_true|)``.

    Example:
        >>> MeanAbsoluteError()(torch.tensor([0.0, 3.0]), torch.tensor([1.0, 1.0]))
        tensor(1.5000)
    """

    name = "mean_absolute_error"
    _accepts_logits = False

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return _fl.mean_absolute_error(y_pred, y_true, reduction=self.reduction)


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(Loss):
    """Binary cross-entropy: ``-mean(y log p + (1 - y) log(1 - p))``; fuses a sigmoid.

    Example:
        >>> BinaryCrossentropy()(torch.tensor([0.5]), torch.tensor([1.0]))
        tensor(0.6931)
    """

    name = "binary_crossentropy"
    fusable_activation = "sigmoid"

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return _fl.binary_crossentropy(
            y_pred, y_true, from_logits=self.from_logits, reduction=self.reduction
        )


@LOSSES.register("categorical_crossentropy")
class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot or soft targets: ``-sum_c y_c log p_c``; fuses a softmax.

    Example:
        >>> CategoricalCrossentropy()(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.0, 1.0]]))
        tensor(0.6931)
    """

    name = "categorical_crossentropy"
    fusable_activation = "softmax"

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return _fl.categorical_crossentropy(
            y_pred, y_true, from_logits=self.from_logits, reduction=self.reduction
        )


@LOSSES.register("sparse_categorical_crossentropy")
class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer labels: ``-log p_y``; fuses a softmax.

    Example:
        >>> SparseCategoricalCrossentropy()(torch.tensor([[0.5, 0.5]]), torch.tensor([0]))
        tensor(0.6931)
    """

    name = "sparse_categorical_crossentropy"
    fusable_activation = "softmax"

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return _fl.sparse_categorical_crossentropy(
            y_pred, y_true, from_logits=self.from_logits, reduction=self.reduction
        )


@LOSSES.register("hinge")
class Hinge(Loss):
    """Hinge loss: ``mean(max(0, 1 - y * y_pred))``, targets in {-1, 1} or {0, 1}.

    Example:
        >>> Hinge()(torch.tensor([0.5, -2.0]), torch.tensor([1.0, -1.0]))
        tensor(0.2500)
    """

    name = "hinge"
    _accepts_logits = False

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return _fl.hinge(y_pred, y_true, reduction=self.reduction)


class LossFunctionWrapper(Loss):
    """A plain function ``fn(y_pred, y_true) -> scalar`` as a :class:`Loss`.

    Args:
        fn: the loss function (a torch loss module such as ``nn.L1Loss()`` works too).
        name: the loss's name. Defaults to ``fn.__name__``.

    Example:
        >>> loss = LossFunctionWrapper(lambda p, t: (p - t).abs().max(), name="max_error")
        >>> loss(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 2.0]))
        tensor(3.)
    """

    _accepts_logits = False

    def __init__(
        self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, name: str | None = None
    ):
        super().__init__()
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def call(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return self.fn(y_pred, y_true)

    def get_config(self) -> dict[str, Any]:
        return {"fn": self.fn, "name": self.name}

    def __repr__(self) -> str:
        return f"LossFunctionWrapper({self.name})"


def get(identifier: str | dict | Loss | type | Callable, from_logits: bool = False) -> Loss:
    """Resolve a loss from a name, a config dict, an instance, a class or a function.

    Args:
        identifier: a registered name (case-insensitive: ``"mse"``, ``"bce"``,
            ``"sparse_categorical_crossentropy"``, ...), a dict from :func:`serialize`, a
            :class:`Loss` instance (returned as is) or subclass (instantiated), or a
            function ``fn(y_pred, y_true) -> scalar`` (wrapped).
        from_logits: build the loss to take logits. Defaults to False.

    Raises:
        ValueError: for an unknown name (the message lists the valid names), or
            ``from_logits=True`` for a loss without a logits form.
        TypeError: for anything else.

    Example:
        >>> get("MSE")
        MeanSquaredError()
        >>> get("bce", from_logits=True)
        BinaryCrossentropy(from_logits=True)
    """
    if isinstance(identifier, Loss):
        return (
            identifier.with_logits() if from_logits and not identifier.from_logits else identifier
        )
    if isinstance(identifier, dict) and "name" in identifier:
        return LOSSES.lookup(identifier["name"]).from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        identifier = LOSSES.lookup(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier(from_logits=from_logits)
    if callable(identifier):
        if from_logits:
            raise ValueError(
                message(
                    "A plain loss function cannot take `from_logits=True`.",
                    received=f"loss={identifier!r}",
                    fix="Make it compute from logits itself.",
                )
            )
        return LossFunctionWrapper(identifier)
    raise TypeError(
        message(
            "Could not interpret the loss identifier.",
            expected="a name such as 'mse', a Loss instance or class, or a function "
            "fn(y_pred, y_true)",
            received=f"loss={identifier!r} (type {type(identifier).__name__})",
        )
    )


def serialize(loss: Loss) -> dict[str, Any]:
    """A JSON-able config ``{"name": ..., "config": ...}`` that :func:`get` turns back into it.

    Raises:
        ValueError: for a loss class that is not registered (a wrapped function included).

    Example:
        >>> serialize(get("bce"))
        {'name': 'binary_crossentropy', 'config': {'from_logits': False, 'reduction': 'mean'}}
    """
    for name in LOSSES.names():
        if LOSSES.lookup(name) is type(loss):
            return {"name": LOSSES.canonical(name), "config": loss.get_config()}
    raise ValueError(
        message(
            "Cannot serialize an unregistered loss: model configs store losses by registered name.",
            received=f"loss={loss!r}",
            fix="Use a built-in loss name, or register the class: "
            "`lamina.losses.LOSSES.register('my_loss')(MyLoss)`.",
        )
    )
