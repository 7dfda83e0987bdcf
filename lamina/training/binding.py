"""Which parameters the optimizer updates, and at what rate: trainable ones, grouped by layer.

The optimizer sees the model's trainable parameters only (``requires_grad``: frozen layers'
weights are left out). ``compile(lr_multipliers={"conv*": 0.1})`` puts the parameters of the
layers whose names match a glob pattern in their own group, at that multiple of the rate:
the discriminative fine-tuning of ULMFiT. The groups keep their ratios through schedules
(``lamina.optimizers.apply_lr``) and travel with checkpoints (the optimizer's state dict).
"""

from __future__ import annotations

import fnmatch
import functools
import inspect

from torch import nn

from lamina.errors import message

__all__ = ["parameter_groups", "bind", "needs_closure"]


def _layer_names(model: nn.Module) -> dict[int, list[str]]:
    """Parameter id -> the names of the layers holding it, outermost first (the model's own
    name excluded)."""
    chains: dict[int, list[str]] = {}

    def walk(module: nn.Module, names: list[str]) -> None:
        for param in module.parameters(recurse=False):
            chains.setdefault(id(param), names)
        for child in module.children():
            name = getattr(child, "name", None)
            walk(child, names + [name] if isinstance(name, str) else names)

    walk(model, [])
    return chains


def parameter_groups(model: nn.Module, multipliers: dict[str, float] | None,
                     lr: float) -> list[dict]:
    """The trainable parameters of ``model`` as optimizer groups: one group at the optimizer's
    rate (no ``lr`` key), and one per multiplier at ``lr * multiplier`` for the layers whose names match its pattern
    (the innermost matching layer decides; the first pattern that matches it wins).

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.Dense(4, name="body"), lm.layers.Dense(2, name="head")],
        ...                     input_shape=(3,))
        >>> [(len(g["params"]), g.get("lr")) for g in parameter_groups(net, {"bo*": 0.1}, 0.5)]
        [(2, None), (2, 0.05)]
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not multipliers:
        return [{"params": params}]
    chains = _layer_names(model)
    patterns = list(multipliers.items())
    groups: dict[float, list] = {}
    used: set[str] = set()
    for param in params:
        scale = 1.0
        for name in reversed(chains.get(id(param), [])):
            match = next(((p, m) for p, m in patterns if fnmatch.fnmatchcase(name, p)), None)
            if match is not None:
                used.add(match[0])
                scale = float(match[1])
                break
        groups.setdefault(scale, []).append(param)
    unused = [p for p, _ in patterns if p not in used]
    if unused:
        names = sorted({n for chain in chains.values() for n in chain})
        raise ValueError(message(
            f"`lr_multipliers` patterns {unused} match no trainable layer of model "
            f"'{getattr(model, 'name', type(model).__name__)}'.",
            expected=f"glob patterns over the layer names {names[:12]}"
                     f"{' ...' if len(names) > 12 else ''}"))
    return [{"params": ps, "lr": lr * scale} if scale != 1.0 else {"params": ps}
            for scale, ps in sorted(groups.items(), key=lambda item: -item[0])]


def check_multipliers(multipliers) -> dict[str, float] | None:
    """``compile``'s ``lr_multipliers`` checked: None or a dict of glob pattern -> number > 0.

    Example:
        >>> check_multipliers({"conv*": 0.1})
        {'conv*': 0.1}
    """
    if multipliers is None:
        return None
    ok = isinstance(multipliers, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
        for k, v in multipliers.items())
    if not ok:
        raise ValueError(message(
            "Argument `lr_multipliers` of compile must map layer-name glob patterns to numbers "
            "> 0.", received=f"lr_multipliers={multipliers!r}",
            fix="E.g. `lr_multipliers={'conv*': 0.1}`."))
    return {k: float(v) for k, v in multipliers.items()}


def bind(optimizer, model: nn.Module, multipliers: dict[str, float] | None) -> None:
    """Give ``optimizer`` the model's trainable parameters (lamina's optimizers, bound by
    lamina), keeping the state of parameters it already had; or check that a torch optimizer
    the user bound holds every trainable parameter.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
        >>> opt = lm.optimizers.SGD(0.1); _ = net.layers[0].bias.requires_grad_(False)
        >>> bind(opt, net, None); [p.shape for g in opt.param_groups for p in g["params"]]
        [torch.Size([2, 3])]
    """
    held = {id(p) for g in optimizer.param_groups for p in g["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    owned = getattr(optimizer, "is_bound", True) is False or getattr(optimizer, "_lamina_bound",
                                                                      False)
    if not owned:
        missing = [p for p in trainable if id(p) not in held]
        if missing:
            raise ValueError(message(
                f"The optimizer given to compile does not hold {len(missing)} trainable "
                f"parameter(s) of model '{getattr(model, 'name', '')}' (a layer unfrozen after "
                f"compile?).", fix="Call `model.compile(...)` again, or pass lamina's optimizer "
                                   "(e.g. 'adam'), which lamina rebinds at each fit."))
        return
    if optimizer.is_bound and held == {id(p) for p in trainable} and (
            getattr(optimizer, "_lamina_multipliers", None) == multipliers):
        return
    state = dict(optimizer.state)
    lr = optimizer.defaults["lr"]
    optimizer.bind(parameter_groups(model, multipliers, lr))
    for param in trainable:
        if param in state:
            optimizer.state[param] = state[param]
    optimizer._lamina_bound = True
    optimizer._lamina_multipliers = multipliers


def needs_closure(optimizer) -> bool:
    """Whether ``optimizer.step`` requires a closure re-evaluating the loss (``LBFGS``).

    Example:
        >>> import torch
        >>> needs_closure(torch.optim.LBFGS([torch.zeros(1, requires_grad=True)]))
        True
    """
    return _requires_closure(getattr(type(optimizer), "step", None) or optimizer.step)


@functools.cache
def _requires_closure(step) -> bool:
    """Read once per optimizer class: the training step asks on every batch."""
    closure = inspect.signature(step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty
