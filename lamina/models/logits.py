"""Folding a model's final softmax (or sigmoid) into its cross-entropy: the one protocol.

``softmax`` followed by ``log`` loses precision where a probability underflows; computing
the cross-entropy from the logits (log-softmax) is exact and cheaper. A model whose last
layer is an ``Activation`` or a layer with an ``activation`` argument can hand out its
logits: :func:`final_activation` names the activation, :func:`without_activation` runs that
last layer without it, and :func:`fold` decides, at ``compile``, whether the loss takes the
logits and what the metrics then read.
"""

from __future__ import annotations

import warnings

from torch import Tensor, nn

from lamina import activations
from lamina.errors import LaminaWarning
from lamina.layers._activated import ActivatedLayer
from lamina.layers.core import Activation

__all__ = ["final_activation", "without_activation", "fold"]


def final_activation(layer: nn.Module | None) -> str | None:
    """The activation ``layer`` ends with, if it can run without it (else None).

    Example:
        >>> from lamina import layers
        >>> final_activation(layers.Dense(3, activation="softmax")), final_activation(None)
        ('softmax', None)
    """
    if isinstance(layer, (Activation, ActivatedLayer)):
        return layer.activation_name
    return None


def without_activation(layer: nn.Module, x: Tensor) -> Tensor:
    """``layer(x)`` before its activation: ``x`` for an ``Activation`` layer, else the
    layer's ``preactivation``.

    Example:
        >>> import torch
        >>> from lamina import layers
        >>> without_activation(layers.Activation("softmax"), torch.ones(1, 2))
        tensor([[1., 1.]])
    """
    return x if isinstance(layer, Activation) else layer.preactivation(x)


def fold(model, loss):
    """``(loss, forward, output_activation)`` for training ``model`` with ``loss``.

    When the model ends with the activation the loss can absorb (softmax for the categorical
    cross-entropies, sigmoid for the binary one), the loss takes logits
    (``model.forward_logits``) and the metrics read ``output_activation(logits)``; otherwise
    ``(loss, model, None)``, with a warning when a cross-entropy follows another activation.

    Example:
        >>> import lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(3, activation="softmax")], input_shape=(2,))
        >>> loss, forward, act = fold(model, lm.losses.get("categorical_crossentropy"))
        >>> loss.from_logits, forward == model.forward_logits
        (True, True)
    """
    final = model.output_activation_name()
    fusable = getattr(loss, "fusable_activation", None)
    from_logits = getattr(loss, "from_logits", False)
    if final is not None and final == fusable and not from_logits:
        return loss.with_logits(), model.forward_logits, activations.get(final)
    if fusable and not from_logits and final is not None and final not in ("softmax",
                                                                           "sigmoid"):
        warnings.warn(
            f"Model '{model.name}' ends with activation '{final}', but the loss "
            f"'{loss.name}' expects probabilities. End the model with "
            f"activation='{fusable}', or pass a loss with from_logits=True.",
            LaminaWarning, stacklevel=3)
    return loss, model, None
