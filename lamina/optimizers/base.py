"""What every lamina optimizer shares: deferred binding, gradient clipping, group learning rates.

``lm.optimizers.SGD(lr=0.05, momentum=0.9)`` is a real ``torch.optim.Optimizer``. Created
without ``params`` it holds one placeholder parameter; ``model.compile`` (or
``bind(params)``) swaps in the model's parameters. Created with ``params`` it is an
ordinary PyTorch optimizer.

Learning rates of parameter groups: a group may carry its own ``lr`` (fine-tuning a backbone
at a tenth of the head's rate). ``apply_lr(optimizer, lr)`` sets the optimizer's learning rate
and keeps every group's ratio to it; the schedules' callbacks use it, and so does the ``lr``
setter of lamina optimizers.
"""

from __future__ import annotations

import inspect

import torch

from lamina.optimizers._constraints import Number, check_constraints

__all__ = ["DeferredOptimizer", "apply_lr", "get_lr"]

# Argument text shared by every lamina optimizer, spliced into the class docstrings.
COMMON_ARGS_DOC = """\
        clipnorm: clip each parameter's gradient to this L2 norm (Keras semantics:
            ``g <- g * clipnorm / max(||g||, clipnorm)``). Defaults to None.
        clipvalue: clamp every gradient element to ``[-clipvalue, clipvalue]``. Defaults to None.
        global_clipnorm: clip all gradients together to this global L2 norm
            (``torch.nn.utils.clip_grad_norm_``). Exclusive with ``clipnorm``. Defaults to None.
        params: parameters (tensors, or param-group dicts with their own ``lr``); leave None
            when passing the optimizer to ``model.compile``, which binds the model's parameters."""


def shared_docs(cls):
    """Class decorator: splice ``{common_args}`` in the docstring with ``COMMON_ARGS_DOC``."""
    cls.__doc__ = cls.__doc__.replace("        {common_args}", COMMON_ARGS_DOC)
    return cls


def _lr_scales(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each group's multiplier of the optimizer's lr: ``initial_lr / defaults["lr"]``.

    A group's ``initial_lr`` is recorded the first time it is needed (the key
    ``torch.optim.lr_scheduler`` also uses), so the ratios are those the groups were bound with.
    """
    base = optimizer.defaults["lr"]
    scales = []
    for group in optimizer.param_groups:
        initial = group.setdefault("initial_lr", group["lr"])
        scales.append(initial / base if base else 1.0)
    return scales


def apply_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of ``optimizer``, keeping the ratios between its parameter groups.

    Every group gets ``lr * initial_lr / defaults["lr"]``: a group bound without its own ``lr``
    gets ``lr`` exactly, a backbone bound at a tenth of the default keeps a tenth. Each group's
    ``initial_lr`` is stored in the group the first time (and travels with ``state_dict``).
    Works on any ``torch.optim.Optimizer``. ``LearningRateScheduler`` calls this with
    ``schedule(t)``; ``opt.lr = value`` does the same on lamina optimizers.

    Example:
        >>> import torch
        >>> import lamina as lm
        >>> backbone, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
        >>> opt = lm.optimizers.SGD(lr=1e-2).bind(
        ...     [{"params": backbone.parameters(), "lr": 1e-3}, {"params": head.parameters()}])
        >>> apply_lr(opt, 0.5)
        >>> [round(g["lr"], 12) for g in opt.param_groups]
        [0.05, 0.5]
    """
    for group, scale in zip(optimizer.param_groups, _lr_scales(optimizer), strict=True):
        group["lr"] = lr if scale == 1.0 else lr * scale


def get_lr(optimizer: torch.optim.Optimizer) -> float:
    """The optimizer's learning rate, as last set by ``apply_lr``.

    That is the lr of the first group with multiplier 1 (bound without its own ``lr``), or the
    first group's lr divided by its multiplier.

    Example:
        >>> import lamina as lm
        >>> get_lr(lm.optimizers.Adam(lr=3e-4))
        0.0003
    """
    scales = _lr_scales(optimizer)
    for group, scale in zip(optimizer.param_groups, scales, strict=True):
        if scale == 1.0:
            return group["lr"]
    return optimizer.param_groups[0]["lr"] / scales[0]


class DeferredOptimizer:
    """Mixin for ``torch.optim.Optimizer`` subclasses: late binding, clipping, config.

    A subclass calls ``self._init_deferred(params, **hyper_parameters)`` first in its
    ``__init__`` (it validates them against ``_constraints`` and returns what to hand to
    ``Optimizer.__init__``), then overrides ``_update`` if torch has no step with its rule.
    ``step`` clips the gradients, then calls ``_update``.
    """

    _constraints = {
        "lr": Number("learning rate"),
        "weight_decay": Number("weight decay"),
        "clipnorm": Number("clipping norm", low_open=True, optional=True),
        "clipvalue": Number("clipping value", low_open=True, optional=True),
        "global_clipnorm": Number("global clipping norm", low_open=True, optional=True),
    }
    _extra_state = ("_bound", "_config", "clipnorm", "clipvalue", "global_clipnorm")

    def _init_deferred(self, params, **config) -> list:
        """Validate and store the hyper-parameters; the params for ``Optimizer.__init__``."""
        owner = type(self).__name__
        check_constraints(self._constraints, owner, config)
        if config.get("clipnorm") is not None and config.get("global_clipnorm") is not None:
            raise ValueError(
                f"Only one of `clipnorm` and `global_clipnorm` can be set on {owner}. Received: "
                f"clipnorm={config['clipnorm']!r}, global_clipnorm={config['global_clipnorm']!r}.")
        self.clipnorm = config.pop("clipnorm", None)
        self.clipvalue = config.pop("clipvalue", None)
        self.global_clipnorm = config.pop("global_clipnorm", None)
        self._config = config
        self._bound = params is not None
        return params if params is not None else [torch.nn.Parameter(torch.zeros(1))]

    @property
    def is_bound(self) -> bool:
        """Whether the optimizer holds real parameters (after ``bind`` or construction)."""
        return self._bound

    def bind(self, params) -> DeferredOptimizer:
        """Replace the parameters by ``params`` (an iterable of tensors or of param-group dicts).

        Groups without an ``lr`` (or other hyper-parameter) take the optimizer's. State from a
        previous binding is dropped. Returns ``self``.
        """
        self.param_groups = []
        self.state.clear()
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(dict(group))
        self._bound = True
        return self

    @property
    def lr(self) -> float:
        """The learning rate (settable). With parameter groups, see ``apply_lr``.

        Setting it on a bound optimizer calls ``apply_lr``, so groups with their own ``lr``
        keep their ratio; on an unbound one it sets the default that ``bind`` gives groups.
        """
        return get_lr(self)

    @lr.setter
    def lr(self, value: float) -> None:
        check_constraints(self._constraints, type(self).__name__, {"lr": value})
        if self._bound:
            apply_lr(self, value)
            return
        self.defaults["lr"] = value
        for group in self.param_groups:
            group["lr"] = group["initial_lr"] = value

    def get_config(self) -> dict:
        """The constructor's hyper-parameters (``lr`` as now), for saving; see ``from_config``.

        Example:
            >>> import lamina as lm
            >>> lm.optimizers.SGD(lr=0.1, momentum=0.9).get_config()["momentum"]
            0.9
        """
        return {**self._config, "lr": self.lr, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict) -> DeferredOptimizer:
        """A new, unbound optimizer from ``get_config()``'s output."""
        return cls(**config)

    def step(self, closure=None):
        """Clip the gradients (if asked), then update the parameters.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None and self._clips:
            with torch.enable_grad():
                loss = closure()
            closure = None
        self._clip_gradients()
        out = self._update(closure)
        return loss if loss is not None else out

    @property
    def _clips(self) -> bool:
        return (self.clipnorm is not None or self.clipvalue is not None
                or self.global_clipnorm is not None)

    @torch.no_grad()
    def _clip_gradients(self) -> None:
        """Clip ``p.grad`` in place: by value, then per-parameter norm or global norm."""
        if not self._clips:
            return
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not params:
            return
        grads = [p.grad for p in params]
        if self.clipvalue is not None:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)
        if self.clipnorm is not None:
            factors = torch._foreach_div(torch._foreach_norm(grads), self.clipnorm)
            torch._foreach_clamp_min_(factors, 1.0)  # g / max(||g|| / c, 1)
            torch._foreach_div_(grads, factors)
        if self.global_clipnorm is not None:
            torch.nn.utils.clip_grad_norm_(params, self.global_clipnorm, foreach=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The torch parent's step rule without torch's wrappers: its hooks run once, from
        # our own ``step``, and torch.compile can trace it (torch's grad-mode wrapper
        # breaks the graph on purpose).
        parents = cls.__mro__[cls.__mro__.index(DeferredOptimizer) + 1:]
        owner = next((c for c in parents if "step" in vars(c)), None)
        if owner is not None and owner is not torch.optim.Optimizer:
            cls._parent_step = staticmethod(inspect.unwrap(vars(owner)["step"]))

    def _update(self, closure=None):
        """One update from the current gradients: the torch parent's ``step`` rule."""
        with torch.no_grad():
            return self._parent_step(self, closure)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.update({name: getattr(self, name) for name in self._extra_state})
        return state
