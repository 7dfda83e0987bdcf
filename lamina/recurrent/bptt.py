"""Back-propagation through time: full (autograd, the default) and truncated, for long streams.

Full BPTT is what ``model.fit`` already does on ``(N, T, features)`` sequences: autograd
back-propagates through the unfolded net, the decks' ``dW = dW_1 + dW_2 + ... `` summed
over the horizon ``Nt = T``. For a stream too long to unfold whole, :func:`truncated_bptt`
implements Williams & Peng's (1990) BPTT(h; h') with ``k2 = h`` and ``k1 = h'``: the stream is
read ``k1`` steps at a time with the state carried over; at the end of each chunk, the errors
of its ``k1`` steps are back-propagated through the last ``k2`` steps only (``k2 >= k1``),
and the weights are updated. ``k1 == k2`` is the common "chunked" TBPTT; ``k2 > k1`` gives
the most recent errors a longer history at the price of re-running ``k2 - k1`` steps.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from lamina import optimizers
from lamina._validation import check_nonnegative_int, check_positive_int
from lamina.errors import message
from lamina.functional.recurrent import tbptt_windows
from lamina.recurrent._model import (
    as_data,
    check_sequences,
    recurrent_layers,
    resolve_loss,
)
from lamina.training.history import History
from lamina.training.tensors import first_embedding

__all__ = ["carry_gradients", "get_states", "set_states", "reset_states", "sequence_loss",
           "TruncatedBPTT", "truncated_bptt"]


def get_states(model: nn.Module) -> list:
    """The carried state of every recurrent layer of ``model`` (None where there is none)."""
    return [layer.states for layer in recurrent_layers(model)]


def set_states(model: nn.Module, states: list) -> None:
    """Set the carried states of ``model``'s recurrent layers (as :func:`get_states` gives)."""
    for layer, state in zip(recurrent_layers(model), states, strict=True):
        layer.states = state


def reset_states(model: nn.Module) -> None:
    """Forget the carried state of every recurrent layer of ``model``.

    Example:
        >>> import lamina as lm
        >>> m = lm.Sequential([lm.layers.LSTM(2, stateful=True)], input_shape=(3, 1))
        >>> reset_states(m); get_states(m)
        [None]
    """
    for layer in recurrent_layers(model):
        layer.reset_states()


@contextmanager
def carry_gradients(model: nn.Module):
    """Within the block, every recurrent layer of ``model`` carries its final state to the next
    call *with* its graph, so a loss can back-propagate across consecutive calls.

    Example:
        >>> import torch, lamina as lm
        >>> m = lm.Sequential([lm.layers.GRU(2)], input_shape=(3, 1))
        >>> with carry_gradients(m):
        ...     _ = m(torch.ones(1, 3, 1)); y = m(torch.ones(1, 3, 1))
        >>> y.grad_fn is not None, get_states(m)
        (True, [None])
    """
    layers = recurrent_layers(model)
    saved = [(layer.stateful, layer.keep_state_graph, layer.states) for layer in layers]
    for layer in layers:
        layer.stateful, layer.keep_state_graph = True, True
    try:
        yield model
    finally:
        for layer, (stateful, keep, states) in zip(layers, saved):
            layer.stateful, layer.keep_state_graph, layer.states = stateful, keep, states


def sequence_loss(loss_fn, y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``loss_fn`` over every step: time is folded into the batch, ``(N, T, ...) -> (N*T, ...)``.

    Example:
        >>> from lamina import losses
        >>> sequence_loss(losses.get("mse"), torch.ones(2, 3, 1), torch.zeros(2, 3))
        tensor(1.)
    """
    n, steps = y_pred.shape[:2]
    return loss_fn(y_pred.reshape(n * steps, *y_pred.shape[2:]),
                   y_true.reshape(n * steps, *y_true.shape[2:]))


class TruncatedBPTT:
    """Trains a many-to-many model on long streams by truncated BPTT(k2; k1).

    Args:
        model: a model whose recurrent layers have ``return_sequences=True`` and whose output
            for ``(N, t, features)`` is ``(N, t, ...)`` (one prediction per step).
        loss: name or loss object, applied to every step of the last ``k1`` (time folded
            into the batch); defaults to the compiled model's loss, else MSE.
        optimizer: name or optimizer; defaults to the compiled model's, else ``"adam"``.
        k1: steps between updates (``h'`` of Williams & Peng).
        k2: steps back-propagated through at each update (``h``, ``k2 >= k1``). Defaults to
            ``k1``.

    Attributes:
        history: a :class:`lamina.training.History` with the mean loss of each epoch.

    Example:
        >>> import torch, lamina as lm
        >>> model = lm.Sequential([lm.layers.LSTM(4, return_sequences=True),
        ...                        lm.layers.Dense(1)], input_shape=(10, 1))
        >>> stream = torch.randn(2, 50, 1)
        >>> tb = TruncatedBPTT(model, "mse", "adam", k1=10, k2=20)
        >>> tb.fit(stream, stream.cumsum(1), epochs=2)[:, "loss"].__len__()
        2
    """

    def __init__(self, model: nn.Module, loss=None, optimizer=None, *, k1: int,
                 k2: int | None = None):
        self.model = model
        self.k1 = check_positive_int("k1", k1, "TruncatedBPTT")
        self.k2 = self.k1 if k2 is None else check_positive_int("k2", k2, "TruncatedBPTT")
        if self.k2 < self.k1:
            raise ValueError(message("Argument `k2` of TruncatedBPTT must be >= `k1`: each "
                                     "update back-propagates the last k1 errors through k2 "
                                     "steps.", received=f"k1={k1}, k2={k2}"))
        if not recurrent_layers(model):
            raise ValueError(message("TruncatedBPTT needs a model with recurrent layers.",
                                     received=f"a {type(model).__name__} without any"))
        self.loss_fn = resolve_loss(model, loss)
        trainer = getattr(model, "_trainer", None)
        if optimizer is None:
            optimizer = trainer.optimizer if trainer is not None else "adam"
        self.optimizer = optimizers.get(optimizer)
        if getattr(self.optimizer, "is_bound", True) is False:
            self.optimizer.bind(model.parameters())
        self.history = History()

    def _window(self, x: Tensor, y: Tensor, start_state, window) -> tuple[Tensor, list]:
        """One update: forward from ``s`` (state ``start_state``) to ``t``, loss on the last
        steps, backward, step. Returns the loss and the (detached) state at ``s_next``."""
        s, s_next, t = window
        outputs = []
        with carry_gradients(self.model):
            set_states(self.model, start_state)
            if s_next > s:
                outputs.append(self.model(x[:, s:s_next]))
            next_state = [None if st is None else tuple(v.detach() for v in st)
                          for st in get_states(self.model)]
            if t > s_next:
                outputs.append(self.model(x[:, s_next:t]))
        out = torch.cat(outputs, dim=1)
        new = t - self._done
        loss = sequence_loss(self.loss_fn, out[:, out.shape[1] - new:], y[:, t - new:t])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach(), next_state

    def fit(self, x, y, epochs: int = 1) -> History:
        """Run ``epochs`` passes over the streams ``x`` ``(N, L, features)`` with per-step
        targets ``y`` ``(N, L, ...)``; each pass starts from a zero state.

        ``x`` and ``y`` are taken as ``fit`` takes them (numpy or tensors; real numbers in
        the model's float dtype, integer ids and labels as int64).

        Raises:
            ValueError: for empty streams, mismatched shapes, NaN/inf in the data, or a loss
                that becomes NaN or infinite (checked once per epoch, when the epoch's loss
                is read; the weights have then been updated with it).
        """
        owner = "truncated_bptt"
        ids = first_embedding(self.model) is not None
        x = as_data(x, "x", owner, self.model, integers=ids)
        y = as_data(y, "y", owner, self.model, integers=True)
        if x.dim() != (2 if ids else 3) or y.shape[:2] != x.shape[:2]:
            raise ValueError(message(
                "TruncatedBPTT.fit takes streams x of shape (N, L, features) (token ids (N, L) "
                "for a model that starts with an Embedding) and per-step targets y of shape "
                "(N, L, ...).",
                received=f"x of shape {tuple(x.shape)}, y of shape {tuple(y.shape)}"))
        check_sequences(x, owner)
        epochs = check_nonnegative_int("epochs", epochs, "TruncatedBPTT.fit")
        windows = tbptt_windows(x.shape[1], self.k1, self.k2)
        was_training = self.model.training
        self.model.train()
        try:
            for epoch in range(len(self.history.epoch), len(self.history.epoch) + epochs):
                state, self._done, total = [None] * len(recurrent_layers(self.model)), 0, 0.0
                losses = []
                for window in windows:
                    loss, next_state = self._window(x, y, state, window)
                    losses.append(loss)
                    total = total + loss * (window[2] - self._done)
                    self._done = window[2]
                    state = next_state
                mean = float(total) / x.shape[1]            # the epoch's one host sync
                if not math.isfinite(mean):
                    _diverged(epoch, windows, losses)
                self.history.on_epoch_end(epoch, {"loss": mean})
        finally:
            self.model.train(was_training)
        return self.history


def _diverged(epoch: int, windows: list, losses: list) -> None:
    """Raise for a NaN or infinite loss, naming the first window where it appeared."""
    bad = (~torch.isfinite(torch.stack(losses))).nonzero()
    where = "in the sum of its windows' losses"
    if len(bad):
        s, _, t = windows[int(bad[0])]
        where = f"at the window ending at step {t} (back-propagated from step {s})"
    raise ValueError(message(
        f"The loss of truncated_bptt became NaN or infinite in epoch {epoch}, {where}; the "
        f"weights were updated with it and are no longer usable.",
        fix="Rebuild the model, then lower the learning rate, rescale the data or targets, "
            "or clip the gradients (e.g. `SGD(lr=..., clipnorm=1.0)`)."))


def truncated_bptt(model: nn.Module, x, y, *, k1: int, k2: int | None = None, loss=None,
                   optimizer=None, epochs: int = 1) -> History:
    """Train ``model`` on long streams with truncated BPTT(k2; k1); see :class:`TruncatedBPTT`.

    Example:
        >>> import torch, lamina as lm
        >>> model = lm.Sequential([lm.layers.GRU(3, return_sequences=True), lm.layers.Dense(1)],
        ...                       input_shape=(8, 1))
        >>> h = truncated_bptt(model, torch.randn(1, 40, 1), torch.randn(1, 40, 1), k1=8)
        >>> len(h[:, "loss"])
        1
    """
    return TruncatedBPTT(model, loss, optimizer, k1=k1, k2=k2).fit(x, y, epochs=epochs)
