"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file lamina writes (checkpoints, saved models, downloaded datasets) goes
through :func:`atomic_open`: the bytes go to a temporary file in the same
directory, which is flushed and fsynced, then renamed over the target with
:func:`os.replace`, and the directory is fsynced so the rename itself survives a
crash. If anything fails before the rename, the temporary file is removed and
the target is left as it was. A temporary file left behind by a writer that was
killed (``.<name>.<pid>.<hex>.tmp``) is removed by the next write to the same target.

:func:`read_safetensors_header` and :func:`read_safetensors` read the files lamina
writes (safetensors: an 8-byte header length, a JSON header, the tensors' bytes) as
untrusted data: the whole header is checked against the file's size before a single
tensor is allocated, so a small file can never ask for more memory than it holds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from typing import IO, Any

import torch

from lamina.errors import FileFormatError, message

__all__ = ["atomic_open", "atomic_write_bytes", "remove_stale_temp_files", "TensorInfo",
           "SafetensorsHeader", "read_safetensors_header", "read_safetensors",
           "SAFETENSORS_DTYPES", "STALE_AFTER_S"]

_MODES = ("wb", "w")
#: A temporary file whose writer is alive is still removed once it has not changed for
#: this many seconds (its process id may have been reused, or it lives on another host).
STALE_AFTER_S = 3600.0


def _fsync_directory(directory: str) -> None:
    """Flush a directory entry to disk (a no-op where directories cannot be opened)."""
    if os.name == "nt":  # Windows cannot open a directory; NTFS journals renames.
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is replaced atomically on success.

    The file object writes to a temporary file beside ``path``. When the
    ``with`` block ends normally the temporary file is fsynced and renamed onto
    ``path``; when it raises, the temporary file is deleted and ``path`` is
    untouched. The new file gets the usual permissions (``0o666`` less the umask).

    Args:
        path: the file to create or replace. Its directory must exist.
        mode: ``"wb"`` for bytes or ``"w"`` for UTF-8 text. Defaults to ``"wb"``.

    Yields:
        The open file object.

    Raises:
        ValueError: if ``mode`` is neither ``"wb"`` nor ``"w"``.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> with atomic_open(target, "w") as f:
        ...     _ = f.write("hello")
        >>> open(target).read()
        'hello'
    """
    if mode not in _MODES:
        raise ValueError(
            f"`atomic_open` writes whole files only. Expected: mode in {_MODES}. "
            f"Received: mode={mode!r}."
        )
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    remove_stale_temp_files(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`).

    Args:
        path: the file to create or replace.
        data: the complete new contents.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "blob.bin")
        >>> atomic_write_bytes(target, b"\\x00\\x01")
        >>> open(target, "rb").read()
        b'\\x00\\x01'
    """
    with atomic_open(path, "wb") as f:
        f.write(data)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (True when that cannot be known)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    if pid <= 0 or pid > 2**31 - 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by another user (or cannot be told)
    return True


def remove_stale_temp_files(path: str | os.PathLike[str]) -> list[str]:
    """Remove temporary files that killed writers of ``path`` left behind.

    Only files named like :func:`atomic_open`'s own (``.<name>.<pid>.<8 hex>.tmp``,
    beside ``path``) are candidates, and one is removed only when its writer's process
    no longer exists, or when it has not been modified for :data:`STALE_AFTER_S`
    seconds. A concurrent writer (another live process, or another thread of this one)
    keeps its file. Caveat: a writer in another PID namespace sharing the directory (a
    container) looks dead here; its rename then fails and it raises ``FileNotFoundError``.

    Args:
        path: the target file.

    Returns:
        The paths removed.

    Example:
        >>> import os, tempfile
        >>> d = tempfile.mkdtemp(); open(os.path.join(d, ".m.lamina.999999999.0a1b2c3d.tmp"), "w").close()
        >>> [os.path.basename(p) for p in remove_stale_temp_files(os.path.join(d, "m.lamina"))]
        ['.m.lamina.999999999.0a1b2c3d.tmp']
    """
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = re.compile(r"\." + re.escape(name) + r"\.(\d{1,10})\.[0-9a-f]{8}\.tmp")
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is None:
            continue
        candidate = os.path.join(directory, entry)
        try:
            info = os.lstat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if _pid_alive(int(match.group(1))) and now - info.st_mtime < STALE_AFTER_S:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(candidate)
            removed.append(candidate)
    return removed


# -- reading safetensors files as untrusted data -------------------------------------------

#: safetensors dtype code -> torch dtype, the ones lamina reads.
SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_MAX_RANK = 16
_FIX = "It may be truncated, corrupted or not written by lamina; save it again."


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One entry of a safetensors header: dtype, shape and byte range in the body."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


@dataclasses.dataclass(frozen=True)
class SafetensorsHeader:
    """A checked safetensors header: the tensor table, the metadata, where the body is."""

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    body_offset: int
    file_size: int


def _bad(path, what: str, expected: str | None = None, received: str | None = None):
    return FileFormatError(message(f"'{path}' is not a valid lamina/safetensors file: {what}.",
                                   expected=expected, received=received, fix=_FIX))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _tensor_info(path, name: str, entry: Any, body: int) -> TensorInfo:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _bad(path, f"the header entry of tensor {name!r} is malformed",
                   expected="{'dtype': ..., 'shape': [...], 'data_offsets': [start, end]}",
                   received=_short(entry))
    dtype = SAFETENSORS_DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    if dtype is None:
        raise _bad(path, f"tensor {name!r} has an unsupported dtype",
                   expected=f"one of {', '.join(SAFETENSORS_DTYPES)}",
                   received=_short(entry["dtype"]))
    shape, offsets = entry["shape"], entry["data_offsets"]
    if (not isinstance(shape, list) or len(shape) > _MAX_RANK
            or not all(type(d) is int and 0 <= d < 2**63 for d in shape)):
        raise _bad(path, f"tensor {name!r} has an invalid shape",
                   expected=f"a list of at most {_MAX_RANK} non-negative ints",
                   received=_short(shape))
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= body):
        raise _bad(path, f"tensor {name!r} has data offsets outside the file",
                   expected=f"[start, end] with 0 <= start <= end <= {body} (the body's size)",
                   received=_short(offsets))
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != offsets[1] - offsets[0]:
        raise _bad(path, f"tensor {name!r}'s shape and dtype do not match its byte range",
                   expected=f"{nbytes} bytes for shape {tuple(shape)} {entry['dtype']}",
                   received=f"{offsets[1] - offsets[0]} bytes")
    return TensorInfo(dtype, tuple(shape), offsets[0], offsets[1])


def read_safetensors_header(path: str | os.PathLike[str]) -> SafetensorsHeader:
    """Read and check the header of a safetensors file without reading its tensors.

    Checks, before anything else is read: the header length against the file size,
    that the header is a JSON object, every tensor's dtype (from
    :data:`SAFETENSORS_DTYPES`), shape, and byte range (inside the body, matching
    shape x dtype size, no two ranges overlapping) and that the metadata maps strings
    to strings. So the tensors of a checked header never need more bytes than the file
    holds.

    Args:
        path: the file.

    Returns:
        A :class:`SafetensorsHeader`.

    Raises:
        FileFormatError: (a ``ValueError``) naming the file and the first inconsistency.
        FileNotFoundError: if ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> from safetensors.torch import save_file
        >>> p = os.path.join(tempfile.mkdtemp(), "t.safetensors")
        >>> save_file({"w": torch.zeros(2, 3)}, p)
        >>> read_safetensors_header(p).tensors["w"].shape
        (2, 3)
    """
    with open(os.fspath(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) < 8:
            raise _bad(path, "it is shorter than the 8-byte header length",
                       received=f"{size} bytes")
        n = int.from_bytes(head, "little")
        if n > size - 8:
            raise _bad(path, "its header length runs past the end of the file",
                       expected=f"at most {size - 8} bytes", received=f"{n} bytes")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _bad(path, f"its header is not JSON ({_short(str(err))})") from None
    if not isinstance(header, dict):
        raise _bad(path, "its header is not a JSON object", received=type(header).__name__)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _bad(path, "its metadata is not a mapping of strings to strings",
                   received=_short(metadata))
    body = size - 8 - n
    tensors = {name: _tensor_info(path, name, entry, body) for name, entry in header.items()}
    spans = sorted((t.start, t.end, name) for name, t in tensors.items() if t.nbytes)
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        if start < end:
            raise _bad(path, f"tensors {a!r} and {b!r} share bytes",
                       expected="non-overlapping data offsets")
    return SafetensorsHeader(tensors, metadata, 8 + n, size)


def read_safetensors(path: str | os.PathLike[str], header: SafetensorsHeader | None = None
                     ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, checked first (never unpickles).

    The body is read once into one buffer, and the tensors are views of it, so reading
    needs about the file's size in memory.

    Args:
        path: the file.
        header: its already checked header, to skip reading it again.

    Returns:
        (name -> tensor, metadata).

    Raises:
        FileFormatError: (a ``ValueError``) if the file is malformed.

    Example:
        >>> import os, tempfile
        >>> from safetensors.torch import save_file
        >>> p = os.path.join(tempfile.mkdtemp(), "t.safetensors")
        >>> save_file({"w": torch.ones(2)}, p, metadata={"format": "x"})
        >>> read_safetensors(p)
        ({'w': tensor([1., 1.])}, {'format': 'x'})
    """
    header = header or read_safetensors_header(path)
    with open(os.fspath(path), "rb") as f:
        f.seek(header.body_offset)
        body = bytearray(header.file_size - header.body_offset)
        if f.readinto(body) != len(body):
            raise _bad(path, "it changed while it was read")
    tensors = {}
    for name, info in header.tensors.items():
        if info.nbytes == 0:
            tensors[name] = torch.empty(info.shape, dtype=info.dtype)
            continue
        chunk = body if info.start % info.dtype.itemsize == 0 else bytearray(
            body[info.start:info.end])
        offset = info.start if chunk is body else 0
        flat = torch.frombuffer(chunk, dtype=info.dtype, count=info.nbytes // info.dtype.itemsize,
                                offset=offset)
        tensors[name] = flat.reshape(info.shape)
    return tensors, dict(header.metadata)
