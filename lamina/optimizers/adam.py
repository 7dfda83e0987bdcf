"""Adam."""

from __future__ import annotations

import torch

from lamina.optimizers.base import DeferredOptimizer

__all__ = ["Adam"]


class Adam(DeferredOptimizer, torch.optim.Adam):
    """Adam (Kingma & Ba 2015): per-weight steps from running moments of the gradient.

    ``m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    w <- w - lr * m_hat / (sqrt(v_hat) + eps)`` with bias-corrected ``m_hat``, ``v_hat``.

    Args:
        lr: learning rate. Defaults to 1e-3.
        beta_1: decay of the first moment. Defaults to 0.9.
        beta_2: decay of the second moment. Defaults to 0.999.
        epsilon: added to the denominator. Defaults to 1e-7 (Keras's default).
        weight_decay: L2 penalty added to the gradient. Defaults to 0.
        params: parameters; leave None when passing the optimizer to ``model.compile``.

    Example:
        >>> import lamina as lm
        >>> lm.optimizers.Adam(lr=1e-3).lr
        0.001
    """

    def __init__(self, lr: float = 1e-3, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, *, weight_decay: float = 0.0, params=None):
        super().__init__(self._init_deferred(params), lr=lr, betas=(beta_1, beta_2),
                         eps=epsilon, weight_decay=weight_decay)
