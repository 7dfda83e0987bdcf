"""Recurrent maths as pure functions: one time step of each cell, and the RTRL recursion.

Decks 000/001 write a recurrent net in canonical form: a feedforward net maps the external
input ``U(t)`` and the delayed state ``X(t-1)`` to the new state ``X(t)``. Each ``*_step``
function below is that feedforward net for one cell type. They take the input projection
``gx = x W_ih^T + b_ih`` already computed (for a whole sequence it is one matrix product,
done once before the time loop), the previous state and the recurrent weights; the
``*_cell`` functions compute the projection too. Weights are laid out as in
``torch.nn.RNN/LSTM/GRU``: gates stacked along the first axis in the order i, f, g, o (LSTM)
and r, z, n (GRU).

Example:
    >>> import torch
    >>> x, h = torch.ones(2, 3), torch.zeros(2, 4)
    >>> w_ih, w_hh = torch.full((4, 3), 0.1), torch.zeros(4, 4)
    >>> simple_rnn_cell(x, h, w_ih, w_hh).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "simple_rnn_step",
    "simple_rnn_cell",
    "lstm_step",
    "lstm_cell",
    "gru_step",
    "gru_cell",
    "tbptt_windows",
    "rtrl_simple_rnn_step",
    "activation_derivative",
]

Activation = Callable[[Tensor], Tensor]


def simple_rnn_step(gx: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None = None,
                    activation: Activation = torch.tanh) -> Tensor:
    """Elman step from a projected input: ``h_t = f(gx_t + h_{t-1} W_hh^T + b_hh)``.

    Example:
        >>> simple_rnn_step(torch.zeros(1, 2), torch.ones(1, 2), torch.eye(2)).shape
        torch.Size([1, 2])
    """
    return activation(gx + F.linear(h, weight_hh, bias_hh))


def simple_rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                    bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
                    activation: Activation = torch.tanh) -> Tensor:
    """Elman step: ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (``torch.nn.RNNCell``).

    Example:
        >>> simple_rnn_cell(torch.ones(1, 3), torch.zeros(1, 2), torch.ones(2, 3),
        ...                 torch.zeros(2, 2), activation=torch.relu)
        tensor([[3., 3.]])
    """
    return simple_rnn_step(F.linear(x, weight_ih, bias_ih), h, weight_hh, bias_hh, activation)


def lstm_step(gx: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor,
              bias_hh: Tensor | None = None, peephole: Tensor | None = None,
              activation: Activation = torch.tanh,
              recurrent_activation: Activation = torch.sigmoid) -> tuple[Tensor, Tensor]:
    """LSTM step from a projected input; returns ``(h_t, c_t)``.

    With ``a = gx_t + h_{t-1} W_hh^T + b_hh`` split into ``a_i, a_f, a_g, a_o``:
    ``i = s(a_i + p_i*c_{t-1})``, ``f = s(a_f + p_f*c_{t-1})``, ``g = f_act(a_g)``,
    ``c_t = f*c_{t-1} + i*g``, ``o = s(a_o + p_o*c_t)``, ``h_t = o*f_act(c_t)``, where ``s`` is
    ``recurrent_activation`` (sigmoid) and ``f_act`` is ``activation`` (tanh). The peephole
    terms ``p`` (a ``(3, units)`` tensor, rows i, f, o) are the decks' "state unit used as an
    extra input to the gating units" (Gers & Schmidhuber, 2000); without them this is
    ``torch.nn.LSTMCell``.

    Example:
        >>> h, c = lstm_step(torch.zeros(1, 8), (torch.zeros(1, 2), torch.ones(1, 2)),
        ...                  torch.zeros(8, 2))
        >>> c  # f = i = 0.5, g = 0: half the old state is kept
        tensor([[0.5000, 0.5000]])
    """
    h, c = state
    a_i, a_f, a_g, a_o = (gx + F.linear(h, weight_hh, bias_hh)).chunk(4, dim=-1)
    if peephole is not None:
        a_i = a_i + peephole[0] * c
        a_f = a_f + peephole[1] * c
    c = recurrent_activation(a_f) * c + recurrent_activation(a_i) * activation(a_g)
    if peephole is not None:
        a_o = a_o + peephole[2] * c
    return recurrent_activation(a_o) * activation(c), c


def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
              peephole: Tensor | None = None, activation: Activation = torch.tanh,
              recurrent_activation: Activation = torch.sigmoid) -> tuple[Tensor, Tensor]:
    """LSTM step from the raw input ``x_t``; see :func:`lstm_step`.

    Example:
        >>> x, s = torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4))
        >>> h, c = lstm_cell(x, s, torch.randn(16, 3), torch.randn(16, 4))
        >>> h.shape, c.shape
        (torch.Size([2, 4]), torch.Size([2, 4]))
    """
    return lstm_step(F.linear(x, weight_ih, bias_ih), state, weight_hh, bias_hh, peephole,
                     activation, recurrent_activation)


def gru_step(gx: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None = None,
             activation: Activation = torch.tanh,
             recurrent_activation: Activation = torch.sigmoid,
             recurrent_mask: Tensor | None = None) -> Tensor:
    """GRU step from a projected input (torch's and Keras's ``reset_after`` form).

    ``r = s(gx_r + gh_r)``, ``z = s(gx_z + gh_z)``, ``n = f(gx_n + r*gh_n)``,
    ``h_t = (1 - z)*n + z*h_{t-1}``, with ``gh = (m*h_{t-1}) W_hh^T + b_hh``, where the
    recurrent-dropout mask ``m`` (default 1) touches only the recurrent product.

    Example:
        >>> gru_step(torch.zeros(1, 6), torch.ones(1, 2), torch.zeros(6, 2))  # z = 0.5, n = 0
        tensor([[0.5000, 0.5000]])
    """
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_rec = h if recurrent_mask is None else h * recurrent_mask
    h_r, h_z, h_n = F.linear(h_rec, weight_hh, bias_hh).chunk(3, dim=-1)
    r = recurrent_activation(x_r + h_r)
    z = recurrent_activation(x_z + h_z)
    n = activation(x_n + r * h_n)
    return n + z * (h - n)


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
             activation: Activation = torch.tanh,
             recurrent_activation: Activation = torch.sigmoid) -> Tensor:
    """GRU step from the raw input ``x_t`` (``torch.nn.GRUCell``); see :func:`gru_step`.

    Example:
        >>> gru_cell(torch.ones(2, 3), torch.zeros(2, 4), torch.randn(12, 3),
        ...          torch.randn(12, 4)).shape
        torch.Size([2, 4])
    """
    return gru_step(F.linear(x, weight_ih, bias_ih), h, weight_hh, bias_hh, activation,
                    recurrent_activation)


def tbptt_windows(length: int, k1: int, k2: int) -> list[tuple[int, int, int]]:
    """The windows of truncated BPTT(k2; k1) over a stream of ``length`` steps.

    Williams & Peng's BPTT(h; h') with ``h = k2`` and ``h' = k1``: every ``k1`` steps, at
    time ``t``, the errors of the last ``k1`` steps ``[t-k1, t)`` are back-propagated
    through the last ``k2`` steps only, i.e. down to time ``s = max(0, t-k2)``. Each window
    is ``(s, s_next, t)``: the forward pass runs from the (detached) state at ``s`` to ``t``;
    ``s_next`` is where the next window starts, so its state is saved on the way. A last,
    shorter window covers the tail when ``k1`` does not divide ``length``. Requires
    ``k2 >= k1``; ``k1 == k2`` gives the usual disjoint chunks.

    Example:
        >>> tbptt_windows(10, 4, 6)
        [(0, 2, 4), (2, 4, 8), (4, 10, 10)]
    """
    ends = list(range(k1, length, k1)) + [length] if length > 0 else []
    starts = [max(0, end - k2) for end in ends]
    nexts = [*starts[1:], length] if ends else []
    return [(s, min(n, e), e) for s, n, e in zip(starts, nexts, ends)]


def activation_derivative(activation: Activation, a: Tensor, out: Tensor | None = None) -> Tensor:
    """Elementwise derivative ``f'(a)`` of an elementwise activation.

    Closed forms for tanh (``1 - f(a)^2``), the logistic sigmoid and ReLU; forward-mode
    autograd (one ``jvp`` with a tangent of ones) for any other elementwise function.

    Example:
        >>> activation_derivative(torch.tanh, torch.zeros(2))
        tensor([1., 1.])
    """
    name = getattr(activation, "__name__", "")
    if name == "tanh":
        out = torch.tanh(a) if out is None else out
        return 1.0 - out * out
    if name in ("sigmoid", "logistic"):
        out = torch.sigmoid(a) if out is None else out
        return out * (1.0 - out)
    if name == "relu":
        return (a > 0).to(a.dtype)
    if name in ("identity", "linear"):
        return torch.ones_like(a)
    return torch.func.jvp(activation, (a,), (torch.ones_like(a),))[1]


def rtrl_simple_rnn_step(x: Tensor, h: Tensor, sensitivity: Tensor, weight_ih: Tensor,
                         weight_hh: Tensor, bias_ih: Tensor | None = None,
                         bias_hh: Tensor | None = None,
                         activation: Activation = torch.tanh) -> tuple[Tensor, Tensor]:
    """One step of Real-Time Recurrent Learning for an Elman layer: ``(h_t, P_t)``.

    Williams & Zipser (1989): the sensitivity ``P_t = dh_t/dtheta`` is carried forward with
    the state, ``P_t = diag(f'(a_t)) (W_hh P_{t-1} + da_t/dtheta)``, where ``da_t/dtheta`` is
    the immediate dependence of the pre-activation ``a_t`` on the parameters (``x_t`` for
    ``W_ih``, ``h_{t-1}`` for ``W_hh``, 1 for the biases). The gradient of an error ``E_t``
    at time ``t`` is then ``dE_t/dh_t P_t``, available online, with no backward pass.

    Args:
        x: input ``x_t``, shape ``(N, F)``.
        h: previous state ``h_{t-1}``, shape ``(N, U)``.
        sensitivity: ``P_{t-1}``, shape ``(N, U, P)`` with the parameters flattened in the
            order ``weight_ih, weight_hh, bias_ih, bias_hh`` (absent biases skipped),
            ``P = U*F + U*U (+ U + U)``.
        weight_ih, weight_hh, bias_ih, bias_hh: the layer's weights.
        activation: the elementwise activation ``f``.

    Returns:
        ``h_t`` of shape ``(N, U)`` and ``P_t`` of shape ``(N, U, P)``.

    Example:
        >>> U, F_ = 3, 2
        >>> P0 = torch.zeros(1, U, U * F_ + U * U)
        >>> h, P = rtrl_simple_rnn_step(torch.ones(1, F_), torch.zeros(1, U), P0,
        ...                             torch.zeros(U, F_), torch.zeros(U, U))
        >>> P.shape
        torch.Size([1, 3, 15])
    """
    n, units = h.shape
    a = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)
    h_new = activation(a)
    eye = torch.eye(units, dtype=h.dtype, device=h.device)
    blocks = [torch.einsum("ki,nj->nkij", eye, x).reshape(n, units, -1),
              torch.einsum("ki,nj->nkij", eye, h).reshape(n, units, -1)]
    if bias_ih is not None:
        blocks.append(eye.expand(n, units, units))
    if bias_hh is not None:
        blocks.append(eye.expand(n, units, units))
    immediate = torch.cat(blocks, dim=2)
    carried = torch.einsum("kl,nlp->nkp", weight_hh, sensitivity)
    deriv = activation_derivative(activation, a, h_new)
    return h_new, deriv.unsqueeze(2) * (carried + immediate)
