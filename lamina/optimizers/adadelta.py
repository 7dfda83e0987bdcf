"""AdaDelta."""

from __future__ import annotations

import torch

from lamina.optimizers._constraints import Number
from lamina.optimizers.base import DeferredOptimizer, shared_docs

__all__ = ["AdaDelta"]


@shared_docs
class AdaDelta(DeferredOptimizer, torch.optim.Adadelta):
    """AdaDelta (Zeiler 2012): steps with the units of the weights, from two running averages.

    The rule, that of ``torch.optim.Adadelta`` and Keras 3 (this delegates to PyTorch's, with
    ``foreach``)::

        g  <- grad + weight_decay * W
        Eg <- rho * Eg + (1 - rho) * g^2                            # Eg, Ed start at 0
        dW <- -sqrt(Ed + epsilon) / sqrt(Eg + epsilon) * g
        Ed <- rho * Ed + (1 - rho) * dW^2
        W  <- W + lr * dW

    Defaults: ``lr=1.0`` is the paper's (no learning rate), as in PyTorch; Keras defaults to
    ``lr=0.001``, which makes it a thousand times slower. ``rho=0.95`` is the paper's and Keras's
    (PyTorch: 0.9); ``epsilon=1e-7`` is Keras's (PyTorch and the paper: 1e-6).

    Args:
        lr: scale of the step. Defaults to 1.0.
        rho: decay of the running averages, in [0, 1]. Defaults to 0.95.
        epsilon: added inside both roots. Defaults to 1e-7.
        weight_decay: L2 coefficient added to the gradient. Defaults to 0.
        {common_args}

    Example:
        >>> import lamina as lm
        >>> lm.optimizers.AdaDelta().get_config()["rho"]
        0.95
    """

    _constraints = {
        **DeferredOptimizer._constraints,
        "rho": Number("rho", 0, 1),
        "epsilon": Number("epsilon"),
    }

    def __init__(self, lr: float = 1.0, rho: float = 0.95, epsilon: float = 1e-7, *,
                 weight_decay: float = 0.0, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 params=None):
        params = self._init_deferred(
            params, lr=lr, rho=rho, epsilon=epsilon, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        super().__init__(params, lr=lr, rho=rho, eps=epsilon, weight_decay=weight_decay,
                         foreach=True)
