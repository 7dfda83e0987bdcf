"""Learning-rate schedules: ``lr = schedule(t)``, per epoch or per step.

A schedule is a small object with ``__call__(t) -> float``, where ``t`` counts from 0: the
epoch index when ``unit="epoch"`` (the default), the global step (batch) index when
``unit="step"``. Schedules return the *absolute* learning rate; ``apply_lr(optimizer, lr)``
puts it into an optimizer, keeping the ratios between parameter groups (a backbone bound at a
tenth of the head's rate keeps a tenth). ``lm.callbacks.LearningRateScheduler`` does that at
the start of every epoch (or step) for you.

Deck 002's "learning rate issue" names the shapes: constant, step ("drop"), exponential and
1/t ("decreasing") decay; cosine decay, linear warm-up and the one-cycle policy are the
modern additions.

Example:
    >>> import torch
    >>> from lamina import schedules
    >>> schedule = schedules.StepDecay(0.1, drop=0.5, every=10)
    >>> [schedule(t) for t in (0, 9, 10, 25)]
    [0.1, 0.1, 0.05, 0.025]
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    >>> schedules.apply_lr(opt, schedule(10))
    >>> opt.param_groups[0]["lr"]
    0.05
"""

from __future__ import annotations

import inspect
import math

from lamina._validation import check_option
from lamina.optimizers._constraints import Number, check_constraints
from lamina.optimizers.base import apply_lr, get_lr

__all__ = [
    "Schedule", "Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay",
    "LinearWarmup", "OneCycle", "apply_lr", "get_lr",
]

UNITS = ("epoch", "step")

_LR = Number("learning rate")
_POSITIVE_INT = Number("length", low=1, integer=True)


class Schedule:
    """Base class: a learning rate as a function of the epoch (or step) index ``t``.

    Subclasses validate their arguments with ``_constraints``, store them under the same names
    (``get_config`` reads them back) and implement ``__call__``.

    Args:
        unit: ``"epoch"`` (``t`` is the epoch index) or ``"step"`` (``t`` is the global
            step index). Defaults to ``"epoch"``.

    Example:
        >>> class Halving(Schedule):
        ...     def __call__(self, t):
        ...         return 0.5 ** t
        >>> Halving(unit="step")(3), Halving().unit
        (0.125, 'epoch')
    """

    _constraints: dict = {}

    def __init__(self, *, unit: str = "epoch"):
        self.unit = check_option("unit", unit, UNITS, type(self).__name__)

    def _check(self, **values) -> None:
        check_constraints(self._constraints, type(self).__name__, values)

    def __call__(self, t: float) -> float:
        raise TypeError(f"{type(self).__name__} must define `__call__(t)`.")

    def get_config(self) -> dict:
        """The constructor's arguments, for saving; ``from_config`` rebuilds the schedule."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_config(cls, config: dict) -> Schedule:
        """A schedule from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """A constant learning rate: ``lr(t) = lr``.

    Args:
        lr: the learning rate.
        unit: ``"epoch"`` or ``"step"``. Defaults to ``"epoch"``.

    Example:
        >>> Constant(0.01)(100)
        0.01
    """

    _constraints = {"lr": _LR}

    def __init__(self, lr: float, *, unit: str = "epoch"):
        super().__init__(unit=unit)
        self._check(lr=lr)
        self.lr = lr

    def __call__(self, t: float) -> float:
        return self.lr


class StepDecay(Schedule):
    """Step decay ("drop"): ``lr(t) = initial_lr * drop ** floor(t / every)``.

    PyTorch's twin is ``torch.optim.lr_scheduler.StepLR(step_size=every, gamma=drop)``.

    Args:
        initial_lr: learning rate for ``t < every``.
        drop: factor applied every ``every`` units, > 0. Defaults to 0.5.
        every: number of epochs (or steps) between drops, >= 1. Defaults to 10.
        unit: ``"epoch"`` or ``"step"``. Defaults to ``"epoch"``.

    Example:
        >>> [StepDecay(1.0, drop=0.1, every=2)(t) for t in range(5)]
        [1.0, 1.0, 0.1, 0.1, 0.010000000000000002]
    """

    _constraints = {"initial_lr": _LR, "drop": Number("drop factor", low_open=True),
                    "every": _POSITIVE_INT}

    def __init__(self, initial_lr: float, drop: float = 0.5, every: int = 10, *,
                 unit: str = "epoch"):
        super().__init__(unit=unit)
        self._check(initial_lr=initial_lr, drop=drop, every=every)
        self.initial_lr, self.drop, self.every = initial_lr, drop, every

    def __call__(self, t: float) -> float:
        return self.initial_lr * self.drop ** (t // self.every)


class ExponentialDecay(Schedule):
    """Exponential decay: ``lr(t) = initial_lr * decay_rate ** (t / decay_steps)``.

    With ``decay_steps=1`` PyTorch's twin is ``ExponentialLR(gamma=decay_rate)``.

    Args:
        initial_lr: learning rate at ``t = 0``.
        decay_rate: factor per ``decay_steps`` units, > 0.
        decay_steps: units over which the rate is multiplied by ``decay_rate``, > 0.
            Defaults to 1.
        unit: ``"epoch"`` or ``"step"``. Defaults to ``"epoch"``.

    Example:
        >>> ExponentialDecay(0.1, decay_rate=0.5, decay_steps=2)(4)
        0.025
    """

    _constraints = {"initial_lr": _LR, "decay_rate": Number("decay rate", low_open=True),
                    "decay_steps": Number("decay steps", low_open=True)}

    def __init__(self, initial_lr: float, decay_rate: float, decay_steps: float = 1, *,
                 unit: str = "epoch"):
        super().__init__(unit=unit)
        self._check(initial_lr=initial_lr, decay_rate=decay_rate, decay_steps=decay_steps)
        self.initial_lr, self.decay_rate, self.decay_steps = initial_lr, decay_rate, decay_steps

    def __call__(self, t: float) -> float:
        return self.initial_lr * self.decay_rate ** (t / self.decay_steps)


class InverseTimeDecay(Schedule):
    """1/t decay, the decks' "decreasing" rate: ``lr(t) = initial_lr / (1 + decay_rate * t / decay_steps)``.

    It satisfies the stochastic-approximation conditions (sum of rates infinite, sum of
    squares finite) under which SGD converges.

    Args:
        initial_lr: learning rate at ``t = 0``.
        decay_rate: how fast the rate falls, >= 0.
        decay_steps: time scale of the decay, > 0. Defaults to 1.
        unit: ``"epoch"`` or ``"step"``. Defaults to ``"epoch"``.

    Example:
        >>> InverseTimeDecay(0.1, decay_rate=1.0)(4)  # 0.1 / (1 + 4)
        0.02
    """

    _constraints = {"initial_lr": _LR, "decay_rate": Number("decay rate"),
                    "decay_steps": Number("decay steps", low_open=True)}

    def __init__(self, initial_lr: float, decay_rate: float, decay_steps: float = 1, *,
                 unit: str = "epoch"):
        super().__init__(unit=unit)
        self._check(initial_lr=initial_lr, decay_rate=decay_rate, decay_steps=decay_steps)
        self.initial_lr, self.decay_rate, self.decay_steps = initial_lr, decay_rate, decay_steps

    def __call__(self, t: float) -> float:
        return self.initial_lr / (1 + self.decay_rate * t / self.decay_steps)


class CosineDecay(Schedule):
    """Cosine decay (Loshchilov & Hutter 2017, without restarts) from ``initial_lr`` to ``final_lr``.

    ``lr(t) = final_lr + (initial_lr - final_lr) * (1 + cos(pi * min(t, total) / total)) / 2``

    After ``total`` units the rate stays at ``final_lr`` (as Keras's ``CosineDecay``); PyTorch's
    ``CosineAnnealingLR(T_max=total, eta_min=final_lr)``, equal up to ``total``, rises again.

    Args:
        initial_lr: learning rate at ``t = 0``.
        total: length of the decay in epochs (or steps), >= 1.
        final_lr: learning rate from ``t = total`` on. Defaults to 0.
        unit: ``"epoch"`` or ``"step"``. Defaults to ``"epoch"``.

    Example:
        >>> [round(CosineDecay(1.0, total=4)(t), 6) for t in range(6)]
        [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """

    _constraints = {"initial_lr": _LR, "total": _POSITIVE_INT, "final_lr": _LR}

    def __init__(self, initial_lr: float, total: int, final_lr: float = 0.0, *,
                 unit: str = "epoch"):
        super().__init__(unit=unit)
        self._check(initial_lr=initial_lr, total=total, final_lr=final_lr)
        self.initial_lr, self.total, self.final_lr = initial_lr, total, final_lr

    def __call__(self, t: float) -> float:
        progress = min(max(t, 0), self.total) / self.total
        return self.final_lr + (self.initial_lr - self.final_lr) * (
            1 + math.cos(math.pi * progress)) / 2


class LinearWarmup(Schedule):
    """A linear ramp from 0 over ``warmup`` units, then the wrapped schedule (started afresh).

    ``lr(t) = target * t / warmup`` for ``t < warmup``, else ``schedule(t - warmup)``, with
    ``target = schedule(0)``; a number ``lr`` stands for ``Constant(lr)``. The rate is 0 at
    ``t = 0`` and continuous at ``t = warmup``.

    Args:
        schedule: the schedule after warm-up, or a constant learning rate.
        warmup: length of the ramp in epochs (or steps), >= 0.
        unit: ``"epoch"`` or ``"step"``; None takes the wrapped schedule's (``"epoch"`` for a
            number). A unit different from the wrapped schedule's is an error.
            Defaults to None.

    Example:
        >>> warm = LinearWarmup(StepDecay(0.1, drop=0.5, every=2, unit="step"), warmup=4)
        >>> [round(warm(t), 6) for t in range(8)], warm.unit
        ([0.0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.05, 0.05], 'step')
    """

    _constraints = {"warmup": Number("warm-up length", integer=True)}

    def __init__(self, schedule: Schedule | float, warmup: int, *, unit: str | None = None):
        if unit is not None:
            unit = check_option("unit", unit, UNITS, "LinearWarmup")
        if not isinstance(schedule, Schedule):
            schedule = Constant(schedule, unit=unit or "epoch")
        if unit is not None and unit != schedule.unit:
            raise ValueError(
                f"Argument `unit` of LinearWarmup must match the wrapped schedule's unit "
                f"({schedule.unit!r}). Received: unit={unit!r}. Leave `unit` out to inherit it.")
        super().__init__(unit=schedule.unit)
        self._check(warmup=warmup)
        self.schedule, self.warmup = schedule, warmup

    def __call__(self, t: float) -> float:
        if t < self.warmup:
            return self.schedule(0) * t / self.warmup
        return self.schedule(t - self.warmup)

    def get_config(self) -> dict:
        """Arguments, with the wrapped schedule as ``{"class_name": ..., "config": ...}``."""
        inner = {"class_name": type(self.schedule).__name__,
                 "config": self.schedule.get_config()}
        return {"schedule": inner, "warmup": self.warmup, "unit": self.unit}

    @classmethod
    def from_config(cls, config: dict) -> LinearWarmup:
        """A ``LinearWarmup`` from ``get_config()``'s output."""
        inner = config["schedule"]
        if isinstance(inner, dict):
            inner = _SCHEDULES[inner["class_name"]].from_config(inner["config"])
        return cls(inner, config["warmup"], unit=config.get("unit"))


class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topin 2019), the learning rates of PyTorch's ``OneCycleLR``.

    Two cosine phases over ``total`` units (PyTorch's ``anneal_strategy="cos"``,
    ``three_phase=False``), with ``start = max_lr / div_factor``,
    ``end = start / final_div_factor`` and ``t1 = pct_start * total - 1``::

        t <= t1:  lr = anneal(start, max_lr, t / t1)
        t >  t1:  lr = anneal(max_lr, end, (t - t1) / (total - 1 - t1))
        anneal(a, b, p) = b + (a - b) / 2 * (1 + cos(pi * p))

    After ``total - 1`` the rate stays at ``end`` (PyTorch raises). Momentum cycling is not
    part of this schedule.

    Args:
        max_lr: the peak learning rate.
        total: length of the cycle in epochs (or steps), >= 1.
        pct_start: fraction of the cycle spent rising, in (0, 1). Defaults to 0.3.
        div_factor: ``max_lr / start``, > 0. Defaults to 25.
        final_div_factor: ``start / end``, > 0. Defaults to 1e4.
        unit: ``"epoch"`` or ``"step"``. Defaults to ``"epoch"``.

    Example:
        >>> cycle = OneCycle(1.0, total=11, pct_start=0.5, div_factor=10, final_div_factor=1)
        >>> [round(cycle(t), 4) for t in (0, 2, 4.5, 7, 10)]
        [0.1, 0.4719, 1.0, 0.614, 0.1]
    """

    _constraints = {"max_lr": _LR, "total": _POSITIVE_INT,
                    "pct_start": Number("pct_start", 0, 1, low_open=True, high_open=True),
                    "div_factor": Number("div_factor", low_open=True),
                    "final_div_factor": Number("final_div_factor", low_open=True)}

    def __init__(self, max_lr: float, total: int, pct_start: float = 0.3,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, *,
                 unit: str = "epoch"):
        super().__init__(unit=unit)
        self._check(max_lr=max_lr, total=total, pct_start=pct_start, div_factor=div_factor,
                    final_div_factor=final_div_factor)
        self.max_lr, self.total, self.pct_start = max_lr, total, pct_start
        self.div_factor, self.final_div_factor = div_factor, final_div_factor

    def __call__(self, t: float) -> float:
        t = min(max(t, 0), self.total - 1)
        start_lr = self.max_lr / self.div_factor
        t1 = float(self.pct_start * self.total) - 1  # last unit of the rise, as in PyTorch
        if t <= t1:
            begin, end, lr_a, lr_b = 0.0, t1, start_lr, self.max_lr
        else:
            begin, end = t1, self.total - 1
            lr_a, lr_b = self.max_lr, start_lr / self.final_div_factor
        pct = (t - begin) / (end - begin) if end != begin else 1.0
        return lr_b + (lr_a - lr_b) / 2.0 * (math.cos(math.pi * pct) + 1)


_SCHEDULES = {cls.__name__: cls for cls in (Constant, StepDecay, ExponentialDecay,
                                             InverseTimeDecay, CosineDecay, LinearWarmup,
                                             OneCycle)}
