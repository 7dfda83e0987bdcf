"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``00 00 <dtype code> <rank>``, then one
big-endian uint32 per dimension, then the values in C order, big-endian
(http://yann.lecun.com/exdb/mnist/). Files are often gzipped; :func:`read_idx`
recognises gzip by its magic bytes ``1f 8b``, whatever the file is called.

The reader checks the whole header before it allocates anything, so a corrupt,
truncated or hostile file is refused with a ``ValueError`` naming the file and
the first inconsistency; it never hangs and never allocates more than the
header's size, which is capped at :data:`MAX_BYTES`.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import IO

import numpy as np

from lamina._io import atomic_open
from lamina.errors import message

__all__ = ["read_idx", "write_idx", "MAX_BYTES", "MAX_RANK"]

#: Largest payload :func:`read_idx` accepts, in bytes (16 GiB).
MAX_BYTES = 2**34
#: Largest number of dimensions accepted (MNIST images have 3).
MAX_RANK = 4

# dtype code -> (name, big-endian numpy dtype).
_CODES = {
    0x08: ("uint8", np.dtype("u1")),
    0x09: ("int8", np.dtype("i1")),
    0x0B: ("int16", np.dtype(">i2")),
    0x0C: ("int32", np.dtype(">i4")),
    0x0D: ("float32", np.dtype(">f4")),
    0x0E: ("float64", np.dtype(">f8")),
}
_CODE_OF = {name: code for code, (name, _) in _CODES.items()}
# Deflate cannot compress better than about 1032:1, which bounds a gzip file's content.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 24
_FIX = "Delete it and load again, or download it anew."


def _describe(dims: tuple[int, ...], name: str, nbytes: int) -> str:
    shape = "x".join(str(d) for d in dims)
    return f"{shape} {name} ({nbytes} bytes of data)"


def _read_header(f: IO[bytes], path: str) -> tuple[str, np.dtype, tuple[int, ...]]:
    """Parse and check the magic number and dimensions; return (name, dtype, dims)."""
    magic = f.read(4)
    if len(magic) < 4:
        raise ValueError(f"IDX file '{path}' is too short to be an IDX file: it holds "
                         f"{len(magic)} bytes, less than the 4-byte magic number. {_FIX}")
    zero, code, rank = struct.unpack(">HBB", magic)
    if zero != 0:
        raise ValueError(message(
            f"File '{path}' is not an IDX file: its magic number does not start with two zero bytes.",
            expected="bytes 00 00 <dtype code> <rank>", received=f"bytes {magic.hex(' ')}",
            fix="Check that the path names an IDX file such as 'train-images-idx3-ubyte.gz'."))
    if code not in _CODES:
        valid = ", ".join(f"0x{c:02X} ({n})" for c, (n, _) in _CODES.items())
        raise ValueError(message(
            f"IDX file '{path}' declares an unknown dtype code.",
            expected=f"one of {valid}", received=f"0x{code:02X}", fix=_FIX))
    if not 1 <= rank <= MAX_RANK:
        raise ValueError(message(
            f"IDX file '{path}' declares an unsupported number of dimensions.",
            expected=f"1 to {MAX_RANK}", received=f"{rank}", fix=_FIX))
    raw = f.read(4 * rank)
    if len(raw) < 4 * rank:
        raise ValueError(f"IDX file '{path}' is truncated: its header declares {rank} "
                         f"dimensions but ends after {4 + len(raw)} of its {4 + 4 * rank} bytes. {_FIX}")
    name, dtype = _CODES[code]
    return name, dtype, struct.unpack(f">{rank}I", raw)


def _read_payload(f: IO[bytes], nbytes: int) -> tuple[np.ndarray, int, bool]:
    """Read up to ``nbytes``; return (buffer, bytes read, whether more data follows)."""
    out = np.empty(nbytes, dtype=np.uint8)  # uninitialised: pages are touched only as filled
    view, filled = memoryview(out), 0
    while filled < nbytes:
        got = f.readinto(view[filled:filled + _CHUNK])
        if not got:
            break
        filled += got
    return out, filled, bool(f.read(1))


def _parse(f: IO[bytes], path: str, gzipped: bool, stored: int) -> np.ndarray:
    name, dtype, dims = _read_header(f, path)
    header = 4 + 4 * len(dims)
    nbytes = math.prod(dims) * dtype.itemsize
    described = _describe(dims, name, nbytes)
    if nbytes > MAX_BYTES:
        raise ValueError(message(
            f"IDX file '{path}' declares {described}, more than lamina reads from one file.",
            expected=f"at most {MAX_BYTES} bytes", received=f"{nbytes} bytes", fix=_FIX))
    # Refuse before allocating when the file cannot possibly hold the data.
    limit = stored - header if not gzipped else stored * _MAX_DEFLATE_RATIO
    if nbytes > limit:
        held = (f"{limit} bytes" if not gzipped else
                f"{stored} compressed bytes, which decompress to at most {limit} bytes")
        raise ValueError(f"IDX file '{path}' is truncated: header declares {described} but the "
                         f"file holds {held}. {_FIX}")
    data, filled, trailing = _read_payload(f, nbytes)
    if filled < nbytes:
        raise ValueError(f"IDX file '{path}' is truncated: header declares {described} but the "
                         f"file holds {filled} bytes. {_FIX}")
    if trailing:
        raise ValueError(f"IDX file '{path}' has trailing data: header declares {described} but "
                         f"more bytes follow them. {_FIX}")
    array = data.view(dtype).reshape(dims)
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped or raw, into a numpy array.

    Gzip is recognised by the magic bytes ``1f 8b``, not by the file name. The
    header is checked before the data is read: the magic number, the dtype code,
    the rank (1 to :data:`MAX_RANK`), the declared size (at most
    :data:`MAX_BYTES`) and, for a raw file, the file size. Only the declared
    number of bytes is decompressed, plus one to detect trailing data.

    Args:
        path: the IDX file, e.g. ``"train-images-idx3-ubyte.gz"``.

    Returns:
        A writable array of the declared shape and dtype (uint8, int8, int16,
        int32, float32 or float64), in native byte order.

    Raises:
        ValueError: if the file is not IDX, is truncated, has trailing data,
            declares an unknown dtype, an unsupported rank or an absurd size, or
            is a corrupt gzip stream. The message names the file.
        FileNotFoundError: if ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
        >>> read_idx(path)
        array([3, 1, 4], dtype=uint8)
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        stored = os.fstat(raw.fileno()).st_size
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if not gzipped:
            return _parse(raw, path, False, stored)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _parse(f, path, True, stored)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise ValueError(
                f"IDX file '{path}' is not a valid gzip stream ({err}); it is corrupt or was "
                f"cut short. {_FIX}") from err


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an array as an IDX file, atomically; gzipped if ``path`` ends in ``.gz``.

    Args:
        path: the file to create or replace.
        array: 1 to :data:`MAX_RANK` dimensions, dtype uint8, int8, int16, int32,
            float32 or float64 (any byte order), each dimension below ``2**32``.

    Raises:
        TypeError: if the dtype has no IDX code.
        ValueError: if the rank or a dimension is out of range.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-float")
        >>> write_idx(path, np.eye(2, dtype=np.float32))
        >>> read_idx(path)
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    array = np.asarray(array)
    code = _CODE_OF.get(array.dtype.name)
    if code is None:
        raise TypeError(message(
            "`write_idx` cannot store this dtype in an IDX file.",
            expected=f"one of {', '.join(_CODE_OF)}", received=f"dtype {array.dtype}",
            fix="Convert it first, e.g. `array.astype(np.uint8)`."))
    if not 1 <= array.ndim <= MAX_RANK or any(d >= 2**32 for d in array.shape):
        raise ValueError(message(
            f"`write_idx` needs 1 to {MAX_RANK} dimensions, each below 2**32.",
            received=f"array of shape {array.shape}"))
    big = np.ascontiguousarray(array, dtype=_CODES[code][1])
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    path = os.fspath(path)
    with atomic_open(path, "wb") as f:
        out = f
        if path.endswith(".gz"):
            out = gzip.GzipFile(filename=os.path.basename(path), mode="wb", fileobj=f, mtime=0)
        out.write(header)
        out.write(memoryview(big.reshape(-1).view(np.uint8)))
        if out is not f:
            out.close()
