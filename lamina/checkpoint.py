"""Training checkpoints: a nested state (tensors, numbers, strings) in one safetensors file.

Tensors go into the safetensors body and everything else into a JSON document in its
header, so a checkpoint is a single file, written atomically (temporary file, fsync,
rename), and reading one never unpickles. A process killed while saving leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save as st_save

from lamina._io import atomic_write_bytes

__all__ = ["save_state", "load_state", "flatten_state", "unflatten_state"]

_FORMAT = "lamina-checkpoint"
_VERSION = 1


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "s") -> Any:
    """A JSON-able copy of ``obj`` with tensors and arrays moved into ``tensors``.

    Dicts with non-string keys, tuples, tensors and numpy arrays are tagged so that
    :func:`unflatten_state` restores them exactly.

    Example:
        >>> t = {}
        >>> doc = flatten_state({"w": torch.ones(2), 3: (1, "a")}, t)
        >>> unflatten_state(doc, t)[3]
        (1, 'a')
    """
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"{prefix}.{len(tensors)}"
        wide = obj.astype(np.int64) if obj.dtype.kind == "u" else obj  # unsigned -> int64
        tensors[key] = torch.from_numpy(np.ascontiguousarray(wide).copy())
        return {"__ndarray__": key, "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: flatten_state(v, tensors, prefix) for k, v in obj.items()}
        return {"__items__": [[flatten_state(k, tensors, prefix), flatten_state(v, tensors, prefix)]
                              for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, prefix) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"Cannot store a {type(obj).__name__} in a checkpoint: only tensors, numpy "
                    f"arrays, numbers, strings, None, lists, tuples and dicts are allowed.")


def unflatten_state(doc: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(doc, list):
        return [unflatten_state(v, tensors) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if "__tensor__" in doc:
        return tensors[doc["__tensor__"]]
    if "__ndarray__" in doc:
        return tensors[doc["__ndarray__"]].numpy().astype(doc["dtype"])
    if "__tuple__" in doc:
        return tuple(unflatten_state(v, tensors) for v in doc["__tuple__"])
    if "__items__" in doc:
        return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in
                doc["__items__"]}
    return {k: unflatten_state(v, tensors) for k, v in doc.items()}


def save_state(path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically as one safetensors file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "last.ckpt")
        >>> save_state(p, {"epoch": 2, "rng": torch.get_rng_state()})
        >>> load_state(p)["epoch"]
        2
    """
    tensors: dict[str, torch.Tensor] = {}
    doc = flatten_state(state, tensors)
    data = st_save(tensors, metadata={"format": _FORMAT, "version": str(_VERSION),
                                      "state": json.dumps(doc)})
    atomic_write_bytes(path, data)


def load_state(path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_state`; a clear ``ValueError`` if it is damaged."""
    from lamina.saving import read_safetensors

    try:
        tensors, metadata = read_safetensors(path)
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"format is {metadata.get('format')!r}, not {_FORMAT!r}")
        doc = json.loads(metadata["state"])
    except (SafetensorError, ValueError, KeyError) as err:
        raise ValueError(f"Checkpoint '{path}' cannot be read ({err}). It is truncated, "
                         f"corrupted or not a lamina checkpoint; delete it to start afresh.") from None
    return unflatten_state(doc, tensors)
