"""The bypass of deck 004's "MLP to ResNet": ``Residual(inner)`` computes ``x + inner(x)``.

Any layers that give back their input's shape can sit inside: a dense block of a
multilayer perceptron (``Linear n -> n, tanh, Linear n -> n``) or a stack of ``"same"``
convolutions. The final layers then only compute what is left to add to their input, the
residual (He et al., 2016), which is what "further improves the convergence properties" in
the deck.

Example:
    >>> import lamina as lm
    >>> from lamina import layers
    >>> n = 10
    >>> net = lm.Sequential([layers.Dense(n, activation="tanh"),
    ...                      layers.Residual([layers.Dense(n, activation="tanh"), layers.Dense(n)]),
    ...                      layers.Dense(1)], input_shape=(2,))
    >>> net.count_params()
    261
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lamina.errors import message
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec, format_shape
from lamina.layers.serialization import layer_from_config, layer_to_config

__all__ = ["Residual"]


def _as_layer(layer) -> Layer:
    """A lamina layer, or one rebuilt from its ``{"class": ..., "config": ...}`` dict."""
    return layer_from_config(layer) if isinstance(layer, dict) else layer


class Residual(Layer):
    """The identity bypass around some layers: ``y = x + inner(x)``.

    ``inner`` is the given layers applied in turn; it must give back an output of the
    input's shape (a ``ValueError`` at build says which shape it gave instead). Nothing
    follows the sum: put an activation after the block (``layers.Activation``) for He et
    al.'s ``relu(x + F(x))``.

    Args:
        inner_layers: a lamina layer or a list of them (or their config dicts, as
            :meth:`get_config` writes them): dense, convolutional or any other.
        name: layer name.

    Input shape:
        any shape the inner layers accept.
    Output shape:
        the input's.

    Example:
        >>> import torch
        >>> from lamina import layers
        >>> block = Residual([layers.Conv2D(4, 3, padding="same", activation="relu"),
        ...                   layers.Conv2D(4, 3, padding="same")])
        >>> block(torch.zeros(2, 4, 8, 8)).shape, block.count_params()
        (torch.Size([2, 4, 8, 8]), 296)
    """

    def __init__(self, inner_layers, *, name: str | None = None):
        super().__init__(name=name)
        given = inner_layers if isinstance(inner_layers, (list, tuple)) else [inner_layers]
        inner = [_as_layer(layer) for layer in given]
        bad = [type(layer).__name__ for layer in inner if not isinstance(layer, Layer)]
        if not inner or bad:
            raise TypeError(message(
                f"Residual '{self.name}' wraps one or more lamina layers.",
                received=f"{len(inner)} layers" if not inner else f"a {bad[0]}",
                fix="E.g. `layers.Residual([layers.Dense(n, activation='tanh'), "
                    "layers.Dense(n)])`."))
        self.inner = nn.ModuleList(inner)

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        shape = self.input_shape
        for layer in self.inner:
            shape = layer.build_shapes(shape)
        self._check_same(tuple(shape), self.input_shape)
        spec = self.inner[0].input_spec or InputSpec()
        self.input_spec = InputSpec(ndim=len(self.input_shape), axes=dict(spec.axes),
                                    hint=spec.hint)

    def _check_same(self, out_shape: tuple, in_shape: tuple) -> None:
        if out_shape != tuple(in_shape):
            names = ", ".join(layer.name for layer in self.inner)
            raise ValueError(message(
                f"Residual '{self.name}' adds its input to the output of its inner layers "
                f"({names}), so both must have the same shape.",
                expected=f"inner output of shape {format_shape(tuple(in_shape))}",
                received=f"input of shape {format_shape(tuple(in_shape))}, inner output of "
                         f"shape {format_shape(out_shape)}",
                fix="Make the last inner layer give as many units (or channels) as the input "
                    "has, with 'same' padding and stride 1 for convolutions."))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        for layer in self.inner:
            shape = tuple(layer.compute_output_shape(shape))
        self._check_same(shape, input_shape)
        return tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer in self.inner:
            h = layer(h)
        if h.shape != x.shape:
            self._check_same(tuple(h.shape[1:]), tuple(x.shape[1:]))
        return x + h

    def get_config(self) -> dict[str, Any]:
        return {"inner_layers": [layer_to_config(layer) for layer in self.inner],
                **super().get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Residual:
        config = dict(config)
        return cls([layer_from_config(c) for c in config.pop("inner_layers")], **config)
