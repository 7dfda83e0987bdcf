"""Photometric transforms: additive noise and random erasing."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lamina.augment._base import Transform, _check_number, _check_range

__all__ = ["GaussianNoise", "RandomErasing"]


class GaussianNoise(Transform):
    """Add zero-mean Gaussian noise of standard deviation ``std`` to every pixel.

    Args:
        std: standard deviation of the noise (>= 0). Defaults to 0.1.
        p: probability that a given sample gets noise. Defaults to 1.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> y = GaussianNoise(0.5)(torch.zeros(64, 1, 16, 16))
        >>> round(y.std().item(), 1)
        0.5
    """

    needs_float = True

    def __init__(self, std: float = 0.1, *, p: float = 1.0, generator=None):
        super().__init__(p=p, generator=generator)
        self.std = _check_number("std", std, "GaussianNoise", minimum=0.0)

    def apply(self, x: Tensor) -> Tensor:
        return x + self.std * self.randn(*x.shape, like=x)

    def get_config(self) -> dict[str, Any]:
        return {"std": self.std, "p": self.p}


class RandomErasing(Transform):
    """Blank out one random rectangle per image (Zhong et al., 2017, "Random Erasing").

    The rectangle covers a fraction of the image uniform in ``scale``, with an aspect ratio
    ``h / w`` log-uniform in ``ratio``, at a uniform position. As in the paper, a draw whose
    rounded rectangle does not fit (or whose area leaves ``scale``) is redrawn, up to 10
    times, all drawn at once; a sample with no fitting draw is left as it is.

    Args:
        p: probability that a given sample gets a rectangle. Defaults to 0.5.
        scale: ``(low, high)`` fraction of the image area to erase. Defaults to (0.02, 0.2).
        ratio: ``(low, high)`` aspect ratios ``h / w``. Defaults to (0.3, 3.3).
        value: value written into the rectangle. Defaults to 0.
        generator: a ``torch.Generator``. Defaults to the global one.

    Example:
        >>> import torch
        >>> y = RandomErasing(p=1.0)(torch.ones(8, 3, 32, 32))
        >>> bool(((y == 0).float().mean((1, 2, 3)) >= 0.02).all())
        True
    """

    attempts = 10

    def __init__(self, p: float = 0.5, scale=(0.02, 0.2), ratio=(0.3, 3.3), value: float = 0.0,
                 *, generator=None):
        super().__init__(p=p, generator=generator)
        self.scale = _check_range("scale", scale, "RandomErasing", minimum=0.0, maximum=1.0)
        self.ratio = _check_range("ratio", ratio, "RandomErasing", minimum=1e-6, maximum=math.inf)
        self.value = _check_number("value", value, "RandomErasing")

    def apply(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        k = self.attempts
        area = h * w * self.uniform(*self.scale, n, k, like=x).float()
        log_r = self.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), n, k, like=x)
        aspect = torch.exp(log_r.float())
        eh = torch.sqrt(area * aspect).round().long()
        ew = torch.sqrt(area / aspect).round().long()
        frac = (eh * ew).float() / (h * w)
        ok = ((eh >= 1) & (eh <= h) & (ew >= 1) & (ew <= w)
              & (frac >= self.scale[0]) & (frac <= self.scale[1]))
        first = ok.int().argmax(1, keepdim=True)          # first fitting attempt (or 0)
        found = ok.gather(1, first)[:, 0]
        eh, ew = eh.gather(1, first)[:, 0], ew.gather(1, first)[:, 0]
        u = self.rand(2, n, like=x)
        top = (u[0] * (h - eh + 1)).long()
        left = (u[1] * (w - ew + 1)).long()
        ys = torch.arange(h, device=x.device)[None, :, None]
        xs = torch.arange(w, device=x.device)[None, None, :]
        box = ((ys >= top[:, None, None]) & (ys < (top + eh)[:, None, None])
               & (xs >= left[:, None, None]) & (xs < (left + ew)[:, None, None])
               & found[:, None, None])
        value = torch.as_tensor(self.value, dtype=x.dtype, device=x.device)
        return torch.where(box[:, None], value, x)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, "scale": self.scale, "ratio": self.ratio, "value": self.value}
