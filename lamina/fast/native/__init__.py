"""lamina's C kernels, built on first use by the machine's C compiler and loaded with ctypes.

The C sources beside this file are compiled once per process (``-O3 -march=native`` when the
compiler takes it: the build runs where the code runs) into a private temporary folder and
loaded from there. Where there is no compiler (``$CC``, ``cc``, ``gcc`` or ``clang``), the build
fails, or ``LAMINA_NATIVE=0`` is set, :func:`load` returns None and lamina keeps PyTorch's
ops, which give the same numbers more slowly. Today there is one kernel: the CPU
generator's Mersenne twister (:mod:`lamina.fast.draws`).

Example:
    >>> lib = load()
    >>> lib is None or hasattr(lib, "lamina_mt19937_uniform_float")
    True
"""

from __future__ import annotations

import ctypes
import functools
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["SOURCES", "compiler", "load"]

#: The C files of the library, in this folder.
SOURCES = (Path(__file__).with_name("mt19937.c"),)

#: Flags tried in order: vector code for this CPU first, then the compiler's defaults.
_FLAGS = (("-O3", "-march=native"), ("-O3",))


def compiler() -> list[str] | None:
    """The C compiler's command (``$CC`` if set, else ``cc``, ``gcc`` or ``clang``), or None.

    Example:
        >>> command = compiler()
        >>> command is None or isinstance(command[0], str)
        True
    """
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


@functools.cache
def load() -> ctypes.CDLL | None:
    """The compiled kernels (built once per process), or None where they cannot be built.

    Example:
        >>> load() is load()
        True
    """
    if os.environ.get("LAMINA_NATIVE", "1") == "0" or os.name != "posix":
        return None
    command = compiler()
    if command is None:
        return None
    with tempfile.TemporaryDirectory(prefix="lamina-native-") as folder:
        target = os.path.join(folder, "kernels.so")
        for flags in _FLAGS:
            build = [*command, *flags, "-shared", "-fPIC", "-o", target, *map(str, SOURCES)]
            try:
                subprocess.run(build, check=True, capture_output=True, timeout=120)
            except (OSError, subprocess.SubprocessError):
                continue
            try:
                return ctypes.CDLL(target)     # mapped: the file itself may go with the folder
            except OSError:
                return None
    return None
