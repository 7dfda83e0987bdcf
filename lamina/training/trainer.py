"""The fit / evaluate / predict loops, for any ``nn.Module`` compiled with a loss.

``fit -> _run_epoch -> train_step``. The loop keeps data on the model's device, slices
batches from one ``randperm`` per epoch, accumulates loss and metrics on the device and
reads them back once per epoch (and when the progress bar redraws).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_nonnegative_int, check_positive_int
from lamina.callbacks.base import CallbackList
from lamina.callbacks.progress import ProgressBar
from lamina.errors import LaminaWarning, message
from lamina.layers.input_spec import format_shape
from lamina.training.data import ArrayData, check_input_shape, make_data, split_validation
from lamina.training.history import History
from lamina.training.targets import check_targets

__all__ = ["Trainer"]


class _RunningLogs(Mapping):
    """Batch logs read lazily: a value syncs with the device only when it is looked up."""

    def __init__(self, trainer: Trainer):
        self._trainer = trainer

    def _values(self) -> dict[str, float]:
        return self._trainer.results()

    def __getitem__(self, key):
        return self._values()[key]

    def __iter__(self):
        return iter(self._values())

    def __len__(self):
        return len(self._values())

    def items(self):
        return self._values().items()


class Trainer:
    """Training state of a compiled model: optimizer, loss, metrics, and the loops.

    Args:
        model: the ``nn.Module`` to train.
        optimizer: a bound ``torch.optim.Optimizer``.
        loss: a ``lamina.losses.Loss`` (``loss(y_pred, y_true)``).
        metrics: ``lamina.metrics.Metric`` objects.
        forward: what the training step calls; the model itself, or its logits when a final
            softmax/sigmoid is fused into the loss.
        output_activation: applied to ``forward``'s output for metrics when fused.
        device: where the model and the data live.
    """

    def __init__(self, model: nn.Module, optimizer, loss, metrics, *, forward=None,
                 output_activation=None, device=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss
        self.metrics = list(metrics)
        self.forward = forward if forward is not None else model
        self.output_activation = output_activation
        self.device = torch.device(device) if device is not None else None
        self._loss_sum: Tensor | None = None
        self._count = 0

    # -- the steps ----------------------------------------------------------------------
    def train_step(self, x: Tensor, y: Tensor) -> None:
        """One optimization step on a batch; updates the on-device accumulators."""
        out = self.forward(x)
        loss = self.loss_fn(out, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._track(out.detach(), y, loss.detach())

    def test_step(self, x: Tensor, y: Tensor) -> None:
        """Loss and metrics of a batch, without gradients."""
        out = self.forward(x)
        self._track(out, y, self.loss_fn(out, y))

    def predict_step(self, x: Tensor) -> Tensor:
        """The model's output for a batch."""
        return self.model(x)

    def _track(self, out: Tensor, y: Tensor, loss: Tensor) -> None:
        n = y.shape[0]
        self._loss_sum = loss * n if self._loss_sum is None else self._loss_sum.add_(loss * n)
        self._count += n
        if self.metrics:
            pred = self.output_activation(out) if self.output_activation is not None else out
            for metric in self.metrics:
                metric.update(pred, y)

    def reset(self) -> None:
        """Zero the loss and metric accumulators."""
        self._loss_sum, self._count = None, 0
        for metric in self.metrics:
            metric.reset()

    def results(self) -> dict[str, float]:
        """Loss and metrics accumulated since :meth:`reset`, read back in one sync."""
        if self._count == 0:
            return {}
        values = [self._loss_sum / self._count] + [m.result() for m in self.metrics]
        numbers = torch.stack([v.detach().float().reshape(()) for v in values]).tolist()
        return dict(zip(["loss"] + [m.name for m in self.metrics], numbers))

    # -- preparing data -----------------------------------------------------------------
    def _prepare(self, x, y, *, owner: str, batch_size: int, shuffle: bool = False):
        data = make_data(x, y, owner=owner, batch_size=batch_size, shuffle=shuffle,
                         device=self.device)
        if isinstance(data, ArrayData):
            out_shape = self._probe(data.x[:2], owner)
            if data.y is not None:
                data.y = check_targets(getattr(self.loss_fn, "name", ""), data.y, out_shape,
                                       owner)
        return data

    def _probe(self, x: Tensor, owner: str) -> tuple:
        """Check ``x``'s shape against the model and return the per-sample output shape.

        Builds an unbuilt model, and turns torch's shape errors into a lamina message.
        """
        model = self.model
        if hasattr(model, "built") and not model.built:
            model.build(tuple(x.shape[1:]))
            if self.device is not None:
                model.to(self.device)
            self._bind_optimizer()
        check_input_shape(model, tuple(x.shape[1:]), owner)
        out_shape = getattr(model, "output_shape", None)
        if out_shape is not None:
            return tuple(out_shape)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return tuple(model(x).shape[1:])
        except RuntimeError as err:
            raise ValueError(
                f"Model '{getattr(model, 'name', type(model).__name__)}' cannot take input of "
                f"shape {format_shape(tuple(x.shape[1:]))} given to `{owner}`: {err}. Check the "
                f"input shape the model expects.") from None
        finally:
            model.train(was_training)

    def _bind_optimizer(self) -> None:
        if getattr(self.optimizer, "is_bound", True) is False:
            self.optimizer.bind(self.model.parameters())

    # -- loops --------------------------------------------------------------------------
    def fit(self, x, y=None, *, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            callbacks=(), initial_epoch: int = 0) -> History:
        """Train for ``epochs`` epochs; see ``Model.fit``."""
        batch_size = check_positive_int("batch_size", batch_size, "fit")
        epochs = check_nonnegative_int("epochs", epochs, "fit")
        data = self._prepare(x, y, owner="fit", batch_size=batch_size, shuffle=shuffle)
        val = self._validation(data, validation_split, validation_data, batch_size)
        history = History()
        extra = [ProgressBar(verbose)] if verbose else []
        cbs = CallbackList([history, *callbacks, *extra], model=self.model, params={
            "epochs": epochs, "steps": data.num_batches(batch_size), "verbose": verbose})
        self.model.stop_training = False
        was_training = self.model.training
        want_batch = cbs.wants("on_train_batch_end")
        cbs.on_train_begin()
        epoch = initial_epoch
        try:
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                logs = self._run_epoch(data, batch_size, shuffle, cbs if want_batch else None)
                if val is not None:
                    logs.update({f"val_{k}": v for k, v in self._evaluate(val, batch_size).items()})
                cbs.on_epoch_end(epoch, logs)
                if self.model.stop_training:
                    history.stop_reason = history.stop_reason or f"stopped at epoch {epoch + 1}"
                    break
        except KeyboardInterrupt:
            history.stop_reason = f"interrupted by the user during epoch {epoch + 1}"
            warnings.warn(f"Training {history.stop_reason}; the history so far is kept.",
                          LaminaWarning, stacklevel=3)
        self.model.train(was_training)
        cbs.on_train_end()
        return history

    def _validation(self, data, split: float, validation_data, batch_size: int):
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(message("Argument `validation_data` of fit must be a tuple "
                                         "(x_val, y_val).",
                                         received=f"type {type(validation_data).__name__}"))
            return self._prepare(*validation_data, owner="fit (validation_data)",
                                 batch_size=batch_size)
        if split:
            if not isinstance(data, ArrayData):
                raise ValueError("`validation_split` needs in-memory arrays; pass "
                                 "`validation_data=` with a Dataset or DataLoader.")
            train, val = split_validation(data, split)
            data.x, data.y = train.x, train.y
            return val
        return None

    def _run_epoch(self, data, batch_size: int, shuffle: bool, cbs) -> dict[str, float]:
        self.model.train()
        self.reset()
        running = _RunningLogs(self) if cbs is not None else None
        for step, (xb, yb) in enumerate(data.batches(batch_size, shuffle)):
            self.train_step(xb, yb)
            if cbs is not None:
                cbs.on_train_batch_end(step, running)
        return self.results()

    def _evaluate(self, data, batch_size: int) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        self.reset()
        try:
            with torch.no_grad():
                for xb, yb in data.batches(batch_size):
                    self.test_step(xb, yb)
        finally:
            self.model.train(was_training)
        return self.results()

    def evaluate(self, x, y=None, *, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics on ``(x, y)``; see ``Model.evaluate``."""
        batch_size = check_positive_int("batch_size", batch_size, "evaluate")
        data = self._prepare(x, y, owner="evaluate", batch_size=batch_size)
        logs = self._evaluate(data, batch_size)
        if verbose:
            from lamina.callbacks.progress import format_logs

            print(f"evaluate - {format_logs(logs)}", flush=True)
        return logs

    def predict(self, x, *, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``x`` as a numpy array; see ``Model.predict``."""
        return predict(self.model, x, batch_size=batch_size, device=self.device,
                       step=self.predict_step)


def predict(model: nn.Module, x, *, batch_size: int = 256, device=None, step=None) -> np.ndarray:
    """Run ``model`` over ``x`` in eval mode and no-grad, batch by batch; return numpy."""
    batch_size = check_positive_int("batch_size", batch_size, "predict")
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else None
    data = make_data(x, None, owner="predict", batch_size=batch_size, device=device)
    if isinstance(data, ArrayData) and hasattr(model, "built"):
        if not model.built:
            model.build(data.sample_shape)
        check_input_shape(model, data.sample_shape, "predict")
    step = step if step is not None else model
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outs = [step(xb) for xb, _ in data.batches(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outs).cpu().numpy() if outs else np.empty((0,), dtype=np.float32)
