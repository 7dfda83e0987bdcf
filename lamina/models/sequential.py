"""``Sequential``: a plain stack of layers, each feeding the next (the decks' cascade of modules)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lamina._validation import check_shape
from lamina.errors import message
from lamina.layers.base import Layer, declared_input_shape
from lamina.layers.input_spec import format_shape
from lamina.layers.serialization import layer_from_config, layer_to_config
from lamina.layers.symbolic import Input, Node, SymbolicTensor
from lamina.models.logits import final_activation, without_activation
from lamina.models.model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers; built eagerly when ``input_shape`` is given.

    Any ``nn.Module`` may be a layer (a lamina layer infers its input size; a plain torch
    module must already have its sizes). With ``input_shape`` every layer is built at once
    and its output shape recorded, so ``summary()`` works before training; without it the
    model is built from the first data it sees.

    Args:
        layers: the layers, first to last.
        input_shape: per-sample input shape, without the batch axis (channels first:
            ``(1, 28, 28)``).
        name: model name.

    Example:
        >>> import lamina as lm
        >>> from lamina import layers
        >>> model = lm.Sequential([layers.Dense(8, activation="relu"), layers.Dense(2)],
        ...                       input_shape=(4,))
        >>> model.count_params()
        58
    """

    #: ``forward`` runs ``layers`` one after another (what the execution plan's rewrites of
    #: neighbouring layers rely on).
    runs_layers_in_order = True

    def __init__(self, layers=None, input_shape=None, *, name: str | None = None):
        super().__init__(name=name)
        self.layers = nn.ModuleList()
        for layer in layers or []:
            self._append(layer)
        if input_shape is None:  # Keras's `Dense(8, input_shape=(4,))` on the first layer
            input_shape = declared_input_shape(self.layers)
        if input_shape is not None:
            self.build(input_shape)

    def _append(self, layer) -> None:
        if not isinstance(layer, nn.Module):
            raise TypeError(message(
                f"Sequential '{self.name}' takes layers (torch.nn.Module instances).",
                received=f"an object of type {type(layer).__name__}",
                fix="Did you pass a layer class instead of an instance, e.g. Flatten "
                    "instead of Flatten()?"))
        self.layers.append(layer)

    def add(self, layer) -> None:
        """Append ``layer``; if the model is built, build the new layer too.

        Example:
            >>> import lamina as lm
            >>> m = lm.Sequential(input_shape=(3,)); m.add(lm.layers.Dense(2)); m.output_shape
            (2,)
        """
        self._append(layer)
        shape = self.input_shape if self.input_shape is not None else declared_input_shape(
            self.layers)
        if shape is not None:
            self.build(shape)

    def pop(self) -> nn.Module:
        """Remove and return the last layer.

        Example:
            >>> import lamina as lm
            >>> m = lm.Sequential([lm.layers.Dense(2), lm.layers.Dense(1)])
            >>> type(m.pop()).__name__
            'Dense'
        """
        if not len(self.layers):
            raise ValueError(f"Sequential '{self.name}' has no layer to pop.")
        layer = self.layers[-1]
        del self.layers[-1]
        if self.input_shape is not None:
            self.build(self.input_shape)
        return layer

    def build(self, input_shape: tuple) -> None:
        """Build every layer in turn for per-sample ``input_shape``, recording shapes."""
        shape = check_shape("input_shape", input_shape, f"Sequential '{self.name}'")
        self.input_shape = shape
        for index, layer in enumerate(self.layers):
            shape = self._build_layer(layer, shape, index)
        self.output_shape = shape
        self.mark_built()
        self._trace_symbolic()
        ref = next(self.parameters(), None)
        if ref is not None:
            self.to(ref.device)  # newly built layers join the model's device

    def _trace_symbolic(self) -> None:
        """The symbolic graph of the built stack: ``self.input`` through every layer, so that
        ``layer.output`` exists and the stack can be cut (``lm.Model(inputs=net.input,
        outputs=net.get_layer("flatten").output)``). Shapes come from the build: no dry run."""
        for layer, tensor in getattr(self, "_traced", []):
            if tensor in layer._symbolic_outputs:
                layer._symbolic_outputs.remove(tensor)
        x = self._symbolic_input = Input(self.input_shape, name=f"{self.name}_input")
        self._traced = []
        for layer in self.layers:
            if not isinstance(layer, Layer):
                self._symbolic_output = None  # a plain torch module: the graph stops here
                return
            x = SymbolicTensor(layer.output_shape, Node(layer, [x], False), name=layer.name)
            layer._symbolic_outputs.append(x)
            self._traced.append((layer, x))
        self._symbolic_output = x

    def _build_layer(self, layer: nn.Module, shape: tuple, index: int) -> tuple:
        if isinstance(layer, Layer):
            try:
                return layer.build_shapes(shape)
            except ValueError as err:
                if index == 0:
                    raise
                prev = self.layers[index - 1]
                raise ValueError(f"{err} (Layer '{layer.name}' follows layer "
                                 f"'{getattr(prev, 'name', type(prev).__name__)}'.)") from None
        try:
            with torch.no_grad():
                return tuple(layer(torch.zeros((1, *shape))).shape[1:])
        except RuntimeError as err:
            raise ValueError(
                f"Layer {index} ({type(layer).__name__}) of Sequential '{self.name}' cannot take "
                f"input of shape {format_shape(shape)}: {err}") from None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.built and tuple(input_shape) == self.input_shape:
            return self.output_shape
        return super().compute_output_shape(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def output_activation_name(self) -> str | None:
        return final_activation(self.layers[-1]) if len(self.layers) else None

    def forward_logits(self, x: Tensor) -> Tensor:
        *body, last = self.layers
        for layer in body:
            x = layer(x)
        return without_activation(last, x)

    def summary_rows(self) -> list[tuple[str, str, int]]:
        rows = []
        for i, layer in enumerate(self.layers):
            name = getattr(layer, "name", f"layer_{i}")
            shape = layer._shape_str() if isinstance(layer, Layer) else "?"
            rows.append((f"{name} ({type(layer).__name__})", shape,
                         sum(p.numel() for p in layer.parameters())))
        return rows

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name,
                  "input_shape": None if self.input_shape is None else list(self.input_shape),
                  "layers": [layer_to_config(layer) for layer in self.layers]}
        if self.fully_convolutional:
            config["fully_convolutional"] = True
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls([layer_from_config(c) for c in config["layers"]],
                    input_shape=config.get("input_shape"), name=config.get("name"))
        model.fully_convolutional = bool(config.get("fully_convolutional", False))
        return model

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]
