"""Plumbing shared by the unsupervised estimators: parameters, constraints, data, devices.

The RBM and the DBN follow scikit-learn's estimator conventions: ``__init__`` only stores
its arguments (so ``get_params``/``set_params``/``sklearn.base.clone`` work), ``fit``
validates them against the class's ``_constraints`` and learns the attributes that end
with ``_``.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from lamina.errors import NotBuiltError, message
from lamina.optimizers._constraints import Flag, Number, check_constraints
from lamina.training.tensors import to_tensor

__all__ = ["Options", "RandomState", "Rate", "Device", "Sizes", "Flag", "Number", "EstimatorMixin",
           "make_generator", "as_tensor", "check_real", "like_input"]


@dataclass(frozen=True)
class Options:
    """One of a few strings (case-sensitive).

    Example:
        >>> Options("visible units", ("binary", "gaussian")).describe()
        "one of 'binary', 'gaussian'"
    """

    label: str
    options: tuple

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


@dataclass(frozen=True)
class RandomState:
    """``None``, an int >= 0 (a seed) or a ``torch.Generator``.

    Example:
        >>> RandomState().accepts(-1)
        False
    """

    label: str = "random state"

    def accepts(self, value: Any) -> bool:
        if value is None or isinstance(value, torch.Generator):
            return True
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0

    def describe(self) -> str:
        return "None, an integer >= 0 or a torch.Generator"


@dataclass(frozen=True)
class Rate:
    """A learning rate: a number > 0, or a schedule ``epoch -> lr`` (``lm.schedules``).

    Example:
        >>> Rate().accepts(0.0), Rate().accepts(lambda epoch: 0.1)
        (False, True)
    """

    label: str = "learning rate"

    def accepts(self, value: Any) -> bool:
        return callable(value) or Number(self.label, low=0, low_open=True).accepts(value)

    def describe(self) -> str:
        return "a number > 0 or a schedule (a callable epoch -> learning rate)"


@dataclass(frozen=True)
class Device:
    """``"auto"`` (CUDA when present) or anything ``torch.device`` accepts.

    Example:
        >>> Device().accepts("cuda:0"), Device().accepts("gpu")
        (True, False)
    """

    label: str = "device"

    def accepts(self, value: Any) -> bool:
        if value == "auto" or isinstance(value, torch.device):
            return True
        try:
            torch.device(value)
        except (RuntimeError, TypeError):
            return False
        return True

    def describe(self) -> str:
        return "'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device"


@dataclass(frozen=True)
class Sizes:
    """A list of at least ``min_length`` integers >= 1 (layer sizes).

    Example:
        >>> Sizes("layer sizes").accepts([784, 500]), Sizes("layer sizes").accepts([784])
        (True, False)
    """

    label: str
    min_length: int = 2

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) >= self.min_length
                and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                        for v in value))

    def describe(self) -> str:
        return f"a list of at least {self.min_length} integers >= 1"


class EstimatorMixin:
    """``get_params``/``set_params`` from the ``__init__`` signature, and ``_validate_params``.

    Example:
        >>> from lamina.unsupervised import RBM
        >>> RBM(8, lr=0.05).get_params()["lr"]
        0.05
    """

    _constraints: dict = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name (scikit-learn's protocol)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments by name; returns ``self`` (scikit-learn's protocol)."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(message(
                    f"{type(self).__name__} has no parameter `{name}`.",
                    expected=f"one of {', '.join(valid)}", received=f"{name}={value!r}"))
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        check_constraints(self._constraints, type(self).__name__, self.get_params())

    def _check_fitted(self, what: str) -> None:
        if getattr(self, "weight", None) is None:
            raise NotBuiltError(
                f"This {type(self).__name__} is not fitted yet, so `{what}` cannot run. "
                f"Call `fit(x)` (or `partial_fit(x)`) first.")


def make_generator(random_state, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` from ``None``, a seed or a generator.

    A generator already on ``device`` is used as is (so its stream continues); one on
    another device seeds a new generator from its next draw.

    Example:
        >>> g = make_generator(0, torch.device("cpu")); int(torch.randint(10, (), generator=g))
        4
    """
    if isinstance(random_state, torch.Generator):
        if torch.device(random_state.device).type == device.type:
            return random_state
        seed = int(torch.randint(2**62, (), generator=random_state))
    elif random_state is None:
        seed = int(torch.randint(2**62, ()))
    else:
        seed = int(random_state)
    return torch.Generator(device=device).manual_seed(seed)


def as_tensor(x, name: str, owner: str, device: torch.device, *, ndim: int | None = 2) -> Tensor:
    """``x`` (numpy or torch) as a float32 tensor on ``device``, checked for rank and NaN.

    Example:
        >>> import numpy as np
        >>> as_tensor(np.ones((2, 3)), "x", "RBM.fit", torch.device("cpu")).shape
        torch.Size([2, 3])
    """
    t = to_tensor(check_real(x, name, owner), name, owner)
    if not t.is_floating_point():
        t = t.float()
    if ndim is not None and t.dim() != ndim:
        fix = "Flatten images first: `x.reshape(len(x), -1)`." if ndim == 2 else None
        raise ValueError(message(f"Argument `{name}` of {owner} must be a {ndim}-D array "
                                 f"(samples, features).", received=f"shape {tuple(t.shape)}",
                                 fix=fix))
    # One summation first (as scikit-learn does): finite terms give a finite sum unless they
    # overflow, and only then is every element inspected.
    if t.numel() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        raise ValueError(message(f"Argument `{name}` of {owner} contains NaN or infinite values.",
                                 fix="Clean or impute the data first."))
    return t.to(device=device, dtype=torch.float32)


def check_real(x, name: str, owner: str):
    """``x`` unchanged, unless it is a complex tensor (whose imaginary part a cast to float
    would drop with only a warning): then a ``TypeError`` in lamina's style.

    Example:
        >>> check_real(torch.ones(2), "x", "RBM.fit").dtype
        torch.float32
    """
    if isinstance(x, Tensor) and x.is_complex():
        raise TypeError(message(f"Argument `{name}` of {owner} must hold real numbers.",
                                received=f"{name} of dtype {x.dtype}",
                                fix="Pass `x.real` or `x.abs()` explicitly."))
    return x


def like_input(result: Tensor, x):
    """``result`` as numpy if ``x`` was not a tensor, else as a tensor on ``x``'s device.

    Example:
        >>> import numpy as np
        >>> like_input(torch.ones(1), np.zeros(1))
        array([1.], dtype=float32)
    """
    if isinstance(x, Tensor):
        return result.to(x.device)
    return result.detach().cpu().numpy()
