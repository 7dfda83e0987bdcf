"""Saving and loading models: one safetensors file holding the weights and a JSON config.

The architecture is stored as JSON in the safetensors header's metadata, so loading a
model never unpickles anything (no code runs from a file). Files are written atomically.

A file is data, and :func:`load_model` checks it before it allocates anything real:

1. the safetensors header (tensor names, dtypes, shapes and byte ranges) is read and
   checked against the file's size, without reading the tensors;
2. the JSON config is checked for the structure lamina writes (every layer entry a
   ``{"class": str, "config": dict}``, input shapes of positive ints) and built on the
   ``meta`` device, where no weight has storage, while every intermediate output of the
   build's dry runs is measured;
3. the meta model's state dict is compared, tensor by tensor, with the file's table:
   the same names, the same shapes, the same dtype (a float tensor may be stored in
   another float precision; an int8, bool or integer-relabelled tensor is refused);
4. only then is the model built for real and the tensors copied in.

A refused file raises :class:`lamina.errors.FileFormatError`, a ``ValueError`` naming the
file and the first inconsistency. So a file of a few hundred bytes can never make lamina
allocate the gigabytes its config might describe.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from safetensors.torch import save as st_save
from torch import nn

from lamina._io import (
    SafetensorsHeader,
    atomic_write_bytes,
    read_safetensors,
    read_safetensors_header,
)
from lamina.errors import FileFormatError, LaminaWarning, message
from lamina.layers.base import Layer
from lamina.layers.freezing import frozen_state, restore_frozen
from lamina.layers.serialization import _check_entry, _short, layer_from_config, layer_to_config

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "layer_to_config",
           "layer_from_config", "layer_keys", "read_safetensors", "FORMAT_VERSION",
           "MAX_SAMPLE_BYTES"]

FORMAT_VERSION = 1
#: Largest output, in bytes, that one layer may produce for one sample while a loaded
#: model is built (its shape dry runs), or that its tensors outside the file (buffers not
#: saved) may take. Grows to 8x the file's size for large files.
MAX_SAMPLE_BYTES = 2**23
_MAX_CONFIG_DEPTH = 64



def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _header(path) -> SafetensorsHeader:
    return read_safetensors_header(path)


def save_weights(model: nn.Module, path) -> None:
    """Write ``model``'s state dict to ``path`` as safetensors, atomically.

    Example:
        >>> import tempfile, os, lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
        >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors"); save_weights(m, p)
        >>> load_weights(m, p)
    """
    atomic_write_bytes(path, st_save(_tensors(model), metadata={
        "format": "lamina-weights", "version": str(FORMAT_VERSION),
        "names": json.dumps(layer_keys(model))}))


def layer_keys(model: nn.Module) -> dict[str, str]:
    """State-dict key -> ``"<layer name>.<parameter>"``, the layer being the innermost
    lamina layer holding the tensor, at any depth: the names ``by_name`` loading matches.

    Example:
        >>> import lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(2, name="fc")], input_shape=(3,))
        >>> layer_keys(m)
        {'layers.0.weight': 'fc.weight', 'layers.0.bias': 'fc.bias'}
    """
    owners = {path: module.name for path, module in model.named_modules()
              if path and isinstance(module, Layer) and getattr(module, "name", None)}
    keys = {}
    for key in model.state_dict():
        parts = key.split(".")
        keys[key] = key
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in owners:
                keys[key] = owners[prefix] + "." + ".".join(parts[cut:])
                break
    return keys


def _file_layer_keys(header: SafetensorsHeader, path) -> dict[str, str]:
    """File tensor name -> ``"<layer>.<parameter>"``: from the names ``save_weights``
    writes, from the model config of a ``save`` file, else the tensor names themselves."""
    metadata = header.metadata
    if "names" in metadata:
        try:
            names = json.loads(metadata["names"])
        except (ValueError, RecursionError):
            names = None
        if (not isinstance(names, dict) or set(names) != set(header.tensors)
                or not all(isinstance(v, str) for v in names.values())):
            raise FileFormatError(message(
                f"The layer names stored in '{path}' do not match its tensors.",
                fix="The file is damaged or was edited; save the weights again."))
        return names
    if metadata.get("format") == "lamina-model":
        config = _model_config(header, path)
        with _measured_dry_runs(path, max(MAX_SAMPLE_BYTES, 8 * header.file_size)), \
                torch.device("meta"):
            meta = _build(config, path)
        return layer_keys(meta)
    if metadata.get("format") == "lamina-weights":
        raise FileFormatError(message(
            f"'{path}' was written by an older lamina that did not store layer names, so it "
            f"cannot be loaded by name.",
            fix="Load it with `model.load_weights(path)` into the architecture it was saved "
                "from, then `model.save_weights(path)` again."))
    return {key: key for key in header.tensors}


def _shape_problem(key: str, info, want: torch.Tensor, path, model_name: str) -> str | None:
    if info.shape != tuple(want.shape):
        return message(f"Tensor '{key}' in '{path}' has shape {info.shape}, not the shape "
                       f"model '{model_name}' expects.", expected=f"shape {tuple(want.shape)}")
    if not _dtypes_agree(info.dtype, want.dtype):
        return message(f"Tensor '{key}' in '{path}' does not have the dtype model "
                       f"'{model_name}' expects.", expected=f"{want.dtype}",
                       received=f"{info.dtype}")
    return None


def load_weights(model: nn.Module, path, by_name: bool = False,
                 skip_mismatch: bool = False) -> None:
    """Copy the tensors in ``path`` (a ``save_weights`` or ``save`` file) into ``model``.

    The file's tensor table is checked against the model before its tensors are read.

    Args:
        model: the model to load into.
        path: a safetensors file: lamina's ``save_weights``/``save`` files, or (with
            ``by_name=True``) any file whose tensors are named ``"<layer>.<parameter>"``.
        by_name: match tensors by layer name (``"<layer>.<parameter>"``, the innermost
            lamina layer at any depth; see :func:`layer_keys`), as Keras does: layers of
            the model that the file lacks keep their weights, tensors of layers the model
            lacks are ignored. With False (the default), the file must hold exactly the
            model's tensors, by position in the architecture.
        skip_mismatch: skip tensors whose shape (or dtype) differs from the model's, with
            one warning naming them, instead of raising. Defaults to False.

    Raises:
        FileFormatError: (a ``ValueError``) naming the first tensor missing, extra (by
            position) or of another shape; or, by name, if no layer name matches.

    Example:
        >>> import tempfile, os, lamina as lm
        >>> a = lm.Sequential([lm.layers.Dense(4, name="hidden"), lm.layers.Dense(2)],
        ...                   input_shape=(3,))
        >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors"); save_weights(a, p)
        >>> b = lm.Sequential([lm.layers.Dense(4, name="hidden"), lm.layers.Dense(7)],
        ...                   input_shape=(3,))
        >>> load_weights(b, p, by_name=True)
        >>> bool((b.layers[0].weight == a.layers[0].weight).all())
        True
    """
    header = _header(path)
    own = model.state_dict()
    model_name = getattr(model, "name", "")
    if not by_name and not skip_mismatch:
        check_tensor_table(own, header, path, model_name)
        model.load_state_dict(read_safetensors(path, header)[0])
        return
    if by_name:
        pairs = _pairs_by_name(model, header, path, model_name)
    else:
        _check_names(own, header, path, model_name)
        pairs = {key: key for key in own}
    load, skipped = {}, []
    for key, file_key in pairs.items():
        problem = _shape_problem(file_key, header.tensors[file_key], own[key], path, model_name)
        if problem is None:
            load[key] = file_key
        elif skip_mismatch:
            skipped.append(f"{file_key} {header.tensors[file_key].shape} -> "
                           f"{tuple(own[key].shape)}")
        else:
            raise FileFormatError(problem + " Pass `skip_mismatch=True` to load the others.")
    if skipped:
        warnings.warn(f"Model '{model_name}' did not load {len(skipped)} tensor(s) of '{path}' "
                      f"whose shape differs: {', '.join(skipped[:10])}.", LaminaWarning,
                      stacklevel=3)
    tensors = read_safetensors(path, header)[0]
    model.load_state_dict({**own, **{key: tensors[file_key] for key, file_key in load.items()}})


def _check_names(own: dict, header: SafetensorsHeader, path, model_name: str) -> None:
    """By position: every model tensor in the file and no other (shapes checked later)."""
    missing = [key for key in own if key not in header.tensors]
    extra = sorted(set(header.tensors) - set(own))
    if missing or extra:
        raise FileFormatError(message(
            f"'{path}' does not hold the tensors of model '{model_name}'.",
            expected=f"{len(own)} tensors named as the model's state dict",
            received=f"missing {missing[:5]}, extra {extra[:5]}",
            fix="Was it saved from another architecture? Pass `by_name=True` to match "
                "layers by name."))


def _pairs_by_name(model: nn.Module, header: SafetensorsHeader, path,
                   model_name: str) -> dict[str, str]:
    """Model state-dict key -> file tensor name, for the layer names both have."""
    by_layer: dict[str, str] = {}
    for key, name in layer_keys(model).items():
        if name in by_layer:
            raise ValueError(message(
                f"Model '{model_name}' has two tensors named '{name}', so it cannot load "
                f"weights by name.", fix="Give its layers unique names."))
        by_layer[name] = key
    file_names = _file_layer_keys(header, path)
    pairs = {by_layer[name]: file_key for file_key, name in file_names.items()
             if name in by_layer}
    if not pairs:
        raise FileFormatError(message(
            f"No tensor of '{path}' belongs to a layer of model '{model_name}' by name.",
            expected=f"names such as {list(by_layer)[:3]}",
            received=f"{list(file_names.values())[:3]}",
            fix="Load it with `by_name=False` into the architecture it was saved from, or "
                "name the layers as in the saved model."))
    return pairs


def _dtypes_agree(stored: torch.dtype, wanted: torch.dtype) -> bool:
    """Same dtype, or two floating-point dtypes (a model saved in another precision)."""
    return stored == wanted or (stored.is_floating_point and wanted.is_floating_point)


def check_tensor_table(own: dict[str, torch.Tensor], header: SafetensorsHeader, path,
                       model_name: str = "") -> None:
    """Check a file's tensor table against a (possibly meta) state dict: every tensor
    present with the same shape and a compatible dtype, and no extra tensor."""
    table = header.tensors
    for key, value in own.items():
        if key not in table:
            raise FileFormatError(message(
                f"'{path}' has no tensor '{key}' that model '{model_name}' needs.",
                expected=f"{len(own)} tensors", received=f"{len(table)} tensors",
                fix="Was it saved from another architecture? Load it into the model it was "
                    "saved from."))
        info = table[key]
        if info.shape != tuple(value.shape):
            raise FileFormatError(message(
                f"Tensor '{key}' in '{path}' has shape {info.shape}, not the shape model "
                f"'{model_name}' expects.", expected=f"shape {tuple(value.shape)}",
                fix="Was it saved from another architecture?"))
        if not _dtypes_agree(info.dtype, value.dtype):
            raise FileFormatError(message(
                f"Tensor '{key}' in '{path}' does not have the dtype model '{model_name}' "
                f"expects.", expected=f"{value.dtype}", received=f"{info.dtype}",
                fix="The file is damaged or was edited; save the model again."))
    extra = sorted(set(table) - set(own))
    if extra:
        raise FileFormatError(message(
            f"'{path}' holds tensors model '{model_name}' does not have.",
            received=f"{extra[:5]}", fix="Was it saved from another architecture?"))


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
        "config": json.dumps(config), "frozen": json.dumps(frozen_state(model))}))


def load_model(path) -> Layer:
    """Rebuild a model saved with ``model.save(path)``; never unpickles.

    The file is checked before anything real is allocated (see the module docstring).

    Raises:
        FileFormatError: (a ``ValueError``) if the file is damaged, hostile, holds no
            architecture, or its config and tensors disagree; the message names the file.

    Example:
        >>> import tempfile, os, lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
        >>> p = os.path.join(tempfile.mkdtemp(), "m.lamina"); m.save(p)
        >>> lm.load_model(p).layers[0].weight.shape
        torch.Size([2, 3])
    """
    header = _header(path)
    config = _model_config(header, path)
    limit = max(MAX_SAMPLE_BYTES, 8 * header.file_size)
    with _measured_dry_runs(path, limit), torch.device("meta"):
        meta = _build(config, path)
    if not isinstance(meta, Layer) or not meta.built:
        raise FileFormatError(message(
            f"The model in '{path}' was saved before it was built, so its weights have no "
            f"shapes.", fix="Rebuild it with an `input_shape` and save it again."))
    own = meta.state_dict()
    check_tensor_table(own, header, path, meta.name)
    saved = {id(t) for t in own.values()}
    unsaved = sum(t.numel() * t.element_size() for t in _all_tensors(meta) if id(t) not in saved)
    if unsaved > limit:
        raise FileFormatError(message(
            f"The model in '{path}' holds tensors that are not in the file (buffers not "
            f"saved) and would need more memory than lamina allocates for such a file.",
            expected=f"at most {limit} bytes", received=f"{unsaved} bytes",
            fix="Raise `lamina.saving.MAX_SAMPLE_BYTES` if you trust the file."))
    del meta, own
    model = _build(config, path)  # the same shapes as the meta build: all checked
    tensors, metadata = read_safetensors(path, header)
    model.load_state_dict(tensors)
    if "frozen" in metadata:
        try:
            restore_frozen(model, json.loads(metadata["frozen"]), f"'{path}'")
        except (ValueError, RecursionError) as err:
            raise FileFormatError(f"The frozen-layer record in '{path}' is malformed: "
                                  f"{_short(str(err))}") from None
    return model


def _all_tensors(model: nn.Module) -> Iterator[torch.Tensor]:
    yield from model.parameters()
    yield from model.buffers()


def _model_config(header: SafetensorsHeader, path) -> dict[str, Any]:
    """The JSON config of a model file, checked for the structure lamina writes."""
    metadata = header.metadata
    if metadata.get("format") != "lamina-model" or "config" not in metadata:
        raise FileFormatError(message(
            f"'{path}' holds no model architecture.", expected="format 'lamina-model'",
            received=f"format {_short(metadata.get('format'))}",
            fix="If it was written by `save_weights`, build the model and call "
                "`model.load_weights(path)`."))
    if metadata.get("version") != str(FORMAT_VERSION):
        raise FileFormatError(message(
            f"'{path}' has a model format version lamina cannot read.",
            expected=f"version {FORMAT_VERSION}",
            received=f"version {_short(metadata.get('version'))}",
            fix="Load it with the lamina version that saved it, or upgrade lamina."))
    try:
        config = json.loads(metadata["config"])
    except (ValueError, RecursionError) as err:
        raise FileFormatError(message(f"The model config in '{path}' is not JSON.",
                                      received=_short(str(err)))) from None
    try:
        _check_config(config, 0)
    except ValueError as err:
        raise FileFormatError(f"The model config in '{path}' is malformed: {err}") from None
    return config


def _check_config(entry: Any, depth: int) -> None:
    """Layer entries are ``{"class": str, "config": dict}`` (recursively, in ``layers``
    lists and wrapped ``layer``s) and input shapes hold positive ints (or None)."""
    if depth > _MAX_CONFIG_DEPTH:
        raise ValueError(message("Layers are nested too deeply.",
                                 expected=f"at most {_MAX_CONFIG_DEPTH} levels"))
    _check_entry(entry)
    config = entry["config"]
    for key in ("input_shape", "shape"):
        if config.get(key) is not None:
            _check_shape(key, config[key], entry["class"])
    inputs = config.get("inputs") or []
    if not isinstance(inputs, list):
        raise ValueError(message(f"`inputs` of {entry['class']} must be a list of "
                                 f"{{'name': ..., 'shape': [...]}} entries.",
                                 received=_short(inputs)))
    for inp in inputs:
        if isinstance(inp, dict) and "shape" in inp:
            _check_shape("inputs[].shape", inp["shape"], entry["class"])
    children = config.get("layers", [])
    if "layers" in config and not isinstance(children, list):
        raise ValueError(message(f"`layers` of {entry['class']} must be a list of layer "
                                 f"entries.", received=_short(children)))
    if isinstance(config.get("layer"), dict):
        children = [*children, config["layer"]]
    for child in children:
        _check_config(child, depth + 1)


def _check_shape(key: str, shape: Any, owner: str) -> None:
    if not isinstance(shape, list) or not all(
            d is None or (type(d) is int and 1 <= d < 2**31) for d in shape):
        raise ValueError(message(
            f"`{key}` of {owner} must be a list of positive ints (None for a free axis).",
            received=f"{key}={_short(shape)}"))


def _build(config: dict[str, Any], path) -> Layer:
    """``layer_from_config`` with any failure turned into a ``FileFormatError``."""
    try:
        return layer_from_config(config)
    except FileFormatError:
        raise
    except (Exception, RecursionError) as err:  # noqa: BLE001 -- a file's config is data
        raise FileFormatError(message(
            f"The model config in '{path}' cannot be built.",
            received=f"{type(err).__name__}: {_short(str(err))}",
            fix="The file is damaged or was edited, or it needs a layer class that is not "
                "defined (import the module that defines it first).")) from err


class _measured_dry_runs:
    """Refuse, during a load's build, any layer output above ``limit`` bytes (a dry run
    on one sample): a global forward hook, removed on exit."""

    def __init__(self, path, limit: int):
        self.path, self.limit, self.handles = path, limit, []

    def _pre_hook(self, module, args):
        self._hook(module, args, args)

    def _hook(self, module, args, output):
        for t in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(t, torch.Tensor) and t.numel() * t.element_size() > self.limit:
                raise FileFormatError(message(
                    f"The model in '{self.path}' makes layer '{getattr(module, 'name', '')}' "
                    f"take or produce a larger tensor for one sample than lamina allocates while "
                    f"loading such a file.", expected=f"at most {self.limit} bytes",
                    received=f"shape {tuple(t.shape)} ({t.numel() * t.element_size()} bytes)",
                    fix="Raise `lamina.saving.MAX_SAMPLE_BYTES` if you trust the file."))

    def __enter__(self):
        hooks = torch.nn.modules.module
        self.handles = [hooks.register_module_forward_pre_hook(self._pre_hook),
                        hooks.register_module_forward_hook(self._hook)]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
