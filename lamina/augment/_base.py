"""The base of the batch transforms, ``Compose``, and name lookup (``get``/``serialize``)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor

from lamina._registry import Registry
from lamina._validation import check_probability
from lamina.errors import message

__all__ = ["Transform", "Compose", "get", "serialize", "TRANSFORMS"]

#: Every transform class, by class name and snake-case alias: how ``get`` finds one.
TRANSFORMS = Registry("augmentation")


class Transform:
    """Base of the batch transforms: per-sample coin flips, parameter draws, config, repr.

    Subclasses implement ``apply(x) -> Tensor`` on a ``(N, C, H, W)`` batch (drawing their
    parameters with :meth:`rand`/:meth:`randint`/:meth:`randn`) and list their constructor
    arguments in ``get_config``. Calling the transform checks the input once and returns the
    transformed batch; samples whose coin (probability ``p``) came up tails are unchanged.

    Args:
        p: probability that a given sample is transformed. Defaults to 1.
        generator: a ``torch.Generator`` for the random draws. Defaults to torch's global one.
    """

    needs_float = False   # whether apply() interpolates or adds noise

    def __init__(self, *, p: float = 1.0, generator: torch.Generator | None = None):
        self.p = check_probability("p", p, type(self).__name__, inclusive_high=True)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(message(f"Argument `generator` of {type(self).__name__} must be a "
                                    f"torch.Generator or None.",
                                    received=f"type {type(generator).__name__}"))
        self.generator = generator

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in cls.__name__)
            TRANSFORMS.register(cls.__name__, snake.lstrip("_"), overwrite=True)(cls)

    def __call__(self, x: Tensor) -> Tensor:
        flat = _as_nchw(x, type(self).__name__, floating=self.needs_float)
        if self.p == 0.0:
            return x
        out = self.apply(flat)
        if self.p < 1.0:
            keep = self.rand(flat.shape[0], like=flat) >= self.p
            out = torch.where(keep[:, None, None, None], flat, out)
        return out.reshape(x.shape)

    def apply(self, x: Tensor) -> Tensor:
        """Transform every sample of ``x`` ``(N, C, H, W)``."""
        raise TypeError(f"{type(self).__name__} must define `apply`.")

    # -- random draws, on x's device, from the global RNG or ``generator`` ---------------
    def _draw(self, fn, shape, like: Tensor, **kwargs) -> Tensor:
        g = self.generator
        if g is None:
            return fn(*shape, device=like.device, **kwargs)
        return fn(*shape, generator=g, device=g.device, **kwargs).to(like.device)

    def rand(self, *shape: int, like: Tensor) -> Tensor:
        """Uniform [0, 1) floats of ``shape`` on ``like``'s device."""
        return self._draw(torch.rand, shape, like)

    def randn(self, *shape: int, like: Tensor) -> Tensor:
        """Standard normal values of ``shape`` with ``like``'s dtype and device."""
        return self._draw(torch.randn, shape, like, dtype=like.dtype)

    def randint(self, low: int, high: int, *shape: int, like: Tensor) -> Tensor:
        """Integers in ``[low, high]`` (both included) of ``shape`` on ``like``'s device."""
        return self._draw(lambda *s, **k: torch.randint(low, high + 1, s, **k), shape, like)

    def uniform(self, low, high, *shape: int, like: Tensor) -> Tensor:
        """Uniform floats in ``[low, high)`` on ``like``'s device (its dtype, if floating)."""
        dtype = like.dtype if like.is_floating_point() else torch.float32
        return low + (high - low) * self._draw(torch.rand, shape, like, dtype=dtype)

    # -- description -----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild the transform (the generator is not saved)."""
        return {"p": self.p}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Transform:
        """Create a transform from the output of :meth:`get_config`."""
        return cls(**config)

    def extra_repr(self) -> str:
        """The arguments that differ from their defaults, as ``repr`` shows them."""
        defaults = type(self)().get_config() if _constructible(type(self)) else {}
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k not in defaults or defaults[k] != v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply transforms one after the other.

    Args:
        transforms: transforms (or any callables on a batch), or names and configs that
            :func:`get` resolves, applied in order.

    Example:
        >>> import torch
        >>> from lamina.augment import GaussianNoise, RandomFlip
        >>> aug = Compose([RandomFlip(p=1.0), GaussianNoise(0.0)])
        >>> x = torch.rand(2, 1, 3, 3)
        >>> torch.equal(aug(x), x.flip(-1))
        True
        >>> aug
        Compose([RandomFlip(p=1.0), GaussianNoise(std=0.0)])
    """

    def __init__(self, transforms=()):
        super().__init__()
        self.transforms = [get(t) for t in transforms]

    def __call__(self, x: Tensor) -> Tensor:
        for transform in self.transforms:
            x = transform(x)
        return x

    def get_config(self) -> dict[str, Any]:
        return {"transforms": [serialize(t) for t in self.transforms]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Compose:
        return cls(config["transforms"])

    def __repr__(self) -> str:
        return f"Compose([{', '.join(repr(t) for t in self.transforms)}])"

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, index):
        return self.transforms[index]



def get(identifier) -> Any:
    """Resolve a transform from a name, a config dict, a list (-> ``Compose``) or a callable.

    Args:
        identifier: a class name or its snake-case alias (``"RandomFlip"``,
            ``"random_flip"``), a dict ``{"class_name": ..., "config": {...}}`` as
            :func:`serialize` writes it, a list or tuple of any of these (composed in order),
            a transform or any callable (returned as is), or None (no augmentation).

    Returns:
        A callable on a batch, or None.

    Example:
        >>> get(["random_crop", {"class_name": "RandomFlip", "config": {"p": 1.0}}])
        Compose([RandomCrop(), RandomFlip(p=1.0)])
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        return TRANSFORMS.lookup(identifier)()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return TRANSFORMS.lookup(identifier["class_name"]).from_config(
            identifier.get("config", {}))
    if isinstance(identifier, (list, tuple)):
        return Compose(identifier)
    raise TypeError(message(
        "Could not interpret augmentation identifier.", received=repr(identifier),
        fix="Pass a transform (e.g. lm.augment.RandomFlip()), its name, its config dict or "
            "a list of them."))


def serialize(transform) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a transform, the inverse of :func:`get`.

    Example:
        >>> from lamina.augment import RandomFlip
        >>> serialize(RandomFlip(mode="vertical"))
        {'class_name': 'RandomFlip', 'config': {'mode': 'vertical', 'p': 0.5}}
    """
    if not isinstance(transform, Transform):
        raise TypeError(message("Only lamina transforms can be serialized.",
                                received=f"an object of type {type(transform).__name__}"))
    return {"class_name": type(transform).__name__, "config": transform.get_config()}



# -- helpers ----------------------------------------------------------------------------------
def _as_nchw(x: Tensor, owner: str, *, floating: bool = False) -> Tensor:
    """``x`` viewed as ``(N, C, H, W)`` (extra middle axes folded into C), after checks."""
    if not isinstance(x, Tensor):
        raise TypeError(message(f"{owner} transforms torch tensors.",
                                received=f"an object of type {type(x).__name__}",
                                fix="Convert with `torch.as_tensor(x)` first."))
    if x.dim() < 3:
        raise ValueError(message(
            f"{owner} expects a batch of images (N, C, H, W) (or (N, H, W)).",
            received=f"a tensor of shape {tuple(x.shape)}",
            fix="Augment image data, e.g. reshape flat inputs to (N, 1, 28, 28)."))
    if floating and not x.is_floating_point():
        raise TypeError(message(f"{owner} needs floating-point images.",
                                received=f"dtype {x.dtype}", fix="Call `x.float()` first."))
    return x.reshape(x.shape[0], -1, *x.shape[-2:])


def _check_number(name: str, value, owner: str, *, minimum: float = -math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= minimum:
        bound = "a number" if minimum == -math.inf else f"a number >= {minimum:g}"
        raise ValueError(message(f"Argument `{name}` of {owner} must be {bound}.",
                                 received=f"{name}={value!r}"))
    return float(value)


def _check_range(name: str, value, owner: str, *, minimum: float, maximum: float) -> tuple:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low, high = math.nan, math.nan
    if not minimum <= low <= high <= maximum:
        raise ValueError(message(
            f"Argument `{name}` of {owner} must be a pair (low, high) with "
            f"{minimum:g} <= low <= high <= {maximum:g}.", received=f"{name}={value!r}"))
    return (low, high)


def _check_fraction_pair(name: str, value, owner: str) -> tuple:
    pair = (value, value) if isinstance(value, numbers.Real) else value
    try:
        fy, fx = (float(v) for v in pair)
    except (TypeError, ValueError):
        fy = fx = math.nan
    if not (0.0 <= fy <= 1.0 and 0.0 <= fx <= 1.0) or isinstance(value, bool):
        raise ValueError(message(
            f"Argument `{name}` of {owner} must be a fraction in [0, 1] or a pair (fy, fx) "
            f"of them.", received=f"{name}={value!r}"))
    return (fy, fx)


def _constructible(cls) -> bool:
    try:
        cls()
    except TypeError:
        return False
    return True
