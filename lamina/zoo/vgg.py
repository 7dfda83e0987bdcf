"""VGG (Simonyan & Zisserman 2014): stacks of 3x3 convolutions, depth 11 to 19."""

from __future__ import annotations

from lamina._validation import check_probability
from lamina.errors import message
from lamina.layers import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from lamina.layers.blocks import HE_FAN_OUT
from lamina.models.sequential import Sequential
from lamina.zoo._base import (
    assemble,
    check_head,
    check_image_shape,
    check_num_classes,
    head_args_doc,
    resolve_small_input,
)

__all__ = ["VGG", "VGG_CONFIGS"]

#: Convolutions per stage (filters 64, 128, 256, 512, 512) for each depth (conv + 3 FC).
VGG_CONFIGS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3),
               19: (2, 2, 4, 4, 4)}
_STAGE_FILTERS = (64, 128, 256, 512, 512)


def VGG(depth: int = 16, num_classes: int = 1000, input_shape=(3, 224, 224), *,
        weights=None, include_top: bool = True, pooling: str | None = None,
        batch_norm: bool = False, small_input=None, dropout: float = 0.5,
        name: str | None = None) -> Sequential:
    """VGG-``depth``: five stages of 3x3 convolutions (padding 1), each ending in a 2x2 max pool.

    Stages have 64, 128, 256, 512 and 512 filters; ``depth`` counts the weight layers
    (configurations A, B, D, E of the paper: 11, 13, 16, 19). Then FC 4096 -> FC 4096 ->
    FC ``num_classes`` with a softmax, ReLU and dropout between (torchvision's layout). At
    3x224x224 with 1000 classes VGG-16 has 138,357,544 parameters (deck 001's "140M");
    ``batch_norm=True`` adds a ``BatchNorm`` after each convolution (torchvision's
    ``vgg16_bn``: 138,365,992).

    Small inputs (<= 64 pixels, or ``small_input=True``) keep the convolutions and use FC
    layers of 512 units: a 32x32 image leaves the last stage as a 1x1x512 map.

    Args:
        depth: 11, 13, 16 or 19. Defaults to 16.
        num_classes: output classes. Defaults to 1000.
        input_shape: ``(channels, height, width)``, at least 32x32. Defaults to
            ``(3, 224, 224)``. torchvision's weights need 224x224 with the head.
        {head_args}
        batch_norm: normalize after each convolution. Defaults to False.
        small_input: use the small-input classifier; ``None`` decides from ``input_shape``.
        dropout: dropout rate after fc6 and fc7. Defaults to 0.5.
        name: model name. Defaults to ``"vgg16"`` (``"vgg16_bn"`` ...).

    Returns:
        A built ``Sequential`` ending in a softmax; without the head, in ``"pool5"``
        (512 maps) or the ``"global_pool"`` layer.

    Example:
        >>> import torch
        >>> model = VGG(11, num_classes=10, input_shape=(3, 32, 32), batch_norm=True)
        >>> model(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
        >>> VGG(16, include_top=False, input_shape=(3, 64, 64)).output_shape
        (512, 2, 2)
    """
    owner = "VGG"
    include_top, pooling, small_input = check_head(weights, include_top, pooling, small_input,
                                                   owner)
    if depth not in VGG_CONFIGS:
        raise ValueError(message(f"Argument `depth` of {owner} must be one of 11, 13, 16, 19.",
                                 received=f"depth={depth!r}"))
    num_classes = check_num_classes(num_classes, owner)
    input_shape = check_image_shape(input_shape, owner)
    dropout = check_probability("dropout", dropout, owner)
    small = resolve_small_input(small_input, input_shape, owner)
    layers = []
    for stage, (n_convs, filters) in enumerate(zip(VGG_CONFIGS[depth], _STAGE_FILTERS), 1):
        for i in range(1, n_convs + 1):
            if batch_norm:
                layers += [Conv2D(filters, 3, padding=1, kernel_initializer=HE_FAN_OUT,
                                  name=f"conv{stage}_{i}"),
                           BatchNorm(name=f"bn{stage}_{i}"),
                           Activation("relu", name=f"relu{stage}_{i}")]
            else:
                layers.append(Conv2D(filters, 3, padding=1, activation="relu",
                                     kernel_initializer=HE_FAN_OUT, name=f"conv{stage}_{i}"))
        layers.append(MaxPool2D(2, name=f"pool{stage}"))
    units = 512 if small else 4096
    head = [
        Flatten(name="flatten"),
        Dense(units, activation="relu", name="fc6"),
        Dropout(dropout, name="drop6"),
        Dense(units, activation="relu", name="fc7"),
        Dropout(dropout, name="drop7"),
        Dense(num_classes, activation="softmax", name="predictions"),
    ]
    default = f"vgg{depth}" + ("_bn" if batch_norm else "")
    return assemble(layers, head, input_shape, name or default, include_top=include_top,
                    pooling=pooling, weights=weights, variant=default)


VGG.__doc__ = VGG.__doc__.replace("{head_args}", head_args_doc())
