"""Which parts of a model are frozen, as data: what saved models and checkpoints carry.

``frozen_state(model)`` lists the frozen layers (by module path, the outermost frozen one
only) and any parameter frozen by hand (``requires_grad_(False)`` outside a frozen layer);
``restore_frozen(model, state)`` puts them back after the model is rebuilt.
"""

from __future__ import annotations

from torch import nn

from lamina.errors import message

__all__ = ["frozen_state", "restore_frozen"]


def frozen_state(model: nn.Module) -> dict[str, list[str]]:
    """``{"layers": [module paths], "parameters": [parameter names]}`` of what is frozen.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.Dense(4), lm.layers.Dense(2)], input_shape=(3,))
        >>> net.layers[0].trainable = False
        >>> frozen_state(net)
        {'layers': ['layers.0'], 'parameters': []}
    """
    layers: list[str] = []
    covered: set[int] = set()
    for path, module in model.named_modules():
        if path and id(module) not in covered and getattr(module, "_trainable", True) is False:
            layers.append(path)
            covered.update(id(p) for p in module.parameters())
    params = [name for name, p in model.named_parameters()
              if not p.requires_grad and id(p) not in covered]
    return {"layers": layers, "parameters": params}


def restore_frozen(model: nn.Module, state, source: str = "the file") -> None:
    """Freeze what ``state`` (from :func:`frozen_state`) lists; everything else trainable.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.Dense(4), lm.layers.Dense(2)], input_shape=(3,))
        >>> restore_frozen(net, {"layers": ["layers.1"], "parameters": []})
        >>> [layer.trainable for layer in net.layers]
        [True, False]
    """
    ok = (isinstance(state, dict) and set(state) <= {"layers", "parameters"}
          and all(isinstance(v, list) and all(isinstance(s, str) for s in v)
                  for v in state.values()))
    if not ok:
        raise ValueError(message(f"The frozen-layer record of {source} is malformed.",
                                 expected='{"layers": [paths], "parameters": [names]}',
                                 received=repr(state)[:100]))
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    unknown = [p for p in state.get("layers", []) if p not in modules or not p] + [
        p for p in state.get("parameters", []) if p not in params]
    if unknown:
        raise ValueError(message(f"{source} freezes layers or parameters the model does not "
                                 f"have.", received=f"{unknown[:5]}"))
    for module in model.modules():
        if hasattr(module, "_trainable"):
            module._trainable = True
    for param in model.parameters():
        param.requires_grad_(True)
    for path in state.get("layers", []):
        module = modules[path]
        if hasattr(module, "_trainable"):
            module.trainable = False
        else:
            for param in module.parameters():
                param.requires_grad_(False)
    for name in state.get("parameters", []):
        params[name].requires_grad_(False)
    model.train(model.training)
