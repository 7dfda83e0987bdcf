"""Which process this is: the launcher's environment (``torchrun`` sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``) and the process group lamina starts from it.

``torchrun --nproc_per_node=N script.py`` starts ``N`` copies of the script; each reads its
rank here. Outside a launcher there is one process, of rank 0.
"""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist

from lamina.errors import message

__all__ = ["launched", "world_size", "rank", "local_rank", "is_main_process",
           "init_process_group", "backend_for"]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(message(f"Environment variable {name} must be an integer (set by "
                                 f"torchrun).", received=f"{name}={value!r}")) from None


def launched() -> bool:
    """Whether a launcher started this process as one of a group (``WORLD_SIZE`` and
    ``RANK`` in the environment, as ``torchrun`` sets them), or a group is running.

    Example:
        >>> launched() in (True, False)
        True
    """
    if dist.is_available() and dist.is_initialized():
        return True
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def world_size() -> int:
    """Number of processes training together: the running group's size, else
    ``WORLD_SIZE``, else 1.

    Example:
        >>> world_size() >= 1
        True
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return _env_int("WORLD_SIZE", 1)


def rank() -> int:
    """This process's rank in ``[0, world_size())``: the running group's, else ``RANK``,
    else 0.

    Example:
        >>> 0 <= rank() < world_size()
        True
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``; its GPU index), else 0.

    Example:
        >>> local_rank() >= 0
        True
    """
    return _env_int("LOCAL_RANK", 0)


def is_main_process() -> bool:
    """True in the process of rank 0, the one that prints and writes files (always True
    outside a launcher).

    Example:
        >>> import lamina as lm
        >>> lm.distributed.is_main_process()
        True
    """
    return rank() == 0


def backend_for(device: torch.device) -> str:
    """The collective backend for ``device``: ``"nccl"`` for CUDA, ``"gloo"`` otherwise.

    Example:
        >>> backend_for(torch.device("cpu"))
        'gloo'
    """
    return "nccl" if device.type == "cuda" else "gloo"


def init_process_group(device: torch.device) -> None:
    """Join the group the launcher started (reading ``MASTER_ADDR``, ``MASTER_PORT``,
    ``WORLD_SIZE`` and ``RANK``), with the backend for ``device``; nothing if one is running.

    A group lamina starts is destroyed when the process exits.
    """
    if dist.is_initialized():
        return
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK")
               if k not in os.environ]
    if missing:
        raise RuntimeError(message(
            "Data-parallel training needs the process group's rendezvous in the environment, "
            "as torchrun sets it.", received=f"no {', '.join(missing)}",
            fix="Launch the script with `torchrun --nproc_per_node=N script.py`."))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device))
    atexit.register(_destroy)


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
