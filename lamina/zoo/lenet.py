"""LeNet-5 (LeCun et al. 1998), as deck 001 describes it."""

from __future__ import annotations

from lamina._validation import check_option, check_positive_int
from lamina.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from lamina.models.sequential import Sequential

__all__ = ["LeNet5"]


def LeNet5(num_classes: int = 10, input_shape=(1, 28, 28), *, activation: str = "relu",
           pooling: str = "max", name: str = "lenet5") -> Sequential:
    """LeNet-5: CONV-POOL-CONV-POOL-FC-FC-FC with 5x5 convolutions and 2x2 pooling.

    Convolutions are 5x5 at stride 1 (6 then 16 maps), pooling 2x2 at stride 2, then
    fully connected layers of 120, 84 and ``num_classes`` units with a softmax. A 28x28
    input gets padding 2 on the first convolution so the second sees 14x14 maps, as the
    original 32x32 input did; with 10 classes the network has 61,706 parameters.

    Args:
        num_classes: output classes. Defaults to 10.
        input_shape: ``(channels, height, width)``. Defaults to ``(1, 28, 28)``.
        activation: hidden activation (``"relu"``; ``"tanh"`` is closer to 1998). Defaults to
            ``"relu"``.
        pooling: ``"max"`` or ``"avg"`` (LeCun's subsampling). Defaults to ``"max"``.
        name: model name.

    Example:
        >>> model = LeNet5()
        >>> model.count_params()
        61706
    """
    num_classes = check_positive_int("num_classes", num_classes, "LeNet5")
    pooling = check_option("pooling", pooling, ("max", "avg"), "LeNet5")
    pool = MaxPool2D if pooling == "max" else AvgPool2D
    first_pad = 2 if tuple(input_shape[1:]) == (28, 28) else 0
    return Sequential([
        Conv2D(6, 5, padding=first_pad, activation=activation, name="conv1"),
        pool(2, name="pool1"),
        Conv2D(16, 5, activation=activation, name="conv2"),
        pool(2, name="pool2"),
        Flatten(name="flatten"),
        Dense(120, activation=activation, name="fc1"),
        Dense(84, activation=activation, name="fc2"),
        Dense(num_classes, activation="softmax", name="predictions"),
    ], input_shape=input_shape, name=name)
