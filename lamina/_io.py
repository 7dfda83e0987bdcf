"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file lamina writes (checkpoints, saved models, downloaded datasets) goes
through :func:`atomic_open`: the bytes go to a temporary file in the same
directory, which is flushed and fsynced, then renamed over the target with
:func:`os.replace`, and the directory is fsynced so the rename itself survives a
crash. If anything fails before the rename, the temporary file is removed and
the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write_bytes"]

_MODES = ("wb", "w")


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
