"""One time step of each recurrent cell: ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``.

A cell is the decks' "non-recurrent network" of the canonical form: it maps the input
``x(t)`` and the delayed state ``X(t-1)`` to the new state ``X(t)``. Cells take one step at a
time and are what a hand-written loop uses (a decoder that feeds back its own output, an
online learner); the sequence layers ``SimpleRNN``/``LSTM``/``GRU`` run whole sequences.

Parameters are named and laid out as ``torch.nn.RNNCell/LSTMCell/GRUCell`` (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``; gates i, f, g, o for the LSTM and r, z, n for the
GRU), so ``cell.load_state_dict(torch_cell.state_dict())`` works both ways. The maths are the
pure functions of :mod:`lamina.functional.recurrent`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from lamina import activations, initializers, regularizers
from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.functional import recurrent as R
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "identity_initializer"]


def identity_initializer(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Identity in every ``(units, units)`` block of a recurrent weight (Le et al.'s IRNN).

    Example:
        >>> identity_initializer(torch.empty(4, 2))
        tensor([[1., 0.],
                [0., 1.],
                [1., 0.],
                [0., 1.]])
    """
    units = tensor.shape[1]
    with torch.no_grad():
        for block in tensor.split(units, dim=0):
            nn.init.eye_(block)
    return tensor


_LOCAL_INITIALIZERS = {"identity": identity_initializer, "eye": identity_initializer}


def resolve_initializer(identifier):
    """An initializer from ``lamina.initializers`` or the recurrent-only ``"identity"``.

    Example:
        >>> resolve_initializer("identity") is identity_initializer
        True
    """
    if isinstance(identifier, str) and identifier.lower() in _LOCAL_INITIALIZERS:
        return _LOCAL_INITIALIZERS[identifier.lower()]
    return initializers.get(identifier)


def serialize_initializer(init) -> Any:
    """Config value of an initializer resolved by :func:`resolve_initializer`."""
    if init is identity_initializer:
        return "identity"
    return initializers.serialize(init)


class _RecurrentWeights(Layer):
    """Shared weights of the cells and the sequence layers: creation, init, config, penalties.

    Subclasses set ``_gates`` (1, 4 or 3) and ``_kind``; the sequence layers set
    ``_suffix = "_l0"`` so their parameters carry ``torch.nn.RNN``'s names.
    """

    _gates = 1
    _kind = "SimpleRNN"
    _suffix = ""
    _has_recurrent_activation = False
    _sample_ndim = 1

    def _setup(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
               recurrent_initializer, bias_initializer, kernel_regularizer,
               recurrent_regularizer, bias_regularizer, unit_forget_bias=False,
               peephole=False) -> None:
        owner = f"{type(self).__name__} '{self.name}'"
        self.input_spec = InputSpec(ndim=self._sample_ndim)
        self.units = check_positive_int("units", units, owner)
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.recurrent_activation_name = activations.serialize(self.recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve_initializer(kernel_initializer)
        self.recurrent_initializer = resolve_initializer(recurrent_initializer)
        self.bias_initializer = resolve_initializer(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.peephole = bool(peephole)

    # -- weights ----------------------------------------------------------------------
    def _create_weights(self, in_features: int) -> None:
        g, u, sfx = self._gates * self.units, self.units, self._suffix
        self.register_parameter(f"weight_ih{sfx}", nn.Parameter(torch.empty(g, in_features)))
        self.register_parameter(f"weight_hh{sfx}", nn.Parameter(torch.empty(g, u)))
        if self.use_bias:
            self.register_parameter(f"bias_ih{sfx}", nn.Parameter(torch.empty(g)))
            self.register_parameter(f"bias_hh{sfx}", nn.Parameter(torch.empty(g)))
        if self.peephole:
            self.register_parameter(f"weight_peephole{sfx}", nn.Parameter(torch.empty(3, u)))
        self.reset_parameters()

    def weights(self) -> tuple:
        """``(weight_ih, weight_hh, bias_ih, bias_hh, peephole)``; absent ones are None."""
        sfx = self._suffix
        return tuple(getattr(self, f"{n}{sfx}", None)
                     for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_peephole"))

    def reset_parameters(self) -> None:
        """``weight_ih`` from ``kernel_initializer`` (Glorot uniform), ``weight_hh`` from
        ``recurrent_initializer`` (orthogonal), ``bias_ih`` from ``bias_initializer`` (zeros)
        with the LSTM forget-gate block set to 1 when ``unit_forget_bias``, ``bias_hh`` zeros,
        peepholes ``U(-1/sqrt(units), 1/sqrt(units))``."""
        w_ih, w_hh, b_ih, b_hh, peep = self.weights()
        if w_ih is None:
            return
        self.kernel_initializer(w_ih)
        self.recurrent_initializer(w_hh)
        with torch.no_grad():
            if b_ih is not None:
                self.bias_initializer(b_ih)
                b_hh.zero_()
                if self.unit_forget_bias:
                    b_ih[self.units:2 * self.units] = 1.0
            if peep is not None:
                bound = 1.0 / math.sqrt(self.units)
                peep.uniform_(-bound, bound)

    def regularization_penalties(self):
        """``(regularizer, tensor)`` pairs that ``fit`` adds to the loss."""
        w_ih, w_hh, b_ih, b_hh, _ = self.weights()
        pairs = [(self.kernel_regularizer, w_ih), (self.recurrent_regularizer, w_hh),
                 (self.bias_regularizer, b_ih), (self.bias_regularizer, b_hh)]
        return [(reg, t) for reg, t in pairs if reg is not None and t is not None]

    # -- one step ----------------------------------------------------------------------
    def state_size(self) -> int:
        """Number of state tensors: 2 for the LSTM (``h``, ``c``), 1 otherwise."""
        return 2 if self._kind == "LSTM" else 1

    def zero_state(self, batch_size: int, like: Tensor) -> tuple[Tensor, ...]:
        """All-zero initial state: a tuple of ``(batch_size, units)`` tensors."""
        z = like.new_zeros(batch_size, self.units)
        return (z,) * self.state_size()

    def step(self, gx: Tensor, state: tuple[Tensor, ...],
             recurrent_mask: Tensor | None = None) -> tuple[Tensor, ...]:
        """One step from the projected input ``gx = x W_ih^T + b_ih``; returns the new state
        (its first tensor is the output ``h_t``). ``recurrent_mask`` multiplies ``h_{t-1}`` in
        the recurrent product (recurrent dropout)."""
        _, w_hh, _, b_hh, peep = self.weights()
        h = state[0]
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        if self._kind == "LSTM":
            return R.lstm_step(gx, (h_rec, state[1]), w_hh, b_hh, peep, self.activation,
                               self.recurrent_activation)
        if self._kind == "GRU":
            return (R.gru_step(gx, h, w_hh, b_hh, self.activation, self.recurrent_activation,
                               recurrent_mask),)
        return (R.simple_rnn_step(gx, h_rec, w_hh, b_hh, self.activation),)

    # -- description -------------------------------------------------------------------
    def _weights_config(self) -> dict[str, Any]:
        config = {"units": self.units, "activation": self.activation_name}
        if self._has_recurrent_activation:
            config["recurrent_activation"] = self.recurrent_activation_name
        config.update(
            use_bias=self.use_bias,
            kernel_initializer=serialize_initializer(self.kernel_initializer),
            recurrent_initializer=serialize_initializer(self.recurrent_initializer),
            bias_initializer=serialize_initializer(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer))
        if self._kind == "LSTM":
            config.update(unit_forget_bias=self.unit_forget_bias, peephole=self.peephole)
        return config

    def _weights_repr(self) -> str:
        w_ih = self.weights()[0]
        parts = [f"{'?' if w_ih is None else w_ih.shape[1]} -> {self.units}"]
        if self.activation_name != "tanh":
            parts.append(f"activation={self.activation_name}")
        if self._has_recurrent_activation and self.recurrent_activation_name != "sigmoid":
            parts.append(f"recurrent_activation={self.recurrent_activation_name}")
        if not self.use_bias:
            parts.append("use_bias=False")
        if self.recurrent_initializer is identity_initializer:
            parts.append("recurrent_initializer=identity")
        if self.peephole:
            parts.append("peephole=True")
        return ", ".join(parts)


class _Cell(_RecurrentWeights):
    """A cell: ``build`` from ``(features,)``, ``forward(x_t, state) -> new state``."""

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        features = self.input_shape[-1]
        self._create_weights(features)
        self.input_spec = InputSpec(ndim=1, axes={-1: features})

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (self.units,)

    def _state(self, x: Tensor, state) -> tuple[Tensor, ...]:
        if state is None:
            return self.zero_state(x.shape[0], x)
        return tuple(state) if isinstance(state, (tuple, list)) else (state,)

    def _gx(self, x: Tensor) -> Tensor:
        w_ih, _, b_ih, _, _ = self.weights()
        if x.dim() != 2 or x.shape[1] != w_ih.shape[1]:
            raise ValueError(message(
                f"Cell '{self.name}' expects input of shape (N, {w_ih.shape[1]}) (one time "
                f"step).", received=f"input of shape {tuple(x.shape)}"))
        return nn.functional.linear(x, w_ih, b_ih)

    def get_config(self) -> dict[str, Any]:
        return {**self._weights_config(), **super().get_config()}

    def extra_repr(self) -> str:
        return self._weights_repr()


class SimpleRNNCell(_Cell):
    """Elman cell: ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (``nn.RNNCell``).

    Args:
        units: size of the state ``h`` (>= 1).
        activation: ``f``; ``"tanh"`` (default) or ``"relu"`` as torch, or any name or callable.
        use_bias: whether to use ``b_ih`` and ``b_hh``. Defaults to True.
        kernel_initializer: for ``W_ih``. Defaults to ``"glorot_uniform"``.
        recurrent_initializer: for ``W_hh``: ``"orthogonal"`` (default) or ``"identity"``
            (with ``activation="relu"``: the IRNN of Le, Jaitly & Hinton, 2015).
        bias_initializer: for ``b_ih`` (``b_hh`` starts at zero). Defaults to ``"zeros"``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties for ``fit``.
        name: layer name.

    Input shape:
        ``x_t``: ``(N, features)``; state ``h_{t-1}``: ``(N, units)`` (zeros if omitted).
    Output shape:
        ``h_t``: ``(N, units)``.

    Example:
        >>> import torch
        >>> cell = SimpleRNNCell(4)
        >>> h = cell(torch.ones(2, 3)); h = cell(torch.ones(2, 3), h); h.shape
        torch.Size([2, 4])
    """

    def __init__(self, units: int, activation="tanh", *, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, name: str | None = None):
        super().__init__(name=name)
        self._setup(units, activation, "sigmoid", use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        return self.step(self._gx(x), self._state(x, h))[0]


class LSTMCell(_Cell):
    """LSTM cell with input, forget and output gates, optionally with peepholes (``nn.LSTMCell``).

    ``c_t = f*c_{t-1} + i*g`` and ``h_t = o*tanh(c_t)``, the gates ``i, f, o`` sigmoid units
    of ``[x_t, h_{t-1}]`` (and of the state ``c`` with ``peephole=True``: the decks' "state
    unit used as an extra input to the gating units"). See
    :func:`lamina.functional.recurrent.lstm_step` for the equations.

    Args:
        units: size of ``h`` and ``c`` (>= 1).
        activation: squashing of the cell input ``g`` and of ``c``. Defaults to ``"tanh"``.
        recurrent_activation: the gates' nonlinearity. Defaults to ``"sigmoid"``.
        use_bias: whether to use biases. Defaults to True.
        kernel_initializer: for ``W_ih``. Defaults to ``"glorot_uniform"``.
        recurrent_initializer: for ``W_hh``. Defaults to ``"orthogonal"``.
        bias_initializer: for ``b_ih``. Defaults to ``"zeros"``.
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al., 2015; Keras's
            default). Defaults to True.
        peephole: add the diagonal peephole weights ``weight_peephole`` (rows i, f, o).
            Defaults to False.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties for ``fit``.
        name: layer name.

    Input shape:
        ``x_t``: ``(N, features)``; state ``(h, c)``: two ``(N, units)`` tensors (zeros if
        omitted).
    Output shape:
        ``(h_t, c_t)``, each ``(N, units)``.

    Example:
        >>> import torch
        >>> h, c = LSTMCell(4)(torch.ones(2, 3))
        >>> h.shape, c.shape
        (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    _gates, _kind, _has_recurrent_activation = 4, "LSTM", True

    def __init__(self, units: int, activation="tanh", *, recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, peephole: bool = False,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 name: str | None = None):
        super().__init__(name=name)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer, unit_forget_bias, peephole)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (self.units,)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        return self.step(self._gx(x), self._state(x, state))


class GRUCell(_Cell):
    """Gated recurrent unit, reset gate applied after the recurrent product (``nn.GRUCell``).

    ``r = s(.)``, ``z = s(.)``, ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``,
    ``h_t = (1 - z)*n + z*h_{t-1}`` (Cho et al., 2014; Keras's ``reset_after=True``).

    Args:
        units: size of ``h`` (>= 1).
        activation: for ``n``. Defaults to ``"tanh"``.
        recurrent_activation: for the gates. Defaults to ``"sigmoid"``.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, name: as
            :class:`SimpleRNNCell`.

    Input shape:
        ``x_t``: ``(N, features)``; state ``h_{t-1}``: ``(N, units)``.
    Output shape:
        ``h_t``: ``(N, units)``.

    Example:
        >>> import torch
        >>> GRUCell(5)(torch.ones(2, 3)).shape
        torch.Size([2, 5])
    """

    _gates, _kind, _has_recurrent_activation = 3, "GRU", True

    def __init__(self, units: int, activation="tanh", *, recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 name: str | None = None):
        super().__init__(name=name)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        return self.step(self._gx(x), self._state(x, h))[0]
