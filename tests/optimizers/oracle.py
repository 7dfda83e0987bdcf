"""Shared fixtures-as-functions: a fixed gradient field and the trajectory an optimizer follows.

The gradient at step t is ``0.5 * W + noise_t`` (a quadratic bowl plus fixed noise), set on
``p.grad`` directly, so two optimizers given the same start see the same field.
"""

from __future__ import annotations

import torch

__all__ = ["make_params", "trajectory", "gradient"]


def make_params(dtype=torch.float64, seed=0) -> list[torch.nn.Parameter]:
    """A 4x3 matrix and a length-3 vector (two tensors, so foreach lists have two entries)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(4, 3, generator=gen, dtype=dtype)),
            torch.nn.Parameter(torch.randn(3, generator=gen, dtype=dtype))]


def noise(params, steps, seed=1) -> list[list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
            for _ in range(steps)]


def gradient(w: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return 0.5 * w + n


def trajectory(opt, params, steps, *, lr_at=None) -> list[torch.Tensor]:
    """Run ``steps`` steps of ``opt`` in the fixed field; ``lr_at(t)`` sets every group's lr."""
    for noise_t, t in zip(noise(params, steps), range(steps), strict=True):
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(t)
        for p, n in zip(params, noise_t, strict=True):
            p.grad = gradient(p.detach(), n)
        opt.step()
    return [p.detach().clone() for p in params]


def compare(lamina_factory, torch_factory, steps, **kwargs):
    """Final weights of a lamina optimizer and a torch one from the same start and field."""
    a, b = make_params(), make_params()
    return (trajectory(lamina_factory(a), a, steps, **kwargs),
            trajectory(torch_factory(b), b, steps, **kwargs))
