"""Stochastic gradient descent with momentum as deck 001 writes it, and Nesterov momentum."""

from __future__ import annotations

import torch

from lamina.optimizers._constraints import Flag, Number
from lamina.optimizers.base import DeferredOptimizer, shared_docs

__all__ = ["SGD", "sgd_update"]


@torch.no_grad()
def sgd_update(params: list[torch.Tensor], grads: list[torch.Tensor],
               deltas: list[torch.Tensor] | None, *, lr: float, momentum: float,
               nesterov: bool, weight_decay: float) -> None:
    """One SGD step in place, with the previous steps ``deltas`` kept in parameter units.

    Uses ``torch._foreach_*`` ops over the whole list (one kernel per op on a GPU).

    Args:
        params: the parameters, updated in place.
        grads: their gradients (not modified).
        deltas: the previous steps ``W(t) - W(t-1)``, updated in place; None when
            ``momentum`` is 0.
        lr: learning rate ``lr(t)`` of this step: a float, or a 0-d tensor (what compiled
            steps pass, so that a new rate does not recompile them).
        momentum: ``mu``.
        nesterov: Nesterov (Sutskever) momentum.
        weight_decay: L2 coefficient added to the gradient.

    Example:
        >>> w, d = [torch.tensor([1.0])], [torch.tensor([0.5])]
        >>> sgd_update(w, [torch.tensor([2.0])], d, lr=0.1, momentum=0.5, nesterov=False,
        ...            weight_decay=0.0)
        >>> round(d[0].item(), 6), round(w[0].item(), 6)  # dW = 0.5 * 0.5 - 0.1 * 2; W = 1 + dW
        (0.05, 1.05)
    """
    if weight_decay:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    steps = torch._foreach_mul(grads, -lr)  # lr: a float, or a 0-d tensor (jit)
    if deltas is None:
        torch._foreach_add_(params, steps)
        return
    torch._foreach_mul_(deltas, momentum)
    torch._foreach_add_(deltas, steps)
    if nesterov:
        torch._foreach_add_(params, deltas, alpha=momentum)
        torch._foreach_add_(params, steps)
    else:
        torch._foreach_add_(params, deltas)


@shared_docs
class SGD(DeferredOptimizer, torch.optim.Optimizer):
    """Stochastic gradient descent, with momentum exactly as deck 001 writes it.

    The decks' rule keeps the previous step ``dW(t) = W(t) - W(t-1)`` in parameter units::

        g     <- grad + weight_decay * W
        dW    <- mu * dW - lr(t) * g            # dW starts at 0
        W     <- W + dW                         # W(t+1) = W(t) - lr(t) g + mu (W(t) - W(t-1))
        # nesterov=True (Sutskever et al. 2013):
        W     <- W + mu * dW - lr(t) * g

    Keras 3's ``SGD`` uses this same form. PyTorch's ``torch.optim.SGD`` keeps a velocity in
    gradient units instead::

        v <- mu * v + g
        W <- W - lr(t) * v                      # nesterov: W <- W - lr(t) * (g + mu * v)

    The two agree while ``lr`` is constant (``dW = -lr * v``) and differ when it changes:
    PyTorch's next step rescales the whole accumulated velocity by the new rate, while the
    decks' form keeps past steps at the rates they were taken with (a learning-rate drop slows
    the momentum down gradually). There is no ``dampening``. Gradients must be dense.

    Args:
        lr: learning rate. Defaults to 0.01 (Keras's default).
        momentum: momentum ``mu`` in [0, 1). Defaults to 0.
        nesterov: use Nesterov momentum (needs ``momentum > 0``). Defaults to False.
        weight_decay: L2 coefficient added to the gradient, as in PyTorch. Defaults to 0.
        {common_args}

    Example:
        >>> import torch
        >>> import lamina as lm
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = lm.optimizers.SGD(lr=0.1, momentum=0.9, params=[w])
        >>> for _ in range(2):
        ...     w.grad = torch.tensor([1.0])
        ...     opt.step()
        >>> round(w.item(), 6)  # 1 - 0.1, then - 0.1 + 0.9 * (-0.1)
        0.71
    """

    #: ``jit=True`` compiles forward, backward and this update into one graph
    traces_whole_step = True
    _constraints = {
        **DeferredOptimizer._constraints,
        "momentum": Number("momentum", 0, 1, high_open=True),
        "nesterov": Flag("Nesterov flag"),
    }

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, *,
                 weight_decay: float = 0.0, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 params=None):
        params = self._init_deferred(
            params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        if nesterov and momentum == 0:
            raise ValueError("Invalid momentum: Nesterov momentum of SGD needs `momentum` > 0. "
                             "Received: momentum=0, nesterov=True.")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def _update(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            deltas = None
            if group["momentum"]:
                deltas = [self._delta(p) for p in params]
            sgd_update(params, [p.grad for p in params], deltas, lr=group["lr"],
                       momentum=group["momentum"], nesterov=group["nesterov"],
                       weight_decay=group["weight_decay"])
        return loss

    def _delta(self, p: torch.Tensor) -> torch.Tensor:
        state = self.state[p]
        if "delta" not in state:
            state["delta"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state["delta"]
