"""Global switches: seeding and determinism."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["set_seed"]


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
