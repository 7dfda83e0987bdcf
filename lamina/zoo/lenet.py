"""LeNet-5 (LeCun et al. 1998), as deck 001 describes it."""

from __future__ import annotations

import warnings

from lamina._validation import check_option, check_positive_int
from lamina.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from lamina.models.sequential import Sequential
from lamina.zoo._base import assemble, check_head, head_args_doc

__all__ = ["LeNet5"]


def LeNet5(num_classes: int = 10, input_shape=(1, 28, 28), *, weights=None,
           include_top: bool = True, pooling: str | None = None, subsampling: str = "max",
           activation: str = "relu", name: str = "lenet5") -> Sequential:
    """LeNet-5: CONV-POOL-CONV-POOL-FC-FC-FC with 5x5 convolutions and 2x2 pooling.

    Convolutions are 5x5 at stride 1 (6 then 16 maps), pooling 2x2 at stride 2, then
    fully connected layers of 120, 84 and ``num_classes`` units with a softmax. A 28x28
    input gets padding 2 on the first convolution so the second sees 14x14 maps, as the
    original 32x32 input did; with 10 classes the network has 61,706 parameters.

    The head is ``"flatten"`` and the three FC layers: ``include_top=False`` ends at
    ``"pool2"`` (16 maps of 5x5).

    Args:
        num_classes: output classes. Defaults to 10.
        input_shape: ``(channels, height, width)``. Defaults to ``(1, 28, 28)``.
        {head_args}
        subsampling: the two pooling layers, ``"max"`` or ``"avg"`` (LeCun's
            subsampling). Defaults to ``"max"``. (Older code passed it as ``pooling``
            with the head kept; that still works, with a ``FutureWarning``.)
        activation: hidden activation (``"relu"``; ``"tanh"`` is closer to 1998). Defaults to
            ``"relu"``.
        name: model name.

    Example:
        >>> model = LeNet5()
        >>> model.count_params()
        61706
        >>> LeNet5(include_top=False, pooling="avg").output_shape
        (16,)
    """
    owner = "LeNet5"
    num_classes = check_positive_int("num_classes", num_classes, owner)
    if pooling is not None and include_top is True:
        pooling = check_option("pooling", pooling, ("max", "avg"), owner)
        warnings.warn(
            f"LeNet5's `pooling` is the global pooling of the features without the head "
            f"(include_top=False), as on the other zoo models. For the subsampling layers "
            f"pass `subsampling={pooling!r}`.", FutureWarning, stacklevel=2)
        subsampling, pooling = pooling, None
    include_top, pooling, _ = check_head(weights, include_top, pooling, None, owner,
                                         imagenet=False)
    subsampling = check_option("subsampling", subsampling, ("max", "avg"), owner)
    pool = MaxPool2D if subsampling == "max" else AvgPool2D
    first_pad = 2 if tuple(input_shape[1:]) == (28, 28) else 0
    features = [
        Conv2D(6, 5, padding=first_pad, activation=activation, name="conv1"),
        pool(2, name="pool1"),
        Conv2D(16, 5, activation=activation, name="conv2"),
        pool(2, name="pool2"),
    ]
    head = [
        Flatten(name="flatten"),
        Dense(120, activation=activation, name="fc1"),
        Dense(84, activation=activation, name="fc2"),
        Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return assemble(features, head, input_shape, name, include_top=include_top,
                    pooling=pooling, weights=weights)


LeNet5.__doc__ = LeNet5.__doc__.replace("{head_args}", head_args_doc(imagenet=False))
