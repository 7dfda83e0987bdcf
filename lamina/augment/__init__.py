"""Data augmentation on the device: random "synthetic transforms" of whole image batches.

The decks list augmentation by synthetic transforms among the arts of deep learning (deck
002) and as a regularizer (deck 003): show the network shifted, flipped, rotated, noisy or
partly hidden copies of each image so that it learns the invariances the task has.

Every transform here takes a batch ``(N, C, H, W)`` (any tensor with at least three axes;
the last two are the image) and returns a new batch of the same shape, dtype and device. The
random parameters are drawn per sample, as tensors, in one call for the whole batch, and the
transform is applied with vectorized torch ops: there is no Python loop over samples and no
host synchronization, so augmentation runs on the GPU next to the model. Pass one to
``fit(..., augment=...)``, which applies it to each training batch (never to validation or
test data).

Randomness comes from torch's global generator (seed it with ``lm.set_seed``), or from the
``generator=`` a transform was given (a ``torch.Generator``; on another device than the data,
the parameters are drawn there and moved).

Example:
    >>> import torch
    >>> from lamina import augment
    >>> aug = augment.Compose([augment.RandomCrop(2), augment.RandomFlip()])
    >>> aug(torch.rand(128, 1, 28, 28)).shape
    torch.Size([128, 1, 28, 28])
"""


from lamina.augment._base import TRANSFORMS, Compose, Transform, get, serialize
from lamina.augment.geometric import (
    RandomAffine,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    affine,
    translate,
)
from lamina.augment.intensity import GaussianNoise, RandomErasing

__all__ = [
    "Transform", "Compose", "RandomCrop", "RandomFlip", "RandomTranslation", "RandomAffine",
    "RandomRotation", "GaussianNoise", "RandomErasing", "translate", "affine", "get",
    "serialize", "TRANSFORMS",
]
