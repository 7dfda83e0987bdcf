"""Adam and AdamW."""

from __future__ import annotations

import torch

from lamina.optimizers._constraints import Flag, Number
from lamina.optimizers.base import DeferredOptimizer, shared_docs

__all__ = ["Adam", "AdamW"]

_ADAM_CONSTRAINTS = {
    **DeferredOptimizer._constraints,
    "beta_1": Number("beta_1", 0, 1, high_open=True),
    "beta_2": Number("beta_2", 0, 1, high_open=True),
    "epsilon": Number("epsilon"),
    "amsgrad": Flag("amsgrad flag"),
}

_ADAM_RULE = """\
        m <- beta_1 * m + (1 - beta_1) * g                       # m, v start at 0; t = 1, 2, ...
        v <- beta_2 * v + (1 - beta_2) * g^2                     # amsgrad: v_max <- max(v_max, v)
        W <- W - lr * (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)"""

_ADAM_DIFFERENCES = """\
    Keras 3 adds ``epsilon`` to ``sqrt(v)`` before the bias correction (the paper's "epsilon
    hat"), i.e. PyTorch's rule with ``epsilon * sqrt(1 - beta_2^t)``; the two agree up to that
    tiny term. ``epsilon=1e-7`` is Keras's default (PyTorch: 1e-8)."""


def _fused_devices() -> tuple:
    """Device types with torch's fused Adam kernel (CPU since torch 2.4, CUDA, ...)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
        return tuple(_get_fused_kernels_supported_devices())
    except ImportError:  # pragma: no cover - a torch without the helper: foreach only
        return ()


class _FusedWhereSupported:
    """Param groups take torch's fused Adam kernel (one pass over each tensor) when every
    parameter is a dense floating-point tensor on a device that has it, else ``foreach``.

    On the CPU the fused step is about 2.5x faster than ``foreach`` (0.24 vs 0.62 ms for the
    MLP 784-256-128-10, one thread); the two agree up to rounding.
    """

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        devices = _fused_devices()
        if all(p.device.type in devices and p.is_floating_point() and not p.is_sparse
               for p in group["params"]):
            group["fused"], group["foreach"] = True, False


@shared_docs
class Adam(_FusedWhereSupported, DeferredOptimizer, torch.optim.Adam):
    """Adam (Kingma & Ba 2015): per-weight steps from bias-corrected running moments of the gradient.

    The rule, that of ``torch.optim.Adam`` (to which this delegates, fused where the device
    has the kernel, else ``foreach``)::

        g <- grad + weight_decay * W                             # L2, as in PyTorch's Adam
{rule}

{differences}

    Args:
        lr: learning rate. Defaults to 1e-3.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: added to the denominator. Defaults to 1e-7.
        amsgrad: use the running maximum of ``v`` (Reddi et al. 2018). Defaults to False.
        weight_decay: L2 coefficient added to the gradient (for decoupled decay use
            ``AdamW``). Defaults to 0.
        {common_args}

    Example:
        >>> import lamina as lm
        >>> lm.optimizers.Adam(lr=1e-3).lr
        0.001
    """

    _constraints = _ADAM_CONSTRAINTS

    def __init__(self, lr: float = 1e-3, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, *, weight_decay: float = 0.0,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, params=None):
        params = self._init_deferred(
            params, lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
            weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm)
        super().__init__(params, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                         weight_decay=weight_decay, amsgrad=amsgrad, foreach=True)


@shared_docs
class AdamW(_FusedWhereSupported, DeferredOptimizer, torch.optim.AdamW):
    """AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient.

    The rule, that of ``torch.optim.AdamW`` and Keras 3 (this delegates to PyTorch's, fused
    where the device has the kernel, else ``foreach``)::

        W <- W - lr * weight_decay * W                           # decay first, not through m, v
{rule}

{differences}
    ``weight_decay=0.004`` is Keras's default (PyTorch: 0.01).

    Args:
        lr: learning rate. Defaults to 1e-3.
        weight_decay: decoupled decay coefficient (multiplied by ``lr``). Defaults to 0.004.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: added to the denominator. Defaults to 1e-7.
        amsgrad: use the running maximum of ``v``. Defaults to False.
        {common_args}

    Example:
        >>> import lamina as lm
        >>> lm.optimizers.AdamW().get_config()["weight_decay"]
        0.004
    """

    _constraints = _ADAM_CONSTRAINTS

    def __init__(self, lr: float = 1e-3, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, *,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, params=None):
        params = self._init_deferred(
            params, lr=lr, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, amsgrad=amsgrad, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm)
        super().__init__(params, lr=lr, betas=(beta_1, beta_2), eps=epsilon,
                         weight_decay=weight_decay, amsgrad=amsgrad, foreach=True)


for _cls in (Adam, AdamW):
    _cls.__doc__ = _cls.__doc__.replace("{rule}", _ADAM_RULE).replace(
        "{differences}", _ADAM_DIFFERENCES)
