"""Prediction: a model over its input in eval mode and no-grad, batch by batch, under the
execution plan made for inference."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lamina._validation import check_positive_int
from lamina.fast.plan import DEFAULT_SETTINGS, Settings, plan_for
from lamina.training.data import ArrayData, check_input_shape, first_embedding, make_data

__all__ = ["predict"]


def predict(model: nn.Module, x, *, batch_size: int = 256, device=None, step=None,
            settings: Settings = DEFAULT_SETTINGS) -> np.ndarray:
    """Run ``model`` over ``x`` in eval mode and no-grad, batch by batch; return numpy.

    Example:
        >>> predict(nn.Linear(2, 3), np.zeros((5, 2), np.float32), batch_size=2).shape
        (5, 3)
    """
    batch_size = check_positive_int("batch_size", batch_size, "predict")
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    data = make_data(x, None, owner="predict", batch_size=batch_size, device=device,
                     ids=first_embedding(model), allow_empty=True)
    if isinstance(data, ArrayData) and hasattr(model, "built"):
        if not model.built:
            model.build(data.sample_shape)
        check_input_shape(model, data.sample_shape, "predict")
    step = step if step is not None else model
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), plan_for(model, torch.device(device), settings,
                                       training=False) as plan:
            outs = [step(plan.batch(xb)) for xb, _ in data.batches(batch_size)]
    finally:
        model.train(was_training)
    if not outs:  # no samples: an empty array of the model's per-sample output shape
        return np.empty((0, *(getattr(model, "output_shape", None) or ())), dtype=np.float32)
    return torch.cat(outs).cpu().numpy()
