"""lamina: the deep-learning course as a fast, Keras-style library on PyTorch.

Example:
    >>> import lamina as lm
    >>> from lamina import layers
    >>> model = lm.Sequential([layers.Dense(10, activation="softmax")], input_shape=(4,))
    >>> model.count_params()
    50
"""

__version__ = "0.1.0"

from lamina import (  # noqa: E402
    activations,
    augment,
    callbacks,
    datasets,
    distributed,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    recurrent,
    regularizers,
    schedules,
    transfer,
    unsupervised,
    utils,
    viz,
    zoo,
)
from lamina.config import keep_freed_memory, set_seed  # noqa: E402
from lamina.models import Input, Model, Sequential  # noqa: E402
from lamina.saving import load_model, save_model  # noqa: E402

__all__ = [
    "__version__", "Model", "Input", "Sequential", "load_model", "save_model", "set_seed",
    "keep_freed_memory", "activations", "augment", "callbacks", "datasets", "distributed",
    "initializers", "layers", "losses", "metrics", "optimizers", "recurrent", "regularizers",
    "schedules", "transfer", "unsupervised", "utils", "viz", "zoo",
]
