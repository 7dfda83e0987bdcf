"""Vanishing and exploding gradients, drawn: through time in a recurrent net
(``plot_gradient_flow``), and through depth in a feed-forward net (``gradient_norms``)."""

from __future__ import annotations

import numpy as np

from lamina.viz._mpl import pyplot

__all__ = ["plot_gradient_flow", "gradient_norms"]


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


def _norm_table(source) -> dict[str, dict[str, list[float]]]:
    """``{"grad": {layer: per-epoch values}, "weight": {...}}`` from a ``History``, a
    ``GradientStats`` callback or their ``history`` dict."""
    logs = getattr(source, "history", source)
    table: dict[str, dict[str, list[float]]] = {"grad": {}, "weight": {}}
    for key, values in logs.items():
        kind, _, layer = key.partition("_norm/")
        if layer and kind in table:
            table[kind][layer] = list(values)
    if not table["grad"]:
        raise ValueError("No `grad_norm/<layer>` entries: record them with "
                         "`fit(..., callbacks=[lm.callbacks.GradientStats()])`.")
    return table


def gradient_norms(history, *, epoch: int = -1, path: str | None = None):
    """Two panels against layer depth (input side left): each layer's mean gradient norm
    ``||dE/dW_l||`` during ``epoch`` (log scale), and its weight norm ``||W_l||`` at the
    epoch's end (linear); a gradient that shrinks from the last layer to the first vanishes.

    Args:
        history: what ``lm.callbacks.GradientStats`` recorded: the ``History`` returned by
            ``fit`` (with ``log=True``), the callback itself, or a dict ``{label: either}``
            to compare nets (sigmoid against ReLU).
        epoch: which epoch to draw (0-based; -1 the last). Defaults to -1.
        path: also save the figure there as a PNG.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> h = {"grad_norm/d1": [1e-4], "grad_norm/d2": [1e-1],
        ...      "weight_norm/d1": [3.0], "weight_norm/d2": [2.0]}
        >>> len(gradient_norms({"sigmoid": h}).axes)
        2
    """
    one_run = not isinstance(history, dict) or all(
        isinstance(v, (list, tuple)) for v in history.values())  # a history's own dict
    runs = {"": history} if one_run else history
    plt = pyplot()
    fig, (ax_grad, ax_weight) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, source in runs.items():
        table = _norm_table(source)
        for ax, kind in ((ax_grad, "grad"), (ax_weight, "weight")):
            names = list(table[kind])
            values = np.array([table[kind][n][epoch] for n in names], dtype=float)
            depth = np.arange(1, len(names) + 1)
            ax.plot(depth, np.maximum(values, 1e-300), marker="o", label=label or None)
    ax_grad.set_yscale("log")
    ax_grad.set_ylabel("mean ||dE/dW|| over the epoch's batches")
    ax_grad.set_title("gradient norm per layer")
    ax_weight.set_ylabel("||W|| at the epoch's end")
    ax_weight.set_title("weight norm per layer")
    for ax in (ax_grad, ax_weight):
        ax.set_xlabel("layer (1 = next to the input)")
        ax.grid(alpha=0.3, which="both")
        if len(runs) > 1 or next(iter(runs)):
            ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
