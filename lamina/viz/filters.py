"""Grids of filters: first-layer convolution kernels or dense weights as image tiles.

``plot_filters`` takes a weight tensor; ``filters`` takes a model and one of its layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.viz._mpl import pyplot
from lamina.viz.cam import _find_target, _label

__all__ = ["plot_filters", "filters"]


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


def filters(model: nn.Module, layer=None, *, max_filters: int = 64, max_channels: int = 16,
            title: str | None = None, path=None):
    """Draw the weights of any layer of ``model`` as image tiles, AlexNet style.

    * A convolution whose kernel has 3 input channels (a first layer on colour images):
      one colour tile per filter, its ``(3, kh, kw)`` weights scaled together to [0, 1] and
      drawn as RGB (Krizhevsky et al. 2012, figure 3).
    * One input channel: one grey tile per filter.
    * More channels (deeper layers): one row per filter, one grey tile per input channel
      (at most ``max_channels``), all tiles of the figure on one colour scale.
    * A dense weight ``(units, features)``: when it is the model's first layer with
      weights (it reads the pixels), each unit's row reshaped to the input image
      (``(C, H, W)`` with 1 or 3 channels, else a square ``H x W`` of the features);
      otherwise the weight matrix as one heat map.

    Args:
        model: a lamina model or any ``nn.Module``.
        layer: a module of ``model``, its lamina ``name`` or ``named_modules`` path; or None
            for the first layer that has a weight. Defaults to None.
        max_filters: at most this many filters (units). Defaults to 64.
        max_channels: at most this many input channels per filter row. Defaults to 16.
        title: figure title. Defaults to ``"<layer> weights"``.
        path: if given, also save the figure there as a PNG.

    Returns:
        A matplotlib ``Figure``: one axes per tile (one in all for a weight-matrix heat map).

    Example:
        >>> import lamina as lm
        >>> net = lm.zoo.LeNet5()
        >>> len(filters(net, "conv1").axes), len(filters(net, "conv2", max_filters=4).axes)
        (6, 24)
    """
    owner = getattr(model, "name", type(model).__name__)
    max_filters = check_positive_int("max_filters", max_filters, "filters")
    max_channels = check_positive_int("max_channels", max_channels, "filters")
    target = _weighted(model, layer, owner)
    w = target.weight.detach().float().cpu()
    name = layer if isinstance(layer, str) else _label(target)
    title = title if title is not None else f"{name} weights"
    if w.dim() == 4 and w.shape[1] == 3:
        tiles = [_unit_range(k).permute(1, 2, 0).numpy() for k in w[:max_filters]]
        fig = _grid(tiles, None, title)
    elif w.dim() == 4 and w.shape[1] == 1:
        fig = _grid([k[0].numpy() for k in w[:max_filters]], None, title)
    elif w.dim() == 4:
        shown = w[:max_filters, :max_channels]
        fig = _grid([k.numpy() for k in shown.reshape(-1, *shown.shape[2:])], shown.shape[1],
                    title, scale=(float(shown.min()), float(shown.max())))
    elif w.dim() == 2:
        shape = _image_shape(model, target, w.shape[1])
        if shape is None:
            fig = _matrix(w.numpy(), title)
        elif len(shape) == 3:
            tiles = [_unit_range(r.reshape(shape)).permute(1, 2, 0).numpy()
                     for r in w[:max_filters]]
            fig = _grid(tiles, None, title)
        else:
            fig = _grid([r.reshape(shape).numpy() for r in w[:max_filters]], None, title)
    else:
        raise ValueError(message(f"filters draws 2-D convolution kernels (filters, channels, "
                                 f"kh, kw) and dense weights (units, features); layer "
                                 f"'{_label(target)}' of model '{owner}' has another weight.",
                                 received=f"a weight of shape {tuple(w.shape)}"))
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _weighted(model: nn.Module, layer, owner: str) -> nn.Module:
    """The layer to draw: ``layer``, or the first module with a ``weight`` tensor."""
    if layer is not None:
        target = _find_target(model, [], layer, owner)
    else:
        target = next((m for m in model.modules() if m is not model and
                       isinstance(getattr(m, "weight", None), torch.Tensor)), None)
    if target is None or not isinstance(getattr(target, "weight", None), torch.Tensor):
        found = "no layer with weights" if target is None else f"layer '{_label(target)}'"
        raise ValueError(message(f"filters needs a layer with a `weight`; model '{owner}' "
                                 f"has {found}.", fix="Pass a convolution or Dense layer."))
    return target


def _image_shape(model: nn.Module, target: nn.Module, features: int):
    """The image a dense layer's inputs make when it is the model's first weighted layer (it
    reads the input): the input ``(C, H, W)`` with 1 or 3 channels (``(H, W)`` for one), or
    a square of ``features``; else None (a later layer reads features, not pixels)."""
    if _weighted(model, None, "") is not target:
        return None
    shape = tuple(getattr(model, "input_shape", None) or ())
    if len(shape) == 3 and math.prod(shape) == features and shape[0] in (1, 3):
        return shape[1:] if shape[0] == 1 else shape
    side = math.isqrt(features)
    return (side, side) if side * side == features and side > 1 else None


def _unit_range(t: torch.Tensor) -> torch.Tensor:
    span = t.max() - t.min()
    return (t - t.min()) / span if span > 0 else torch.zeros_like(t)


def _grid(tiles: list, columns: int | None, title: str, scale=None):
    """Tiles in a grid (``columns`` per row, or about square); grey tiles on ``scale``."""
    n = len(tiles)
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    vmin, vmax = scale if scale is not None else (None, None)
    plt = pyplot()
    fig = plt.figure(figsize=(1.0 * cols + 0.2, 1.0 * rows + 0.5))
    for i, tile in enumerate(tiles):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(tile, cmap="gray" if tile.ndim == 2 else None, vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig


def _matrix(w, title: str):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    image = ax.imshow(w, cmap="coolwarm", aspect="auto")
    ax.set_xlabel("input feature")
    ax.set_ylabel("unit")
    fig.colorbar(image, ax=ax)
    fig.suptitle(title, fontsize=9)
    return fig
