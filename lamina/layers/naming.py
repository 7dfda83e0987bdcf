"""Unique default names for layers and inputs: ``dense``, ``dense_1``, ``dense_2`` ..."""

from __future__ import annotations

import re
from collections import defaultdict

__all__ = ["auto_name"]

_name_counts: dict[str, int] = defaultdict(int)


def auto_name(cls_name: str) -> str:
    """A unique snake-case name per class: ``dense``, ``dense_1``, ``dense_2`` ...

    Example:
        >>> auto_name("MyBlock").startswith("my_block")
        True
    """
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", cls_name).lower()
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"
