"""Stateless maths of the convolutional decks: Lp pooling, max unpooling, local contrast norm.

Each function is the equation of a deck (or of the paper it cites), written on
channels-first ``(N, C, H, W)`` tensors; the layers in ``lamina.layers`` only store the
hyper-parameters and call these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina.errors import message

__all__ = ["lp_pool2d", "max_unpool2d", "gaussian_window", "local_contrast_norm"]


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


def lp_pool2d(x: Tensor, p: float, kernel_size, stride=None) -> Tensor:
    """Lp pooling (deck 001, "max, average, Lp"): ``y = (sum_{window} x^p)^(1/p)``.

    ``p = 1`` is sum pooling and ``p -> inf`` tends to max pooling (of non-negative inputs);
    ``p = 2`` is the L2 pooling of sub-space energy models. As in ``F.lp_pool2d``, the power
    is taken of the raw values, so the sign caveat of odd ``p``: negative inputs *lower* the
    sum (``p = 1`` gives the signed sum, not a sum of magnitudes), and for ``p = 3, 5, ...``
    a window whose sum is negative gives NaN (the real root is not taken). A non-integer
    ``p`` needs non-negative inputs (``x^p`` is NaN otherwise). Even ``p`` and non-negative
    inputs (after a ReLU) are safe; pass ``x.abs()`` for the Lp norm of each window.

    Args:
        x: ``(N, C, H, W)`` input.
        p: the exponent, > 0.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw). Defaults to ``kernel_size``.

    Returns:
        ``(N, C, floor((H - kh) / sh) + 1, floor((W - kw) / sw) + 1)``.

    Example:
        >>> import torch
        >>> lp_pool2d(torch.tensor([[[[3.0, 4.0]]]]), 2, (1, 2))   # sqrt(9 + 16)
        tensor([[[[5.]]]])
    """
    kh, kw = _pair(kernel_size)
    stride = (kh, kw) if stride is None else _pair(stride)
    window_sum = F.avg_pool2d(x.pow(p), (kh, kw), stride) * (kh * kw)
    return window_sum.pow(1.0 / p)


def max_unpool2d(x: Tensor, indices: Tensor, kernel_size=2, stride=None,
                 output_size=None) -> Tensor:
    """Max unpooling (deck 002, "unpooling"; Zeiler & Fergus 2011, SegNet): the inverse switch.

    ``y[n, c, indices[n, c, i, j]] = x[n, c, i, j]`` on the flattened ``H x W`` plane, and 0
    everywhere else: each pooled value goes back to the position its maximum came from.

    Args:
        x: ``(N, C, h, w)`` pooled values.
        indices: ``(N, C, h, w)`` flat positions in the ``H x W`` input of the pooling, as
            returned by ``MaxPool2D(return_indices=True)`` or ``F.max_pool2d``.
        kernel_size: the pooling window, used only for the default output size.
        stride: the pooling stride. Defaults to ``kernel_size``.
        output_size: ``(H, W)`` (or a longer shape ending in them). Defaults to
            ``((h - 1) sh + kh, (w - 1) sw + kw)``, the smallest input the pooling could
            have seen.

    Returns:
        ``(N, C, H, W)``.

    Example:
        >>> import torch
        >>> x = torch.tensor([[[[1.0, 5.0], [3.0, 2.0]]]])
        >>> pooled, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
        >>> max_unpool2d(pooled, idx, 2)
        tensor([[[[0., 5.],
                  [0., 0.]]]])
    """
    if indices.shape != x.shape:
        raise ValueError(message(
            "max_unpool2d needs one index per pooled value.",
            expected=f"indices of shape {tuple(x.shape)}",
            received=f"indices of shape {tuple(indices.shape)}"))
    if output_size is None:
        (kh, kw), h, w = _pair(kernel_size), x.shape[-2], x.shape[-1]
        sh, sw = (kh, kw) if stride is None else _pair(stride)
        output_size = ((h - 1) * sh + kh, (w - 1) * sw + kw)
    height, width = (int(d) for d in tuple(output_size)[-2:])
    flat_x, flat_idx = x.flatten(-2), indices.flatten(-2)
    out = flat_x.new_zeros((*flat_x.shape[:-1], height * width))
    return out.scatter(-1, flat_idx, flat_x).unflatten(-1, (height, width))


def gaussian_window(kernel_size: int, sigma: float, *, dtype=None, device=None) -> Tensor:
    """A ``kernel_size x kernel_size`` Gaussian ``exp(-(p^2 + q^2) / (2 sigma^2))`` summing to 1.

    Example:
        >>> w = gaussian_window(3, 1.0)
        >>> w.shape, round(float(w.sum()), 6), bool(w[1, 1] == w.max())
        (torch.Size([3, 3]), 1.0, True)
    """
    r = (kernel_size - 1) / 2
    t = torch.arange(kernel_size, dtype=dtype or torch.get_default_dtype(), device=device) - r
    g = torch.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def local_contrast_norm(x: Tensor, kernel_size: int = 9, sigma: float | None = None,
                        epsilon: float = 1e-4) -> Tensor:
    """Local contrast normalization (deck 002; Jarrett et al. 2009): ``y = v / max(c, sigma)``.

    With ``w`` a Gaussian window spread over all ``C`` channels (``sum_{c,p,q} w_pq = 1``):

    * subtractive step ``v_cij = x_cij - sum_{c',p,q} w_pq x_{c', i+p, j+q}``;
    * divisive step ``sigma_ij = sqrt(sum_{c',p,q} w_pq v_{c', i+p, j+q}^2)`` and
      ``y = v / max(mean_ij(sigma), sigma_ij)``, the mean taken per sample.

    Near the border the window is cut by the image; the weights that remain are
    renormalized to sum to 1, so a constant image maps to 0 everywhere (each sample is first
    shifted to zero mean, which changes nothing but the round-off). ``sigma`` is floored
    at ``epsilon`` (``sigma = sqrt(max(var, epsilon^2))``), which keeps flat regions and
    their gradients finite.

    Args:
        x: ``(N, C, H, W)`` input.
        kernel_size: odd side of the Gaussian window. Defaults to 9.
        sigma: its standard deviation in pixels. Defaults to ``kernel_size / 4``.
        epsilon: the floor of ``sigma``. Defaults to 1e-4.

    Returns:
        A tensor of the same shape as ``x``.

    Example:
        >>> import torch
        >>> local_contrast_norm(torch.full((1, 3, 5, 5), 7.0), 3).abs().max()
        tensor(0.)
    """
    sigma = kernel_size / 4 if sigma is None else sigma
    window = gaussian_window(kernel_size, sigma, dtype=x.dtype, device=x.device)
    window = window.view(1, 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    mass = F.conv2d(x.new_ones((1, 1, *x.shape[-2:])), window, padding=pad)

    def local_mean(t: Tensor) -> Tensor:  # sum over channels and window of w * t, per pixel
        return F.conv2d(t.mean(dim=1, keepdim=True), window, padding=pad) / mass

    x = x - x.mean(dim=(-3, -2, -1), keepdim=True)  # v ignores shifts; this cuts round-off
    v = x - local_mean(x)
    local_sigma = local_mean(v * v).clamp_min(epsilon**2).sqrt()
    c = local_sigma.mean(dim=(-2, -1), keepdim=True)
    return v / torch.maximum(local_sigma, c)

