"""Grids of filters: first-layer convolution kernels or dense weights as image tiles."""

from __future__ import annotations

import math

import torch

from lamina.viz._mpl import pyplot

__all__ = ["plot_filters"]


def plot_filters(weight, *, image_shape=None, columns: int | None = None, title: str | None = None):
    """Show each filter as a grey tile (each tile scaled to its own min..max).

    Args:
        weight: a conv kernel ``(filters, channels, kh, kw)`` (channels are averaged) or a
            dense weight ``(units, features)`` with ``image_shape`` to reshape each row.
        image_shape: ``(h, w)`` for dense weights, e.g. ``(28, 28)``.
        columns: tiles per row. Defaults to about the square root of the count.
        title: figure title.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import torch
        >>> fig = plot_filters(torch.randn(6, 1, 5, 5))
        >>> len(fig.axes)
        6
    """
    w = torch.as_tensor(weight).detach().float().cpu()
    if w.dim() == 4:
        tiles = w.mean(1)
    elif w.dim() == 2 and image_shape is not None:
        tiles = w.reshape(w.shape[0], *image_shape)
    else:
        raise ValueError(f"plot_filters expects a (filters, channels, kh, kw) kernel or a "
                         f"(units, features) weight with image_shape=(h, w). Received: a "
                         f"weight of shape {tuple(w.shape)}.")
    n = tiles.shape[0]
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    plt = pyplot()
    fig = plt.figure(figsize=(1.2 * cols, 1.2 * rows + (0.4 if title else 0)))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(tiles[i].numpy(), cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig
