"""Gradient flow through time: the decks' vanishing and exploding gradients, drawn."""

from __future__ import annotations

import numpy as np

from lamina.viz._mpl import pyplot

__all__ = ["plot_gradient_flow"]


def plot_gradient_flow(flows, *, normalize: bool = True):
    """Two panels: ``||dE/dh(t-k)||`` against the lag ``k`` (log scale), and the spectral
    radius of the step Jacobian ``ds_t/ds_{t-1}`` against ``k``, with the line ``rho = 1``
    that separates vanishing (below) from exploding (above).

    Args:
        flows: a :class:`lamina.recurrent.GradientFlow`, or a dict ``{label: flow}`` to
            compare models (``SimpleRNN`` against ``LSTM``, or one model at several
            ``W_hh`` scales).
        normalize: divide each norm curve by its value at ``k = 0``. Defaults to True.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> from lamina.recurrent import GradientFlow
        >>> k = np.arange(5)
        >>> flow = GradientFlow(k, 0.5 ** k, 0.5 ** k, np.full(4, 0.5), {"h": 0.5})
        >>> len(plot_gradient_flow({"W = I/2": flow}).axes)
        2
    """
    if not isinstance(flows, dict):
        flows = {getattr(flows, "layer", "") or "model": flows}
    plt = pyplot()
    fig, (ax_norm, ax_rho) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, flow in flows.items():
        norms = np.asarray(flow.state_grad_norm, dtype=float)
        if normalize and norms.size and norms[0] > 0:
            norms = norms / norms[0]
        ax_norm.semilogy(flow.lags, np.maximum(norms, 1e-300), marker=".", label=label)
        rho = np.asarray(flow.jacobian_radius, dtype=float)
        ax_rho.plot(np.arange(rho.size), rho, marker=".", label=label)
    ax_norm.set_xlabel("lag k (steps back from the last)")
    ax_norm.set_ylabel("||dE/dh(T-1-k)||" + (" / value at k=0" if normalize else ""))
    ax_norm.set_title("error signal reaching k steps back")
    ax_rho.axhline(1.0, color="k", lw=0.8, ls="--")
    ax_rho.set_xlabel("lag k")
    ax_rho.set_ylabel("spectral radius of ds_t/ds_{t-1}")
    ax_rho.set_title("> 1 explodes, < 1 vanishes")
    for ax in (ax_norm, ax_rho):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig
