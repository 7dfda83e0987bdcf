"""Class activation maps: where in the image a ConvNet finds the evidence for a class.

Deck 002 ("Class activation maps: towards localization and (low-res) semantic
segmentation") shows that a classifier trained on labels alone also learns *where* the
object is. Two ways to read that off a trained network:

* **CAM** (Zhou et al., 2016, "Learning Deep Features for Discriminative Localization"),
  for networks that end in global average pooling and one linear classifier. The class
  score is ``s_c = sum_k w_ck mean_xy A_k(x, y) + b_c``, so the map
  ``M_c(x, y) = sum_k w_ck A_k(x, y)`` splits the score over the image.
* **Grad-CAM** (Selvaraju et al., 2017), for any ConvNet: weigh the feature maps ``A_k``
  of a convolution layer by the spatial mean of ``d s_c / d A_k`` (``s_c`` the score before
  the softmax) and keep the positive part, ``relu(sum_k alpha_ck A_k)``. For a GAP + linear
  head ``alpha_ck = w_ck / (h w)``, so Grad-CAM is CAM's positive part, scaled.

Both maps are upsampled (bilinear) from the feature-map size to the input size.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina.errors import message
from lamina.layers.conv import Conv2D
from lamina.models.model import Model
from lamina.viz._mpl import pyplot

__all__ = ["class_activation_map", "plot_class_activation_map"]

_METHODS = {"auto": "auto", "cam": "cam", "gradcam": "gradcam", "grad-cam": "gradcam",
            "grad_cam": "gradcam"}
_GAP_NAMES = {"GlobalAvgPool2D", "GlobalAveragePooling2D"}
# element-wise layers that finish a convolution block (the maps CAM and Grad-CAM read)
_BLOCK_TAIL_NAMES = {"Activation", "BatchNorm", "BatchNormalization", "ReLU", "LeakyReLU",
                     "ELU", "GELU", "SiLU", "Tanh", "Sigmoid", "BatchNorm2d", "Identity",
                     "Dropout", "Dropout2d"}
_PASS_THROUGH_NAMES = {"Flatten", "Dropout", "Identity"}
_OUTPUT_ACT_NAMES = {"Activation", "Softmax", "Sigmoid", "LogSoftmax"}


def class_activation_map(model: nn.Module, x, class_index=None, method: str = "auto", *,
                         layer=None, normalize: bool = True) -> np.ndarray:
    """Heat map of the evidence for ``class_index`` in each image, at the input's size.

    The feature maps come from a forward hook on the target layer: by default the last
    convolution block (the last layer holding a convolution, with any activation or batch
    norm right after it). ``method="auto"`` uses CAM when that block is followed by global
    average pooling, an optional ``Flatten``, and one ``Dense`` (or ``nn.Linear``)
    classifier, and Grad-CAM otherwise. The model runs in eval mode; its train/eval modes
    and its parameters (values, ``requires_grad``, ``.grad``) are left as they were.

    Args:
        model: a trained network on ``(N, C, H, W)`` images (a lamina model or any
            ``nn.Module``). Class scores are ``model.forward_logits(x)`` if it has that
            method (the scores before a final softmax), else ``model(x)``.
        x: one image ``(C, H, W)`` or a batch ``(N, C, H, W)``, numpy or torch.
        class_index: the class to explain: an int, one int per image, or None for each
            image's top-scoring class. Defaults to None.
        method: ``"auto"``, ``"cam"`` or ``"gradcam"``. Defaults to ``"auto"``.
        layer: the layer whose feature maps to use: a module of ``model``, or its lamina
            ``name`` or ``named_modules`` path. Defaults to the last convolution block.
        normalize: scale each map to [0, 1] (min to 0, max to 1; a constant map becomes
            0). With False, CAM returns ``sum_k w_ck A_k`` and Grad-CAM
            ``relu(sum_k alpha_ck A_k)``, upsampled. Defaults to True.

    Returns:
        A float32 numpy array ``(H, W)`` for one image, ``(N, H, W)`` for a batch.

    Raises:
        ValueError: no convolution layer (and no ``layer``), ``method="cam"`` on a network
            without a GAP + linear head, an unknown ``layer`` or an out-of-range class.

    Example:
        >>> import torch, lamina as lm
        >>> from lamina import layers
        >>> net = lm.Sequential([layers.Conv2D(4, 3, padding="same", activation="relu"),
        ...                      layers.MaxPool2D(2), layers.Flatten(), layers.Dense(3)],
        ...                     input_shape=(1, 8, 8))
        >>> heat = class_activation_map(net, torch.rand(1, 8, 8), class_index=2)
        >>> heat.shape, float(heat.min()) >= 0.0, float(heat.max()) <= 1.0
        ((8, 8), True, True)
    """
    owner = getattr(model, "name", type(model).__name__)
    kind = _METHODS.get(str(method).lower()) if isinstance(method, str) else None
    if kind is None:
        raise ValueError(message("Argument `method` of class_activation_map must be one of "
                                 "'auto', 'cam', 'gradcam'.", received=f"method={method!r}"))
    batch, single = _as_batch(x, model)
    units = _units(model)
    target = _find_target(model, units, layer, owner)
    head = _cam_head(units, target)
    if kind == "cam" and head is None:
        raise ValueError(message(
            f"class_activation_map(method='cam') needs the feature maps to be followed by "
            f"global average pooling and one Dense classifier, but model '{owner}' has other "
            f"layers after '{_label(target)}'.",
            fix="Use method='gradcam' (it works for any ConvNet), or method='auto'."))
    use_cam = head is not None and kind != "gradcam"
    modes = {m: m.training for m in model.modules()}
    captured: list[Tensor] = []

    def hook(module, inputs, output):
        if not isinstance(output, Tensor) or output.dim() != 4:
            raise ValueError(message(
                f"class_activation_map needs feature maps (N, C, H, W) from layer "
                f"'{_label(module)}' of model '{owner}'.",
                received=f"output of shape {tuple(getattr(output, 'shape', ()))}",
                fix="Pass layer=... naming a convolution layer or block."))
        output = output.detach().requires_grad_(not use_cam)  # Grad-CAM: graph starts here
        captured.append(output)
        return output

    handle = target.register_forward_hook(hook)
    model.eval()
    try:
        with torch.set_grad_enabled(not use_cam):
            scores = _scores(model, batch)
            classes = _class_indices(class_index, scores, owner)
            if not captured:
                raise ValueError(message(
                    f"class_activation_map: layer '{_label(target)}' of model '{owner}' was "
                    f"not called when computing the class scores.",
                    fix="Pass layer=... naming a convolution layer or block."))
            maps = captured[-1]
            if use_cam:
                weights = head.weight.detach()[classes]                     # (N, K)
                if weights.shape[1] != maps.shape[1]:
                    raise ValueError(message(
                        f"class_activation_map(method='cam'): the classifier '{_label(head)}' "
                        f"of model '{owner}' takes {weights.shape[1]} features, but layer "
                        f"'{_label(target)}' gives {maps.shape[1]} maps.",
                        fix="Use method='gradcam'."))
            else:
                chosen = scores.gather(1, classes[:, None]).sum()
                grads, = torch.autograd.grad(chosen, maps)
                weights = grads.mean((2, 3))                                # alpha_ck
            heat = torch.einsum("nk,nkhw->nhw", weights, maps.detach())
            if not use_cam:
                heat = heat.clamp_min(0)
    finally:
        handle.remove()
        for module, mode in modes.items():
            module.training = mode
    heat = F.interpolate(heat[:, None], size=tuple(batch.shape[-2:]), mode="bilinear",
                         align_corners=False)[:, 0]
    if normalize:
        low = heat.amin((1, 2), keepdim=True)
        span = heat.amax((1, 2), keepdim=True) - low
        heat = torch.where(span > 0, (heat - low) / span.clamp_min(1e-30), torch.zeros_like(heat))
    out = heat.detach().float().cpu().numpy()
    return out[0] if single else out


def plot_class_activation_map(image, heatmap, alpha: float = 0.5, *, cmap: str = "jet",
                              title: str | None = None):
    """Overlay a heat map on its image (grey or colour), with a colour bar.

    Args:
        image: ``(C, H, W)`` with 1 or 3 channels, ``(H, W, C)`` or ``(H, W)``; numpy or
            torch. Shown scaled to its own min..max.
        heatmap: ``(H, W)``, e.g. from :func:`class_activation_map`.
        alpha: opacity of the heat map, in [0, 1]. Defaults to 0.5.
        cmap: matplotlib colour map of the heat map. Defaults to ``"jet"``.
        title: axes title.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> fig = plot_class_activation_map(np.random.rand(1, 8, 8), np.random.rand(8, 8))
        >>> len(fig.axes)  # the image and its colour bar
        2
    """
    img = np.asarray(image.detach().cpu() if isinstance(image, Tensor) else image, dtype=float)
    heat = np.asarray(heatmap.detach().cpu() if isinstance(heatmap, Tensor) else heatmap,
                      dtype=float)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or heat.shape != img.shape[:2]:
        raise ValueError(message(
            "plot_class_activation_map needs an image (C, H, W), (H, W, C) or (H, W) and a "
            "heat map (H, W) of the same height and width.",
            received=f"image of shape {np.shape(image)}, heatmap of shape {np.shape(heatmap)}"))
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(message("Argument `alpha` of plot_class_activation_map must be in "
                                 "[0, 1].", received=f"alpha={alpha!r}"))
    span = img.max() - img.min()
    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    overlay = ax.imshow(heat, cmap=cmap, alpha=alpha)
    fig.colorbar(overlay, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


# -- helpers ---------------------------------------------------------------------------------
def _as_batch(x, model: nn.Module) -> tuple[Tensor, bool]:
    """``x`` as a float ``(N, C, H, W)`` tensor on the model's device; whether it was one image."""
    t = torch.as_tensor(x.detach() if isinstance(x, Tensor) else np.asarray(x))
    if t.dim() not in (3, 4):
        raise ValueError(message(
            "The lamina.viz model pictures take one image (C, H, W) or a batch (N, C, H, W).",
            received=f"x of shape {tuple(t.shape)}",
            fix="Add the channel axis for grey images: x[None] (or x[:, None] for a batch)."))
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    device = param.device if param is not None else t.device
    t = t.to(device=device, dtype=dtype)
    return (t[None], True) if t.dim() == 3 else (t, False)


def _is_conv(module: nn.Module) -> bool:
    return isinstance(module, (nn.Conv2d, Conv2D))


def _units(model: nn.Module) -> list[nn.Module]:
    """The model's layers in order: containers (and the root) opened, everything else whole."""
    def walk(module: nn.Module, root: bool) -> list[nn.Module]:
        children = list(module.children())
        is_container = isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict, Model))
        if not children or not (root or is_container):
            return [module]
        units = []
        for child in children:
            units += walk(child, root=root and len(children) == 1)
        return units

    return walk(model, root=True)


def _find_target(model: nn.Module, units: list, layer, owner: str) -> nn.Module:
    """The module whose output is the feature maps: ``layer``, or the last conv block."""
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(message(f"Argument `layer` of class_activation_map must be a "
                                     f"layer of model '{owner}'.",
                                     received=f"a {type(layer).__name__} from elsewhere"))
        return layer
    if layer is not None:
        named = dict(model.named_modules())
        for path, module in named.items():
            if getattr(module, "name", None) == layer or (path and path == layer):
                return module
        names = [getattr(m, "name", p) for p, m in named.items() if p]
        raise ValueError(message(f"Model '{owner}' has no layer named {layer!r}.",
                                 expected=f"one of {', '.join(map(repr, names))}",
                                 received=f"layer={layer!r}"))
    last = max((i for i, u in enumerate(units) if any(_is_conv(m) for m in u.modules())),
               default=None)
    if last is None:
        raise ValueError(f"class_activation_map found no convolution layer in model "
                         f"'{owner}'. CAM needs a ConvNet; pass layer=... to choose one.")
    while last + 1 < len(units) and type(units[last + 1]).__name__ in _BLOCK_TAIL_NAMES:
        last += 1
    return units[last]


def _is_gap(module: nn.Module) -> bool:
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return module.output_size in (1, (1, 1))
    return type(module).__name__ in _GAP_NAMES


def _cam_head(units: list, target: nn.Module):
    """The classifier if ``target`` feeds GAP -> [Flatten] -> Dense (-> activation); else None."""
    index = next((i for i, u in enumerate(units) if u is target), None)
    if index is None or index + 2 >= len(units) or not _is_gap(units[index + 1]):
        return None
    rest = units[index + 2:]
    while rest and type(rest[0]).__name__ in _PASS_THROUGH_NAMES:
        rest = rest[1:]
    if not rest or type(rest[0]).__name__ not in ("Dense", "Linear"):
        return None
    if any(type(m).__name__ not in _OUTPUT_ACT_NAMES for m in rest[1:]):
        return None
    return rest[0]


def _scores(model: nn.Module, batch: Tensor) -> Tensor:
    """Class scores before a final softmax: ``forward_logits`` when the model has it."""
    forward = getattr(model, "forward_logits", None)
    out = forward(batch) if callable(forward) else model(batch)
    return out.reshape(out.shape[0], -1)


def _class_indices(class_index, scores: Tensor, owner: str) -> Tensor:
    """One class per sample, as an int64 tensor on the scores' device."""
    n, num_classes = scores.shape
    if class_index is None:
        return scores.detach().argmax(1)
    classes = torch.as_tensor(class_index, device=scores.device).long().reshape(-1)
    if classes.numel() == 1:
        classes = classes.expand(n)
    if classes.numel() != n or bool(((classes < 0) | (classes >= num_classes)).any()):
        raise ValueError(message(
            f"Argument `class_index` of class_activation_map must be an int in "
            f"[0, {num_classes}) (model '{owner}' has {num_classes} outputs), or one per image.",
            received=f"class_index={class_index!r} for {n} image(s)"))
    return classes


def _label(module: nn.Module) -> str:
    return getattr(module, "name", type(module).__name__)
