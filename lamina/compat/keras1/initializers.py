"""Keras 1's weight-initialization names (``init=``) as lamina initializers.

Keras 1 computes fans as lamina does (a ``Dense`` kernel's fan-in is its input size, a
channels-first convolution's is ``C * kh * kw``), so its uniform schemes are lamina's. Its
normal schemes draw from an untruncated normal, and ``uniform``/``normal``/``orthogonal``
have fixed scales; those four are registered in :data:`lamina.initializers.INITIALIZERS` as
``keras1_*`` (so that models built from them save and load by name, once this module is
imported).
"""

from __future__ import annotations

import torch

from lamina import initializers
from lamina.errors import message

__all__ = ["KERAS1_INITS", "get", "keras1_uniform", "keras1_normal", "keras1_orthogonal",
           "keras1_identity"]


@initializers.INITIALIZERS.register("keras1_uniform")
def keras1_uniform(tensor: torch.Tensor, generator: torch.Generator | None = None):
    """Keras 1's ``init='uniform'``: ``w ~ U(-0.05, 0.05)``.

    Example:
        >>> bool(keras1_uniform(torch.empty(100)).abs().max() <= 0.05)
        True
    """
    with torch.no_grad():
        return tensor.uniform_(-0.05, 0.05, generator=generator)


@initializers.INITIALIZERS.register("keras1_normal")
def keras1_normal(tensor: torch.Tensor, generator: torch.Generator | None = None):
    """Keras 1's ``init='normal'``: ``w ~ N(0, 0.05^2)``.

    Example:
        >>> round(float(keras1_normal(torch.empty(100000)).std()), 2)
        0.05
    """
    with torch.no_grad():
        return tensor.normal_(0.0, 0.05, generator=generator)


@initializers.INITIALIZERS.register("keras1_orthogonal")
def keras1_orthogonal(tensor: torch.Tensor, generator: torch.Generator | None = None):
    """Keras 1's ``init='orthogonal'``: an orthogonal matrix times Keras 1's gain, 1.1.

    Example:
        >>> w = keras1_orthogonal(torch.empty(3, 3))
        >>> torch.allclose(w @ w.T, 1.21 * torch.eye(3), atol=1e-5)
        True
    """
    return initializers.orthogonal(tensor, generator, gain=1.1)


@initializers.INITIALIZERS.register("keras1_identity")
def keras1_identity(tensor: torch.Tensor, generator: torch.Generator | None = None):
    """Keras 1's ``init='identity'``: the identity matrix (square 2-D weights only).

    Example:
        >>> keras1_identity(torch.empty(2, 2)).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    if tensor.ndim != 2 or tensor.shape[0] != tensor.shape[1]:
        raise ValueError(message("Keras 1's `init='identity'` needs a square 2-D weight.",
                                 received=f"shape {tuple(tensor.shape)}"))
    with torch.no_grad():
        return tensor.copy_(torch.eye(tensor.shape[0], dtype=tensor.dtype))


#: Keras 1 name -> lamina initializer (a registered name or a ``VarianceScaling``).
KERAS1_INITS = {
    "uniform": "keras1_uniform",
    "normal": "keras1_normal",
    "lecun_uniform": "lecun_uniform",
    "glorot_uniform": "glorot_uniform",
    "glorot_normal": initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal"),
    "he_uniform": "he_uniform",
    "he_normal": initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
    "orthogonal": "keras1_orthogonal",
    "identity": "keras1_identity",
    "zero": "zeros",
    "one": "ones",
}


def get(init):
    """The lamina initializer for Keras 1's ``init=`` (a name, or a lamina initializer).

    Args:
        init: one of Keras 1's names (:data:`KERAS1_INITS`), or a callable
            ``init(tensor, generator=None)`` as lamina takes (Keras 1's own
            ``init(shape, name)`` callables do not run on lamina).

    Raises:
        ValueError: an unknown name (the message lists Keras 1's).

    Example:
        >>> get("lecun_uniform"), get("he_normal")
        ('lecun_uniform', VarianceScaling(scale=2.0, mode='fan_in', distribution='untruncated_normal'))
    """
    if callable(init):
        return init
    if isinstance(init, str) and init.lower() in KERAS1_INITS:
        return KERAS1_INITS[init.lower()]
    raise ValueError(message(
        "Unknown Keras 1 `init`.", expected=f"one of {sorted(KERAS1_INITS)}",
        received=f"init={init!r}"))
