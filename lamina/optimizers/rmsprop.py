"""RMSprop."""

from __future__ import annotations

import torch

from lamina.optimizers._constraints import Flag, Number
from lamina.optimizers.base import DeferredOptimizer, shared_docs

__all__ = ["RMSprop"]


@shared_docs
class RMSprop(DeferredOptimizer, torch.optim.RMSprop):
    """RMSprop (Hinton, lecture 6e): divide the gradient by a running RMS of recent gradients.

    The rule, that of ``torch.optim.RMSprop`` (to which this delegates, with ``foreach``)::

        g  <- grad + weight_decay * W
        v  <- rho * v + (1 - rho) * g^2                 # v, m, b start at 0
        d  <- sqrt(v) + epsilon                          # centered: sqrt(v - m^2) + epsilon,
                                                         #   with m <- rho * m + (1 - rho) * g
        W  <- W - lr * g / d                             # momentum > 0:
                                                         #   b <- momentum * b + g / d; W <- W - lr * b

    Keras 3 differs in two places: ``epsilon`` goes inside the root (``sqrt(v + epsilon)``), and
    its momentum buffer holds ``lr * g / d`` (parameter units), so it reacts differently when
    ``lr`` changes; at constant ``lr`` and negligible ``epsilon`` the rules agree. The defaults
    are Keras's (``lr=0.001, rho=0.9, epsilon=1e-7``); PyTorch's are ``lr=0.01, alpha=0.99,
    eps=1e-8`` (PyTorch's ``alpha`` is ``rho``).

    Args:
        lr: learning rate. Defaults to 0.001.
        rho: decay of the running average of ``g^2``, in [0, 1]. Defaults to 0.9.
        momentum: momentum in [0, 1). Defaults to 0.
        epsilon: added to the denominator. Defaults to 1e-7.
        centered: divide by an estimate of the gradient's variance instead of its second
            moment. Defaults to False.
        weight_decay: L2 coefficient added to the gradient. Defaults to 0.
        {common_args}

    Example:
        >>> import torch
        >>> import lamina as lm
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = lm.optimizers.RMSprop(lr=0.01, rho=0.75, epsilon=0.0, params=[w])
        >>> w.grad = torch.tensor([3.0])
        >>> opt.step()
        >>> round(w.item(), 6)  # 1 - 0.01 * 3 / sqrt(0.25 * 9)
        0.98
    """

    _constraints = {
        **DeferredOptimizer._constraints,
        "rho": Number("rho", 0, 1),
        "momentum": Number("momentum", 0, 1, high_open=True),
        "epsilon": Number("epsilon"),
        "centered": Flag("centered flag"),
    }

    def __init__(self, lr: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, *, weight_decay: float = 0.0,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, params=None):
        params = self._init_deferred(
            params, lr=lr, rho=rho, momentum=momentum, epsilon=epsilon, centered=centered,
            weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm)
        super().__init__(params, lr=lr, alpha=rho, eps=epsilon, weight_decay=weight_decay,
                         momentum=momentum, centered=centered, foreach=True)
