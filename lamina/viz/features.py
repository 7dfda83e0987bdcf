"""What a feature extractor sees: the feature maps one layer produces for a few inputs.

Decks 000-002 present a ConvNet with its last layers removed as "a transformation of any
input image into a semi-abstract representation". This grid shows that representation:
one row per input image, the image first, then the maps of the chosen layer (each scaled
to its own min..max). Early layers give edge- and blob-like maps close to the image; later
ones coarser, more abstract ones.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.viz._mpl import pyplot
from lamina.viz.cam import _as_batch, _find_target, _label, _units

__all__ = ["feature_maps", "layer_output", "plot_feature_maps"]


def layer_output(model: nn.Module, x, layer) -> np.ndarray:
    """The output of ``layer`` when ``model`` runs on ``x`` in eval mode, as float32 numpy.

    The output is read with a forward hook, so any layer of any ``nn.Module`` works; the
    model's train/eval modes are restored afterwards.

    Args:
        model: a lamina model or any ``nn.Module`` on images.
        x: one image ``(C, H, W)`` or a batch ``(N, C, H, W)``, numpy or torch.
        layer: a module of ``model``, or its lamina ``name`` or ``named_modules`` path.

    Returns:
        The layer's output for the batch (a batch axis is added for one image).

    Example:
        >>> import torch, lamina as lm
        >>> net = lm.Sequential([lm.layers.Conv2D(3, 3, name="conv")], input_shape=(1, 6, 6))
        >>> layer_output(net, torch.rand(2, 1, 6, 6), "conv").shape
        (2, 3, 4, 4)
    """
    owner = getattr(model, "name", type(model).__name__)
    if layer is None:
        raise ValueError(message("layer_output needs the `layer` whose output to read.",
                                 received="layer=None",
                                 fix="Pass a layer name, e.g. layer='conv1'."))
    target = _find_target(model, _units(model), layer, owner)
    batch, _ = _as_batch(x, model)
    captured: list[Tensor] = []
    handle = target.register_forward_hook(lambda module, inputs, out: captured.append(out))
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            model(batch)
    finally:
        handle.remove()
        for module, mode in modes.items():
            module.training = mode
    if not captured:
        raise ValueError(message(f"Layer '{_label(target)}' of model '{owner}' was not called "
                                 f"in the forward pass.", fix="Pass another `layer`."))
    out = captured[-1]
    if not isinstance(out, Tensor):
        raise ValueError(message(f"Layer '{_label(target)}' of model '{owner}' returns a "
                                 f"{type(out).__name__}, not a tensor.",
                                 fix="Pass a layer with one tensor output."))
    return out.detach().float().cpu().numpy()


def plot_feature_maps(maps, images=None, *, max_maps: int = 16, title: str | None = None):
    """A grid of feature maps: one row per image, the image (if given) and then its maps.

    Args:
        maps: ``(N, C, H, W)`` feature maps, numpy or torch. The first ``max_maps``
            channels are shown, each tile scaled to its own min..max (``viridis``).
        images: the ``N`` inputs ``(N, C, H, W)`` (1 or 3 channels) or ``(N, H, W)``,
            shown in a first column. Defaults to None (no image column).
        max_maps: at most this many maps per image. Defaults to 16.
        title: figure title.

    Returns:
        A matplotlib ``Figure`` with ``N * (min(C, max_maps) + (images is not None))`` axes,
        row by row.

    Example:
        >>> import numpy as np
        >>> fig = plot_feature_maps(np.random.rand(2, 6, 5, 5), np.random.rand(2, 1, 8, 8))
        >>> len(fig.axes)  # 2 rows of 1 image + 6 maps
        14
    """
    max_maps = check_positive_int("max_maps", max_maps, "plot_feature_maps")
    arr = _numpy(maps)
    if arr.ndim != 4:
        raise ValueError(message("plot_feature_maps needs feature maps (N, C, H, W).",
                                 received=f"maps of shape {arr.shape}",
                                 fix="Pick a convolution or pooling layer (a Dense layer's "
                                     "(N, units) output has no maps)."))
    pictures = None if images is None else _images(images, len(arr))
    shown = min(arr.shape[1], max_maps)
    cols = shown + (pictures is not None)
    rows = len(arr)
    plt = pyplot()
    fig = plt.figure(figsize=(1.1 * cols, 1.1 * rows + (0.4 if title else 0)))
    for i in range(rows):
        tiles = ([pictures[i]] if pictures is not None else []) + list(arr[i, :shown])
        for j, tile in enumerate(tiles):
            ax = fig.add_subplot(rows, cols, i * cols + j + 1)
            is_image = pictures is not None and j == 0
            ax.imshow(tile, cmap="gray" if is_image and tile.ndim == 2 else
                      None if is_image else "viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title("input" if is_image else f"map {j - (pictures is not None)}",
                             fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def feature_maps(model: nn.Module, x, layer, n_images: int = 4, max_maps: int = 16, *,
                 title: str | None = None, path=None, return_maps: bool = False):
    """Draw the feature maps that ``layer`` of ``model`` produces for the first few inputs.

    Runs ``model`` (in eval mode, without gradients) on ``x[:n_images]``, reads the layer's
    output with a forward hook (:func:`layer_output`) and draws it with
    :func:`plot_feature_maps`: one row per image, the image first, then the first
    ``max_maps`` maps.

    Args:
        model: a lamina model or any ``nn.Module`` on images ``(N, C, H, W)``.
        x: images ``(N, C, H, W)`` (or one image ``(C, H, W)``), numpy or torch.
        layer: the layer to look at: a module of ``model``, or its lamina ``name``
            (``"conv1"``) or ``named_modules`` path. Its output must be ``(N, C, H, W)``.
        n_images: how many of the inputs to show. Defaults to 4.
        max_maps: at most this many maps per image. Defaults to 16.
        title: figure title. Defaults to ``"feature maps of <layer>"``.
        path: if given, also save the figure there as a PNG.
        return_maps: also return the layer's activations for all of ``x`` (the values the
            figure shows, from the model's own forward pass). Defaults to False.

    Returns:
        A matplotlib ``Figure`` with ``n * (1 + min(C, max_maps))`` axes, ``n`` the number of
        images shown; with ``return_maps=True``, ``(maps, figure)``, ``maps`` the float32
        ``(N, C, H, W)`` output of ``layer`` for every image of ``x``.

    Raises:
        ValueError: an unknown layer, or a layer whose output is not ``(N, C, H, W)``.

    Example:
        >>> import torch, lamina as lm
        >>> net = lm.zoo.LeNet5()
        >>> len(feature_maps(net, torch.rand(3, 1, 28, 28), "conv1").axes)  # 3 x (1 + 6)
        21
        >>> maps, fig = feature_maps(net, torch.rand(5, 1, 28, 28), "pool1", return_maps=True)
        >>> maps.shape
        (5, 6, 14, 14)
    """
    n_images = check_positive_int("n_images", n_images, "feature_maps")
    batch, _ = _as_batch(x, model)
    every = layer_output(model, batch if return_maps else batch[:n_images], layer)
    batch, maps = batch[:n_images], every[:n_images]
    name = layer if isinstance(layer, str) else _label(layer)
    if maps.ndim != 4:
        owner = getattr(model, "name", type(model).__name__)
        raise ValueError(message(f"feature_maps needs a layer with feature maps (N, C, H, W); "
                                 f"layer '{name}' of model '{owner}' gives another shape.",
                                 received=f"an output of shape {maps.shape}",
                                 fix="Pick a convolution or pooling layer."))
    fig = plot_feature_maps(maps, batch, max_maps=max_maps,
                            title=title if title is not None else f"feature maps of {name}")
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return (every, fig) if return_maps else fig


def _numpy(x) -> np.ndarray:
    return np.asarray(x.detach().float().cpu() if isinstance(x, Tensor) else x, dtype=np.float32)


def _images(images, n: int) -> np.ndarray:
    """Images as ``(N, H, W)`` (grey) or ``(N, H, W, 3)``, min..max scaled per image."""
    arr = _numpy(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 4 and arr.shape[1] == 3:
        arr = arr.transpose(0, 2, 3, 1)
    if arr.ndim not in (3, 4) or len(arr) != n:
        raise ValueError(message(f"plot_feature_maps needs one image per row of maps ({n}), "
                                 f"(N, C, H, W) with 1 or 3 channels or (N, H, W).",
                                 received=f"images of shape {np.shape(images)}"))
    low = arr.min(axis=tuple(range(1, arr.ndim)), keepdims=True)
    span = arr.max(axis=tuple(range(1, arr.ndim)), keepdims=True) - low
    return np.where(span > 0, (arr - low) / np.where(span > 0, span, 1), 0.0)
