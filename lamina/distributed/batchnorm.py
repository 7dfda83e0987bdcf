"""Synchronized batch normalization: batch statistics over every rank's part of the batch.

With ``fit(..., sync_batchnorm=True)`` in data-parallel training, each batch-norm layer
(lamina's ``BatchNorm`` and torch's) normalizes with the mean and variance of the whole
global batch instead of its own part:

    mu = sum_r S1_r / n,   var = sum_r S2_r / n,   y = gamma (x - mu) / sqrt(var + eps) + beta

where ``S1_r`` and ``S2_r`` are rank ``r``'s per-channel sums of ``x`` and of ``(x - mu)^2``
(two passes: the difference of squares ``E[x^2] - mu^2`` loses digits when the variance is
small), each summed by an all-reduce whose backward pass hands rank ``r`` the statistics' gradient of
the global loss over its weight ``n_r / n`` (DDP then scales rank ``r``'s gradients by that
weight), so the gradient is the full batch's. The running averages get the global ``mu``
and the unbiased variance, as on one process.
Outside ``fit`` (and in eval mode) the layers run their own forward.
"""

from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist
from torch import Tensor, nn

from lamina.layers.normalization import BatchNorm

__all__ = ["sync_batch_norms", "synced_batch_norm", "WeightedSum"]


class WeightedSum(torch.autograd.Function):
    """``sum_r t_r`` over the ranks; backward: ``sum_q w_q g_q / w_r`` for the rank of weight
    ``w_r`` (zero for a rank of weight 0), as the part-size-weighted DDP average needs."""

    @staticmethod
    def forward(ctx, t: Tensor, weight: float) -> Tensor:
        ctx.weight = weight
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad * ctx.weight
        dist.all_reduce(grad)
        return (grad / ctx.weight if ctx.weight else torch.zeros_like(grad)), None


def synced_batch_norm(layer: nn.Module, x: Tensor, reduce) -> Tensor:
    """``layer``'s training-mode batch norm of ``x`` with statistics summed by ``reduce``
    over the ranks (a differentiable sum; the identity gives the plain batch norm).

    Example:
        >>> bn = nn.BatchNorm1d(3).train()
        >>> x = torch.randn(8, 3)
        >>> ref = nn.functional.batch_norm(x, None, None, training=True)
        >>> bool(torch.allclose(synced_batch_norm(bn, x, reduce=lambda t: t), ref, atol=1e-5))
        True
    """
    c = x.shape[1]
    dims = [0, *range(2, x.dim())]
    shape = [1, c] + [1] * (x.dim() - 2)
    total = reduce(torch.cat([x.sum(dims), x.new_full((1,), x.numel() // c)]))
    n = total[-1]
    mean = total[:c] / n
    centred = x - mean.view(shape)
    var = reduce((centred * centred).sum(dims)) / n
    with torch.no_grad():
        tracked = getattr(layer, "num_batches_tracked", None)
        if tracked is not None:
            tracked.add_(1)
        momentum = layer.momentum
        if momentum is None:  # torch's cumulative average
            momentum = 1.0 / float(tracked)
        unbiased = var.detach() * (n / (n - 1)).clamp_min(0) if float(n) > 1 else var.detach()
        layer.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
        layer.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    eps = getattr(layer, "epsilon", getattr(layer, "eps", 1e-5))
    y = centred * torch.rsqrt(var.view(shape) + eps)
    if layer.weight is not None:
        y = y * layer.weight.view(shape)
    if layer.bias is not None:
        y = y + layer.bias.view(shape)
    return y


def _is_batch_norm(module: nn.Module) -> bool:
    return (isinstance(module, (BatchNorm, nn.modules.batchnorm._BatchNorm))
            and getattr(module, "running_mean", None) is not None)


@contextlib.contextmanager
def sync_batch_norms(model: nn.Module, enabled: bool = True, weight=lambda: 1.0):
    """Within the block, every batch-norm layer of ``model`` in training mode normalizes
    with the statistics of all ranks (:func:`synced_batch_norm`); its own ``forward``
    again after. ``weight()``: this rank's share ``n_r / n`` of the current batch (0: its
    sample is a stand-in, left out of the statistics).

    Example:
        >>> net = nn.Sequential(nn.BatchNorm1d(2))
        >>> with sync_batch_norms(net, enabled=False):
        ...     pass
    """
    layers = [m for m in model.modules() if _is_batch_norm(m)] if enabled else []

    def reduce(t: Tensor) -> Tensor:
        w = weight()
        return WeightedSum.apply(t if w else torch.zeros_like(t), w)

    own = []
    for layer in layers:
        own.append(layer.__dict__.get("forward"))
        plain = layer.forward

        def forward(x, layer=layer, plain=plain):
            if layer.training and torch.is_grad_enabled():
                return synced_batch_norm(layer, x, reduce)
            return plain(x)

        layer.forward = forward
    try:
        yield
    finally:
        for layer, forward in zip(layers, own):
            if forward is None:
                del layer.forward
            else:
                layer.forward = forward
