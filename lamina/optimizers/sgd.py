"""Stochastic gradient descent with momentum and Nesterov momentum."""

from __future__ import annotations

import torch

from lamina.optimizers.base import DeferredOptimizer

__all__ = ["SGD"]


class SGD(DeferredOptimizer, torch.optim.SGD):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Update with momentum ``mu`` and learning rate ``lr``, as PyTorch writes it::

        v <- mu * v + grad
        w <- w - lr * v            (nesterov: w <- w - lr * (grad + mu * v))

    While ``lr`` is constant this is the decks' ``W(t+1) = W(t) - lr * grad + mu * (W(t) - W(t-1))``.

    Args:
        lr: learning rate. Defaults to 0.01 (Keras's default).
        momentum: momentum ``mu`` in [0, 1). Defaults to 0.
        nesterov: use Nesterov momentum. Defaults to False.
        weight_decay: L2 penalty added to the gradient. Defaults to 0.
        params: parameters to optimize; leave None when passing the optimizer to
            ``model.compile``, which binds the model's parameters.

    Example:
        >>> import lamina as lm
        >>> opt = lm.optimizers.SGD(lr=0.05, momentum=0.9)
        >>> opt.lr
        0.05
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, *,
                 weight_decay: float = 0.0, params=None):
        super().__init__(self._init_deferred(params), lr=lr, momentum=momentum,
                         nesterov=nesterov, weight_decay=weight_decay)
