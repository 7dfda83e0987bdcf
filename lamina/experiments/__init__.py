"""Reproductions of the decks' quantitative claims, one module each.

Every experiment is ``lamina.experiments.<name>`` with ``run(quick=False, out_dir=None) ->
dict`` of its key numbers; it writes ``runs/<name>/report.md`` (its numbers beside the
published ones, the settings, the machine, the time) and PNG figures. Run one with
``python -m lamina.experiments <name>`` or ``lamina experiments run <name>``; list them with
``--list`` or ``lamina experiments list``. ``lamina reproduce`` runs them all and judges the
decks' claims (:mod:`lamina.experiments.claims`, :mod:`lamina.experiments.reproduce`).

Example:
    >>> "optimizers" in available()
    True
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["available", "load"]

#: modules of this package that are the suite's machinery, not experiments
_MACHINERY = {"claims", "reproduce"}


def available() -> list[str]:
    """Names of the experiment modules."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in _MACHINERY)


def load(name: str):
    """The experiment module ``name``; ``ValueError`` listing the valid names if unknown."""
    if name not in available():
        raise ValueError(f"Unknown experiment {name!r}. Available: {', '.join(available())}.")
    return importlib.import_module(f"lamina.experiments.{name}")
