"""Saving and loading models: one safetensors file holding the weights and a JSON config.

The architecture is stored as JSON in the safetensors header's metadata, so loading a
model never unpickles anything (no code runs from a file). Files are written atomically.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from lamina._io import atomic_write_bytes
from lamina.layers.base import LAYERS, Layer

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "layer_to_config",
           "layer_from_config", "FORMAT_VERSION"]

FORMAT_VERSION = 1


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
    return {"class": type(layer).__name__, "config": layer.get_config()}


def layer_from_config(entry: dict[str, Any]) -> Layer:
    """Inverse of :func:`layer_to_config` (classes are found in the layer registry)."""
    cls = LAYERS.lookup(entry["class"])
    return cls.from_config(entry["config"])


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def read_safetensors(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and header metadata of a safetensors file; ``SafetensorError`` or
    ``ValueError`` if the file is malformed (no pickle is ever involved)."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    tensors = st_load(data)
    size = int.from_bytes(data[:8], "little")
    return tensors, json.loads(data[8:8 + size]).get("__metadata__") or {}


def _read(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """:func:`read_safetensors` with a clear error if the file is damaged."""
    try:
        return read_safetensors(path)
    except (SafetensorError, ValueError) as err:
        raise ValueError(f"'{path}' is not a valid lamina/safetensors file ({err}). It may be "
                         f"truncated or corrupted; save the model again.") from None


def save_weights(model: nn.Module, path) -> None:
    """Write ``model``'s state dict to ``path`` as safetensors, atomically.

    Example:
        >>> import tempfile, os, lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
        >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors"); save_weights(m, p)
        >>> load_weights(m, p)
    """
    atomic_write_bytes(path, st_save(_tensors(model), metadata={
        "format": "lamina-weights", "version": str(FORMAT_VERSION)}))


def load_weights(model: nn.Module, path) -> None:
    """Copy the tensors in ``path`` into ``model``; names and shapes must match exactly."""
    _assign(model, _read(path)[0], path)


def _assign(model: nn.Module, tensors: dict[str, torch.Tensor], path) -> None:
    own = model.state_dict()
    for key, value in own.items():
        if key not in tensors:
            raise ValueError(f"'{path}' has no tensor '{key}' that model "
                             f"'{getattr(model, 'name', '')}' needs. Was it saved from "
                             f"another architecture?")
        if tuple(tensors[key].shape) != tuple(value.shape):
            raise ValueError(f"Tensor '{key}' in '{path}' has shape {tuple(tensors[key].shape)}, "
                             f"but the model's has shape {tuple(value.shape)}.")
    extra = sorted(set(tensors) - set(own))
    if extra:
        raise ValueError(f"'{path}' holds tensors the model does not have: {extra[:5]}.")
    model.load_state_dict(tensors)


def save_model(model: Layer, path) -> None:
    """Save architecture and weights of a lamina model to one file, atomically.

    Example:
        >>> import tempfile, os, lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(2, activation="softmax")], input_shape=(3,))
        >>> p = os.path.join(tempfile.mkdtemp(), "m.lamina"); m.save(p)
        >>> lm.load_model(p).count_params()
        8
    """
    config = layer_to_config(model)
    atomic_write_bytes(path, st_save(_tensors(model), metadata={
        "format": "lamina-model", "version": str(FORMAT_VERSION),
        "config": json.dumps(config)}))


def load_model(path) -> Layer:
    """Rebuild a model saved with ``model.save(path)``; never unpickles."""
    tensors, metadata = _read(path)
    if metadata.get("format") != "lamina-model" or "config" not in metadata:
        raise ValueError(f"'{path}' holds no model architecture (format "
                         f"{metadata.get('format')!r}). If it was written by `save_weights`, "
                         f"build the model and call `model.load_weights(path)`.")
    model = layer_from_config(json.loads(metadata["config"]))
    if not model.built:
        raise ValueError(f"The model in '{path}' was saved before it was built; rebuild it "
                         f"with an input_shape.")
    _assign(model, tensors, path)
    return model
