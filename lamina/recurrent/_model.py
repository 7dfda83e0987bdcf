"""Finding the recurrent layer of a model, and the pure step function of its cell."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina import losses
from lamina.errors import message
from lamina.functional import recurrent as R
from lamina.layers.recurrent.rnn import RecurrentLayer

__all__ = ["split_model", "recurrent_layers", "pure_step", "resolve_loss", "apply_head",
           "as_data", "check_sequences"]


def recurrent_layers(model: nn.Module) -> list[RecurrentLayer]:
    """Every ``SimpleRNN``/``LSTM``/``GRU`` inside ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, RecurrentLayer)]


def split_model(model: nn.Module, owner: str, *, allow_pre: bool = True):
    """``(pre, rnn, head)``: the layers before the first recurrent layer, it, and the rest.

    ``model`` is a recurrent layer or a ``Sequential`` holding one at the top level.
    """
    if isinstance(model, RecurrentLayer):
        return [], model, []
    layers = list(getattr(model, "layers", []))
    index = next((i for i, layer in enumerate(layers) if isinstance(layer, RecurrentLayer)), None)
    if index is None:
        raise ValueError(message(
            f"{owner} needs a recurrent layer (SimpleRNN, LSTM or GRU) directly in the model.",
            received=f"a {type(model).__name__} without one at its top level",
            fix="Pass a lamina.Sequential([...SimpleRNN(...), Dense(...)]) or the layer itself."))
    pre, rnn, head = layers[:index], layers[index], layers[index + 1:]
    if pre and not allow_pre:
        raise ValueError(message(
            f"{owner} needs the recurrent layer first in the model.",
            received=f"{len(pre)} layer(s) before '{rnn.name}'"))
    return pre, rnn, head


def resolve_loss(model: nn.Module, loss):
    """``loss`` resolved by ``lamina.losses.get``, else the compiled model's loss, else MSE."""
    if loss is not None:
        return losses.get(loss)
    trainer = getattr(model, "_trainer", None)
    return trainer.loss_fn if trainer is not None else losses.get("mse")


def apply_head(head: list, rnn: RecurrentLayer, h: Tensor) -> Tensor:
    """The layers after ``rnn`` applied to the output ``h_t`` ``(N, units)`` of one step."""
    y = h.unsqueeze(1) if rnn.return_sequences else h
    for layer in head:
        y = layer(y)
    return y[:, 0] if rnn.return_sequences else y


def pure_step(rnn: RecurrentLayer):
    """``f(params, s, x) -> s'`` for one sample: the cell as a pure function of its parameters.

    ``params`` are ``rnn``'s parameters in ``rnn.parameters()`` order; the state ``s`` is the
    concatenation of the state tensors (``[h, c]`` for the LSTM). Used with ``torch.func``.
    """
    names = [n for n, _ in rnn.named_parameters()]
    units, kind = rnn.units, rnn._kind

    def f(params, s: Tensor, x: Tensor) -> Tensor:
        p = dict(zip(names, params))
        w_ih, w_hh = p["weight_ih_l0"], p["weight_hh_l0"]
        b_ih, b_hh = p.get("bias_ih_l0"), p.get("bias_hh_l0")
        gx = F.linear(x, w_ih, b_ih)
        if kind == "LSTM":
            h, c = R.lstm_step(gx, (s[:units], s[units:]), w_hh, b_hh,
                               p.get("weight_peephole_l0"), rnn.activation,
                               rnn.recurrent_activation)
            return torch.cat([h, c])
        if kind == "GRU":
            return R.gru_step(gx, s, w_hh, b_hh, rnn.activation, rnn.recurrent_activation)
        return R.simple_rnn_step(gx, s, w_hh, b_hh, rnn.activation)

    return f


def check_plain(rnn: RecurrentLayer, owner: str) -> None:
    """Raise for settings the step-by-step tools do not model (reversal, active dropout)."""
    if rnn.go_backwards:
        raise ValueError(message(f"{owner} runs forward in time; layer '{rnn.name}' has "
                                 f"go_backwards=True.", fix="Use go_backwards=False."))
    if rnn.training and (rnn.dropout or rnn.recurrent_dropout):
        raise ValueError(message(
            f"{owner} does not model dropout; layer '{rnn.name}' has dropout active.",
            fix="Call `model.eval()` first, or build the layer without dropout."))


def as_data(data, name: str, owner: str, model: nn.Module, *, integers: bool = False) -> Tensor:
    """``data`` (tensor, numpy array or list) as a tensor on ``model``'s device, as ``fit``
    takes it: real numbers in the model's float dtype (float64 numpy into a float32 model),
    integers kept as int64 where ``integers`` (token ids, class labels). Complex numbers,
    non-numbers and NaN/inf raise lamina's message.

    Example:
        >>> m = nn.Linear(2, 1)
        >>> as_data(np.ones((1, 2)), "x", "rtrl_gradients", m).dtype
        torch.float32
    """
    if not isinstance(data, Tensor):
        try:
            arr = np.asarray(data)
        except ValueError as err:  # ragged nested lists
            raise TypeError(message(f"Argument `{name}` of {owner} must be a tensor or a "
                                    f"rectangular array of numbers.",
                                    received=f"{type(data).__name__} ({err})")) from None
        if arr.dtype.kind not in "biufc":
            raise TypeError(message(f"Argument `{name}` of {owner} must hold numbers.",
                                    received=f"an array of dtype {arr.dtype}"))
        data = torch.from_numpy(np.ascontiguousarray(arr))
    if data.is_complex():
        raise TypeError(message(f"Argument `{name}` of {owner} must hold real numbers.",
                                received=f"{name} of dtype {data.dtype}",
                                fix="Pass the real part (`x.real`) or the magnitude "
                                    "(`x.abs()`) explicitly."))
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = param.device if param is not None else data.device
    keep = integers and not data.is_floating_point() and data.dtype != torch.bool
    data = data.to(device=device, dtype=torch.int64 if keep else dtype)
    if data.is_floating_point() and not bool(torch.isfinite(data).all()):
        raise ValueError(message(f"Argument `{name}` of {owner} contains NaN or infinite "
                                 f"values (as {str(dtype).replace('torch.', '')}).",
                                 fix="Clean, impute or rescale the data first."))
    return data


def check_sequences(x: Tensor, owner: str, *, name: str = "x") -> None:
    """Raise unless ``x`` holds at least one sequence of at least one step, ``(N, T, ...)``."""
    if x.dim() < 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(message(
            f"{owner} needs at least 1 sequence of at least 1 step: `{name}` of shape "
            f"(N, T, ...) with N >= 1 and T >= 1.", received=f"{name} of shape "
            f"{tuple(x.shape)}"))
