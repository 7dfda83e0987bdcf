"""Training checkpoints: a nested state (tensors, numbers, strings) in one safetensors file.

Tensors go into the safetensors body and everything else into a JSON document in its
header, so a checkpoint is a single file, written atomically (temporary file, fsync,
rename), and reading one never unpickles. A process killed while saving leaves the
previous checkpoint intact.

Reading treats the file as untrusted data. The safetensors header is checked against the
file's size before a tensor is read, and the JSON state must follow the schema that
:func:`flatten_state` writes, nothing else:

- ``{"__tensor__": key}``: a tensor of the file, each key used once;
- ``{"__ndarray__": key, "dtype": name}``: a numpy array, ``name`` from
  :data:`NDARRAY_DTYPES` (no ``object``, no structured or string dtypes);
- ``{"__tuple__": [...]}`` and ``{"__items__": [[key, value], ...]}`` (a dict whose keys are
  not all strings; every key hashable);
- any other dict has string keys not starting with ``__``; lists, strings, numbers,
  booleans and null are themselves;
- at most :data:`MAX_DEPTH` levels of nesting.

Anything else raises :class:`lamina.errors.FileFormatError` (a ``ValueError``) saying
where in the state, what was expected and what was found. So decoding a file needs no
more memory than a small multiple of its size.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as st_save

from lamina._io import atomic_write_bytes, read_safetensors
from lamina.errors import FileFormatError, message

__all__ = ["save_state", "load_state", "flatten_state", "unflatten_state", "MAX_DEPTH",
           "NDARRAY_DTYPES"]

_FORMAT = "lamina-checkpoint"
_VERSION = 1
#: Deepest nesting of lists and dicts a checkpoint's state may have.
MAX_DEPTH = 32
#: The numpy dtypes an ``__ndarray__`` entry may name (those ``torch.from_numpy`` takes).
NDARRAY_DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                            "uint32", "uint64", "float16", "float32", "float64"})
_FIX = "It is damaged or was not written by lamina; delete it to start afresh."
# The torch dtype flatten_state stores each numpy dtype as.
_STORED_AS = {name: torch.int64 if name.startswith("uint") else
              torch.from_numpy(np.empty(0, dtype=name)).dtype for name in NDARRAY_DTYPES}


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
        if obj.dtype.name not in NDARRAY_DTYPES:
            raise TypeError(message(
                "Cannot store this numpy array in a checkpoint.",
                expected=f"dtype in {sorted(NDARRAY_DTYPES)}", received=f"dtype {obj.dtype}"))
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
    """Inverse of :func:`flatten_state`, checking ``doc`` against the schema above.

    Raises:
        FileFormatError: if ``doc`` holds a structure :func:`flatten_state` never writes,
            a reference to a missing tensor, a tensor referenced twice, a dtype outside
            :data:`NDARRAY_DTYPES`, or nesting deeper than :data:`MAX_DEPTH`.

    Example:
        >>> unflatten_state({"__tuple__": [1, {"__tensor__": "s.0"}]}, {"s.0": torch.ones(1)})
        (1, tensor([1.]))
    """
    return _Decoder(tensors).decode(doc, "state", 0)


class _Decoder:
    """One pass over a checkpoint's JSON state, resolving tensor references once each."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors, self.used = tensors, set()

    def fail(self, where: str, what: str, expected: str, received: Any) -> FileFormatError:
        text = repr(received)
        text = text if len(text) <= 80 else text[:77] + "..."
        return FileFormatError(message(f"Checkpoint state at {where}: {what}.",
                                       expected=expected, received=text))

    def tensor(self, key: Any, where: str) -> torch.Tensor:
        if not isinstance(key, str) or key not in self.tensors:
            raise self.fail(where, "a reference to a tensor the file does not hold",
                            f"one of the file's {len(self.tensors)} tensor names", key)
        if key in self.used:
            raise self.fail(where, "a tensor referenced a second time",
                            "each tensor referenced once", key)
        self.used.add(key)
        return self.tensors[key]

    def decode(self, doc: Any, where: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(where, "nesting too deep", f"at most {MAX_DEPTH} levels",
                            f"more than {MAX_DEPTH}")
        if isinstance(doc, list):
            return [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(doc)]
        if not isinstance(doc, dict):
            return doc
        tags = [k for k in doc if k.startswith("__")]
        if not tags:
            return {k: self.decode(v, f"{where}.{k}", depth + 1) for k, v in doc.items()}
        if tags == ["__tensor__"] and len(doc) == 1:
            return self.tensor(doc["__tensor__"], where)
        if tags == ["__ndarray__"] and set(doc) == {"__ndarray__", "dtype"}:
            return self.ndarray(doc, where)
        if tags == ["__tuple__"] and len(doc) == 1 and isinstance(doc["__tuple__"], list):
            return tuple(self.decode(v, f"{where}[{i}]", depth + 1)
                         for i, v in enumerate(doc["__tuple__"]))
        if tags == ["__items__"] and len(doc) == 1 and isinstance(doc["__items__"], list):
            return self.items(doc["__items__"], where, depth)
        raise self.fail(where, "a tagged object lamina never writes",
                        "{'__tensor__': k}, {'__ndarray__': k, 'dtype': d}, "
                        "{'__tuple__': [...]} or {'__items__': [[k, v], ...]}", doc)

    def ndarray(self, doc: dict, where: str) -> np.ndarray:
        dtype = doc["dtype"]
        if not isinstance(dtype, str) or dtype not in NDARRAY_DTYPES:
            raise self.fail(where, "an array dtype lamina does not store",
                            f"one of {', '.join(sorted(NDARRAY_DTYPES))}", dtype)
        tensor = self.tensor(doc["__ndarray__"], where)
        stored = _STORED_AS[dtype]
        if tensor.dtype != stored:   # flatten_state stores unsigned arrays as int64
            raise self.fail(where, f"a {dtype} array stored as another dtype",
                            f"a {stored} tensor", str(tensor.dtype))
        return tensor.numpy().astype(dtype)

    def items(self, pairs: list, where: str, depth: int) -> dict:
        out = {}
        for i, pair in enumerate(pairs):
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.fail(f"{where}.__items__[{i}]", "a malformed item",
                                "a [key, value] list", pair)
            key = self.decode(pair[0], f"{where}.__items__[{i}][0]", depth + 2)
            try:
                hash(key)
            except TypeError:
                raise self.fail(f"{where}.__items__[{i}][0]", "an unhashable dict key",
                                "a number, string, None or tuple of those", key) from None
            out[key] = self.decode(pair[1], f"{where}.__items__[{i}][1]", depth + 2)
        return out


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
    """Read a checkpoint written by :func:`save_state`, checking it against the schema.

    Raises:
        FileFormatError: (a ``ValueError``) if the file is truncated, corrupted, hostile
            or not a lamina checkpoint; the message names the file and what is wrong.
    """
    try:
        tensors, metadata = read_safetensors(path)
        if metadata.get("format") != _FORMAT or metadata.get("version") != str(_VERSION):
            raise FileFormatError(message(
                "It is not a lamina checkpoint this version reads.",
                expected=f"format {_FORMAT!r}, version '{_VERSION}'",
                received=f"format {metadata.get('format')!r}, "
                         f"version {metadata.get('version')!r}"))
        if "state" not in metadata:
            raise FileFormatError("Its header holds no training state.")
        try:
            doc = json.loads(metadata["state"])
        except (ValueError, RecursionError) as err:
            raise FileFormatError(f"Its state is not JSON ({str(err)[:80]}).") from None
        state = unflatten_state(doc, tensors)
        if not isinstance(state, dict):
            raise FileFormatError(message("Its state is not a mapping.",
                                          received=type(state).__name__))
    except FileFormatError as err:
        raise FileFormatError(f"Checkpoint '{path}' cannot be read: it is truncated, "
                              f"corrupted or not a lamina checkpoint. {err} {_FIX}") from None
    return state
