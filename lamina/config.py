"""Global switches: seeding and determinism."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import sys

import numpy as np
import torch

__all__ = ["set_seed", "rng_state", "set_rng_state", "keep_freed_memory", "resolve_device"]


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed every random stream lamina uses (Python, NumPy, torch CPU and CUDA).

    With ``deterministic=True`` torch is also told to use deterministic kernels
    (``torch.use_deterministic_algorithms(True, warn_only=True)``, cuDNN without
    benchmarking), so two runs with the same seed give identical histories.

    Args:
        seed: the seed.
        deterministic: also switch torch to deterministic algorithms. Defaults to True.

    Example:
        >>> import torch
        >>> set_seed(0); a = torch.rand(2)
        >>> set_seed(0); bool((a == torch.rand(2)).all())
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.use_deterministic_algorithms(False)


def rng_state() -> dict:
    """The state of every global random stream :func:`set_seed` seeds (what a checkpoint
    keeps so that a resumed run draws the same numbers).

    Example:
        >>> import torch
        >>> state = rng_state(); a = torch.rand(2)
        >>> set_rng_state(state); bool((a == torch.rand(2)).all())
        True
    """
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Put back the streams saved by :func:`rng_state` (CUDA's where present on both sides).

    Example:
        >>> import random
        >>> state = rng_state(); a = random.random()
        >>> set_rng_state(state); a == random.random()
        True
    """
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(enable: bool = True) -> bool:
    """Opt in to glibc malloc keeping freed memory for reuse (Linux only).

    On the CPU every training step allocates and frees batch-sized tensors. Past glibc's
    mmap threshold each one is mapped and unmapped, so every step pays page faults.
    ``keep_freed_memory()`` raises the mmap threshold to its 32 MiB maximum and stops
    malloc from trimming the heap, so freed blocks are reused; the process keeps its peak
    memory instead of giving it back. ``enable=False`` restores glibc's default thresholds.
    ``benchmarks/peers.py --keep-freed-memory`` measures the page faults and time it saves.

    Returns:
        True if the settings were applied (glibc found), else False.

    Example:
        >>> keep_freed_memory() in (True, False)
        True
        >>> _ = keep_freed_memory(False)
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mmap, trim = (32 * 1024 * 1024, 2**31 - 1) if enable else (128 * 1024, 128 * 1024)
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; anything else as ``torch.device``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
