"""Wrappers for the sequence shapes of deck 002: ``Bidirectional``, ``TimeDistributed``,
``RepeatVector``.

Many-to-one is a recurrent layer with ``return_sequences=False``; many-to-many adds
``return_sequences=True`` and a ``TimeDistributed`` (or a plain ``Dense``, which already acts
on the last axis) head; one-to-many repeats a vector over time with ``RepeatVector`` before
the recurrent layer.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lamina._validation import check_option, check_positive_int
from lamina.errors import message
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec
from lamina.layers.recurrent.rnn import RecurrentLayer, resolve_mask, reverse_sequences
from lamina.layers.serialization import layer_from_config, layer_to_config

__all__ = ["Bidirectional", "TimeDistributed", "RepeatVector"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", "none")


def _from_config_dict(layer):
    """A layer, or a new one from a ``{"class": ..., "config": ...}`` dict (``layer_to_config``)."""
    if isinstance(layer, dict):
        return layer_from_config(layer)
    return layer


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    The backward copy has the same configuration with ``go_backwards`` flipped and its own
    weights. With ``return_sequences`` its outputs are put back in forward time order (for
    right-padded sequences, within each sequence's length) before merging, so step ``t`` of
    the result sees the whole sequence: the past through the forward layer, the future
    through the backward one (Schuster & Paliwal, 1997).

    Args:
        layer: a ``SimpleRNN``, ``LSTM`` or ``GRU`` (unbuilt or built), or its
            ``{"class": ..., "config": ...}`` dict (``lamina.saving.layer_to_config``).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or ``None`` for
            a ``[forward, backward]`` list.
        name: layer name.

    Input shape:
        ``(N, T, features)``; ``mask``/``lengths`` as for the wrapped layer.
    Output shape:
        the wrapped layer's, with ``2*units`` features for ``"concat"``; with
        ``return_state``, ``(output, *forward_states, *backward_states)``.

    Example:
        >>> import torch
        >>> from lamina.layers import LSTM
        >>> Bidirectional(LSTM(4, return_sequences=True))(torch.randn(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(self, layer: RecurrentLayer, merge_mode: str | None = "concat", *,
                 name: str | None = None):
        super().__init__(name=name)
        layer = _from_config_dict(layer)
        if not isinstance(layer, RecurrentLayer):
            raise TypeError(message(
                f"Bidirectional '{self.name}' wraps a recurrent layer (SimpleRNN, LSTM, GRU).",
                received=f"a {type(layer).__name__}"))
        mode = "none" if merge_mode is None else merge_mode
        self.merge_mode = check_option("merge_mode", mode, _MERGE_MODES,
                                       f"Bidirectional '{self.name}'")
        self.forward_layer = layer
        config = {**layer.get_config(), "go_backwards": not layer.go_backwards,
                  "name": f"{layer.name}_backward"}
        self.backward_layer = type(layer).from_config(config)
        if layer.built:
            self.backward_layer.build_shapes(layer.input_shape)
        self.input_spec = InputSpec(ndim=2)

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self.forward_layer.build_shapes(self.input_shape)
        self.backward_layer.build_shapes(self.input_shape)
        spec = self.forward_layer.input_spec
        self.input_spec = InputSpec(ndim=spec.ndim, axes=dict(spec.axes), hint=spec.hint)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], 2 * shape[-1])
        return tuple(shape)

    def reset_states(self) -> None:
        """Forget the carried states of both directions."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def forward(self, x: Tensor, mask: Tensor | None = None, *, lengths=None,
                initial_state=None):
        lengths, mask = resolve_mask(x, mask, lengths, f"Layer '{self.name}'")
        init_f = init_b = None
        if initial_state is not None:
            half = len(initial_state) // 2
            init_f, init_b = tuple(initial_state[:half]), tuple(initial_state[half:])
        y_f = self.forward_layer(x, mask, lengths=lengths, initial_state=init_f)
        y_b = self.backward_layer(x, mask, lengths=lengths, initial_state=init_b)
        states: tuple = ()
        if self.forward_layer.return_state:
            (y_f, *s_f), (y_b, *s_b) = y_f, y_b
            states = (*s_f, *s_b)
        if self.forward_layer.return_sequences:
            y_b = reverse_sequences(y_b, lengths)
        y = self._merge(y_f, y_b)
        return (y, *states) if states else y

    def _merge(self, y_f: Tensor, y_b: Tensor):
        if self.merge_mode == "concat":
            return torch.cat([y_f, y_b], dim=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "mul":
            return y_f * y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) / 2
        return [y_f, y_b]

    def get_config(self) -> dict[str, Any]:
        return {"layer": layer_to_config(self.forward_layer),
                "merge_mode": None if self.merge_mode == "none" else self.merge_mode,
                **super().get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        return cls(layer_from_config(config.pop("layer")), **config)

    def extra_repr(self) -> str:
        return "" if self.merge_mode == "concat" else f"merge_mode={self.merge_mode}"


class TimeDistributed(Layer):
    """Applies a layer to every time step: ``(N, T, ...) -> (N, T, ...)`` with shared weights.

    The time axis is folded into the batch (``(N*T, ...)``), so one call of the wrapped
    layer handles every step: a ``Conv2D`` over each frame of a video, a ``Dense`` read-out
    on every output of a many-to-many net.

    Args:
        layer: any lamina layer taking per-step input, or its config dict.
        name: layer name.

    Input shape:
        ``(N, T, *step_shape)``.
    Output shape:
        ``(N, T, *layer_output_shape)``.

    Example:
        >>> import torch
        >>> from lamina.layers import Dense
        >>> TimeDistributed(Dense(3))(torch.randn(2, 7, 5)).shape
        torch.Size([2, 7, 3])
    """

    def __init__(self, layer: Layer, *, name: str | None = None):
        super().__init__(name=name)
        layer = _from_config_dict(layer)
        if not isinstance(layer, Layer):
            raise TypeError(message(f"TimeDistributed '{self.name}' wraps a lamina layer.",
                                    received=f"a {type(layer).__name__}"))
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self.layer.build_shapes(self.input_shape[1:])
        inner = self.layer.input_spec or InputSpec()
        axes = {(a + 1 if a >= 0 else a): size for a, size in inner.axes.items()}
        self.input_spec = InputSpec(ndim=None if inner.ndim is None else inner.ndim + 1,
                                    min_ndim=max(2, (inner.min_ndim or 0) + 1), axes=axes,
                                    hint=inner.hint)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (int(input_shape[0]), *self.layer.compute_output_shape(tuple(input_shape[1:])))

    def forward(self, x: Tensor) -> Tensor:
        n, steps = x.shape[0], x.shape[1]
        y = self.layer(x.reshape(n * steps, *x.shape[2:]))
        return y.reshape(n, steps, *y.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {"layer": layer_to_config(self.layer), **super().get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        return cls(layer_from_config(config.pop("layer")), **config)


class RepeatVector(Layer):
    """Repeats a vector ``n`` times along a new time axis: ``(N, F) -> (N, n, F)`` (one-to-many).

    Args:
        n: number of repetitions (time steps, >= 1).
        name: layer name.

    Example:
        >>> import torch
        >>> RepeatVector(3)(torch.tensor([[1.0, 2.0]]))
        tensor([[[1., 2.],
                 [1., 2.],
                 [1., 2.]]])
    """

    def __init__(self, n: int, *, name: str | None = None):
        super().__init__(name=name)
        self.n = check_positive_int("n", n, f"RepeatVector '{self.name}'")
        self.input_spec = InputSpec(ndim=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (self.n, *input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(1).expand(x.shape[0], self.n, *x.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n, **super().get_config()}

    def extra_repr(self) -> str:
        return f"n={self.n}"
