"""Optimizers: ``torch.optim.Optimizer`` subclasses that ``compile`` binds to the model.

Resolve one by name with ``get`` (case-insensitive): ``"sgd"`` (lr 0.01), ``"adagrad"``
(0.01), ``"adadelta"`` (1.0), ``"rmsprop"`` (1e-3), ``"adam"`` (1e-3), ``"adamw"`` (1e-3).
Every lamina optimizer can be created before the model has weights, clips gradients
(``clipnorm``, ``clipvalue``, ``global_clipnorm``), takes parameter groups with their own
``lr``, and describes itself with ``get_config()``.
"""

from __future__ import annotations

import torch

from lamina._registry import Registry
from lamina.optimizers.adadelta import AdaDelta
from lamina.optimizers.adagrad import AdaGrad
from lamina.optimizers.adam import Adam, AdamW
from lamina.optimizers.base import DeferredOptimizer, apply_lr, get_lr
from lamina.optimizers.rmsprop import RMSprop
from lamina.optimizers.sgd import SGD

__all__ = [
    "SGD", "AdaGrad", "AdaDelta", "RMSprop", "Adam", "AdamW", "DeferredOptimizer",
    "apply_lr", "get_lr", "get", "OPTIMIZERS",
]

OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.register("sgd")(SGD)
OPTIMIZERS.register("adagrad")(AdaGrad)
OPTIMIZERS.register("adadelta")(AdaDelta)
OPTIMIZERS.register("rmsprop")(RMSprop)
OPTIMIZERS.register("adam")(Adam)
OPTIMIZERS.register("adamw")(AdamW)


def get(identifier) -> torch.optim.Optimizer:
    """An optimizer from a name, an instance, a class, or a config dict.

    Args:
        identifier: a registered name (``"sgd"``, ``"RMSprop"``, ...: default
            hyper-parameters), a ``torch.optim.Optimizer`` instance (returned as is), a lamina
            optimizer class, or ``{"class_name": "SGD", "config": {...}}`` as from
            ``get_config()``.

    Returns:
        The optimizer; lamina optimizers come unbound (``model.compile`` binds them).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        TypeError: for anything else.

    Example:
        >>> get("SGD").lr
        0.01
        >>> get({"class_name": "sgd", "config": {"lr": 0.1, "momentum": 0.9}}).get_config()["momentum"]
        0.9
    """
    if isinstance(identifier, str):
        return OPTIMIZERS.lookup(identifier)()
    if isinstance(identifier, torch.optim.Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, DeferredOptimizer):
        return identifier()
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        return OPTIMIZERS.lookup(identifier["class_name"]).from_config(
            identifier.get("config", {}))
    raise TypeError(
        f"Could not use {identifier!r} as an optimizer. Expected a name "
        f"({', '.join(OPTIMIZERS.names())}), a lamina optimizer or a torch.optim.Optimizer "
        f"instance. Received: type {type(identifier).__name__}.")
