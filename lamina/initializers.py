"""Weight initializers: ``init(tensor, generator=None) -> tensor``, filling in place.

Every initializer writes into ``tensor`` under ``torch.no_grad()`` and returns it. The
named schemes follow Keras's formulas exactly and are all one :class:`VarianceScaling`:

=================  =====  ========  =================  ===============================
name               scale  mode      distribution       resulting range / std
=================  =====  ========  =================  ===============================
``uniform_fan_in`` 1/3    fan_in    uniform            U(-1/sqrt(fan_in), +) (torch)
``lecun_uniform``  1      fan_in    uniform            U(-sqrt(3/fan_in), +)
``lecun_normal``   1      fan_in    truncated_normal   std sqrt(1/fan_in)
``glorot_uniform`` 1      fan_avg   uniform            U(-sqrt(6/(in+out)), +)
``glorot_normal``  1      fan_avg   truncated_normal   std sqrt(2/(in+out))
``he_uniform``     2      fan_in    uniform            U(-sqrt(6/fan_in), +)
``he_normal``      2      fan_in    truncated_normal   std sqrt(2/fan_in)
=================  =====  ========  =================  ===============================

Fans are computed as torch does for a Linear weight ``(out, in)`` and a Conv weight
``(out, in, *kernel)``: ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``.

Example:
    >>> import torch
    >>> from lamina import initializers
    >>> w = initializers.get("glorot_uniform")(torch.empty(120, 84))
    >>> bool(w.abs().max() <= (6 / (120 + 84)) ** 0.5)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from lamina._registry import Registry
from lamina.errors import message

__all__ = [
    "INITIALIZERS",
    "VarianceScaling",
    "compute_fans",
    "zeros",
    "ones",
    "uniform_fan_in",
    "lecun_uniform",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
    "get",
    "serialize",
]

INITIALIZERS = Registry("initializer")
Initializer = Callable[..., torch.Tensor]

# Standard deviation of a unit normal truncated to [-2, 2], as in Keras: dividing by it
# makes the truncated distribution have the requested standard deviation.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...] | torch.Size) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of ``shape``, as torch computes them.

    ``(out, in)`` gives ``(in, out)``; ``(out, in, *k)`` gives ``(in * prod(k), out * prod(k))``.
    A 1-D shape ``(n,)`` gives ``(n, n)`` and a scalar ``(1, 1)``, as in Keras.

    Example:
        >>> compute_fans((6, 1, 5, 5))
        (25, 150)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


class VarianceScaling:
    """Draw weights with variance ``scale / fan`` (Keras semantics).

    ``fan`` is ``fan_in``, ``fan_out`` or their average (``mode``), floored at 1. Then
    ``uniform`` draws from ``U(-sqrt(3 * scale / fan), +sqrt(3 * scale / fan))``,
    ``untruncated_normal`` from ``N(0, scale / fan)``, and ``truncated_normal`` from a
    normal cut at two standard deviations and rescaled so its standard deviation is
    exactly ``sqrt(scale / fan)`` (torch's ``xavier_normal_``/``kaiming_normal_`` do not
    truncate; the variance is the same).

    Args:
        scale: the variance numerator, > 0. Defaults to 1.0.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``. Defaults to ``"fan_in"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``.
            Defaults to ``"truncated_normal"``.

    Example:
        >>> init = VarianceScaling(2.0, mode="fan_in", distribution="uniform")
        >>> w = init(torch.empty(64, 100))
        >>> bool(w.abs().max() <= (6 / 100) ** 0.5)
        True
    """

    _modes = ("fan_in", "fan_out", "fan_avg")
    _distributions = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal"
    ):
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(
                message(
                    "Argument `scale` of VarianceScaling must be a number > 0.",
                    received=f"scale={scale!r}",
                )
            )
        for arg, value, options in (
            ("mode", mode, self._modes),
            ("distribution", distribution, self._distributions),
        ):
            if value not in options:
                raise ValueError(
                    message(
                        f"Argument `{arg}` of VarianceScaling is not valid.",
                        expected=f"one of {', '.join(map(repr, options))}",
                        received=f"{arg}={value!r}",
                    )
                )
        self.scale = float(scale)
        self.mode = mode
        self.distribution = distribution

    def std(self, shape: tuple[int, ...] | torch.Size) -> float:
        """The standard deviation of the weights this initializer draws for ``shape``."""
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
        return math.sqrt(self.scale / max(1.0, fan[self.mode]))

    def __call__(
        self, tensor: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        std = self.std(tensor.shape)
        with torch.no_grad():
            if self.distribution == "uniform":
                limit = math.sqrt(3.0) * std
                return torch.nn.init.uniform_(tensor, -limit, limit, generator=generator)
            if self.distribution == "untruncated_normal":
                return torch.nn.init.normal_(tensor, 0.0, std, generator=generator)
            std = std / _TRUNCATED_STD
            return torch.nn.init.trunc_normal_(
                tensor, 0.0, std, -2 * std, 2 * std, generator=generator
            )

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``VarianceScaling(**config)``."""
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"VarianceScaling({args})"


INITIALIZERS.register("variance_scaling", "VarianceScaling")(VarianceScaling)


@INITIALIZERS.register("zeros", "zero")
def zeros(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill with zeros: ``w = 0``.

    Example:
        >>> zeros(torch.empty(2))
        tensor([0., 0.])
    """
    with torch.no_grad():
        return tensor.zero_()


@INITIALIZERS.register("ones", "one")
def ones(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill with ones: ``w = 1``.

    Example:
        >>> ones(torch.empty(2))
        tensor([1., 1.])
    """
    with torch.no_grad():
        return tensor.fill_(1.0)


@INITIALIZERS.register("uniform_fan_in")
def uniform_fan_in(
    tensor: torch.Tensor, generator: torch.Generator | None = None, *, fan_in: int | None = None
) -> torch.Tensor:
    """The decks' and torch's default: ``w ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    This is what ``torch.nn.Linear`` and ``Conv2d`` use for both weight and bias. For a
    bias, pass the weight's ``fan_in`` (a bias alone has no fan-in).

    Args:
        tensor: the tensor to fill in place.
        generator: random generator. Defaults to torch's global one.
        fan_in: overrides the fan-in computed from ``tensor.shape``.

    Example:
        >>> b = uniform_fan_in(torch.empty(10), fan_in=400)
        >>> bool(b.abs().max() <= 0.05)
        True
    """
    if fan_in is None:
        fan_in = compute_fans(tensor.shape)[0]
    bound = 1.0 / math.sqrt(max(1, fan_in))
    with torch.no_grad():
        return torch.nn.init.uniform_(tensor, -bound, bound, generator=generator)


def _scaled(
    scale: float,
    mode: str,
    distribution: str,
    tensor: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    return VarianceScaling(scale, mode, distribution)(tensor, generator)


@INITIALIZERS.register("lecun_uniform")
def lecun_uniform(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """LeCun uniform: ``w ~ U(-sqrt(3/fan_in), sqrt(3/fan_in))`` (variance ``1/fan_in``).

    Example:
        >>> bool(lecun_uniform(torch.empty(8, 300)).abs().max() <= 0.1)
        True
    """
    return _scaled(1.0, "fan_in", "uniform", tensor, generator)


@INITIALIZERS.register("lecun_normal")
def lecun_normal(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """LeCun normal: truncated normal (cut at 2 std) with ``std = sqrt(1/fan_in)``, as Keras.

    Example:
        >>> bool(lecun_normal(torch.empty(8, 100)).abs().max() <= 2 / 0.8796 * 0.1)
        True
    """
    return _scaled(1.0, "fan_in", "truncated_normal", tensor, generator)


@INITIALIZERS.register("glorot_uniform", "xavier_uniform")
def glorot_uniform(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot (Xavier) uniform: ``w ~ U(-sqrt(6/(fan_in+fan_out)), +sqrt(6/(fan_in+fan_out)))``.

    Same as torch's ``xavier_uniform_`` with gain 1.

    Example:
        >>> bool(glorot_uniform(torch.empty(100, 50)).abs().max() <= 0.2)
        True
    """
    return _scaled(1.0, "fan_avg", "uniform", tensor, generator)


@INITIALIZERS.register("glorot_normal", "xavier_normal")
def glorot_normal(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot (Xavier) normal: truncated normal, ``std = sqrt(2/(fan_in+fan_out))``, as Keras.

    torch's ``xavier_normal_`` has the same standard deviation but does not truncate.

    Example:
        >>> glorot_normal(torch.empty(100, 50)).shape
        torch.Size([100, 50])
    """
    return _scaled(1.0, "fan_avg", "truncated_normal", tensor, generator)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal


@INITIALIZERS.register("he_uniform", "kaiming_uniform")
def he_uniform(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """He (Kaiming) uniform for ReLU nets: ``w ~ U(-sqrt(6/fan_in), sqrt(6/fan_in))``.

    Example:
        >>> bool(he_uniform(torch.empty(10, 600)).abs().max() <= 0.1)
        True
    """
    return _scaled(2.0, "fan_in", "uniform", tensor, generator)


@INITIALIZERS.register("he_normal", "kaiming_normal")
def he_normal(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """He (Kaiming) normal: truncated normal with ``std = sqrt(2/fan_in)``, as Keras.

    Example:
        >>> he_normal(torch.empty(16, 3, 3, 3)).shape
        torch.Size([16, 3, 3, 3])
    """
    return _scaled(2.0, "fan_in", "truncated_normal", tensor, generator)


@INITIALIZERS.register("orthogonal")
def orthogonal(
    tensor: torch.Tensor, generator: torch.Generator | None = None, *, gain: float = 1.0
) -> torch.Tensor:
    """(Semi-)orthogonal matrix times ``gain``: ``W W^T = gain^2 I`` (or ``W^T W``).

    Dimensions after the first are flattened, as in torch's ``orthogonal_``. Used for
    recurrent weights.

    Example:
        >>> w = orthogonal(torch.empty(4, 4))
        >>> torch.allclose(w @ w.T, torch.eye(4), atol=1e-5)
        True
    """
    if tensor.ndim < 2:
        raise ValueError(
            message(
                "The `orthogonal` initializer needs a tensor with 2 or more dimensions.",
                received=f"shape {tuple(tensor.shape)}",
            )
        )
    with torch.no_grad():
        return torch.nn.init.orthogonal_(tensor, gain=gain, generator=generator)


def get(identifier: str | dict | Initializer | type) -> Initializer:
    """Resolve an initializer from a name, a config dict, a class, or a callable.

    Args:
        identifier: a registered name (case-insensitive, e.g. ``"he_normal"``,
            ``"xavier_uniform"``, ``"variance_scaling"``), a dict from :func:`serialize`,
            the ``VarianceScaling`` class (instantiated with defaults), or a callable
            ``init(tensor, generator=None)`` such as a ``VarianceScaling`` instance,
            returned as is.

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
        TypeError: for anything else.

    Example:
        >>> get("Xavier_Uniform") is glorot_uniform
        True
        >>> get({"class_name": "VarianceScaling", "config": {"scale": 2.0}})
        VarianceScaling(scale=2.0, mode='fan_in', distribution='truncated_normal')
    """
    if isinstance(identifier, dict) and "class_name" in identifier:
        obj = INITIALIZERS.lookup(identifier["class_name"])
        return obj(**identifier.get("config", {})) if isinstance(obj, type) else obj
    if isinstance(identifier, str):
        identifier = INITIALIZERS.lookup(identifier)
    if isinstance(identifier, type) and issubclass(identifier, VarianceScaling):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(
        message(
            "Could not interpret the initializer identifier.",
            expected="a name such as 'glorot_uniform', a callable init(tensor, generator=None), "
            "or a config dict",
            received=f"initializer={identifier!r} (type {type(identifier).__name__})",
        )
    )


def serialize(initializer: str | Initializer) -> str | dict[str, Any]:
    """A config value for ``initializer``: its name, or a dict for a ``VarianceScaling``.

    Raises:
        ValueError: for a callable that is not registered (configs store names).

    Example:
        >>> serialize(xavier_uniform)
        'glorot_uniform'
        >>> serialize(VarianceScaling(0.5))["config"]["scale"]
        0.5
    """
    if isinstance(initializer, str):
        return INITIALIZERS.canonical(initializer)
    if isinstance(initializer, VarianceScaling):
        return {"class_name": "VarianceScaling", "config": initializer.get_config()}
    for name in INITIALIZERS.names():
        if INITIALIZERS.lookup(name) is initializer:
            return INITIALIZERS.canonical(name)
    raise ValueError(
        message(
            "Cannot serialize an unregistered initializer: model configs store initializers "
            "by registered name.",
            received=f"initializer={initializer!r}",
            fix="Pass a name such as 'he_normal', a VarianceScaling, or register the function: "
            "`lamina.initializers.INITIALIZERS.register('my_init')(my_init)`.",
        )
    )
