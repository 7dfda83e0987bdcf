"""AdaGrad."""

from __future__ import annotations

import torch

from lamina.optimizers._constraints import Number
from lamina.optimizers.base import DeferredOptimizer, shared_docs

__all__ = ["AdaGrad"]


@shared_docs
class AdaGrad(DeferredOptimizer, torch.optim.Adagrad):
    """AdaGrad (Duchi et al. 2011): per-weight steps that shrink with the summed squared gradients.

    The rule, that of ``torch.optim.Adagrad`` (to which this delegates, with ``foreach``)::

        g <- grad + weight_decay * W
        G <- G + g^2                            # G starts at initial_accumulator_value
        W <- W - lr * g / (sqrt(G) + epsilon)

    Keras 3 puts ``epsilon`` inside the root, ``W <- W - lr * g / sqrt(G + epsilon)``; the two
    differ only while ``G`` is tiny. The defaults are Keras's (``initial_accumulator_value=0.1``,
    ``epsilon=1e-7``); PyTorch's are 0 and 1e-10, which make the first step ``lr * sign(g)``.
    PyTorch's ``lr_decay`` is not exposed: use ``lamina.schedules.InverseTimeDecay``.

    Args:
        lr: learning rate. Defaults to 0.01.
        initial_accumulator_value: starting value of ``G``, >= 0. Defaults to 0.1.
        epsilon: added to the denominator. Defaults to 1e-7.
        weight_decay: L2 coefficient added to the gradient. Defaults to 0.
        {common_args}

    Example:
        >>> import torch
        >>> import lamina as lm
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = lm.optimizers.AdaGrad(lr=0.1, initial_accumulator_value=0.0, epsilon=0.0,
        ...                             params=[w])
        >>> w.grad = torch.tensor([4.0])
        >>> opt.step()
        >>> round(w.item(), 6)  # 1 - 0.1 * 4 / sqrt(16)
        0.9
    """

    _constraints = {
        **DeferredOptimizer._constraints,
        "initial_accumulator_value": Number("initial accumulator value"),
        "epsilon": Number("epsilon"),
    }

    def __init__(self, lr: float = 0.01, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, *, weight_decay: float = 0.0,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, params=None):
        params = self._init_deferred(
            params, lr=lr, initial_accumulator_value=initial_accumulator_value, epsilon=epsilon,
            weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm)
        super().__init__(params, lr=lr, initial_accumulator_value=initial_accumulator_value,
                         eps=epsilon, weight_decay=weight_decay, foreach=True)
