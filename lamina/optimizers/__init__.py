"""Optimizers: ``torch.optim.Optimizer`` subclasses that ``compile`` binds to the model.

Resolve one by name with ``get``: ``"sgd"`` (lr 0.01) or ``"adam"`` (lr 1e-3).
"""

from __future__ import annotations

import torch

from lamina._registry import Registry
from lamina.optimizers.adam import Adam
from lamina.optimizers.base import DeferredOptimizer
from lamina.optimizers.sgd import SGD

__all__ = ["SGD", "Adam", "DeferredOptimizer", "get", "OPTIMIZERS"]

OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.register("sgd")(SGD)
OPTIMIZERS.register("adam")(Adam)


def get(identifier) -> torch.optim.Optimizer:
    """An optimizer from a name (``"sgd"``, ``"adam"``), an instance, or a class.

    Example:
        >>> get("SGD").lr
        0.01
    """
    if isinstance(identifier, str):
        return OPTIMIZERS.lookup(identifier)()
    if isinstance(identifier, torch.optim.Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, DeferredOptimizer):
        return identifier()
    raise TypeError(
        f"Could not use {identifier!r} as an optimizer. Expected a name "
        f"({', '.join(OPTIMIZERS.names())}), a lamina optimizer or a torch.optim.Optimizer "
        f"instance. Received: type {type(identifier).__name__}.")
