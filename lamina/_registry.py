"""Name -> object registries behind every ``get()`` (optimizers, losses, metrics, ...).

One registry per kind of named thing. Lookup is case-insensitive, accepts aliases, and
an unknown name raises a ``ValueError`` that lists the valid names and the closest match.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

__all__ = ["Registry"]


class Registry:
    """A case-insensitive mapping from names to classes or functions.

    Args:
        kind: what the registry holds, used in error messages ("loss", "activation").

    Example:
        >>> acts = Registry("activation")
        >>> @acts.register("identity", "linear")
        ... def identity(x):
        ...     return x
        >>> acts.lookup("LINEAR") is identity
        True
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._canonical: dict[str, str] = {}

    def register(self, name: str, *aliases: str, overwrite: bool = False) -> Callable[[Any], Any]:
        """Decorator registering an object under ``name`` and any ``aliases``.

        A name already taken by another object is an error unless ``overwrite``.
        """

        def deco(obj: Any) -> Any:
            for key in (name, *aliases):
                k = key.lower()
                if not overwrite and k in self._items and self._items[k] is not obj:
                    raise ValueError(f"{self.kind} name {key!r} is already registered.")
                self._items[k] = obj
                self._canonical[k] = name
            return obj

        return deco

    def names(self) -> list[str]:
        """All registered names and aliases, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def canonical(self, name: str) -> str:
        """The primary name for ``name`` (an alias maps to its primary name)."""
        return self._canonical[self.lookup_key(name)]

    def lookup_key(self, name: str) -> str:
        key = name.lower()
        if key not in self._items:
            raise ValueError(self.unknown_message(name))
        return key

    def lookup(self, name: str) -> Any:
        """The object registered under ``name``; ``ValueError`` listing valid names if none."""
        return self._items[self.lookup_key(name)]

    def unknown_message(self, name: str) -> str:
        valid = ", ".join(repr(n) for n in self.names())
        close = difflib.get_close_matches(name.lower(), self.names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Valid names: {valid}."
