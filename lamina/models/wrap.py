"""Wrap any ``nn.Module`` to get lamina's ``fit/evaluate/predict``."""

from __future__ import annotations

from torch import Tensor, nn

from lamina.errors import message
from lamina.models.model import Model

__all__ = ["WrappedModel"]


class WrappedModel(Model):
    """A lamina ``Model`` around an existing ``nn.Module`` (its weights are already built).

    Args:
        module: the module; ``forward(x)`` is called with one batch tensor.
        input_shape: optional per-sample input shape, checked once per ``fit`` call.

    Example:
        >>> import torch, lamina as lm
        >>> model = WrappedModel(torch.nn.Linear(4, 2), input_shape=(4,))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> round(model.evaluate(torch.zeros(3, 4), torch.zeros(3, 2))["loss"], 6) >= 0
        True
    """

    def __init__(self, module: nn.Module, input_shape=None, *, name: str | None = None):
        super().__init__(name=name or f"wrapped_{type(module).__name__.lower()}")
        self.module = module
        self.mark_built()
        self.input_shape = None if input_shape is None else tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x)

    def get_config(self):
        raise TypeError(
            f"Cannot save model '{self.name}' with its architecture: it wraps a plain torch "
            f"module ({type(self.module).__name__}), which has no config. Save its weights with "
            f"`model.save_weights(path)` and rebuild the module in code.")

    @classmethod
    def from_config(cls, config):
        """Refused: a wrapped torch module has no config, so no file can describe one (a
        config naming, say, ``"os.system"`` as the module is refused here, at load)."""
        raise ValueError(message(
            "A WrappedModel cannot be built from a config: the torch module it wraps is code, "
            "not data, and lamina never writes its architecture to a file.",
            received=f"config keys {sorted(config)[:5] if isinstance(config, dict) else config!r}",
            fix="Rebuild the torch module in code, wrap it with `lm.Model.wrap(module)` and call "
                "`model.load_weights(path)`."))

    def build(self, input_shape: tuple) -> None:
        """A wrapped module is already built; this only records ``input_shape``."""
        self.input_shape = tuple(input_shape)


Model.wrapper_class = WrappedModel
