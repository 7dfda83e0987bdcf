"""The fit / evaluate / predict loops, for any ``nn.Module`` compiled with a loss.

``fit -> run_epoch -> train_step``, and a training step is forward, loss, backward, update.
The data come from :func:`lamina.training.data.prepare` in one call; the loss and metric
sums stay on the device (:mod:`lamina.training.accumulators`); the machine's decisions
(kernels, layout, compiled steps) are the execution plan's (:mod:`lamina.fast`), made once
at the start of each call. The epochs of a ``fit`` run in :mod:`lamina.training.epochs`,
prediction in :mod:`lamina.training.inference`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_positive_int, check_verbose
from lamina.callbacks.base import CallbackList, TrainingStopped
from lamina.callbacks.progress import ProgressBar, format_logs
from lamina.distributed import parallel as data_parallel
from lamina.errors import LaminaWarning, message
from lamina.fast.plan import DEFAULT_SETTINGS, Settings, plan_for
from lamina.training import binding
from lamina.training.accumulators import Accumulators, HeadAccumulators, RunningLogs
from lamina.training.data import check_fit_arguments, prepare
from lamina.training.epochs import EpochLoop
from lamina.training.history import History
from lamina.training.inference import predict
from lamina.training.outputs import Head, Heads
from lamina.training.penalties import Penalties
from lamina.training.precision import MixedPrecision
from lamina.training.resume import RunState, restore_training_state, save_training_state
from lamina.training.structured import is_multi_io, prepare_structured

__all__ = ["Trainer"]


class Trainer:
    """Training state of a compiled model: optimizer, loss, metrics, and the loops.

    Args:
        model: the ``nn.Module`` to train.
        optimizer: a bound ``torch.optim.Optimizer`` (or lamina's, bound on first use).
        loss: a ``lamina.losses.Loss`` (``loss(y_pred, y_true)``).
        metrics: ``lamina.metrics.Metric`` objects.
        forward: what the training step calls; the model itself, or its logits when a final
            softmax/sigmoid is fused into the loss.
        output_activation: applied to ``forward``'s output for metrics when fused.
        device: where the model and the data live.
        precision: the forward pass's autocast dtype or None for float32 (see
            :class:`lamina.training.precision.MixedPrecision`).
        settings: the machine switches given to ``compile`` (``fast``, ``jit``,
            ``channels_last``, ``cuda_graphs``), read by the execution plan.
        lr_multipliers: layer-name glob pattern -> learning-rate multiplier
            (:mod:`lamina.training.binding`).
        heads: each output's loss, loss weight and metrics
            (:class:`lamina.training.outputs.Heads`): the loss of a model with several
            outputs, and of weighted data. Defaults to the one output ``loss`` and
            ``metrics`` describe.

    Batches of one input and one output without weights take the plain path
    (``loss(out, y)``, :class:`Accumulators`); several inputs or outputs, or sample
    weights, take the structured one (``heads(out, Targets)``, :class:`HeadAccumulators`),
    chosen once per epoch by the data's kind (:meth:`_use`).
    """

    def __init__(self, model: nn.Module, optimizer, loss, metrics, *, forward=None,
                 output_activation=None, device=None, precision: torch.dtype | None = None,
                 settings: Settings = DEFAULT_SETTINGS, lr_multipliers=None,
                 heads: Heads | None = None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss
        self.lr_multipliers = binding.check_multipliers(lr_multipliers)
        self.device = torch.device(device) if device is not None else None
        self.amp = MixedPrecision(precision, self.device.type if self.device else "cpu")
        self.settings = dataclasses.replace(settings, autocast=self.amp.enabled)
        self.forward = forward if forward is not None else model
        self.accumulators = Accumulators(metrics, output_activation, self.device)
        self.heads = heads if heads is not None else Heads(
            [Head(None, loss, 1.0, metrics, [], output_activation)])
        self.multi_io = is_multi_io(model)
        self._structured = (self.heads, HeadAccumulators(self.heads, self.device))
        if self.multi_io:
            self.loss_fn, self.accumulators = self._structured
        self._plain = (self.loss_fn, self.accumulators)
        self.penalties = Penalties(model, self.device)
        self.compiled_step = None  # the plan's compiled step (jit), kept across fits
        self.augment = None
        self.plan = None
        self.parallel = None  # lamina.distributed: the data-parallel state during a call

    @property
    def metrics(self) -> list:
        """The metrics, in the order of the logs."""
        return self.accumulators.metrics

    @metrics.setter
    def metrics(self, metrics) -> None:
        self.accumulators.metrics = list(metrics)

    @property
    def metric_names(self) -> list[str]:
        """The metrics' log keys (``<output>_<metric>`` for several outputs), in order."""
        return self.heads.metric_names() if self.multi_io else [m.name for m in self.metrics]

    def _use(self, data) -> bool:
        """Point the loss and the sums at ``data``'s kind of batch (plain ``(x, y)`` or
        structured ``(x, Targets)``); returns True for structured."""
        structured = getattr(data, "structured", False)
        self.loss_fn, self.accumulators = self._structured if structured else self._plain
        return structured

    def _plan_batch(self, xb):
        """``plan.batch`` of each input of a structured batch."""
        if isinstance(xb, tuple):
            return tuple(self.plan.batch(t) for t in xb)
        return self.plan.batch(xb)

    # -- the steps ----------------------------------------------------------------------
    def forward_loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Output, minimized loss (data loss plus penalties) and penalty of a batch."""
        out = self.output(x)
        loss, reg = self.penalties.add_to(self.loss_fn(out, y))
        return out, loss, reg

    def train_step(self, x: Tensor, y: Tensor, forward_loss=None) -> None:
        """One optimization step: forward, loss, backward, update (``forward_loss``: a
        compiled twin of :meth:`forward_loss`)."""
        forward_loss = forward_loss or self.forward_loss
        if binding.needs_closure(self.optimizer):
            self.closure_step(x, y, forward_loss)
            return
        out, loss, reg = forward_loss(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.amp.backward_and_step(loss, self.optimizer)
        self.track(_detached(out), y, loss.detach(), reg)

    def closure_step(self, x: Tensor, y: Tensor, forward_loss) -> None:
        """A step of an optimizer that evaluates the loss itself (``torch.optim.LBFGS``):
        ``optimizer.step(closure)``, the closure being zero grads, forward, loss, backward;
        the batch is tracked at the first evaluation (the loss before the step)."""
        if self.amp.scaler is not None:
            raise ValueError(message(
                f"{type(self.optimizer).__name__} needs a closure, which float16 loss "
                f"scaling does not support.", received="precision='float16'",
                fix="Compile with precision='bfloat16' or None."))
        first: list = []

        def closure() -> Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            out, loss, reg = forward_loss(x, y)
            loss.backward()
            if not first:
                first.append((_detached(out), loss.detach(), reg))
            return loss

        self.optimizer.step(closure)
        out, loss, reg = first[0]
        self.track(out, y, loss, reg)

    def test_step(self, x: Tensor, y: Tensor) -> None:
        """Data loss and metrics of a batch, without gradients (penalties added per epoch)."""
        out = self.output(x)
        self.track(out, y, self.loss_fn(out, y), None)

    def predict_step(self, x: Tensor) -> Tensor:
        """The model's output for a batch (float32)."""
        with self.amp.autocast():
            return self.amp.output(self.model(x))

    def output(self, x: Tensor) -> Tensor:
        """``forward(x)`` (the logits when a softmax is fused into the loss), under the
        mixed-precision autocast when one is set; the result is float32."""
        if not self.amp.enabled:
            return self.forward(x)
        with self.amp.autocast():
            out = self.forward(x)
        return self.amp.output(out)

    def track(self, out: Tensor, y: Tensor, loss: Tensor, reg: Tensor | None) -> None:
        """Add a batch to the loss and metric sums (on the device)."""
        self.accumulators.track(out, y, loss, reg)

    def results(self) -> dict[str, float]:
        """Loss and metrics accumulated since the last reset, read back in one sync."""
        if self.parallel is not None:  # lamina.distributed: summed over all ranks
            return self.parallel.results(self.accumulators)
        return self.accumulators.results()

    def _accumulator_state(self) -> dict:
        return self.accumulators.state_dict()

    def _load_accumulator_state(self, state: dict) -> None:
        self.accumulators.load_state_dict(state)

    # -- preparing a call -----------------------------------------------------------------
    def _prepare(self, x, y, *, owner: str, batch_size: int, shuffle: bool = False,
                 validation_split: float = 0.0, validation_data=None, sample_weight=None,
                 class_weight=None):
        weighted_val = isinstance(validation_data, (tuple, list)) and len(validation_data) == 3
        if (self.multi_io or sample_weight is not None or class_weight is not None
                or weighted_val):
            data, val = prepare_structured(
                self.model, self.heads, x, y, sample_weight=sample_weight,
                class_weight=class_weight, owner=owner, batch_size=batch_size,
                device=self.device, validation_split=validation_split,
                validation_data=validation_data)
        else:
            data, val = prepare(self.model, x, y, owner=owner, batch_size=batch_size,
                                shuffle=shuffle, device=self.device,
                                loss_name=getattr(self._plain[0], "name", ""),
                                validation_split=validation_split,
                                validation_data=validation_data)
        self.penalties.collect()
        return data, val

    def _plan(self, training: bool):
        device = self.device or torch.device("cpu")
        return plan_for(self.model, device, self.settings, training=training, trainer=self)

    # -- loops --------------------------------------------------------------------------
    def fit(self, x, y=None, *, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            callbacks=(), initial_epoch: int = 0, checkpoint=None,
            checkpoint_every: int | None = None, resume: bool = False,
            augment=None, strategy="auto", sync_batchnorm: bool = False,
            sample_weight=None, class_weight=None) -> History:
        """Train for ``epochs`` epochs; see ``Model.fit``."""
        (batch_size, epochs, verbose, validation_split, shuffle, callbacks,
         initial_epoch) = check_fit_arguments(
            batch_size=batch_size, epochs=epochs, verbose=verbose, shuffle=shuffle,
            validation_split=validation_split, callbacks=callbacks, augment=augment,
            initial_epoch=initial_epoch, checkpoint_every=checkpoint_every)
        self.augment = augment
        if (resume or checkpoint_every) and checkpoint is None:
            raise ValueError(message("`resume` and `checkpoint_every` need a checkpoint "
                                     "directory.", fix="Pass `checkpoint='run_dir'` to fit."))
        # lamina.distributed: data-parallel across a launched group (None on one process)
        parallel = data_parallel.start(self, strategy, sync_batchnorm)
        data, val = self._prepare(x, y, owner="fit", batch_size=batch_size, shuffle=shuffle,
                                  validation_split=validation_split,
                                  validation_data=validation_data,
                                  sample_weight=sample_weight, class_weight=class_weight)
        if self._use(data) and augment is not None and self.model_inputs() > 1:
            raise ValueError(message("`augment` of fit transforms one input tensor; this model "
                                     f"has {self.model_inputs()}.",
                                     fix="Augment inside the model, or before fit."))
        if parallel is not None:  # this rank's part of every batch; rank 0 prints
            data, val = parallel.shard(data), parallel.shard(val, training=False)
            verbose = parallel.verbose(verbose)
        # the optimizer gets the trainable parameters (again, if a layer was (un)frozen)
        binding.bind(self.optimizer, self.model, self.lr_multipliers)
        history = History()
        extra = [ProgressBar(verbose)] if verbose else []
        cbs = CallbackList([history, *callbacks, *extra], model=self.model, params={
            "epochs": epochs, "steps": data.num_batches(batch_size), "verbose": verbose})
        self.model.stop_training, self.model.stop_reason = False, None
        self.model.history = history
        was_training = self.model.training
        run = RunState(epoch=initial_epoch)
        run.generator.manual_seed(int(torch.randint(2**62, ())))
        fit_args = {"batch_size": batch_size, "epochs": epochs, "shuffle": shuffle,
                    "samples": len(data)}
        if parallel is not None:  # one permutation for all ranks
            parallel.broadcast_generator(run.generator)
            fit_args["world_size"] = parallel.world
        cbs.on_train_begin()
        if resume:
            restore_training_state(checkpoint, self, run, history, callbacks, fit_args,
                                   on_restore=lambda state: data_parallel.restore_ranks(
                                       state, self, parallel))

        def saver():
            # lamina.distributed: every rank's streams and sums, written by rank 0
            extra = None if parallel is None else {"distributed": parallel.checkpoint_entry()}
            if parallel is None or parallel.is_main:
                save_training_state(checkpoint, self, run, history, callbacks, fit_args,
                                    extra=extra)

        loop = EpochLoop(self, data, val, batch_size, shuffle, cbs,
                         saver if checkpoint is not None else None, checkpoint_every)
        try:
            with self._plan(training=True) as self.plan, \
                    (parallel.wrapped() if parallel is not None else contextlib.nullcontext()):
                loop.run(run, epochs, history)
        except TrainingStopped as stop:
            history.stop_reason = stop.reason
        except KeyboardInterrupt:
            history.stop_reason = f"interrupted by the user during epoch {run.epoch + 1}"
            warnings.warn(f"Training {history.stop_reason}; the history so far is kept.",
                          LaminaWarning, stacklevel=3)
        finally:
            self.plan = None
            self.loss_fn, self.accumulators = self._plain
        self.model.train(was_training)
        cbs.on_train_end()
        return history

    def model_inputs(self) -> int:
        """How many input tensors the model takes."""
        return len(getattr(self.model, "_input_config", ())) or 1

    def run_epoch(self, data, batch_size: int, shuffle: bool, run: RunState, cbs=None,
                  saver=None, checkpoint_every: int | None = None) -> dict[str, float]:
        """One pass over ``data`` (from the step ``run`` is at); returns the epoch's logs."""
        self.model.train()
        structured = self._use(data)
        if run.step == 0:  # a fresh epoch; otherwise the sums were restored
            self.accumulators.reset()
            run.epoch_generator_state = run.generator.get_state()
        else:
            run.generator.set_state(run.epoch_generator_state)
        running = RunningLogs(self.accumulators) if cbs is not None else None
        # the compiled step (jit) takes plain batches; structured ones run eagerly
        step_fn = self.train_step if structured else (self.plan.step or self.train_step)
        to_plan = self._plan_batch if structured else self.plan.batch
        for step, (xb, yb) in enumerate(data.batches(batch_size, shuffle, run.generator,
                                                     start=run.step), start=run.step):
            if cbs is not None:
                cbs.on_train_batch_begin(step)
            if self.augment is not None:
                xb = self.augment(xb)
            step_fn(to_plan(xb), yb)
            run.step, run.global_step = step + 1, run.global_step + 1
            if cbs is not None:
                cbs.on_train_batch_end(step, running)
            if checkpoint_every and run.global_step % checkpoint_every == 0:
                saver()
        return self.results()

    def validate(self, data, batch_size: int) -> dict[str, float]:
        """Loss and metrics over ``data`` in eval mode, without gradients; the weight
        penalties (fixed while evaluating) are added once."""
        was_training = self.model.training
        previous = (self.loss_fn, self.accumulators)
        to_plan = self._plan_batch if self._use(data) else self.plan.batch
        self.model.eval()
        self.accumulators.reset()
        try:
            with torch.no_grad():
                for xb, yb in data.batches(batch_size):
                    self.test_step(to_plan(xb), yb)
                logs = self.results()
                if self.penalties.weights and logs:
                    reg = float(self.penalties.total())
                    logs = {"loss": logs["loss"] + reg, "reg_loss": reg,
                            **{k: v for k, v in logs.items() if k != "loss"}}
        finally:
            self.model.train(was_training)
            self.loss_fn, self.accumulators = previous
        return logs

    def evaluate(self, x, y=None, *, batch_size: int = 256, verbose: int = 0,
                 sample_weight=None) -> dict[str, float]:
        """Loss and metrics on ``(x, y)``; see ``Model.evaluate``."""
        batch_size = check_positive_int("batch_size", batch_size, "evaluate")
        verbose = check_verbose(verbose, "evaluate")
        data, _ = self._prepare(x, y, owner="evaluate", batch_size=batch_size,
                                sample_weight=sample_weight)
        parallel = data_parallel.for_evaluate(self)  # a running group splits the samples
        if parallel is not None:
            data, verbose = parallel.shard(data, training=False), parallel.verbose(verbose)
        try:
            with (parallel.reducing() if parallel is not None else contextlib.nullcontext()), \
                    self._plan(training=False) as self.plan:
                logs = self.validate(data, batch_size)
        finally:
            self.plan = None
        if verbose:
            print(f"evaluate - {format_logs(logs)}", flush=True)
        return logs

    def predict(self, x, *, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``x`` as a numpy array; see ``Model.predict``."""
        return predict(self.model, x, batch_size=batch_size, device=self.device,
                       step=self.predict_step, settings=self.settings)


def _detached(out):
    """The model's output (a tensor, or a tuple of them) detached from the graph."""
    if isinstance(out, Tensor):
        return out.detach()
    return tuple(o.detach() for o in out)
