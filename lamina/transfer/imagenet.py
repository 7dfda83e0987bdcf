"""torchvision's ImageNet weights: where they are published, how they are checked, and the
input preprocessing they were trained with.

Each :class:`PretrainedWeights` entry of :data:`WEIGHTS` names torchvision's published
file (``https://download.pytorch.org/models/...``, the ``IMAGENET1K_V1`` weights of
torchvision 0.28), its size and its published accuracy. A download is checked against
the file's SHA-256: the full digest where lamina knows it (``sha256``), else the digest
prefix that torchvision puts in the file name (``resnet18-f37072fd.pth``: the first 8 hex
digits of the file's SHA-256, which is what ``torch.hub`` checks). torchvision publishes
no full digests; pin one with ``load_pretrained(..., sha256=...)`` or by editing the
entry, and it is checked instead. Downloads are capped at the published size.

``$LAMINA_WEIGHTS_URL`` replaces ``https://download.pytorch.org/models/`` (a mirror).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import torch

from lamina.errors import message

__all__ = ["PretrainedWeights", "WEIGHTS", "MEAN", "STD", "RESIZE", "CROP", "PREPROCESSING",
           "normalize", "weights_url"]

#: ImageNet channel means and standard deviations (RGB, pixels in [0, 1]).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
#: torchvision's evaluation transform: resize the short side to 256, centre-crop 224.
RESIZE = 256
CROP = 224

_BASE_URL = "https://download.pytorch.org/models/"
_HUB_HASH = re.compile(r"-([a-f0-9]{8,64})\.[A-Za-z0-9]+$")


@dataclasses.dataclass(frozen=True)
class PretrainedWeights:
    """One published weights file.

    Args:
        variant: the torchvision model, e.g. ``"resnet50"``, ``"vgg16_bn"``.
        file: the file name on the server, e.g. ``"resnet50-0676ba61.pth"``.
        size_mb: its size in MiB, as torchvision publishes it (3 decimals).
        top1: published ImageNet top-1 accuracy (%, single 224 crop).
        sha256: the file's full SHA-256, where known. Defaults to None.
        mean: the channel means the weights expect. Defaults to :data:`MEAN`.
        std: the channel standard deviations. Defaults to :data:`STD`.

    Example:
        >>> WEIGHTS["resnet18"].sha256_prefix, WEIGHTS["resnet18"].max_bytes
        ('f37072fd', 46831502)
    """

    variant: str
    file: str
    size_mb: float
    top1: float
    sha256: str | None = None
    mean: tuple = MEAN
    std: tuple = STD

    @property
    def sha256_prefix(self) -> str:
        """The SHA-256 prefix in the file name (``torch.hub``'s check)."""
        match = _HUB_HASH.search(self.file)
        return match.group(1) if match else ""

    @property
    def max_bytes(self) -> int:
        """The largest size a download may reach: the published size, rounded up."""
        return math.ceil((self.size_mb + 0.001) * 2**20)

    @property
    def url(self) -> str:
        """The file's URL (``$LAMINA_WEIGHTS_URL`` replaces the server)."""
        return weights_url(self.file)


def weights_url(file: str) -> str:
    """The URL of a published weights file, honouring ``$LAMINA_WEIGHTS_URL``.

    Example:
        >>> weights_url("alexnet-owt-7be5be79.pth")  # doctest: +SKIP
        'https://download.pytorch.org/models/alexnet-owt-7be5be79.pth'
    """
    base = os.environ.get("LAMINA_WEIGHTS_URL") or _BASE_URL
    return base.rstrip("/") + "/" + file


_HALF = (0.5, 0.5, 0.5)

#: Variant -> its published ImageNet weights (torchvision 0.28, ``IMAGENET1K_V1``).
WEIGHTS: dict[str, PretrainedWeights] = {w.variant: w for w in (
    PretrainedWeights("resnet18", "resnet18-f37072fd.pth", 44.661, 69.758),
    PretrainedWeights("resnet34", "resnet34-b627a593.pth", 83.275, 73.314),
    PretrainedWeights("resnet50", "resnet50-0676ba61.pth", 97.781, 76.130),
    PretrainedWeights("resnet101", "resnet101-63fe2227.pth", 170.511, 77.374),
    PretrainedWeights("resnet152", "resnet152-394f9c45.pth", 230.434, 78.312),
    PretrainedWeights("vgg11", "vgg11-8a719046.pth", 506.840, 69.020),
    PretrainedWeights("vgg11_bn", "vgg11_bn-6002323d.pth", 506.881, 70.370),
    PretrainedWeights("vgg13", "vgg13-19584684.pth", 507.545, 69.928),
    PretrainedWeights("vgg13_bn", "vgg13_bn-abd245e5.pth", 507.590, 71.586),
    PretrainedWeights("vgg16", "vgg16-397923af.pth", 527.796, 71.592),
    PretrainedWeights("vgg16_bn", "vgg16_bn-6c64b313.pth", 527.866, 73.360),
    PretrainedWeights("vgg19", "vgg19-dcbb9e9d.pth", 548.051, 72.376),
    PretrainedWeights("vgg19_bn", "vgg19_bn-c79401a0.pth", 548.143, 74.218),
    PretrainedWeights("alexnet", "alexnet-owt-7be5be79.pth", 233.087, 56.522),
    PretrainedWeights("densenet121", "densenet121-a639ec97.pth", 30.845, 74.434),
    # Ported from TensorFlow: trained on (x - 0.5) / 0.5 (torchvision's transform_input).
    PretrainedWeights("googlenet", "googlenet-1378be20.pth", 49.731, 69.778,
                      mean=_HALF, std=_HALF),
)}

#: Variant -> ``(mean, std)`` its weights expect on RGB pixels in [0, 1].
PREPROCESSING = {name: (w.mean, w.std) for name, w in WEIGHTS.items()}


def normalize(images: torch.Tensor, variant: str = "resnet50") -> torch.Tensor:
    """Normalize ``(N, 3, H, W)`` RGB images for a pretrained ``variant``.

    ``uint8`` images are scaled to [0, 1] first; float images must already be in [0, 1].
    Resize and crop (:data:`RESIZE`, :data:`CROP`) before, as torchvision evaluates.

    Args:
        images: ``(N, 3, H, W)`` or ``(3, H, W)`` RGB images.
        variant: a key of :data:`WEIGHTS`. Defaults to ``"resnet50"`` (every variant
            but GoogLeNet uses :data:`MEAN`/:data:`STD`).

    Returns:
        A float32 tensor of the same shape.

    Example:
        >>> normalize(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8))[0, :, 0, 0]
        tensor([2.2489, 2.4286, 2.6400])
    """
    if variant not in PREPROCESSING:
        raise ValueError(message("Argument `variant` of normalize names no pretrained weights.",
                                 expected=f"one of {sorted(PREPROCESSING)}",
                                 received=f"variant={variant!r}"))
    if not isinstance(images, torch.Tensor) or images.ndim not in (3, 4) or \
            images.shape[-3] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(message("`normalize` takes RGB images of shape (N, 3, H, W) or "
                                 "(3, H, W).", received=f"{shape}"))
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    mean, std = (torch.tensor(v, dtype=x.dtype, device=x.device).view(3, 1, 1)
                 for v in PREPROCESSING[variant])
    return (x - mean) / std
