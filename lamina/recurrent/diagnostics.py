"""Gradient flow through time: how much of the error reaches ``k`` steps back.

Decks 000/001: ``dX_t/dX_{t-k} = prod_j dX_j/dX_{j-1}``, a product of the Jacobians of the
feedforward net; "if eigenvalues of the Jacobian matrix > 1, gradients tend to explode; if
< 1, they tend to vanish: error signals can only affect small time lags". This module
measures both sides of that sentence on real data: the norm of ``dE/dh(T-1-k)`` and of
``dE/dx(T-1-k)`` for every lag ``k``, and the spectral radius of each step's Jacobian
``ds_t/ds_{t-1}`` and of the recurrent weights. ``lamina.viz.plot_gradient_flow`` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_positive_int
from lamina.recurrent._model import (
    as_data,
    check_plain,
    check_sequences,
    pure_step,
    resolve_loss,
    split_model,
)

__all__ = ["GradientFlow", "gradient_flow"]

_GATES = {"SimpleRNN": "h", "LSTM": "ifgo", "GRU": "rzn"}


@dataclass
class GradientFlow:
    """What :func:`gradient_flow` measured (numpy arrays, indexed by lag ``k = 0..T-1``).

    Attributes:
        lags: ``0, 1, ..., T-1`` (``k = 0`` is the last step).
        state_grad_norm: mean over sequences of ``||dE/dh(T-1-k)||``.
        input_grad_norm: mean over sequences of ``||dE/dx(T-1-k)||`` (``x`` is the input of
            the recurrent layer).
        jacobian_radius: spectral radius of ``ds_t/ds_{t-1}`` at ``t = T-1-k`` (mean over up
            to ``jacobian_samples`` sequences), for ``k = 0..T-2``.
        weight_radius: spectral radius of each ``(units, units)`` gate block of ``W_hh``
            (key ``"h"`` for ``SimpleRNN``; ``"i", "f", "g", "o"`` for the LSTM; ``"r", "z",
            "n"`` for the GRU).
        layer: the recurrent layer's name.
    """

    lags: np.ndarray
    state_grad_norm: np.ndarray
    input_grad_norm: np.ndarray
    jacobian_radius: np.ndarray
    weight_radius: dict[str, float] = field(default_factory=dict)
    layer: str = ""

    def decay_rate(self) -> float:
        """Geometric mean ratio ``||dE/dh(t-k-1)|| / ||dE/dh(t-k)||`` over the lags (< 1:
        vanishing, > 1: exploding)."""
        g = self.state_grad_norm[self.state_grad_norm > 0]
        if len(g) < 2:
            return float("nan")
        return float(np.exp(np.mean(np.diff(np.log(g)))))


def _spectral_radius(m: Tensor) -> Tensor:
    return torch.linalg.eigvals(m).abs().amax(dim=-1)


def gradient_flow(model: nn.Module, x, y=None, loss=None, *,
                  jacobian_samples: int = 16) -> GradientFlow:
    """Measure how the error gradient decays (or grows) backwards through time.

    The first recurrent layer of ``model`` is unrolled step by step with lamina's cell, the
    layers before it (``Embedding``) give its input, those after it the output; ``E =
    loss(model(x), y)``, or ``E = sum(model(x))`` without ``y``.

    Args:
        model: a recurrent layer or a ``Sequential`` holding one at its top level.
        x: inputs ``(N, T, ...)``.
        y: targets for the loss, or None.
        loss: name or loss object; defaults to the compiled model's loss, else MSE.
        jacobian_samples: sequences whose step Jacobians are computed (each is an
            ``S x S`` matrix per step, ``S`` the state size). Defaults to 16.

    Returns:
        A :class:`GradientFlow`.

    Example:
        >>> import torch, lamina as lm
        >>> rnn = lm.layers.SimpleRNN(4, activation="linear", use_bias=False,
        ...                           recurrent_initializer="identity")
        >>> rnn.build((6, 2))
        >>> with torch.no_grad():
        ...     _ = rnn.weight_hh_l0.mul_(0.5)  # W_hh = 0.5 I: gradients halve at each step back
        >>> flow = gradient_flow(rnn, torch.randn(3, 6, 2))
        >>> round(flow.decay_rate(), 6), flow.weight_radius
        (0.5, {'h': 0.5})
    """
    pre, rnn, head = split_model(model, "gradient_flow")
    check_plain(rnn, "gradient_flow")
    jacobian_samples = check_positive_int("jacobian_samples", jacobian_samples, "gradient_flow")
    x = as_data(x, "x", "gradient_flow", model, integers=bool(pre))
    check_sequences(x, "gradient_flow")
    with torch.no_grad():
        for layer in pre:
            x = layer(x)
    rnn._check_input(x)
    u = x.detach().to(rnn.weights()[0].dtype).requires_grad_(True)
    state = rnn.zero_state(u.shape[0], u)
    w_ih, _, b_ih, _, _ = rnn.weights()
    gx = torch.nn.functional.linear(u, w_ih, b_ih)
    states, outputs = [], []
    for t in range(u.shape[1]):
        state = rnn.step(gx[:, t], state)
        for s in state:
            s.retain_grad()
        states.append(state)
        outputs.append(state[0])
    out = torch.stack(outputs, 1) if rnn.return_sequences else outputs[-1]
    for layer in head:
        out = layer(out)
    if y is not None:
        y = as_data(y, "y", "gradient_flow", model, integers=True)
    error = out.sum() if y is None else resolve_loss(model, loss)(out, y)
    grads = torch.autograd.grad(error, [s[0] for s in states] + [u], retain_graph=False)
    h_grads, u_grad = torch.stack(grads[:-1], 1), grads[-1]
    state_norm = h_grads.detach().norm(dim=-1).mean(0).flip(0)
    input_norm = u_grad.detach().norm(dim=-1).mean(0).flip(0)
    return GradientFlow(
        lags=np.arange(u.shape[1]), state_grad_norm=state_norm.cpu().numpy(),
        input_grad_norm=input_norm.cpu().numpy(),
        jacobian_radius=_jacobian_radii(rnn, u[:jacobian_samples].detach(),
                                        [tuple(v.detach()[:jacobian_samples] for v in s)
                                         for s in states]),
        weight_radius=_weight_radii(rnn), layer=rnn.name)


def _jacobian_radii(rnn, u: Tensor, states: list) -> np.ndarray:
    """Spectral radius of ``ds_t/ds_{t-1}`` for ``t = T-1, ..., 1`` (lag order)."""
    f = pure_step(rnn)
    params = [p.detach() for p in rnn.parameters()]
    jac = torch.func.vmap(torch.func.jacrev(f, argnums=1), in_dims=(None, 0, 0))
    radii = []
    for t in range(u.shape[1] - 1, 0, -1):
        s_prev = torch.cat(states[t - 1], dim=-1)
        radii.append(_spectral_radius(jac(params, s_prev, u[:, t])).mean())
    return torch.stack(radii).cpu().numpy() if radii else np.zeros(0)


def _weight_radii(rnn) -> dict[str, float]:
    w_hh = rnn.weights()[1].detach()
    blocks = w_hh.split(rnn.units, dim=0)
    return {gate: float(_spectral_radius(block)) for gate, block in zip(_GATES[rnn._kind], blocks)}
