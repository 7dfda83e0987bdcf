"""Name -> object registries behind every ``get()`` (optimizers, losses, metrics, ...).

One registry per kind of named thing. Lookup is case-insensitive, accepts aliases, and
an unknown name raises a ``ValueError`` that lists the valid names and the closest match.

Classes registered with :meth:`Registry.register_class` (every ``Layer`` subclass) follow
one rule so that a file names the class it was saved with: lamina's own classes (defined
in a module under ``lamina.``) own their short names (``"Dense"``); any other class is
registered under its module-qualified name (``"mymodule.Dense"``), and under its short
name only while no other class holds it. A later class never silently takes a name from
another one: that needs ``overwrite=True``. Redefining the same class (same module and
qualified name, e.g. re-running a notebook cell) replaces it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

__all__ = ["Registry", "qualified_name"]


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class, e.g. ``"lamina.layers.core.Dense"``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_lamina(cls: type) -> bool:
    return cls.__module__ == "lamina" or cls.__module__.startswith("lamina.")


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

    def register_class(self, cls: type, *, overwrite: bool = False) -> type:
        """Register a class by the rule in the module docstring; return the class.

        Args:
            cls: the class.
            overwrite: let ``cls`` take its short name even from another class.

        Example:
            >>> reg = Registry("layer")
            >>> class Dense: pass
            >>> _ = reg.register_class(Dense)
            >>> reg.lookup(reg.name_of(Dense)) is Dense
            True
        """
        own = qualified_name(cls)
        short = cls.__name__
        held = self._items.get(short.lower())
        keys = [] if _is_lamina(cls) else [own]
        if (_is_lamina(cls) or held is None or overwrite or qualified_name(held) == own):
            keys.append(short)
        for key in keys:
            self._items[key.lower()] = cls
            self._canonical[key.lower()] = key
        return cls

    def name_of(self, cls: type) -> str:
        """The name a file stores for ``cls``: the short name of a lamina class, the
        module-qualified name of any other; ``ValueError`` if ``cls`` is not registered."""
        key = cls.__name__ if _is_lamina(cls) else qualified_name(cls)
        if self._items.get(key.lower()) is not cls:
            raise ValueError(
                f"{self.kind} class {qualified_name(cls)} is not registered, so a file "
                f"cannot name it. Classes whose name starts with '_' are not registered: "
                f"rename it.")
        return key

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
