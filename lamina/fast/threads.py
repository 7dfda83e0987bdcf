"""How many CPU threads a run of small matrix products gets.

Waking a thread pool costs more than it saves on small products: an RBM on 8x8 digits (64
visible, 100 hidden units, batches of 10) trains 5-8x faster on one thread than on two, and
the gap grows on a loaded machine (figures in ``docs/benchmarks.md``). Products of at least
:data:`SMALL_PRODUCT` multiply-adds (a 784-256 RBM on batches of 64: 12.8 million) keep the
process's thread count untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["SMALL_PRODUCT", "for_products"]

#: Below this many multiply-adds per product, a CPU run uses one thread.
SMALL_PRODUCT = 1_000_000


@contextlib.contextmanager
def for_products(multiply_adds: int, device: torch.device | str) -> Iterator[int]:
    """Run the block with one CPU thread when its products are small; yields the count.

    Example:
        >>> with for_products(10 * 64 * 100, "cpu") as threads:
        ...     threads
        1
        >>> with for_products(64 * 784 * 256, "cpu") as threads:
        ...     threads == torch.get_num_threads()
        True
    """
    threads = torch.get_num_threads()
    if multiply_adds >= SMALL_PRODUCT or torch.device(device).type != "cpu" or threads == 1:
        yield threads
        return
    torch.set_num_threads(1)
    try:
        yield 1
    finally:
        torch.set_num_threads(threads)
