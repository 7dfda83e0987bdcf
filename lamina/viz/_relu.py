"""Hooks into every ReLU a forward pass calls, wherever it sits (``nn.ReLU``, ``F.relu``, a
layer's ``activation="relu"``, ``torch.relu`` inside a block).

Two uses: :func:`lamina.viz.deconvnet` replaces each ReLU's backward by Zeiler & Fergus's
rectification, and :func:`lamina.viz.linear_regions` records which units are active.
Both are :class:`torch.overrides.TorchFunctionMode` s: inside ``with mode:`` each ReLU call
goes through the mode's ``__torch_function__`` (and calls made there are not intercepted).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

# the ReLU entry points: F.relu (nn.ReLU, F.relu), torch.relu (lamina's activation="relu"),
# the in-place variants and the tensor method
_RELUS = {F.relu, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_}
_LEAKY = {F.leaky_relu}


class _RectifiedBackward(torch.autograd.Function):
    """``relu(z)`` forward; backward ``relu(g)``: the deconvnet's rectification of the signal
    coming down, in place of the gradient's ``g * [z > 0]``."""

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        return z.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad.clamp_min(0)


class DeconvReLU(TorchFunctionMode):
    """Inside ``with DeconvReLU():`` every ReLU's backward rectifies the signal (``relu(g)``).

    Backpropagating through max pooling routes the signal to the switch of each window
    (unpooling), through a convolution applies the transposed filters (``conv_transpose2d``
    with the same weights, no bias); with this mode the ReLUs rectify, so ``d/dx`` of a
    layer's output is Zeiler & Fergus's deconvnet projection (Springenberg et al. 2014, §3.4).
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _RELUS:
            return _RectifiedBackward.apply(args[0])
        return func(*args, **(kwargs or {}))


class RecordReLU(TorchFunctionMode):
    """Inside ``with RecordReLU() as rec:`` each (leaky) ReLU call appends its input's
    ``z > 0`` pattern, flattened per sample, to ``rec.patterns``."""

    def __init__(self):
        super().__init__()
        self.patterns: list[Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _RELUS or func in _LEAKY:
            z = args[0]
            self.patterns.append((z > 0).reshape(z.shape[0], -1))
        return func(*args, **(kwargs or {}))
