"""SRCNN (Dong et al. 2014): super-resolution with three convolutions."""

from __future__ import annotations

from lamina._validation import check_int_tuple, check_option
from lamina.layers import Conv2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import check_image_shape

__all__ = ["SRCNN"]


def SRCNN(input_shape=(1, 33, 33), *, filters=(64, 32), kernel_sizes=(9, 1, 5),
          padding: str = "same", name: str = "srcnn") -> Sequential:
    """SRCNN 9-1-5: patch extraction, non-linear mapping, reconstruction.

    The input is a low-resolution image already upscaled to the target size (bicubic, in
    the paper on the luminance channel); the network restores the high frequencies:
    conv 9x9 (64, ReLU) -> conv 1x1 (32, ReLU) -> conv 5x5 (as many channels as the
    input, linear). Train it with ``loss="mse"``. With one channel it has 8,032 weights
    and 97 biases (8,129 parameters), the paper's count. Being fully convolutional it
    takes any image size.

    Args:
        input_shape: ``(channels, height, width)``. Defaults to ``(1, 33, 33)``, the
            paper's training sub-images.
        filters: channels of the first two layers. Defaults to ``(64, 32)``.
        kernel_sizes: kernels of the three layers (``(9, 5, 5)`` is the paper's 9-5-5).
            Defaults to ``(9, 1, 5)``.
        padding: ``"same"`` (output as large as the input) or ``"valid"`` (the paper's
            setting: the output loses ``sum(k - 1)`` pixels, 12 for 9-1-5). Defaults to
            ``"same"``.
        name: model name.

    Returns:
        A built ``Sequential`` with a linear output.

    Example:
        >>> import torch
        >>> model = SRCNN()
        >>> model(torch.zeros(1, 1, 33, 33)).shape, model.count_params()
        (torch.Size([1, 1, 33, 33]), 8129)
    """
    owner = "SRCNN"
    input_shape = check_image_shape(input_shape, owner)
    f1, f2 = check_int_tuple("filters", filters, 2, owner)
    k1, k2, k3 = check_int_tuple("kernel_sizes", kernel_sizes, 3, owner)
    padding = check_option("padding", padding, ("same", "valid"), owner)
    return Sequential([
        Conv2D(f1, k1, padding=padding, activation="relu", name="patch_extraction"),
        Conv2D(f2, k2, padding=padding, activation="relu", name="mapping"),
        Conv2D(input_shape[0], k3, padding=padding, name="reconstruction"),
    ], input_shape=input_shape, name=name)
