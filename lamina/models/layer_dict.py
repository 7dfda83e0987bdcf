"""``LayerDict``: a functional model's layers, a list to read and a named child module to torch.

A functional :class:`lamina.Model` keys its layers by name (weights ``layers.<name>.*``, as
Keras names them), yet users read ``model.layers`` as Keras's list: ``model.layers[0]``,
``for layer in model.layers``, ``model.layers[:-1]``. One object serves both, so that
torch's tools that walk sub-modules by attribute (``get_submodule("layers.dense_1")``,
``torch.export``) reach the same child the list shows.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

__all__ = ["LayerDict"]


class LayerDict(nn.ModuleDict):
    """Layers keyed by name, in execution order, read like a list.

    Iteration yields the layers (not their names); an int or a slice picks by position, a
    string by name; ``keys()``, ``values()`` and ``items()`` are the dict's.

    Example:
        >>> from lamina import layers
        >>> stack = LayerDict({"d1": layers.Dense(4, name="d1"), "d2": layers.Dense(2, name="d2")})
        >>> [layer.name for layer in stack[-1:]], stack["d1"] is stack[0]
        (['d2'], True)
    """

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self._modules.values())

    def __reversed__(self) -> Iterator[nn.Module]:
        return reversed(list(self._modules.values()))

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._modules[key]
        return list(self._modules.values())[key]      # an int or a slice, as on a list

    def __contains__(self, item) -> bool:
        if isinstance(item, str):
            return item in self._modules
        return any(layer is item for layer in self._modules.values())

    def index(self, layer: nn.Module) -> int:
        """The position of ``layer`` in execution order."""
        for position, candidate in enumerate(self._modules.values()):
            if candidate is layer:
                return position
        raise ValueError(f"{type(layer).__name__} is not one of this model's layers.")
