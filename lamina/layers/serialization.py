"""Layers as data: ``{"class": name, "config": {...}}`` and back, through the layer registry.

Used by models that hold other layers (``Sequential``, functional models, recurrent
wrappers) and by :mod:`lamina.saving`; never runs code from a config (classes resolve only
through ``LAYERS``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lamina.errors import message
from lamina.layers.base import LAYERS, Layer

__all__ = ["layer_to_config", "layer_from_config"]


def layer_to_config(layer: nn.Module) -> dict[str, Any]:
    """``{"class": name, "config": {...}}`` for a lamina layer.

    Example:
        >>> from lamina import layers
        >>> layer_to_config(layers.Dense(3, name="d"))["class"]
        'Dense'
    """
    if not isinstance(layer, Layer):
        raise TypeError(
            f"Cannot save a model holding a plain torch module ({type(layer).__name__}): its "
            f"architecture has no config. Save its weights with `model.save_weights(path)`, "
            f"or write it as a lamina Layer.")
    return {"class": LAYERS.name_of(type(layer)), "config": layer.get_config()}


def _check_entry(entry: Any) -> None:
    if (not isinstance(entry, dict) or not isinstance(entry.get("class"), str)
            or not isinstance(entry.get("config"), dict)):
        raise ValueError(message(
            "A layer entry of a model config is malformed.",
            expected='{"class": "<layer class name>", "config": {...}}',
            received=_short(entry),
            fix="Write configs with `layer_to_config(layer)` / `model.get_config()`."))


def layer_from_config(entry: dict[str, Any]) -> Layer:
    """Inverse of :func:`layer_to_config` (classes are found in the layer registry).

    Lamina's layers are found by class name, other ``Layer`` subclasses by their
    module-qualified name (``"mymodule.MyLayer"``), as :func:`layer_to_config` writes them.

    Raises:
        ValueError: if ``entry`` is not ``{"class": str, "config": dict}`` or names no
            registered layer class.

    Example:
        >>> from lamina import layers
        >>> layer_from_config({"class": "Dense", "config": {"units": 3}}).units
        3
    """
    _check_entry(entry)
    cls = LAYERS.lookup(entry["class"])
    return cls.from_config(dict(entry["config"]))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."
