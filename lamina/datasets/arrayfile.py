"""``ArrayFile``: a data set larger than memory, written to disk once and read back as memmaps.

A directory holds one standard ``.npy`` file per array (``x.npy``, ``y.npy``, ...), all with
the same number of rows. :meth:`ArrayFile.create` writes them chunk by chunk (the total
need not be known in advance: each file's header is rewritten with the final row count when
the writer closes), and ``ArrayFile(path)`` opens them as read-only ``numpy.memmap`` arrays,
which ``fit``, ``evaluate`` and ``predict`` read batch by batch
(:mod:`lamina.training.streaming`). Any program that reads ``.npy`` reads the files.

Example:
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "data")
    >>> with ArrayFile.create(path) as out:
    ...     for chunk in np.array_split(np.arange(10), 3):   # chunks from anywhere
    ...         out.append(x=np.ones((len(chunk), 3), np.float32), y=chunk)
    >>> data = ArrayFile(path)
    >>> data["x"].shape, int(data["y"][-1]), type(data["x"]).__name__
    ((10, 3), 9, 'memmap')
"""

from __future__ import annotations

import os

import numpy as np

from lamina.errors import FileFormatError, message

__all__ = ["ArrayFile", "ArrayFileWriter"]

_MAGIC = b"\x93NUMPY\x01\x00"
#: Bytes reserved for a file's header (magic, length and the dict), a multiple of 64 so the
#: data stay aligned; room for any row count.
_HEADER = 256


def _header(dtype: np.dtype, shape: tuple) -> bytes:
    """A version-1.0 ``.npy`` header of exactly ``_HEADER`` bytes."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": tuple(int(s) for s in shape)})
    room = _HEADER - len(_MAGIC) - 2
    body = text.encode("latin1")
    if len(body) + 1 > room:
        raise ValueError(message("The array's description does not fit a .npy header.",
                                 received=text[:80]))
    body = body + b" " * (room - len(body) - 1) + b"\n"
    return _MAGIC + len(body).to_bytes(2, "little") + body


class ArrayFileWriter:
    """Appends chunks of rows to the ``.npy`` files of an :class:`ArrayFile` directory.

    Use it as a context manager (from :meth:`ArrayFile.create`); the headers get their
    final row counts on close. Each array's dtype and per-row shape are fixed by its first
    chunk; every ``append`` gives every array the same number of rows.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        os.makedirs(self.path, exist_ok=True)
        self.files: dict = {}
        self.specs: dict = {}
        self.rows = 0

    def append(self, **arrays) -> None:
        """Write the next rows: ``append(x=chunk_x, y=chunk_y)`` (same names every time)."""
        if not arrays:
            raise ValueError(message("`append` needs named arrays.", fix="append(x=..., y=...)"))
        chunks = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        counts = {k: (len(v) if v.ndim else None) for k, v in chunks.items()}
        if None in counts.values() or len(set(counts.values())) != 1:
            raise ValueError(message("The arrays of one `append` must have the same number of "
                                     "rows.", received=f"{counts}"))
        if self.specs and set(chunks) != set(self.specs):
            raise ValueError(message("Every `append` must give the same arrays.",
                                     expected=f"{sorted(self.specs)}", received=f"{sorted(chunks)}"))
        for name, chunk in chunks.items():
            spec = (chunk.dtype, chunk.shape[1:])
            if name not in self.specs:
                if chunk.dtype == object or chunk.dtype.kind not in "biuf":
                    raise TypeError(message(f"Array '{name}' must hold numbers.",
                                            received=f"dtype {chunk.dtype}"))
                self.specs[name] = spec
                handle = open(os.path.join(self.path, f"{name}.npy.part"), "wb")
                handle.write(_header(chunk.dtype, (0, *chunk.shape[1:])))
                self.files[name] = handle
            elif spec != self.specs[name]:
                raise ValueError(message(f"Array '{name}' changed its dtype or row shape.",
                                         expected=f"{self.specs[name]}", received=f"{spec}"))
            self.files[name].write(chunk.tobytes())
        self.rows += next(iter(counts.values()))

    def close(self) -> None:
        """Write the final headers and move the files into place (each with ``os.replace``)."""
        for name, handle in self.files.items():
            dtype, row = self.specs[name]
            handle.seek(0)
            handle.write(_header(dtype, (self.rows, *row)))
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(handle.name, os.path.join(self.path, f"{name}.npy"))
        self.files = {}

    def __enter__(self) -> ArrayFileWriter:
        return self

    def __exit__(self, kind, *exc) -> None:
        if kind is None:
            self.close()
            return
        for handle in self.files.values():  # a failed write leaves no half file
            handle.close()
            os.remove(handle.name)


class ArrayFile:
    """Named arrays in a directory of ``.npy`` files, opened as read-only memory maps.

    Args:
        path: the directory written by :meth:`create` (or any directory of ``.npy`` files
            with the same number of rows).

    Attributes:
        names: the arrays' names, sorted.

    Example:
        >>> import os, tempfile, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "d")
        >>> ArrayFile.write(path, x=np.zeros((4, 2), np.float32), y=np.arange(4))
        >>> x, y = ArrayFile(path).arrays("x", "y")
        >>> x.shape, y.tolist()
        ((4, 2), [0, 1, 2, 3])
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise FileNotFoundError(message(f"ArrayFile directory '{self.path}' does not exist.",
                                            fix="Write it first with ArrayFile.create(path)."))
        self.names = sorted(f[:-4] for f in os.listdir(self.path) if f.endswith(".npy"))
        self._arrays = {}
        for name in self.names:
            file = os.path.join(self.path, f"{name}.npy")
            try:
                self._arrays[name] = np.load(file, mmap_mode="r", allow_pickle=False)
            except ValueError as err:
                raise FileFormatError(message(f"'{file}' is not a readable .npy file.",
                                              received=str(err)[:120])) from None
        rows = {name: len(a) for name, a in self._arrays.items()}
        if len(set(rows.values())) > 1:
            raise FileFormatError(message(f"The arrays of '{self.path}' differ in length.",
                                          received=f"{rows}"))

    @staticmethod
    def create(path) -> ArrayFileWriter:
        """A writer that appends chunks to ``path`` (use it in a ``with`` block)."""
        return ArrayFileWriter(path)

    @staticmethod
    def write(path, **arrays) -> None:
        """Write whole arrays (or memmaps) at once: ``ArrayFile.write(path, x=x, y=y)``."""
        with ArrayFileWriter(path) as out:
            out.append(**arrays)

    def __getitem__(self, name: str) -> np.memmap:
        if name not in self._arrays:
            raise KeyError(message(f"ArrayFile '{self.path}' has no array '{name}'.",
                                   expected=f"one of {self.names}"))
        return self._arrays[name]

    def arrays(self, *names: str) -> tuple:
        """The memmaps called ``names``, in that order."""
        return tuple(self[n] for n in names)

    def __len__(self) -> int:
        return len(next(iter(self._arrays.values()))) if self._arrays else 0

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}: {self._arrays[n].shape} {self._arrays[n].dtype}"
                           for n in self.names)
        return f"ArrayFile('{self.path}', {shapes})"

