"""Training curves from a ``History``."""

from __future__ import annotations

from lamina.viz._mpl import pyplot

__all__ = ["plot_history"]


def plot_history(history, metrics=None):
    """One panel per metric (loss, accuracy, ...), train and validation curves per epoch.

    Args:
        history: a ``History`` (or its ``.history`` dict of per-epoch lists).
        metrics: names to plot; defaults to every key without ``val_`` that has values,
            except per-layer diagnostics (keys with a ``/``: ``GradientStats``'s norms,
            drawn by ``lm.viz.gradient_norms``).

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> from lamina.training import History
        >>> h = History(); h.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.2})
        >>> h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7, "grad_norm/dense": 0.1})
        >>> len(plot_history(h).axes)
        1
    """
    logs = getattr(history, "history", history)
    if metrics is None:
        metrics = [k for k in logs if not k.startswith("val_") and k not in ("time", "lr")
                   and "/" not in k]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    for ax, key in zip(axes[0], metrics):
        epochs = range(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], marker="o", label="train")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig
