"""Pictures (matplotlib, imported lazily): training curves and filter grids.

Each function takes data (a ``History``, a weight tensor), not a model, and returns a
matplotlib ``Figure``.
"""

from lamina.viz.filters import plot_filters
from lamina.viz.training import plot_history

__all__ = ["plot_history", "plot_filters"]
