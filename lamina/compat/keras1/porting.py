"""Run Keras 1 code on lamina by rewriting its import lines, and nothing else.

Every ``from keras... import names`` becomes ``from lamina.compat.keras1 import names`` (the
Keras 1 names live in one flat namespace here), and ``import keras`` becomes
``import lamina.compat.keras1 as keras``; every other line is kept as it is.
"""

from __future__ import annotations

import re

__all__ = ["swap_imports"]

_FROM = re.compile(r"^(\s*)from\s+keras(\.[\w.]+)?\s+import\s+", re.MULTILINE)
_IMPORT = re.compile(r"^(\s*)import\s+keras(\.[\w.]+)?(\s+as\s+(\w+))?\s*$", re.MULTILINE)


def _import_line(match: re.Match) -> str:
    indent, alias = match.group(1), match.group(4) or "keras"
    return f"{indent}import lamina.compat.keras1 as {alias}"


def swap_imports(source: str) -> str:
    """``source`` with its Keras import lines pointing at :mod:`lamina.compat.keras1`.

    Args:
        source: Python code written for Keras 1.

    Returns:
        The same code, import lines swapped (``from keras.layers.core import Dense`` ->
        ``from lamina.compat.keras1 import Dense``; ``import keras`` ->
        ``import lamina.compat.keras1 as keras``).

    Example:
        >>> print(swap_imports("from keras.models import Sequential\\nmodel = Sequential()"))
        from lamina.compat.keras1 import Sequential
        model = Sequential()
    """
    source = _FROM.sub(lambda m: f"{m.group(1)}from lamina.compat.keras1 import ", source)
    return _IMPORT.sub(_import_line, source)
