"""Pictures of unsupervised models: Gibbs chains, reconstructions beside inputs, 2-D codes.

Like the rest of :mod:`lamina.viz`, each function takes arrays (numpy or torch), not a
model, and returns a matplotlib ``Figure``. RBM and first-layer filters are drawn by
:func:`lamina.viz.plot_filters` (``plot_filters(rbm.components_, image_shape=(28, 28))``).
"""

from __future__ import annotations

import numpy as np

from lamina.errors import message
from lamina.viz._mpl import pyplot

__all__ = ["plot_gibbs_chain", "plot_reconstructions", "plot_codes_2d"]


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _tile(ax, image: np.ndarray) -> None:
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0) if image.min() >= 0 and image.max() <= 1 \
        else ax.imshow(image, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _images(x, image_shape, owner: str) -> np.ndarray:
    arr = _array(x)
    if image_shape is not None:
        return arr.reshape(len(arr), *image_shape)
    if arr.ndim == 3:
        return arr
    if arr.ndim == 4 and arr.shape[1] == 1:
        return arr[:, 0]
    raise ValueError(message(f"{owner} needs images (N, H, W) or flat rows with "
                             f"`image_shape=(H, W)`.", received=f"an array of shape {arr.shape}"))


def plot_gibbs_chain(states, image_shape=None, *, title: str | None = None):
    """A grid of Gibbs-chain states: one row per chain, one column per recorded step.

    Args:
        states: ``(steps, chains, D)`` (or ``(steps, chains, H, W)``), e.g. the visible
            means recorded every few steps of ``rbm.gibbs``.
        image_shape: ``(H, W)`` for flat states. Defaults to None.
        title: figure title.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> fig = plot_gibbs_chain(np.random.rand(5, 2, 16), image_shape=(4, 4))
        >>> len(fig.axes)
        10
    """
    arr = _array(states)
    if arr.ndim < 3:
        raise ValueError(message("plot_gibbs_chain needs states of shape (steps, chains, ...).",
                                 received=f"an array of shape {arr.shape}"))
    steps, chains = arr.shape[:2]
    images = _images(arr.reshape(steps * chains, *arr.shape[2:]), image_shape,
                     "plot_gibbs_chain").reshape(steps, chains, *(image_shape or arr.shape[2:]))
    plt = pyplot()
    fig, axes = plt.subplots(chains, steps, figsize=(1.1 * steps, 1.1 * chains + 0.3),
                             squeeze=False)
    for c in range(chains):
        for s in range(steps):
            _tile(axes[c][s], images[s, c])
    for s in range(steps):
        axes[0][s].set_title(f"{s}", fontsize=8)
    fig.suptitle(title or "Gibbs chains (columns: recorded steps)")
    return fig


def plot_reconstructions(x, reconstructions, image_shape=None, *, n: int = 10,
                         title: str | None = None):
    """Inputs (top row) above their reconstructions (bottom row).

    Args:
        x: inputs ``(N, H, W)``, ``(N, 1, H, W)`` or flat ``(N, D)`` with ``image_shape``.
        reconstructions: the same shape as ``x``.
        image_shape: ``(H, W)`` for flat rows. Defaults to None.
        n: how many pairs to show (the first ``n``). Defaults to 10.
        title: figure title.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> x = np.random.rand(4, 9)
        >>> len(plot_reconstructions(x, x, image_shape=(3, 3)).axes)
        8
    """
    top = _images(x, image_shape, "plot_reconstructions")[:n]
    bottom = _images(reconstructions, image_shape, "plot_reconstructions")[:n]
    if top.shape != bottom.shape:
        raise ValueError(message("plot_reconstructions needs `x` and `reconstructions` of the "
                                 "same shape.", received=f"{top.shape} and {bottom.shape}"))
    plt = pyplot()
    fig, axes = plt.subplots(2, len(top), figsize=(1.1 * len(top), 2.6), squeeze=False)
    for i in range(len(top)):
        _tile(axes[0][i], top[i])
        _tile(axes[1][i], bottom[i])
    axes[0][0].set_ylabel("input", fontsize=8)
    axes[1][0].set_ylabel("reconstruction", fontsize=8)
    fig.suptitle(title or "Inputs and reconstructions")
    return fig


def plot_codes_2d(codes, labels=None, *, class_names=None, title: str | None = None,
                  max_points: int = 5000):
    """Two-dimensional codes as a scatter plot, one colour per class.

    Args:
        codes: ``(N, 2)`` codes (a 2-unit autoencoder or DBN code layer, a VAE's means).
        labels: class of each point, for colours and the legend. Defaults to None.
        class_names: names for the legend, indexed by label. Defaults to the labels.
        title: figure title.
        max_points: plot at most this many points (the first ones). Defaults to 5000.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> fig = plot_codes_2d(np.random.rand(20, 2), np.arange(20) % 3)
        >>> len(fig.axes[0].collections)
        3
    """
    arr = _array(codes)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(message("plot_codes_2d needs codes of shape (N, 2).",
                                 received=f"an array of shape {arr.shape}",
                                 fix="Use a 2-unit code layer, or project first (e.g. PCA)."))
    arr = arr[:max_points]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(arr[:, 0], arr[:, 1], s=4)
    else:
        lab = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)[:max_points]
        for value in np.unique(lab):
            name = class_names[int(value)] if class_names is not None else str(value)
            pts = arr[lab == value]
            ax.scatter(pts[:, 0], pts[:, 1], s=4, label=name)
        ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title or "2-D codes")
    return fig
