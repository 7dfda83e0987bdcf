"""Recurrent sequence layers: ``SimpleRNN``, ``LSTM``, ``GRU`` (batch-first ``(N, T, features)``).

Each layer runs its cell over the time axis, the decks' "time unfolding". Two paths give the
same result:

- the **fused** path calls torch's RNN kernels (``torch._VF.rnn_tanh/rnn_relu/lstm/gru``,
  what ``torch.nn.RNN/LSTM/GRU`` call) with the layer's own parameters. It is taken when the
  configuration is one torch has a kernel for: tanh (or ReLU for ``SimpleRNN``) and sigmoid
  gates, no peepholes, no recurrent dropout (in training), and no mask or a right-padding
  mask (given as ``lengths``, or as a mask whose valid steps come first);
- the **step** path loops over time in Python with lamina's cells
  (:mod:`lamina.layers.recurrent.cells`): any activation, peepholes, recurrent dropout,
  arbitrary masks.

Masking: pass ``lengths`` (``(N,)`` valid lengths of right-padded sequences) or ``mask``
(``(N, T)`` booleans, True for real steps), or put an ``Embedding(mask_zero=True)`` right
before the layer (its output carries the mask). A masked step leaves the state unchanged and
outputs zeros, so the last output (and ``return_state``) is the state after the last real
step: running a padded batch equals running each sequence alone. Masks and lengths cost one
host sync per call (to choose the kernel); unmasked calls have none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lamina._validation import check_probability
from lamina.errors import message
from lamina.layers.input_spec import InputSpec, format_shape
from lamina.layers.recurrent.cells import _RecurrentWeights

__all__ = ["SimpleRNN", "LSTM", "GRU", "RecurrentLayer", "resolve_mask", "reverse_sequences"]

_SEQUENCE_HINT = ("Recurrent layers take batch-first sequences (N, T, features); use "
                  "Reshape((T, features)) or RepeatVector(T) before it.")


def _as_host_tensor(value, name: str, owner: str) -> Tensor:
    """``lengths``/``mask`` given as a tensor, numpy array or (nested) list, on the CPU."""
    try:
        t = value if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as err:
        raise TypeError(message(f"Argument `{name}` of {owner} must be a tensor, numpy array "
                                f"or list of numbers.", received=f"{name} of type "
                                f"{type(value).__name__} ({err})")) from None
    if t.is_complex():
        raise TypeError(message(f"Argument `{name}` of {owner} must hold "
                                f"{'booleans' if name == 'mask' else 'integers'}.",
                                received=f"{name} of dtype {t.dtype}"))
    return t.cpu()


def _whole(t: Tensor) -> bool:
    """Whether every value of the CPU tensor ``t`` is a whole number (no NaN, no fraction)."""
    return not t.is_floating_point() or bool((t == t.trunc()).all())


def resolve_mask(x: Tensor, mask=None, lengths=None, owner: str = "layer"):
    """Normalize masking arguments to ``(lengths, mask)`` with at most one not None.

    ``lengths`` (a CPU int64 tensor) is returned for right-padded sequences, ``mask`` (bool
    ``(N, T)``) for any other pattern; both are None when every step is real. Without either
    argument, the mask attached to ``x`` by ``Embedding(mask_zero=True)`` is used. Each may
    be a tensor, a numpy array or a list; ``lengths`` must be whole numbers and ``mask``
    booleans (or 0/1), else a ``ValueError`` says so (nothing is truncated).

    Example:
        >>> x = torch.zeros(2, 3, 1)
        >>> resolve_mask(x, mask=[[1, 1, 0], [1, 0, 0]])
        (tensor([2, 1]), None)
    """
    n, steps = x.shape[0], x.shape[1]
    if mask is None and lengths is None:
        mask = getattr(x, "_lamina_mask", None)
    if mask is not None and lengths is not None:
        raise ValueError(message(f"{owner} takes `mask` or `lengths`, not both.",
                                 fix="Pass only `lengths=` for right-padded sequences."))
    if lengths is not None:
        given = _as_host_tensor(lengths, "lengths", owner).reshape(-1)
        lengths = given.to(torch.int64) if _whole(given) else None
        if (lengths is None or lengths.shape[0] != n
                or bool(((lengths < 0) | (lengths > steps)).any())):
            raise ValueError(message(
                f"Argument `lengths` of {owner} must hold {n} integers in [0, {steps}].",
                received=f"lengths={given.tolist()}"))
        return (None, None) if bool((lengths == steps).all()) else (lengths, None)
    if mask is None:
        return None, None
    device = x.device
    if not isinstance(mask, Tensor):
        mask = _as_host_tensor(mask, "mask", owner)
    if tuple(mask.shape) != (n, steps):
        raise ValueError(message(f"Argument `mask` of {owner} must have shape (N, T) = "
                                 f"({n}, {steps}).", received=f"mask of shape "
                                 f"{tuple(mask.shape)}"))
    host = _as_host_tensor(mask, "mask", owner)
    if host.dtype != torch.bool:
        if not bool(((host == 0) | (host == 1)).all()):
            raise ValueError(message(
                f"Argument `mask` of {owner} must hold booleans (or 0 and 1): True at real "
                f"steps.", received=f"a mask with values {host.unique().tolist()[:5]}"))
        host = host.to(torch.bool)
    if bool(host.all()):
        return None, None
    host = host.to(torch.int8)
    if bool((host[:, 1:] <= host[:, :-1]).all()):
        return host.sum(1).to(torch.int64), None
    return None, mask.to(device=device, dtype=torch.bool)


def reverse_sequences(seq: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Reverse the time axis (axis 1); with ``lengths``, only each sequence's valid prefix.

    Example:
        >>> reverse_sequences(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2]))
        tensor([[3, 2, 1],
                [5, 4, 0]])
    """
    if lengths is None:
        return seq.flip(1)
    t = torch.arange(seq.shape[1], device=seq.device)
    lens = lengths.to(seq.device).unsqueeze(1)
    index = torch.where(t < lens, lens - 1 - t, t)
    index = index.reshape(*index.shape, *([1] * (seq.dim() - 2))).expand_as(seq)
    return seq.gather(1, index)


class RecurrentLayer(_RecurrentWeights):
    """Base of ``SimpleRNN``/``LSTM``/``GRU``: the time loop, masking, state, both paths.

    Subclasses only fix the cell type (``_kind``, ``_gates``) and the constructor.
    """

    _suffix = "_l0"
    _sample_ndim = 2

    def _setup_sequence(self, return_sequences, return_state, go_backwards, stateful,
                        dropout, recurrent_dropout) -> None:
        owner = f"{type(self).__name__} '{self.name}'"
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.dropout = check_probability("dropout", dropout, owner)
        self.recurrent_dropout = check_probability("recurrent_dropout", recurrent_dropout, owner)
        self.states: tuple[Tensor, ...] | None = None
        #: set by :func:`lamina.recurrent.carry_gradients`: keep the graph in ``states``.
        self.keep_state_graph = False

    # -- shapes ------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        features = self.input_shape[-1]
        self._create_weights(features)
        self.input_spec = InputSpec(ndim=2, axes={-1: features}, hint=_SEQUENCE_HINT)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.return_sequences:
            return (int(input_shape[0]), self.units)
        return (self.units,)

    def _check_input(self, x: Tensor) -> None:
        w_ih = self.weights()[0]
        if x.dim() != 3 or x.shape[2] != w_ih.shape[1]:
            raise ValueError(message(
                f"Layer '{self.name}' expects input of shape (N, T, {w_ih.shape[1]}) "
                f"(batch, time steps, features).",
                received=f"input of shape {format_shape(tuple(x.shape)[1:])}",
                fix=_SEQUENCE_HINT))
        if x.dtype != w_ih.dtype:
            raise TypeError(message(
                f"Layer '{self.name}' expects input of dtype {w_ih.dtype} (its weights').",
                received=f"input of dtype {x.dtype}",
                fix=f"Cast it, `x.to({w_ih.dtype})`, or put an Embedding first for token ids."))
        if x.shape[1] == 0:
            raise ValueError(message(
                f"Layer '{self.name}' expects sequences of at least 1 time step: a sequence "
                f"of none has no last output or state.",
                received=f"input of shape {format_shape(tuple(x.shape)[1:])}",
                fix="Drop empty sequences before the call; within a batch, give a sequence "
                    "length 0 through `lengths=` or `mask=` instead."))

    # -- state -------------------------------------------------------------------------
    def reset_states(self, states=None) -> None:
        """Forget the carried state of a ``stateful`` layer (or set it to ``states``)."""
        self.states = None if states is None else self._as_state(states)

    def _as_state(self, state) -> tuple[Tensor, ...]:
        state = tuple(state) if isinstance(state, (tuple, list)) else (state,)
        if len(state) != self.state_size():
            raise ValueError(message(
                f"Layer '{self.name}' has {self.state_size()} state tensor(s).",
                received=f"{len(state)} initial state tensor(s)"))
        return state

    def _initial_state(self, x: Tensor, initial_state) -> tuple[Tensor, ...]:
        n = x.shape[0]
        if initial_state is None and self.stateful and self.states is not None:
            initial_state = self.states
            if initial_state[0].shape[0] != n:
                raise ValueError(message(
                    f"Stateful layer '{self.name}' carries a state for batches of "
                    f"{initial_state[0].shape[0]} sequences.", received=f"a batch of {n}",
                    fix="Keep the batch size fixed (drop the last partial batch), or call "
                        "`layer.reset_states()` first."))
        if initial_state is None:
            return self.zero_state(n, x)
        state = self._as_state(initial_state)
        for s in state:
            if tuple(s.shape) != (n, self.units):
                raise ValueError(message(
                    f"Initial states of layer '{self.name}' must have shape (N, units) = "
                    f"({n}, {self.units}).", received=f"a state of shape {tuple(s.shape)}"))
        return tuple(s.to(x.dtype) for s in state)

    # -- the forward pass --------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, *, lengths=None,
                initial_state=None):
        """Run the layer over ``x`` ``(N, T, features)``.

        Args:
            x: the input sequences.
            mask: ``(N, T)`` booleans, True at real steps (see the module docstring).
            lengths: ``(N,)`` valid lengths of right-padded sequences (instead of ``mask``).
            initial_state: ``h0`` (or ``(h0, c0)`` for the LSTM), each ``(N, units)``;
                defaults to zeros (or to the carried state of a ``stateful`` layer).

        Returns:
            The last output ``(N, units)`` or, with ``return_sequences``, all outputs
            ``(N, T, units)``; with ``return_state``, a tuple ``(output, h)`` or
            ``(output, h, c)``.
        """
        self._check_input(x)
        lengths, mask = resolve_mask(x, mask, lengths, f"Layer '{self.name}'")
        state = self._initial_state(x, initial_state)
        if self.go_backwards:
            x = reverse_sequences(x, lengths)
            mask = None if mask is None else mask.flip(1)
        if self.dropout and self.training:
            keep = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1.0 - self.dropout)
            x = x * keep / (1.0 - self.dropout)
        if self._fusable(lengths, mask):
            out, state = self._fused(x, state, lengths)
        else:
            if lengths is not None:
                mask = torch.arange(x.shape[1], device=x.device) < lengths.to(x.device)[:, None]
            out, state = self._loop(x, state, mask)
        if self.stateful:
            self.states = state if self.keep_state_graph else tuple(s.detach() for s in state)
        y = out if self.return_sequences else state[0]
        return (y, *state) if self.return_state else y

    def _fusable(self, lengths, mask) -> bool:
        """Whether torch's fused kernel computes exactly this configuration."""
        acts_ok = (self.activation_name in (("tanh", "relu") if self._kind == "SimpleRNN"
                                            else ("tanh",))
                   and (not self._has_recurrent_activation
                        or self.recurrent_activation_name == "sigmoid"))
        return (acts_ok and not self.peephole and mask is None
                and not (self.recurrent_dropout and self.training)
                and (lengths is None or bool(lengths.min() > 0)))

    def _fused(self, x: Tensor, state: tuple, lengths: Tensor | None):
        w_ih, w_hh, b_ih, b_hh, _ = self.weights()
        flat = [w_ih, w_hh] + ([b_ih, b_hh] if self.use_bias else [])
        hx = tuple(s.unsqueeze(0).contiguous() for s in state)
        if self._kind == "LSTM":
            kernel = _VF.lstm
        elif self._kind == "GRU":
            kernel = _VF.gru
        else:
            kernel = _VF.rnn_tanh if self.activation_name == "tanh" else _VF.rnn_relu
        hx_arg = hx if self._kind == "LSTM" else hx[0]
        if lengths is None:
            out, *h_n = kernel(x, hx_arg, flat, self.use_bias, 1, 0.0, self.training, False,
                               True)
            return out, tuple(h[0] for h in h_n)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        order = packed.sorted_indices
        hx = tuple(h.index_select(1, order) for h in hx)
        hx_arg = hx if self._kind == "LSTM" else hx[0]
        data, *h_n = kernel(packed.data, packed.batch_sizes, hx_arg, flat, self.use_bias, 1,
                            0.0, self.training, False)
        out, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, order, packed.unsorted_indices),
            batch_first=True, total_length=x.shape[1])
        return out, tuple(h[0].index_select(0, packed.unsorted_indices) for h in h_n)

    def _loop(self, x: Tensor, state: tuple, mask: Tensor | None):
        """The step path: lamina's cell applied at each time step."""
        w_ih, _, b_ih, _, _ = self.weights()
        gx = torch.nn.functional.linear(x, w_ih, b_ih)
        rec_mask = None
        if self.recurrent_dropout and self.training:
            rate = self.recurrent_dropout
            rec_mask = x.new_empty(x.shape[0], self.units).bernoulli_(1.0 - rate) / (1.0 - rate)
        outputs = []
        for t in range(x.shape[1]):
            new = self.step(gx[:, t], state, rec_mask)
            if mask is not None:
                m = mask[:, t, None]
                new = tuple(torch.where(m, a, b) for a, b in zip(new, state))
                outputs.append(torch.where(m, new[0], 0.0))
            else:
                outputs.append(new[0])
            state = new
        if not outputs:
            return x.new_zeros(x.shape[0], 0, self.units), state
        return torch.stack(outputs, dim=1), state

    # -- description -------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {**self._weights_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, **super().get_config()}

    def extra_repr(self) -> str:
        parts = [self._weights_repr()]
        for key in ("return_sequences", "return_state", "go_backwards", "stateful"):
            if getattr(self, key):
                parts.append(f"{key}=True")
        for key in ("dropout", "recurrent_dropout"):
            if getattr(self, key):
                parts.append(f"{key}={getattr(self, key)}")
        return ", ".join(parts)


_ARGS_DOC = """
        use_bias: whether to use ``bias_ih_l0`` and ``bias_hh_l0``. Defaults to True.
        kernel_initializer: for ``weight_ih_l0``. Defaults to ``"glorot_uniform"``.
        recurrent_initializer: for ``weight_hh_l0``: ``"orthogonal"`` (default, as Keras)
            or ``"identity"`` (an identity block per gate).
        bias_initializer: for ``bias_ih_l0`` (``bias_hh_l0`` starts at zero). Defaults to
            ``"zeros"``.
        return_sequences: return the outputs at every step ``(N, T, units)`` (many-to-many)
            instead of the last one ``(N, units)`` (many-to-one). Defaults to False.
        return_state: also return the final state(s). Defaults to False.
        go_backwards: process each sequence from its last (real) step to its first; the
            returned sequence is in that reversed order. Defaults to False.
        stateful: carry the final state of a call over as the initial state of the next
            (same batch size; detached, so no gradient crosses calls; ``reset_states()``
            forgets it). Defaults to False.
        dropout: fraction of the input features dropped, one mask per sequence shared by
            all steps (Gal & Ghahramani, 2016, as Keras). Defaults to 0.
        recurrent_dropout: the same on ``h_{t-1}`` in the recurrent product; forces the
            step path while training. Defaults to 0.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties for ``fit``.
        name: layer name.

    Input shape:
        ``(N, T, features)``, batch first; optional ``mask=(N, T)`` or ``lengths=(N,)``.
    Output shape:
        ``(N, units)``, or ``(N, T, units)`` with ``return_sequences``; with
        ``return_state`` a tuple whose first item is that output."""


class SimpleRNN(RecurrentLayer):
    """Elman's recurrent layer: ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    The decks' canonical recurrent net with a single tanh (or ReLU) layer as the
    feedforward part; ``activation="relu", recurrent_initializer="identity"`` is the IRNN
    (Le, Jaitly & Hinton, 2015). Parameters ``weight_ih_l0, weight_hh_l0, bias_ih_l0,
    bias_hh_l0`` as in ``torch.nn.RNN``.

    Args:
        units: size of the state ``h`` (>= 1).
        activation: ``f``: ``"tanh"`` (default) or ``"relu"`` use torch's fused kernel; any
            other name or callable uses the step path.{args}

    Example:
        >>> import torch
        >>> rnn = SimpleRNN(8, return_sequences=True)
        >>> rnn(torch.randn(4, 10, 3)).shape
        torch.Size([4, 10, 8])
    """

    def __init__(self, units: int, activation="tanh", *, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 name: str | None = None):
        super().__init__(name=name)
        self._setup(units, activation, "sigmoid", use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer)
        self._setup_sequence(return_sequences, return_state, go_backwards, stateful, dropout,
                             recurrent_dropout)


class LSTM(RecurrentLayer):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997; forget gate of Gers 2000).

    The decks' LSTM cell: the state ``c`` has a linear self-loop weighted by the forget gate,
    the input gate admits the squashed input ``g``, the output gate shuts the output off:
    ``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``. Keras's defaults: forget-gate bias 1
    (``unit_forget_bias``), orthogonal recurrent weights. ``peephole=True`` feeds the state
    into the gates ("the state unit can also be used as an extra input to the gating
    units"), with parameter ``weight_peephole_l0`` of shape ``(3, units)`` (rows i, f, o).
    Parameters otherwise as ``torch.nn.LSTM`` (gates i, f, g, o stacked in
    ``weight_ih_l0 (4*units, features)``), so state dicts move both ways.

    Args:
        units: size of ``h`` and ``c`` (>= 1).
        activation: for ``g`` and ``c``. Defaults to ``"tanh"``.
        recurrent_activation: the gates'. Defaults to ``"sigmoid"``.
        unit_forget_bias: forget-gate bias starts at 1. Defaults to True.
        peephole: add peephole connections (step path). Defaults to False.{args}

    Example:
        >>> import torch
        >>> lstm = LSTM(8, return_state=True)
        >>> y, h, c = lstm(torch.randn(4, 10, 3))
        >>> y.shape, bool((y == h).all()), c.shape
        (torch.Size([4, 8]), True, torch.Size([4, 8]))
    """

    _gates, _kind, _has_recurrent_activation = 4, "LSTM", True

    def __init__(self, units: int, activation="tanh", *, recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, peephole: bool = False,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, name: str | None = None):
        super().__init__(name=name)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer, unit_forget_bias, peephole)
        self._setup_sequence(return_sequences, return_state, go_backwards, stateful, dropout,
                             recurrent_dropout)


class GRU(RecurrentLayer):
    """Gated Recurrent Unit layer (Cho et al., 2014), torch's and Keras's ``reset_after`` form.

    ``h_t = (1 - z)*n + z*h_{t-1}`` with ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``;
    parameters as ``torch.nn.GRU`` (gates r, z, n).

    Args:
        units: size of ``h`` (>= 1).
        activation: for ``n``. Defaults to ``"tanh"``.
        recurrent_activation: the gates'. Defaults to ``"sigmoid"``.{args}

    Example:
        >>> import torch
        >>> GRU(6, go_backwards=True)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 6])
    """

    _gates, _kind, _has_recurrent_activation = 3, "GRU", True

    def __init__(self, units: int, activation="tanh", *, recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, name: str | None = None):
        super().__init__(name=name)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer)
        self._setup_sequence(return_sequences, return_state, go_backwards, stateful, dropout,
                             recurrent_dropout)


for _cls in (SimpleRNN, LSTM, GRU):
    _cls.__doc__ = _cls.__doc__.replace("{args}", _ARGS_DOC)
