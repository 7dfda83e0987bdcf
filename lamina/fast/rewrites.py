"""Module rewrites an execution plan applies for the length of one ``fit``/``evaluate``/``predict``.

A rewrite gives a layer instance another ``forward`` (or ``preactivation``) with the same
values and gradients as its own; removing the plan deletes the instance attribute and the
class's textbook method is back. Three rewrites exist:

* :func:`tiled_pooling`: max pooling over non-overlapping windows as maxima of strided views
  (:func:`lamina.fast.pooling.tiled_max_pool2d`);
* :func:`correlation_conv`: a one-channel 2-D convolution whose weight gradient is computed
  as a correlation (:func:`lamina.fast.conv_grad.conv2d_correlation_grad`);
* :func:`pool_before_relu`: ``maxpool(relu(z)) = relu(maxpool(z))`` in values and in
  gradients, so a ReLU layer followed by max pooling runs its ReLU on a map ``pool_size**2``
  times smaller. Only where nothing can tell: no hooks, no activity regularizer, no indices.
"""

from __future__ import annotations

import types
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.modules import module as _module

from lamina.fast.conv_grad import conv2d_correlation_grad, correlation_grad_fits
from lamina.fast.pooling import tiled_max_pool2d
from lamina.layers._activated import ActivatedLayer
from lamina.layers.conv import Conv2D
from lamina.layers.pooling import _MaxPool

__all__ = ["Rewrite", "tiled_pooling", "correlation_conv", "pool_before_relu", "apply", "undo"]


class Rewrite(NamedTuple):
    """``module.<attr>`` replaced by ``function`` bound to the module (see :func:`apply`)."""

    module: nn.Module
    attr: str
    function: types.FunctionType


def apply(rewrites: list[Rewrite]) -> None:
    """Install the rewrites (instance attributes shadowing the class's methods).

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.MaxPool2D(2)], input_shape=(1, 4, 4))
        >>> planned = tiled_pooling(net); apply(planned)
        >>> "forward" in vars(net.layers[0])
        True
        >>> undo(planned); "forward" in vars(net.layers[0])
        False
    """
    for module, attr, function in rewrites:
        module.__dict__[attr] = types.MethodType(function, module)


def undo(rewrites: list[Rewrite]) -> None:
    """Remove the rewrites: every module runs its class's own methods again."""
    for module, attr, _ in rewrites:
        module.__dict__.pop(attr, None)


def _free(module: nn.Module, attr: str) -> bool:
    """Whether ``attr`` is the class's own (the user has not set one on the instance)."""
    return attr not in module.__dict__


# -- the replacement methods (module-level functions: the same objects every call, so a
# -- compiled graph's guards keep holding from one fit to the next) -------------------------
def _tiled_forward(self, x: Tensor) -> Tensor:
    return tiled_max_pool2d(self.pad(x), self.pool_size)


def _correlation_preactivation(self, x: Tensor) -> Tensor:
    x, pad_arg = self.pad(x)
    return conv2d_correlation_grad(x, self.weight, self.bias, self.strides, pad_arg)


def _preactivation_only(self, x: Tensor) -> Tensor:
    return self.preactivation(x)


def _relu_after_pool(self, x: Tensor) -> Tensor:
    return torch.relu(self._pool_alone(x))


def _pool_alone_textbook(self, x: Tensor) -> Tensor:
    return type(self).forward(self, x)


#: The rewrites that bring a backward of lamina's own (an ``autograd.Function``).
OWN_BACKWARD = (_tiled_forward, _correlation_preactivation)


# -- which modules take them ------------------------------------------------------------
def _tiles(module: nn.Module) -> bool:
    return (isinstance(module, _MaxPool) and module.rank == 2
            and module.pool_size == module.strides
            and not (getattr(module, "return_indices", False)
                     or getattr(module, "keep_indices", False)))


def tiled_pooling(model: nn.Module) -> list[Rewrite]:
    """Max poolings whose windows tile the map (``strides == pool_size``), 2-D.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.MaxPool2D(2), lm.layers.MaxPool2D(3, strides=2)])
        >>> [type(r.module).__name__ for r in tiled_pooling(net)]
        ['MaxPool2D']
    """
    return [Rewrite(m, "forward", _tiled_forward) for m in model.modules()
            if _tiles(m) and _free(m, "forward")]


def correlation_conv(model: nn.Module) -> list[Rewrite]:
    """Built float32 ``Conv2D`` layers on one input channel with a kernel of 5x5 or more,
    whose weight trains.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.Conv2D(6, 5), lm.layers.Conv2D(4, 3)],
        ...                     input_shape=(1, 12, 12))
        >>> [r.module.name == net.layers[0].name for r in correlation_conv(net)]
        [True]
    """
    return [Rewrite(m, "preactivation", _correlation_preactivation) for m in model.modules()
            if isinstance(m, Conv2D) and m.built and m.weight.requires_grad
            and m.weight.dtype == torch.float32
            and correlation_grad_fits(m.weight.shape, m.groups, m.dilation_rate)
            and _free(m, "preactivation")]


def _hooked(m: nn.Module) -> bool:
    return bool(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                or m._backward_pre_hooks)


def swappable(layer: nn.Module, following: nn.Module) -> bool:
    """Whether ``following(layer(x))`` may run as ``relu(following(layer.preactivation(x)))``.

    Example:
        >>> from lamina.layers import Conv2D, MaxPool2D
        >>> conv, pool = Conv2D(4, 3, activation="relu"), MaxPool2D(2)
        >>> conv.build((1, 8, 8)); pool.build((4, 6, 6))
        >>> swappable(conv, pool), swappable(conv, conv)
        (True, False)
    """
    return (isinstance(layer, ActivatedLayer) and layer.activation_name == "relu"
            and isinstance(following, _MaxPool) and layer.built
            and layer.activity_regularizer is None
            and not (getattr(following, "return_indices", False)
                     or getattr(following, "keep_indices", False))
            and not (_hooked(layer) or _hooked(following)
                     or _module._global_forward_hooks or _module._global_forward_pre_hooks)
            and _free(layer, "forward"))


def pool_before_relu(model: nn.Module, pooling: list[Rewrite]) -> list[Rewrite]:
    """ReLU layers followed by max pooling in a model that runs its ``layers`` one after
    another (``runs_layers_in_order``: ``Sequential``), anywhere in ``model``:
    the layer runs its preactivation, the pooling applies the ReLU after pooling. ``pooling``:
    the poolings' own rewrites, which the swapped pooling runs inside.

    Example:
        >>> import lamina as lm
        >>> from lamina.layers import Conv2D, MaxPool2D
        >>> net = lm.Sequential([Conv2D(4, 3, activation="relu"), MaxPool2D(2)],
        ...                     input_shape=(1, 8, 8))
        >>> [r.attr for r in pool_before_relu(net, [])]
        ['forward', '_pool_alone', 'forward']
    """
    inner = {id(r.module): r.function for r in pooling}
    rewrites = []
    for container in model.modules():
        if not getattr(container, "runs_layers_in_order", False):
            continue
        layers = list(container.layers)
        for layer, following in zip(layers, layers[1:]):
            if swappable(layer, following):
                pool = inner.get(id(following), _pool_alone_textbook)
                rewrites += [Rewrite(layer, "forward", _preactivation_only),
                             Rewrite(following, "_pool_alone", pool),
                             Rewrite(following, "forward", _relu_after_pool)]
    return rewrites
