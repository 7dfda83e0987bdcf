"""Annealed Importance Sampling estimate of an RBM's log partition function.

Salakhutdinov & Murray, "On the quantitative analysis of deep belief networks", ICML 2008.
A path of distributions ``p_k(v) ∝ p*_k(v)`` goes from a base model ``A`` whose ``Z_A`` is
known (``beta = 0``) to the RBM ``B`` (``beta = 1``)::

    binary:    log p*_beta(v) = (1 - beta) b_A^T v + beta b^T v + sum_j softplus(beta (a_j + v^T W_:j))
    Gaussian:  log p*_beta(v) = -||v - b||^2 / 2 + sum_j softplus(beta (a_j + v^T W_:j))

so ``log Z_A = sum_i softplus(b_A,i) + F log 2`` (binary) or ``(D/2) log 2 pi + F log 2``.
Each chain starts with an exact sample of ``p_0``, adds ``log p*_k(v) - log p*_{k-1}(v)`` to
its log-weight, then moves by one Gibbs step that leaves ``p_k`` invariant. Then
``Z_B / Z_A ≈ mean(w)``: an unbiased estimate of ``Z_B`` (so ``log Z_B`` is, on average, a
slight under-estimate).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina.functional.energy import bernoulli

__all__ = ["AISResult", "ais_log_partition", "beta_schedule"]


class AISResult(NamedTuple):
    """``log_z``: the estimate; ``log_weights``: each chain's log importance weight."""

    log_z: float
    log_weights: Tensor


def beta_schedule(n_betas: int, device=None) -> Tensor:
    """Inverse temperatures from 0 to 1, denser near 1 (Salakhutdinov & Murray's shape).

    A tenth of the steps covers [0, 0.5], four tenths [0.5, 0.9] and half [0.9, 1].

    Example:
        >>> b = beta_schedule(100); float(b[0]), float(b[-1]), len(b)
        (0.0, 1.0, 100)
    """
    n1 = max(n_betas // 10, 1)
    n2 = max(4 * n_betas // 10, 1)
    n3 = max(n_betas - n1 - n2, 2)
    parts = [torch.linspace(0.0, 0.5, n1 + 1, dtype=torch.float64)[:-1],
             torch.linspace(0.5, 0.9, n2 + 1, dtype=torch.float64)[:-1],
             torch.linspace(0.9, 1.0, n3, dtype=torch.float64)]
    return torch.cat(parts).to(device)


def ais_log_partition(weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor, *,
                      visible: str = "binary", n_chains: int = 100, n_betas: int = 1000,
                      base_rate: Tensor | None = None,
                      generator: torch.Generator | None = None) -> AISResult:
    """AIS estimate of ``log Z`` for the RBM ``(W, b, a)``.

    Args:
        weight, visible_bias, hidden_bias: ``W (D, F)``, ``b (D,)``, ``a (F,)``.
        visible: ``"binary"`` or ``"gaussian"``. Defaults to ``"binary"``.
        n_chains: independent annealing runs. Defaults to 100.
        n_betas: intermediate distributions (inverse temperatures). Defaults to 1000.
        base_rate: for binary units, the base model's ``P(v_i = 1)`` (the training data's
            mean, as in the paper); ``0.5`` everywhere when None. Defaults to None.
        generator: random stream. Defaults to torch's global one.

    Returns:
        An :class:`AISResult`.

    Example:
        >>> W, b, a = torch.zeros(3, 2), torch.zeros(3), torch.zeros(2)
        >>> round(ais_log_partition(W, b, a, n_chains=4, n_betas=10).log_z, 4)  # 5 log 2
        3.4657
    """
    d, f = weight.shape
    device, dtype = weight.device, weight.dtype
    betas = beta_schedule(n_betas, device)
    gaussian = visible == "gaussian"
    if gaussian:
        base_bias = visible_bias
        v = visible_bias + torch.randn((n_chains, d), generator=generator, device=device,
                                       dtype=dtype)
        log_z_base = 0.5 * d * math.log(2 * math.pi) + f * math.log(2.0)
    else:
        if base_rate is None:
            base_bias = torch.zeros(d, device=device, dtype=dtype)
        else:
            p = base_rate.to(device=device, dtype=dtype).clamp(1e-3, 1 - 1e-3)
            base_bias = torch.log(p) - torch.log1p(-p)
        v = bernoulli(torch.sigmoid(base_bias).expand(n_chains, d), generator)
        log_z_base = float(F.softplus(base_bias.double()).sum()) + f * math.log(2.0)
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=device)
    shift = visible_bias - base_bias  # d/d(beta) of the visible term (zero if Gaussian)
    previous = 0.0
    for beta in betas[1:].tolist():
        pre = torch.addmm(hidden_bias, v, weight)
        step = F.softplus(beta * pre).sum(1) - F.softplus(previous * pre).sum(1)
        if not gaussian:
            step = step + (beta - previous) * (v @ shift)
        log_w += step.double()
        h = bernoulli(torch.sigmoid(beta * pre), generator)
        mean = torch.addmm(visible_bias if gaussian else (1 - beta) * base_bias
                           + beta * visible_bias, h, weight.T, alpha=beta)
        if gaussian:
            v = mean + torch.randn(mean.shape, generator=generator, device=device, dtype=dtype)
        else:
            v = bernoulli(torch.sigmoid(mean), generator)
        previous = beta
    log_z = log_z_base + float(torch.logsumexp(log_w, 0)) - math.log(n_chains)
    return AISResult(log_z, log_w)
