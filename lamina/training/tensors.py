"""User data as tensors: numbers checked once per call (dtype, finiteness, token ids).

Floats and other numbers become float32, integer labels int64, and integer inputs of a
model that starts with an ``Embedding`` stay int64 token ids (exact above 2**24), checked
against its vocabulary once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lamina.errors import message
from lamina.layers.recurrent.embedding import Embedding

__all__ = ["to_tensor", "first_embedding", "check_ids", "check_finite", "validation_cut"]


def to_tensor(data, name: str, owner: str, *, ids: bool = False) -> Tensor:
    """``data`` as a tensor: floats and other numbers as float32, integer labels as int64.

    Nothing is rescaled: uint8 pixels stay 0..255 as floats. With ``ids`` (the input of a
    model whose first layer is an embedding) integers stay int64: token ids above 2**24
    do not survive float32.

    Example:
        >>> to_tensor(np.array([1, 2]), "y", "fit").dtype
        torch.int64
        >>> to_tensor(np.array([16777217]), "x", "fit", ids=True)
        tensor([16777217])
    """
    t = _as_tensor(data, name, owner)
    if t.is_complex():
        raise TypeError(message(f"Argument `{name}` of {owner} must hold real numbers.",
                                received=f"{name} of dtype {t.dtype}",
                                fix=f"Pass `{name}.real` or `{name}.abs()` explicitly."))
    if t.device.type == "meta":
        raise ValueError(message(
            f"Argument `{name}` of {owner} is a tensor on the meta device, which holds no "
            f"values.", received=f"{name} of shape {tuple(t.shape)} on device 'meta'",
            fix="Pass the data itself, on the CPU or a GPU."))
    if ids and t.dtype == torch.bool:
        raise TypeError(message(f"Argument `{name}` of {owner} must hold integer token ids "
                                f"(the model's first layer is an embedding).",
                                received=f"{name} of dtype {t.dtype}",
                                fix=f"Pass `{name}.long()` if 0 and 1 are the ids."))
    if t.dtype == torch.bool or t.is_floating_point():
        return t.float() if t.dtype != torch.float32 else t
    if name.startswith("y") or ids:
        return t.long()
    return t.float()


def _as_tensor(data, name: str, owner: str) -> Tensor:
    """``data`` as a tensor of its own dtype; lists must be rectangular and hold numbers."""
    if isinstance(data, Tensor):
        return data
    if not (isinstance(data, (np.ndarray, list, tuple)) or np.isscalar(data)):
        raise TypeError(message(
            f"Argument `{name}` of {owner} must be a numpy array or a torch tensor.",
            received=f"{name} of type {type(data).__name__}",
            fix="Wrap other data in a torch.utils.data.Dataset or DataLoader."))
    try:
        arr = np.asarray(data)
    except ValueError:  # numpy refuses nested lists of unequal lengths
        raise ValueError(message(
            f"Argument `{name}` of {owner} must be a rectangular array: every sample the same "
            f"shape.", received=f"nested sequences of unequal lengths (a ragged {name})",
            fix="Pad the sequences to one length (e.g. with 0 and `mask_zero=True`).")) from None
    if arr.dtype.kind == "c":
        raise TypeError(message(f"Argument `{name}` of {owner} must hold real numbers.",
                                received=f"an array of dtype {arr.dtype}",
                                fix=f"Pass `{name}.real` or `abs({name})` explicitly."))
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(message(f"Argument `{name}` of {owner} must hold numbers.",
                                received=f"an array of dtype {arr.dtype}"))
    return torch.from_numpy(np.ascontiguousarray(arr))


def first_embedding(model) -> nn.Module | None:
    """The embedding ``model`` starts with (lamina's or torch's), else None.

    The first layer is looked up through nested containers: a ``Sequential``'s ``layers[0]``,
    a model's first sub-module (a wrapped module, a zoo model's ``embedding``).

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.Sequential([lm.layers.Embedding(10, 4)]), lm.layers.LSTM(8)])
        >>> first_embedding(net).input_dim
        10
    """
    module = model
    for _ in range(64):  # deeper nesting than this is not a model's first layer
        if isinstance(module, (Embedding, nn.Embedding)):
            return module
        layers = getattr(module, "layers", None)
        if isinstance(layers, (list, tuple, nn.ModuleList, nn.Sequential)):
            module = layers[0] if len(layers) else None
        else:
            module = next(module.children(), None)
        if module is None:
            return None
    return None


def check_ids(x: Tensor, embedding: nn.Module, owner: str) -> Tensor:
    """``x`` as int64 token ids inside the embedding's table, checked once per call on the
    whole array (whole floats become ids; a fraction, NaN, inf or an id outside is refused)."""
    vocab = getattr(embedding, "input_dim", None) or embedding.num_embeddings
    name = getattr(embedding, "name", type(embedding).__name__)
    if x.is_floating_point():
        wrong = (x != x.round()) | ~torch.isfinite(x)
        if bool(wrong.any()):
            index = tuple(int(i) for i in wrong.nonzero()[0])
            raise ValueError(message(
                f"Argument `x` of {owner} must hold integer token ids (the model's first layer "
                f"is Embedding '{name}'); float ids are not truncated.",
                received=f"{float(x[index]):g} at index {index} of x",
                fix="Round or map the tokens to integers first (`x.round().astype(int)`)."))
    if x.numel():
        low, high = torch.stack(list(torch.aminmax(x))).tolist()  # one sync per call
        if low < 0 or high >= vocab:
            bad = (x < 0) | (x >= vocab)
            index = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(message(
                f"Argument `x` of {owner} holds token ids outside the vocabulary of Embedding "
                f"'{name}': every id must lie in [0, {vocab}).",
                received=f"id {int(x[index])} at index {index} of x (ids from {int(low)} to "
                         f"{int(high)})",
                fix="Raise `input_dim` to cover the largest id, or map unknown tokens to a "
                    "reserved id."))
    return x.long()


def check_finite(t: Tensor, name: str, owner: str) -> None:
    # One reduction without temporaries: NaN and inf always reach the sum (inf - inf is NaN),
    # so a finite sum proves every value finite; only a non-finite sum pays the exact scan.
    if t.is_floating_point() and not bool(torch.isfinite(t.sum())):
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            first = int(bad.flatten(1).any(1).nonzero()[0]) if t.dim() > 1 else int(
                bad.nonzero()[0])
            raise ValueError(message(
                f"Argument `{name}` of {owner} contains NaN or infinite values; it must be "
                f"finite.", received=f"{int(bad.sum())} of them, the first in sample {first}",
                fix="Clean or impute the data before training (values beyond float32's range, "
                    "about 3.4e38, become infinite)."))


def validation_cut(n: int, fraction: float) -> int:
    """Where ``validation_split=fraction`` cuts ``n`` samples: the last ``round(n * fraction)``
    are held out (as Keras does); an error if either side would be empty.

    Example:
        >>> validation_cut(10, 0.2)
        8
    """
    n_val = int(round(n * fraction))
    if not 0 < n_val < n:
        raise ValueError(message(
            f"`validation_split={fraction}` leaves no samples to train on or to validate with "
            f"({n} samples in all).", expected="a fraction in (0, 1) of at least one sample"))
    return n - n_val
