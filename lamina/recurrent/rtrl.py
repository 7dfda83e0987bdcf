"""Real-Time Recurrent Learning: the exact gradient computed forwards in time, online.

Decks 000/001: BPTT updates the weights once per sequence, after a backward pass through
the unfolded net; RTRL updates them at every frame. It carries, with the state ``s_t``, its
sensitivity to every recurrent parameter, ``P_t = ds_t/dtheta``, updated by the chain rule
``P_t = J_t P_{t-1} + ds_t/dtheta|_immediate`` where ``J_t = ds_t/ds_{t-1}`` is the decks'
"Jacobian matrix of the feedforward net" (Williams & Zipser, 1989). The gradient of the error
at time ``t`` is then ``dE_t/ds_t P_t``: no backward pass through time and no stored
history, at a cost of ``O(S^2 P)`` per step (``S`` state size, ``P`` recurrent parameters),
so it suits small nets.

The model is a recurrent layer followed by a read-out ``head`` (the layers after it in a
``Sequential``: ``Dense``, ``TimeDistributed``, ...), whose own gradients need no recurrence.
Elman layers use the closed form of :func:`lamina.functional.recurrent.rtrl_simple_rnn_step`;
LSTM and GRU layers get ``J_t`` and the immediate term from ``torch.func.jacrev``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lamina import optimizers
from lamina.errors import message
from lamina.functional import recurrent as R
from lamina.recurrent._model import (
    apply_head,
    as_data,
    check_plain,
    check_sequences,
    pure_step,
    resolve_loss,
    split_model,
)

__all__ = ["RTRL", "rtrl_gradients"]


class RTRL:
    """Online learner: ``step(x_t, y_t)`` advances the state and updates the weights at once.

    Args:
        model: a ``SimpleRNN``/``LSTM``/``GRU`` layer, or a ``Sequential`` whose first layer
            is one, followed by any read-out layers.
        loss: the error ``E_t = loss(y_pred_t, y_t)`` at each step with a target: a name or
            ``lamina.losses`` object; defaults to the compiled model's loss, else MSE.
        optimizer: name or optimizer for the online updates (``None``: only accumulate
            gradients in ``.grad``, as :func:`rtrl_gradients` does).

    Notes:
        With an optimizer, the weights change at every step while ``P_t`` keeps
        sensitivities computed under the earlier weights: the usual online approximation of
        RTRL, exact in the limit of small learning rates. Without one, the gradient summed
        over a sequence equals BPTT's exactly.

    Example:
        >>> import torch, lamina as lm
        >>> model = lm.Sequential([lm.layers.SimpleRNN(3), lm.layers.Dense(1)], input_shape=(5, 2))
        >>> learner = RTRL(model, "mse", lm.optimizers.SGD(lr=0.1))
        >>> for t in range(5):
        ...     loss = learner.step(torch.randn(4, 2), torch.zeros(4, 1))
        >>> loss.shape
        torch.Size([])
    """

    def __init__(self, model: nn.Module, loss=None, optimizer=None):
        pre, self.rnn, self.head = split_model(model, "RTRL", allow_pre=False)
        check_plain(self.rnn, "RTRL")
        self.model = model
        self.loss_fn = resolve_loss(model, loss)
        self.params = list(self.rnn.parameters())
        self.head_params = [p for layer in self.head for p in layer.parameters()]
        self.optimizer = None
        if optimizer is not None:
            self.optimizer = optimizers.get(optimizer)
            if getattr(self.optimizer, "is_bound", True) is False:
                self.optimizer.bind(model.parameters())
        self._f = pure_step(self.rnn)
        self.state: Tensor | None = None
        self.sensitivity: Tensor | None = None

    def reset(self) -> None:
        """Start a new sequence: zero state and sensitivities."""
        self.state = self.sensitivity = None

    def _start(self, x: Tensor) -> None:
        n, size = x.shape[0], self.rnn.units * self.rnn.state_size()
        total = sum(p.numel() for p in self.params)
        self.state = x.new_zeros(n, size)
        self.sensitivity = x.new_zeros(n, size, total)

    def advance(self, x: Tensor) -> Tensor:
        """Move the state and its sensitivity one step with input ``x_t`` ``(N, features)``;
        returns the output ``h_t``."""
        if self.state is None:
            self._start(x)
        params = [p.detach() for p in self.params]
        if self.rnn._kind == "SimpleRNN":
            w_ih, w_hh, b_ih, b_hh, _ = (None if w is None else w.detach()
                                          for w in self.rnn.weights())
            self.state, self.sensitivity = R.rtrl_simple_rnn_step(
                x, self.state, self.sensitivity, w_ih, w_hh, b_ih, b_hh, self.rnn.activation)
        else:
            def f(params, s, x):
                out = self._f(params, s, x)
                return out, out

            jac = torch.func.vmap(torch.func.jacrev(f, argnums=(0, 1), has_aux=True),
                                  in_dims=(None, 0, 0))
            (d_params, d_state), new_state = jac(params, self.state, x)
            immediate = torch.cat([d.flatten(2) for d in d_params], dim=2)
            self.sensitivity = torch.bmm(d_state, self.sensitivity) + immediate
            self.state = new_state
        return self.state[:, :self.rnn.units]

    def gradients(self, h: Tensor, target) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Error ``E_t`` at output ``h_t`` and its gradients (recurrent, read-out)."""
        h = h.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.loss_fn(apply_head(self.head, self.rnn, h), target)
            d_h, *d_head = torch.autograd.grad(loss, [h, *self.head_params], allow_unused=True)
        d_head = [torch.zeros_like(p) if g is None else g for p, g in zip(self.head_params, d_head)]
        units = self.rnn.units
        flat = torch.einsum("nu,nup->p", d_h, self.sensitivity[:, :units])
        grads, offset = [], 0
        for p in self.params:
            grads.append(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        return loss.detach(), grads, d_head

    def accumulate(self, x: Tensor, target=None) -> Tensor | None:
        """``advance`` and, with a target, add ``dE_t/dtheta`` to every parameter's ``.grad``."""
        h = self.advance(x)
        if target is None:
            return None
        loss, grads, d_head = self.gradients(h, target)
        for p, g in zip(self.params + self.head_params, grads + d_head):
            p.grad = g.clone() if p.grad is None else p.grad.add_(g)
        return loss

    def step(self, x: Tensor, target=None) -> Tensor | None:
        """One online step: advance, and with a target update the weights at once.

        Args:
            x: the input ``x_t`` of every stream, ``(N, features)``.
            target: ``y_t`` for the read-out at this step, or None (no error signal).

        Returns:
            The error ``E_t`` (a 0-d tensor, not synced), or None without a target.
        """
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
        loss = self.accumulate(x, target)
        if loss is not None and self.optimizer is not None:
            self.optimizer.step()
        return loss


def rtrl_gradients(model: nn.Module, x, y, loss=None) -> list[Tensor]:
    """Gradient of ``E = sum_t E_t`` computed by RTRL, in the order of ``model.parameters()``.

    With ``return_sequences=True`` the error is ``E = sum_t loss(y_pred_t, y[:, t])`` over
    all steps (the decks' ``E = sum_tau (Y_tau - D_tau)^2``); otherwise ``E =
    loss(y_pred_T, y)`` at the last step only. ``torch.autograd`` on the same ``E`` (BPTT)
    gives the same numbers to round-off.

    Args:
        model: as for :class:`RTRL`.
        x: inputs ``(N, T, features)``.
        y: targets ``(N, T, ...)`` or ``(N, ...)`` as explained above.
        loss: name or loss object; defaults to the compiled model's loss, else MSE.

    Returns:
        One tensor per parameter of ``model``, shaped like it.

    Example:
        >>> import torch, lamina as lm
        >>> model = lm.Sequential([lm.layers.GRU(2), lm.layers.Dense(1)], input_shape=(4, 3))
        >>> x, y = torch.randn(5, 4, 3), torch.randn(5, 1)
        >>> g = rtrl_gradients(model, x, y, "mse")
        >>> model.zero_grad(); lm.losses.get("mse")(model(x), y).backward()
        >>> all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(g, model.parameters()))
        True
    """
    learner = RTRL(model, loss)
    x = as_data(x, "x", "rtrl_gradients", model)
    y = as_data(y, "y", "rtrl_gradients", model, integers=True)
    if x.dim() != 3:
        raise ValueError(message("`x` given to rtrl_gradients must have shape (N, T, features).",
                                 received=f"x of shape {tuple(x.shape)}"))
    check_sequences(x, "rtrl_gradients")
    learner.rnn._check_input(x)
    _check_targets(y, x, learner.rnn.return_sequences)
    saved = {id(p): p.grad for p in model.parameters()}
    for p in model.parameters():
        p.grad = None
    try:
        steps = x.shape[1]
        for t in range(steps):
            if learner.rnn.return_sequences:
                target = y[:, t]
            else:
                target = y if t == steps - 1 else None
            learner.accumulate(x[:, t], target)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                 for p in model.parameters()]
    finally:
        for p in model.parameters():
            p.grad = saved[id(p)]
    return grads


def _check_targets(y: Tensor, x: Tensor, per_step: bool) -> None:
    n, steps = x.shape[:2]
    ok = y.dim() >= 1 and y.shape[0] == n and (not per_step or (y.dim() >= 2
                                                                 and y.shape[1] == steps))
    if not ok:
        shape = f"(N, T, ...) = ({n}, {steps}, ...)" if per_step else f"(N, ...) = ({n}, ...)"
        raise ValueError(message(
            f"Argument `y` of rtrl_gradients must have shape {shape}: "
            + ("one target per step (the recurrent layer returns sequences)." if per_step
               else "one target per sequence, for the last step."),
            received=f"y of shape {tuple(y.shape)}"))
