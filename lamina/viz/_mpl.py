"""Import matplotlib with a non-interactive backend when no display is set."""

from __future__ import annotations

import os


def pyplot():
    """``matplotlib.pyplot``, using the Agg backend when there is no display."""
    import matplotlib

    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
