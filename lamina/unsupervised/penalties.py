"""The autoencoders' extra terms, as pure tensor functions (deck 001's variants).

Each returns a scalar averaged over the batch, the scale of a mean data loss per sample:

* ``kl_sparsity``: sparse autoencoders' ``beta * sum_j KL(rho || rho_hat_j)``;
* ``contractive_penalty``: contractive autoencoders' ``||J_f(x)||_F^2`` in closed form;
* ``gaussian_kl``: variational ("stochastic") autoencoders' ``KL(N(mu, sigma^2) || N(0, I))``;
* ``corrupt``: denoising autoencoders' input corruption.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lamina.errors import message

__all__ = ["NOISES", "kl_sparsity", "l1_activity", "contractive_penalty", "gaussian_kl",
           "corrupt"]

#: The corruptions of :func:`corrupt`.
NOISES = ("gaussian", "masking", "salt_and_pepper")

_EPS = 1e-6


def kl_sparsity(h: Tensor, rho: float) -> Tensor:
    """``sum_j KL(rho || rho_hat_j)``, ``rho_hat_j`` the batch mean of unit ``j`` (in (0, 1)).

    ``KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))``: zero when
    every hidden unit is active a fraction ``rho`` of the time (Ng's sparse autoencoder).

    Example:
        >>> float(kl_sparsity(torch.full((4, 3), 0.05), 0.05))
        0.0
    """
    q = h.mean(0).clamp(_EPS, 1 - _EPS)
    return (rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))).sum()


def l1_activity(h: Tensor) -> Tensor:
    """``mean_n sum_j |h_nj|``: an L1 penalty on the codes.

    Example:
        >>> l1_activity(torch.tensor([[1.0, -2.0], [0.0, 1.0]]))
        tensor(2.)
    """
    return h.abs().sum(1).mean()


def contractive_penalty(h: Tensor, weight: Tensor) -> Tensor:
    """``mean_n ||J(x_n)||_F^2`` for a sigmoid encoder ``h = sigmoid(W x + b)``.

    ``J_ji = dh_j / dx_i = h_j (1 - h_j) W_ji``, so
    ``||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2`` (Rifai et al. 2011).

    Args:
        h: the encoder's outputs ``(N, H)``.
        weight: ``W`` of shape ``(H, D)``.

    Example:
        >>> contractive_penalty(torch.full((2, 1), 0.5), torch.tensor([[2.0, 0.0]]))
        tensor(0.2500)
    """
    return ((h * (1 - h)).square() @ weight.square().sum(1)).mean()


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """``KL(N(mu, diag(exp(log_var))) || N(0, I))`` per sample: ``(N,)``.

    ``KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)`` (Kingma & Welling 2014).

    Example:
        >>> gaussian_kl(torch.zeros(1, 2), torch.zeros(1, 2))
        tensor([0.])
    """
    return 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(1)


def corrupt(x: Tensor, noise: str, level: float, generator: torch.Generator | None = None
            ) -> Tensor:
    """A corrupted copy of ``x`` for a denoising autoencoder (Vincent et al. 2008).

    ``"gaussian"``: ``x + level * N(0, 1)``; ``"masking"``: each value set to 0 with
    probability ``level``; ``"salt_and_pepper"``: each value set, with probability
    ``level``, to 0 or 1 (each half the time).

    Example:
        >>> corrupt(torch.ones(1, 4), "masking", 0.0)
        tensor([[1., 1., 1., 1.]])
    """
    if noise == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device,
                                       dtype=x.dtype)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if noise == "masking":
        return x * (u >= level)
    if noise == "salt_and_pepper":
        salt = (torch.rand(x.shape, generator=generator, device=x.device) < 0.5).to(x.dtype)
        return torch.where(u < level, salt, x)
    raise ValueError(message("Argument `noise` must be one of 'gaussian', 'masking', "
                             "'salt_and_pepper'.", received=f"noise={noise!r}"))
