"""A model's learnt representation as features: the outputs of any of its layers, by name."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.models.model import Model
from lamina.training.data import make_data

__all__ = ["FeatureExtractor", "feature_extractor"]


class FeatureExtractor(Model):
    """``model`` run up to its named layers, returning ``{name: output}`` (see
    :func:`feature_extractor`).

    The named layers are found at any depth (inside blocks and nested models) and their
    outputs read with forward hooks, registered for the length of a call; the forward pass
    stops after the last of them.
    """

    def __init__(self, model: nn.Module, layer_names, *, name: str | None = None):
        super().__init__(name=name or f"{getattr(model, 'name', 'model')}_features")
        if isinstance(layer_names, str):
            layer_names = [layer_names]
        names = list(layer_names)
        if not names or not all(isinstance(n, str) for n in names):
            raise ValueError(message("Argument `layer_names` of feature_extractor must be a "
                                     "non-empty list of layer names.",
                                     received=f"{layer_names!r}"))
        found = {}
        for module in model.modules():
            layer_name = getattr(module, "name", None)
            if layer_name in names and layer_name not in found and module is not model:
                found[layer_name] = module
        missing = [n for n in names if n not in found]
        if missing:
            known = [m.name for m in model.modules()
                     if isinstance(getattr(m, "name", None), str) and m is not model]
            raise ValueError(message(
                f"Model '{getattr(model, 'name', type(model).__name__)}' has no layers named "
                f"{missing}.", expected=f"names among {known[:15]}"
                                        f"{' ...' if len(known) > 15 else ''}"))
        self.model = model
        self.layer_names = names
        self._layers = found
        self._outputs: dict[str, Tensor] = {}
        self.input_shape = getattr(model, "input_shape", None)
        self.mark_built()

    def _keeper(self, name: str):
        def keep(module, inputs, output):
            self._outputs[name] = output
            if len(self._outputs) == len(self.layer_names):
                raise _AllFound
        return keep

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        self._outputs = {}
        # hooks for this call only: outside it the model runs as it always does
        handles = [self._layers[n].register_forward_hook(self._keeper(n))
                   for n in self.layer_names]
        try:
            self.model(x)
        except _AllFound:
            pass
        finally:
            for handle in handles:
                handle.remove()
        outputs, self._outputs = self._outputs, {}
        return {n: outputs[n] for n in self.layer_names}

    def predict(self, x, batch_size: int = 256) -> dict[str, np.ndarray]:
        """``{layer name: numpy array}`` of the named layers' outputs for ``x``.

        Example:
            >>> import numpy as np, lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(4, name="hidden"), lm.layers.Dense(2)],
            ...                     input_shape=(3,))
            >>> feature_extractor(net, ["hidden"]).predict(np.zeros((5, 3)))["hidden"].shape
            (5, 4)
        """
        # Not through the execution plan: its rewrites may run a named layer without its
        # activation (ReLU after pooling), which the hooks here would read.
        batch_size = check_positive_int("batch_size", batch_size, "predict")
        device = next((p.device for p in self.parameters()), torch.device("cpu"))
        data = make_data(x, None, owner="predict", batch_size=batch_size, device=device)
        was_training = self.training
        self.eval()
        parts: dict[str, list] = {n: [] for n in self.layer_names}
        try:
            with torch.no_grad():
                for xb, _ in data.batches(batch_size):
                    for n, out in self(xb).items():
                        parts[n].append(out.float().cpu())
        finally:
            self.train(was_training)
        return {n: torch.cat(p).numpy() if p else np.empty((0,), np.float32)
                for n, p in parts.items()}

    def get_config(self):
        raise TypeError(f"Feature extractor '{self.name}' is a view of another model; save "
                        f"that model instead.")


class _AllFound(Exception):
    """Raised by the last hook: the rest of the forward pass is not needed."""


def feature_extractor(model: nn.Module, layer_names) -> FeatureExtractor:
    """A model whose ``predict`` gives the outputs of ``model``'s named layers, as a dict
    ``{name: numpy array}`` (deck 002: "the learnt representation as features").

    Any layer at any depth may be named; the model's weights are shared, not copied.

    Example:
        >>> import numpy as np, lamina as lm
        >>> net = lm.zoo.LeNet5()
        >>> feats = feature_extractor(net, [net.layers[1].name]).predict(np.zeros((2, 1, 28, 28)))
        >>> list(feats.values())[0].shape
        (2, 6, 14, 14)
    """
    return FeatureExtractor(model, layer_names)
