"""A 2-D convolution whose weight gradient is computed as a correlation of input and gradient.

For ``y = b + W * x`` (cross-correlation at stride ``s``, zero padding ``p``) the weight
gradient is itself a cross-correlation, of the input with the output gradient::

    dL/dW[o, c, u, v] = sum_{n, i, j} dL/dy[n, o, i, j] * x_pad[n, c, s*i + u, s*j + v]

that is ``conv2d(x^T, g^T, padding=p, dilation=s)^T``, with the batch axis of the input
``x^T = x.transpose(0, 1)`` playing the part of the channels and the output gradient ``g``
that of a (dilated) kernel. On AVX2 CPUs this beats oneDNN's weight-gradient kernel for a
first layer reading a one-channel image with a 5x5 or larger kernel (LeNet-5's); elsewhere
ATen's is the faster one. The execution plan (:mod:`lamina.fast.plan`) picks it where it
wins; ``benchmarks/conv_weight_grad.py`` measures the rule, ``docs/benchmarks.md`` holds
the figures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina.functional.conv import _pair

__all__ = ["conv2d_correlation_grad", "correlation_grad_fits"]


class _Conv2dCorrelationGrad(torch.autograd.Function):
    # forward and setup_context apart: what torch.func's transforms (jit's whole step) need
    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding):
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias, stride, padding = inputs
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        stride, padding = ctx.stride, ctx.padding
        kh, kw = weight.shape[-2:]
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            extra = [n + 2 * p - ((o - 1) * s + k) for n, o, s, p, k in
                     zip(x.shape[-2:], grad.shape[-2:], stride, padding, (kh, kw))]
            grad_x = F.conv_transpose2d(grad, weight, None, stride, padding, extra)
        if ctx.needs_input_grad[1]:
            grad_w = F.conv2d(x.transpose(0, 1), grad.transpose(0, 1), None, 1, padding,
                              stride)[..., :kh, :kw].transpose(0, 1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def conv2d_correlation_grad(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                            padding=0) -> Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` with the weight gradient computed as
    ``dL/dW = conv2d(x^T, (dL/dy)^T, padding, dilation=stride)^T``.

    The forward pass is ``F.conv2d``'s; the backward gives the same gradients as ATen's up to
    rounding (the sums run in another order) and is itself differentiable, so second
    derivatives work. Groups and dilation are not supported (use ``F.conv2d``).

    Args:
        x: ``(N, C, H, W)``.
        weight: ``(O, C, kh, kw)``.
        bias: ``(O,)`` or None.
        stride: int or ``(sh, sw)``.
        padding: int or ``(ph, pw)`` (zero padding on both sides).

    Example:
        >>> x, w = torch.randn(4, 1, 12, 12), torch.randn(3, 1, 5, 5, requires_grad=True)
        >>> conv2d_correlation_grad(x, w, stride=2).sum().backward()
        >>> torch.allclose(w.grad, torch.autograd.grad(F.conv2d(x, w, stride=2).sum(), w)[0],
        ...                atol=1e-4)
        True
    """
    return _Conv2dCorrelationGrad.apply(x, weight, bias, _pair(stride), _pair(padding))


def correlation_grad_fits(weight_shape, groups: int, dilation) -> bool:
    """Whether a convolution's shape suits :func:`conv2d_correlation_grad`'s backward: a
    kernel of at least 5x5 over one input channel, no groups, no dilation.

    Example:
        >>> correlation_grad_fits((6, 1, 5, 5), 1, 1), correlation_grad_fits((6, 1, 3, 3), 1, 1)
        (True, False)
    """
    return (weight_shape[1] == 1 and min(weight_shape[-2:]) >= 5 and groups == 1
            and all(d == 1 for d in _pair(dilation)))
