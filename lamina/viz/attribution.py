"""Which pixels a ConvNet's output depends on: saliency maps and deconvnet projections.

* **Saliency** (Simonyan, Vedaldi & Zisserman 2013, "Deep Inside Convolutional Networks"):
  the gradient ``d s_c / d x`` of the class score ``s_c`` (before the softmax) with
  respect to the input image. A first-order Taylor view: ``s_c(x') ~ s_c(x) + grad^T (x' -
  x)``, so the pixels with the largest ``|grad|`` change the score most. The map shown is
  ``max_channels |grad|``, as in the paper.
* **Deconvnet** (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional
  Networks"): take the strongest activation of one channel of one layer, set every other
  activation of that layer to zero, and project it back to pixel space, layer by layer:
  max unpooling with the switches recorded in the forward pass, ReLU *rectification* of the
  projected signal, and the transposed filters (``conv_transpose2d`` with the layer's own
  weights, no bias). Unpooling with switches and transposed filters are exactly what
  backpropagation does through max pooling and convolution; only the ReLU differs
  (``relu(g)`` instead of ``g * [z > 0]``), so the projection is computed by autograd with
  that one rule replaced (:class:`lamina.viz._relu.DeconvReLU`). Batch normalization (in
  eval mode, an affine map per channel), residual additions and dense layers are projected
  by their transposes; other non-linearities (tanh...) by their derivative.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lamina.errors import message
from lamina.viz._mpl import pyplot
from lamina.viz._relu import DeconvReLU
from lamina.viz.cam import _as_batch, _class_indices, _find_target, _label, _scores, _units

__all__ = ["saliency", "deconvnet"]


class _Reached(Exception):
    """Stops the forward pass once the layer of interest has run."""


def saliency(model: nn.Module, x, class_index=None, *, title: str | None = None, path=None):
    """Simonyan et al.'s saliency: ``d s_c / d x``, the class score's gradient at the input.

    ``s_c`` is the score before a final softmax: ``model.forward_logits(x)`` when the model
    has that method (lamina models, whose last layer may fold the softmax in), else
    ``model(x)`` (then pass a model that outputs scores, not probabilities). The model runs
    in eval mode; its modes and its parameters' ``.grad`` are left as they were.

    Args:
        model: a trained network on images ``(N, C, H, W)``.
        x: one image ``(C, H, W)`` or a batch ``(N, C, H, W)``, numpy or torch.
        class_index: the class whose score to differentiate: an int, one per image, or None
            for each image's top-scoring class. Defaults to None.
        title: figure title. Defaults to ``"saliency d s_c / d x"``.
        path: if given, also save the figure there as a PNG.

    Returns:
        ``(gradient, figure)``: the signed gradient as float32 numpy, the shape of ``x``; and a
        ``Figure`` with one row per image (at most 8): the image and ``max_c |grad|``.

    Example:
        >>> import torch, lamina as lm
        >>> net = lm.Sequential([lm.layers.Flatten(), lm.layers.Dense(3)], input_shape=(1, 2, 2))
        >>> grad, fig = saliency(net, torch.rand(1, 2, 2), class_index=1)
        >>> torch.allclose(torch.as_tensor(grad).flatten(), net.layers[1].weight[1])
        True
    """
    owner = getattr(model, "name", type(model).__name__)
    batch, single = _as_batch(x, model)
    batch = batch.detach().requires_grad_(True)
    with _eval(model), torch.enable_grad():
        scores = _scores(model, batch)
        classes = _class_indices(class_index, scores, owner)
        chosen = scores.gather(1, classes[:, None]).sum()
        grad, = torch.autograd.grad(chosen, batch)
    out = grad.detach().float().cpu().numpy()
    heat = np.abs(out).max(1)
    fig = _rows(batch.detach(), heat, [f"class {int(c)}" for c in classes],
                title if title is not None else "saliency |d s_c / d x| (max over channels)")
    _save(fig, path)
    return (out[0] if single else out), fig


def deconvnet(model: nn.Module, x, layer, channel: int, *, title: str | None = None,
              path=None):
    """Zeiler & Fergus's deconvnet: one channel's strongest activation projected to pixels.

    For each image, the largest activation ``a`` of ``channel`` at the output of ``layer``
    (over the spatial positions; for a dense layer the unit itself) is kept and every other
    activation of the layer set to zero; this map is projected down to the input through
    unpooling with the forward pass's max-pool switches, ReLU rectification and the
    transposed filters (``conv_transpose2d`` with the same weights). The projection is
    linear in ``a``: it is the pixel pattern, at the activation's own scale, that excites the
    unit. An image on which the channel never fires (``a <= 0``) projects to zeros.

    Args:
        model: a ConvNet on images ``(N, C, H, W)`` (max pooling, ReLUs, convolutions, and
            batch norm, residual blocks, dense layers), in eval mode for the projection.
        x: one image ``(C, H, W)`` or a batch ``(N, C, H, W)``, numpy or torch.
        layer: the layer to look at: a module of ``model``, or its lamina ``name`` or
            ``named_modules`` path. Its output is ``(N, C, H, W)`` (or ``(N, units)``).
        channel: the channel (feature map, or unit) of that layer.
        title: figure title. Defaults to ``"deconvnet: <layer> channel <channel>"``.
        path: if given, also save the figure there as a PNG.

    Returns:
        ``(projection, figure)``: float32 numpy the shape of ``x``; and a ``Figure`` with one
        row per image (at most 8): the image and the projection (each scaled to its range).

    Raises:
        ValueError: an unknown layer, a layer not called by the forward pass, or an
            out-of-range channel.

    Example:
        >>> import torch, lamina as lm
        >>> net = lm.Sequential([lm.layers.Conv2D(2, 3, activation="relu", name="conv"),
        ...                      lm.layers.MaxPool2D(2)], input_shape=(1, 6, 6))
        >>> projection, fig = deconvnet(net, torch.rand(1, 6, 6), "conv", channel=0)
        >>> projection.shape
        (1, 6, 6)
    """
    owner = getattr(model, "name", type(model).__name__)
    target = _find_target(model, _units(model), layer, owner)
    batch, single = _as_batch(x, model)
    batch = batch.detach().requires_grad_(True)
    captured: list[Tensor] = []

    def stop(module, inputs, output):
        captured.append(output)
        raise _Reached

    handle = target.register_forward_hook(stop)
    try:
        with _eval(model), torch.enable_grad(), DeconvReLU():
            try:
                model(batch)
            except _Reached:
                pass
            if not captured:
                raise ValueError(message(f"deconvnet: layer '{_label(target)}' of model "
                                         f"'{owner}' was not called in the forward pass.",
                                         fix="Pass another `layer`."))
            out = captured[-1]
            seed = _strongest(out, channel, _label(target), owner)
            projection, = torch.autograd.grad(out, batch, seed)
    finally:
        handle.remove()
    result = projection.detach().float().cpu().numpy()
    name = layer if isinstance(layer, str) else _label(target)
    fig = _rows(batch.detach(), result, [f"{name}[{channel}]"] * len(result),
                title if title is not None else f"deconvnet: {name} channel {channel}")
    _save(fig, path)
    return (result[0] if single else result), fig


# -- helpers ---------------------------------------------------------------------------------
def _strongest(out, channel, name: str, owner: str) -> Tensor:
    """The layer's output with only each image's largest activation of ``channel`` kept."""
    if not isinstance(out, Tensor) or out.dim() < 2:
        raise ValueError(message(f"deconvnet needs a layer with one tensor output (N, C, ...); "
                                 f"layer '{name}' of model '{owner}' gives another.",
                                 received=f"{type(out).__name__} "
                                          f"{tuple(getattr(out, 'shape', ()))}"))
    if not isinstance(channel, (int, np.integer)) or not 0 <= int(channel) < out.shape[1]:
        raise ValueError(message(f"Argument `channel` of deconvnet must be an int in "
                                 f"[0, {out.shape[1]}) (layer '{name}' of model '{owner}' has "
                                 f"{out.shape[1]} channels).", received=f"channel={channel!r}"))
    plane = out.detach()[:, int(channel)].reshape(out.shape[0], -1)
    value, where = plane.max(1)
    seed = torch.zeros_like(out).reshape(out.shape[0], out.shape[1], -1)
    seed[torch.arange(out.shape[0]), int(channel), where] = value.clamp_min(0)
    return seed.reshape(out.shape)


class _eval:
    """Run the model in eval mode; restore every module's mode afterwards."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.modes = {m: m.training for m in self.model.modules()}
        self.model.eval()

    def __exit__(self, *exc):
        for module, mode in self.modes.items():
            module.training = mode


def _scaled(a: np.ndarray) -> np.ndarray:
    span = a.max() - a.min()
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def _picture(t: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` as something ``imshow`` draws: ``(H, W)`` grey or ``(H, W, 3)``."""
    return t[0] if t.shape[0] == 1 else t[:3].transpose(1, 2, 0) if t.shape[0] >= 3 \
        else t.mean(0)


def _rows(images: Tensor, maps: np.ndarray, labels: list[str], title: str, limit: int = 8):
    """One row per image: the image, then its map (``(N, H, W)`` or ``(N, C, H, W)``)."""
    pics = images.float().cpu().numpy()
    n = min(len(pics), limit)
    plt = pyplot()
    fig, axes = plt.subplots(n, 2, figsize=(4.0, 2.0 * n + 0.4), squeeze=False)
    for i in range(n):
        image = _scaled(_picture(pics[i]))
        shown = maps[i] if maps[i].ndim == 2 else _scaled(_picture(maps[i]))
        axes[i][0].imshow(image, cmap="gray" if image.ndim == 2 else None)
        axes[i][1].imshow(shown, cmap="inferno" if shown.ndim == 2 else None)
        axes[i][1].set_title(labels[i], fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig


def _save(fig, path) -> None:
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
