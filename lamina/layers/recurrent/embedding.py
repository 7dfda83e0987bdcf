"""``Embedding``: a trainable lookup table from integer tokens to dense vectors."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.layers.base import Layer
from lamina.layers.input_spec import InputSpec
from lamina.layers.recurrent.cells import resolve_initializer, serialize_initializer

__all__ = ["Embedding"]


def _keras_uniform(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    with torch.no_grad():
        return tensor.uniform_(-0.05, 0.05, generator=generator)


class Embedding(Layer):
    """Maps integer tokens to rows of a ``(input_dim, output_dim)`` table: ``y = W[x]``.

    Equal to a ``Dense`` layer without bias applied to one-hot codes, at the cost of a
    lookup. Tokens must lie in ``[0, input_dim)`` (else a ``ValueError`` names the first
    id outside). Float inputs holding whole numbers are taken as ids, at the cost of one
    host sync per call; a fraction, NaN or inf is refused, never truncated.

    With ``mask_zero=True``, token 0 is padding: the output of a 2-D input ``(N, T)``
    carries the mask ``x != 0`` (as the tensor attribute ``_lamina_mask``), which a
    recurrent layer (or ``Bidirectional``) placed *directly* after reads, so padded steps
    are skipped. The mask does not survive other layers in between; pass ``mask=`` or
    ``lengths=`` to the recurrent layer explicitly in that case. ``input_dim`` then counts
    the padding token too.

    Args:
        input_dim: vocabulary size (>= 1).
        output_dim: size of each vector (>= 1).
        embeddings_initializer: ``"uniform"`` (default: ``U(-0.05, 0.05)``, as Keras) or any
            ``lamina.initializers`` name.
        mask_zero: treat token 0 as padding. Defaults to False.
        name: layer name.

    Input shape:
        ``(N, ...)`` integer tokens (typically ``(N, T)``).
    Output shape:
        ``(N, ..., output_dim)``; parameter ``weight`` as ``torch.nn.Embedding``.

    Example:
        >>> import torch
        >>> emb = Embedding(10, 4, mask_zero=True)
        >>> y = emb(torch.tensor([[3, 1, 0]]))
        >>> y.shape, y._lamina_mask
        (torch.Size([1, 3, 4]), tensor([[ True,  True, False]]))
    """

    def __init__(self, input_dim: int, output_dim: int, *, embeddings_initializer="uniform",
                 mask_zero: bool = False, name: str | None = None):
        super().__init__(name=name)
        owner = f"Embedding '{self.name}'"
        self.input_dim = check_positive_int("input_dim", input_dim, owner)
        self.output_dim = check_positive_int("output_dim", output_dim, owner)
        if isinstance(embeddings_initializer, str) and embeddings_initializer == "uniform":
            self.embeddings_initializer = _keras_uniform
        else:
            self.embeddings_initializer = resolve_initializer(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.input_spec = InputSpec(min_ndim=1)
        self.weight: nn.Parameter | None = None

    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self.weight = nn.Parameter(torch.empty(self.input_dim, self.output_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Table from ``embeddings_initializer``."""
        if self.weight is not None:
            self.embeddings_initializer(self.weight)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape, self.output_dim)

    def forward(self, x: Tensor) -> Tensor:
        ids = x if x.dtype in (torch.int64, torch.int32) else self._as_ids(x)
        try:
            y = F.embedding(ids, self.weight)
        except IndexError:
            raise ValueError(self._out_of_range(ids)) from None
        if self.mask_zero and ids.dim() == 2:
            y._lamina_mask = ids != 0
        return y

    def _as_ids(self, x: Tensor) -> Tensor:
        """Other integer dtypes as int64; whole floats as int64 (one host sync); else raise."""
        expected = f"integer ids in [0, {self.input_dim})"
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(message(f"Embedding '{self.name}' takes {expected}.",
                                    received=f"a tensor of dtype {x.dtype}",
                                    fix="Pass token ids as an int64 tensor."))
        ids = x.long()
        if x.is_floating_point():
            wrong = ids != x                          # fractions, NaN, inf, beyond int64
            if bool(wrong.any()):
                index = tuple(int(i) for i in wrong.nonzero()[0])
                raise ValueError(message(
                    f"Embedding '{self.name}' takes {expected}; float ids are not truncated.",
                    received=f"id {float(x[index]):g} at index {index} of its input",
                    fix="Round or map the tokens to integers first (`x.round().long()`)."))
        return ids

    def _out_of_range(self, ids: Tensor) -> str:
        """The message for ids outside the table (found only after the lookup failed)."""
        wrong = (ids < 0) | (ids >= self.input_dim)
        index = tuple(int(i) for i in wrong.nonzero()[0])
        return message(
            f"Embedding '{self.name}' has a vocabulary of {self.input_dim} ids: every id must "
            f"lie in [0, {self.input_dim}).",
            received=f"id {int(ids[index])} at index {index} of its input (ids from "
                     f"{int(ids.min())} to {int(ids.max())})",
            fix="Raise `input_dim` to cover the largest id, or map unknown tokens to a "
                "reserved id.")

    def get_config(self) -> dict[str, Any]:
        init = ("uniform" if self.embeddings_initializer is _keras_uniform
                else serialize_initializer(self.embeddings_initializer))
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": init, "mask_zero": self.mask_zero,
                **super().get_config()}

    def extra_repr(self) -> str:
        return f"{self.input_dim}, {self.output_dim}" + (", mask_zero=True" if self.mask_zero
                                                         else "")
