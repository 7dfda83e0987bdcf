"""Max pooling over non-overlapping windows, written as element-wise maxima of strided views.

With ``stride == kernel`` each window's ``kh * kw`` elements sit at the same place of
``kh * kw`` strided views of the input, so ``y = max_{p, q} x[..., p::kh, q::kw]`` (cropped
to whole windows) is a handful of element-wise maxima: on the CPU several times faster
than ATen's max-pool kernel, which walks each window element by element. For training, the
position of each window's first maximum (row-major, ATen's tie rule) is found with the same
views, and the gradient goes through ATen's own max-pool backward with those indices.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["tiled_max_pool2d"]


def _views(x: Tensor, kh: int, kw: int):
    """The ``kh * kw`` strided views ``x[..., p::kh, q::kw]``, cropped to whole windows."""
    ho, wo = x.shape[-2] // kh, x.shape[-1] // kw
    return [x[..., p:p + kh * (ho - 1) + 1:kh, q:q + kw * (wo - 1) + 1:kw]
            for p in range(kh) for q in range(kw)]


def _window_max(views) -> Tensor:
    if len(views) == 1:
        return views[0].clone()
    out = torch.maximum(views[0], views[1])
    if torch.compiler.is_compiling():  # Dynamo breaks the graph at an NHWC `out=`
        for view in views[2:]:
            out = torch.maximum(out, view)
        return out
    for view in views[2:]:
        torch.maximum(out, view, out=out)
    return out


def _first_max_indices(x: Tensor, views, out: Tensor, kh: int, kw: int) -> Tensor:
    """Flat ``H * W`` index of each window's first maximum, as ATen's max pooling returns it.

    ``index = corner + offset(first view equal to the max)``: a running "not found yet" mask
    adds each next view's offset step while no earlier view held the maximum.
    """
    w = x.shape[-1]
    ho, wo = out.shape[-2:]
    rows = torch.arange(0, kh * ho, kh, device=x.device).mul_(w)
    corner = rows.view(-1, 1) + torch.arange(0, kw * wo, kw, device=x.device)
    if len(views) == 1:
        return corner.expand(out.shape).clone()
    offsets = [p * w + q for p in range(kh) for q in range(kw)]
    not_found = views[0] != out
    indices = torch.add(corner, not_found, alpha=offsets[1])
    for k in range(2, len(views)):
        not_found.logical_and_(views[k - 1] != out)
        indices.add_(not_found, alpha=offsets[k] - offsets[k - 1])
    return indices


def _aten_max_pool_backward(grad: Tensor, x: Tensor, indices: Tensor, kh: int,
                            kw: int) -> Tensor:
    """ATen's backward of a ``kh x kw`` max pooling at stride ``(kh, kw)``, without padding."""
    return torch.ops.aten.max_pool2d_with_indices_backward(
        grad, x, [kh, kw], [kh, kw], [0, 0], [1, 1], False, indices)


@torch.library.custom_op("lamina::max_pool2d_backward", mutates_args=())
def _max_pool_backward(grad: Tensor, x: Tensor, indices: Tensor, kh: int, kw: int) -> Tensor:
    """ATen's max-pool backward, as an opaque op: ``torch.compile`` calls it as it is instead
    of lowering it (Inductor's CPU lowering of this op is several times slower)."""
    return _aten_max_pool_backward(grad, x, indices, kh, kw)


@_max_pool_backward.register_fake
def _(grad, x, indices, kh, kw):
    return torch.empty_like(x)


class _MaxPoolBackward(torch.autograd.Function):
    """The opaque backward op, with a gradient of its own (an autograd.Function rather than
    ``register_autograd``, whose generated wrapper torch.func's transforms reject)."""

    @staticmethod
    def forward(grad: Tensor, x: Tensor, indices: Tensor, kh: int, kw: int) -> Tensor:
        return _max_pool_backward(grad, x, indices, kh, kw)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, grad_grad_x: Tensor):
        """The backward is linear in ``grad``: its own gradient gathers at the indices."""
        (indices,) = ctx.saved_tensors
        grad_grad = grad_grad_x.flatten(-2).gather(-1, indices.flatten(-2)).view_as(indices)
        return grad_grad, None, None, None, None


class _TiledMaxPool(torch.autograd.Function):
    # forward and setup_context apart: what torch.func's transforms (jit's whole step) need
    @staticmethod
    def forward(x: Tensor, kh: int, kw: int) -> Tensor:
        return _window_max(_views(x, kh, kw))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, kh, kw = inputs
        with torch.no_grad():
            indices = _first_max_indices(x, _views(x, kh, kw), output, kh, kw)
        ctx.save_for_backward(x, indices)
        ctx.kernel = [kh, kw]

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, indices = ctx.saved_tensors
        # eagerly, the kernel itself: the op and its wrapper cost 0.25 ms a LeNet-5 step
        backward = _aten_max_pool_backward if _eager_first_order(grad) else _MaxPoolBackward.apply
        return backward(grad, x, indices, *ctx.kernel), None, None


def _eager_first_order(grad: Tensor) -> bool:
    """Whether a backward runs eagerly on plain tensors without building a graph of its own
    (no ``create_graph``, no ``torch.compile`` tracing it), so that its opaque op and
    differentiable wrapper can be skipped."""
    return (not torch.is_grad_enabled() and type(grad) is Tensor
            and not torch.compiler.is_compiling())


def tiled_max_pool2d(x: Tensor, pool_size) -> Tensor:
    """Max pooling with ``stride == pool_size``, no padding: ``y = max_{p, q} x[..., p::kh, q::kw]``.

    Equals ``F.max_pool2d(x, pool_size)`` in values (NaN propagates) and in gradient (each
    window's first maximum in row-major order takes it, as in ATen; in a window holding a
    NaN the gradient may go to another element than ATen's). The backward is ATen's
    max-pool backward (kept opaque to ``torch.compile``), and it has a gradient of its own,
    so second derivatives work too.

    Args:
        x: ``(N, C, H, W)`` or ``(C, H, W)``; windows that do not fit whole are dropped.
        pool_size: int or ``(kh, kw)``.

    Example:
        >>> x = torch.tensor([[[[1.0, 2.0, 5.0, 0.0], [4.0, 3.0, 1.0, 1.0]]]])
        >>> tiled_max_pool2d(x, 2)
        tensor([[[[4., 5.]]]])
    """
    kh, kw = (pool_size, pool_size) if isinstance(pool_size, int) else map(int, pool_size)
    if x.requires_grad and torch.is_grad_enabled():
        return _TiledMaxPool.apply(x, kh, kw)
    return _window_max(_views(x, kh, kw))
