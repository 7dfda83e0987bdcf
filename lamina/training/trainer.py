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
from lamina.callbacks.base import CallbackList, TrainingStopped
from lamina.callbacks.progress import ProgressBar
from lamina.errors import LaminaWarning, message
from lamina.layers.input_spec import format_shape
from lamina.training.data import ArrayData, check_input_shape, make_data, split_validation
from lamina.training.history import History
from lamina.training.precision import MixedPrecision
from lamina.training.resume import RunState, restore_training_state, save_training_state
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


class _LossOf(nn.Module):
    """A trainer's loss as a module over its model's parameters, for ``torch.func``.

    ``functional_call`` swaps the model's parameters for the ones it is given, so the weight
    penalties are read from the layers inside the call. The modules that hold parameters or
    buffers are registered flat (``owners.<i>``): a model's own child names need not be
    attribute paths (the functional ``Model`` keeps its layers under ``layers`` while
    ``model.layers`` is a list).
    """

    def __init__(self, trainer: Trainer):
        super().__init__()
        self.owners = nn.ModuleList(
            m for m in trainer.model.modules()
            if next(m.parameters(recurse=False), None) is not None
            or next(m.buffers(recurse=False), None) is not None)
        self.trainer = trainer

    def forward(self, x: Tensor, y: Tensor):
        trainer = self.trainer
        out = trainer.output(x)
        loss, reg = trainer.compute_loss(out, y, trainer.penalty_pairs())
        for layer in trainer._activity_layers:  # its value must not outlive the transform
            layer.activity_loss = None
        return out, loss, reg


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
        jit: run the training step through ``torch.compile``. Where the optimizer's update
            traces into the graph (``optimizer.traces_whole_step``: lamina's ``SGD``) and the
            net has no convolution (nor a layer with its own backward, ``custom_backward``),
            the whole step is one graph (:meth:`whole_step`: forward, backward, update);
            else the forward pass and the loss (and their backward) are compiled. Falls
            back, with a warning, to the forward graph and then to eager mode if compiling
            fails. The graph is compiled for the first batch size; a batch of another size
            (the last, partial one of an epoch) runs eagerly instead of recompiling.
        precision: the forward pass's autocast dtype (``torch.bfloat16``,
            ``torch.float16``, with loss scaling) or None for float32; see
            :class:`lamina.training.precision.MixedPrecision`.
        channels_last: store the weights and input batches of 2-D convolutions
            channels-last (NHWC), the layout of the GPU's fast convolution kernels.
        cuda_graphs: with ``jit``, replay the compiled step as CUDA graphs (Inductor's
            ``triton.cudagraphs``): one launch per graph instead of one per kernel, what
            small models on a GPU are bound by.
    """

    def __init__(self, model: nn.Module, optimizer, loss, metrics, *, forward=None,
                 output_activation=None, device=None, jit: bool = False,
                 precision: torch.dtype | None = None, channels_last: bool = False,
                 cuda_graphs: bool = False):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss
        self.jit = bool(jit)
        self.device = torch.device(device) if device is not None else None
        self.amp = MixedPrecision(precision, self.device.type if self.device else "cpu")
        self.channels_last = bool(channels_last)
        self._layout_done = False
        self.cuda_graphs = bool(cuda_graphs) and self.jit
        self._forward_loss = self._compiled_forward_loss if self.jit else self.forward_loss
        self._compiled = None
        self._compiled_step = None
        # float16's loss scaling needs the autograd engine's backward: no whole-step graph
        self._whole_step = (self.jit and getattr(optimizer, "traces_whole_step", False)
                            and self.amp.scaler is None)
        self._lr_values: list = []
        self._lr_tensors: list[Tensor] = []
        self._jit_batch = 0
        self.augment = None
        self.metrics = list(metrics)
        self.forward = forward if forward is not None else model
        self.output_activation = output_activation
        self._loss_sum: Tensor | None = None
        self._reg_sum: Tensor | None = None
        self._count = 0
        self._penalties: list = []
        self._activity_layers: list = []

    # -- the steps ----------------------------------------------------------------------
    def train_step(self, x: Tensor, y: Tensor) -> None:
        """One optimization step on a batch; updates the on-device accumulators."""
        if self.augment is not None:
            x = self.augment(x)
        x = self._layout(x)
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's outputs are read
        if self._whole_step:
            step = self._compiled_whole_step(x, y)
            if step is not None:
                out, loss, reg = step
                self._track(out, y, loss, reg)
                return
        # eager for the partial last batch of a compiled whole step, else as compiled
        forward_loss = self.forward_loss if self._whole_step else self._forward_loss
        out, loss, reg = forward_loss(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.amp.backward_and_step(loss, self.optimizer)
        self._track(out.detach(), y, loss.detach(), reg)

    def test_step(self, x: Tensor, y: Tensor) -> None:
        """Data loss and metrics of a batch, without gradients (penalties added per epoch)."""
        out = self.output(self._layout(x))
        self._track(out, y, self.loss_fn(out, y), None)

    def predict_step(self, x: Tensor) -> Tensor:
        """The model's output for a batch."""
        self._apply_layout()
        x = self._layout(x)
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

    def _layout(self, x: Tensor) -> Tensor:
        """A 4-D batch channels-last when ``channels_last`` is set; else ``x``."""
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _apply_layout(self) -> None:
        """Store the (built) model's 4-D weights channels-last, once."""
        if self.channels_last and not self._layout_done and getattr(self.model, "built", True):
            self.model.to(memory_format=torch.channels_last)
            self._layout_done = True

    def whole_step(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """One optimization step as a single function: forward, gradients, update (``jit``).

        The gradients come from ``torch.func.grad_and_value`` over the trainable parameters,
        so ``torch.compile`` sees the forward pass, the backward pass and the optimizer's
        update in one graph (no autograd engine, one call per step). Returns the detached
        output, loss and penalty. ``fit`` sets it up on the first step with ``jit=True``.

        Example:
            >>> import lamina as lm
            >>> model = lm.zoo.MLP((8,), outputs=3, input_shape=(4,))
            >>> model.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.9), loss="mse", jit=True)
            >>> _ = model.fit(np.zeros((32, 4)), np.zeros((32, 3)), verbose=0)  # doctest: +SKIP
        """
        params = self._jit_params

        def loss_of(values, buffers, x, y):
            out, loss, reg = torch.func.functional_call(self._loss_module, (values, buffers),
                                                        (x, y))
            return loss, (out,) if reg is None else (out, reg)  # aux holds tensors only

        values = {name: param.detach() for name, param in params.items()}  # no outer graph
        # buffers (batch-norm statistics) are inputs too: the transform lets them be updated
        grads, (loss, aux) = torch.func.grad_and_value(loss_of, has_aux=True)(
            values, self._jit_buffers, x, y)
        out, reg = aux[0], aux[1] if len(aux) > 1 else None
        for name, param in params.items():
            param.grad = grads[name]
        self.optimizer.step()
        return out, loss, reg

    def _compiled_whole_step(self, x: Tensor, y: Tensor):
        """Run :meth:`whole_step` compiled; None for the caller to take the other path."""
        trainable = tuple(p.requires_grad for p in self.model.parameters())
        if self._compiled_step is not None and trainable != self._jit_trainable:
            self._compiled_step = None  # a layer was frozen or unfrozen: trace again
        if self._compiled_step is None:
            if self._prefers_forward_graph():
                self._whole_step = False
                return None
            self._trace_whole_step(trainable, x.shape[0])
            # The first step runs eagerly: it creates the optimizer's state, which the
            # compiled graph then finds in place (one graph instead of two).
            step = self.whole_step
        elif x.shape[0] != self._jit_batch:
            return None
        else:
            step = self._compiled_step
        groups = self.optimizer.param_groups
        rates = self._swap_in_lr_tensors(groups)
        try:
            return step(x, y)
        except Exception as err:  # noqa: BLE001 - the forward-only graph may still compile
            warnings.warn(f"`jit=True`: the whole training step could not be compiled "
                          f"({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); compiling the "
                          f"forward pass and loss only.", LaminaWarning, stacklevel=4)
            self._whole_step = False
            return None
        finally:
            for group, rate in zip(groups, rates):
                group["lr"] = rate

    def _trace_whole_step(self, trainable: tuple, batch_size: int) -> None:
        """Set up :meth:`whole_step` for the current trainable weights and compile it."""
        self._jit_trainable = trainable
        for param in self.model.parameters():
            if not param.requires_grad:
                param.grad = None  # a frozen weight's old gradient must not step it
        self._loss_module = _LossOf(self)
        self._jit_params = {n: p for n, p in self._loss_module.named_parameters()
                            if p.requires_grad}
        self._jit_buffers = dict(self._loss_module.named_buffers())
        self._compiled_step = torch.compile(self.whole_step, options=self.inductor_options())
        self._jit_batch = batch_size

    def _swap_in_lr_tensors(self, groups: list) -> list:
        """Give each group its learning rate as a 0-d tensor; returns the floats to restore.

        As tensors the rates are inputs of the compiled graph, so a schedule changing them
        does not recompile it; a tensor is refilled only when its group's rate changed.
        """
        rates = [group["lr"] for group in groups]
        if len(self._lr_values) != len(rates):
            self._lr_values = [None] * len(rates)
            self._lr_tensors = [torch.zeros((), device=self.device) for _ in rates]
        for i, (group, rate) in enumerate(zip(groups, rates)):
            if rate != self._lr_values[i]:
                self._lr_tensors[i].fill_(rate)
                self._lr_values[i] = rate
            group["lr"] = self._lr_tensors[i]
        return rates

    def _prefers_forward_graph(self) -> bool:
        """Whether ``jit`` compiles the forward graph rather than the whole step: for nets
        with a convolution, or with a layer whose own backward must be kept.

        Measured on the CPU (2 threads): the whole step made the MLP's step faster (1.75 vs
        1.9 ms eager) but not ResNet-20's (329 vs 327 ms with the forward graph), whose
        compile took 76 s instead of 24 s; convolutions dominate such steps. And traced
        inside ``torch.func.grad``, Dynamo drops an ``autograd.Function``'s backward
        (pytorch/pytorch#193279), losing the faster CPU backward of layers that declare
        ``custom_backward`` (Conv2D on one channel, MaxPool2D with tiling windows).
        """
        return any(getattr(m, "is_convolution", False) or getattr(m, "custom_backward", False)
                   or isinstance(m, nn.modules.conv._ConvNd) for m in self.model.modules())

    def forward_loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Output, minimized loss and penalty of a batch (what ``jit`` compiles)."""
        out = self.output(x)
        loss, reg = self.compute_loss(out, y)
        return out, loss, reg

    def _compiled_forward_loss(self, x: Tensor, y: Tensor):
        if self._compiled is None:
            self._compiled = torch.compile(self.forward_loss, options=self.inductor_options())
            self._jit_batch = x.shape[0]
        elif x.shape[0] != self._jit_batch:
            # The last, partial batch of an epoch: one eager step costs less than the
            # recompilation (or the slower dynamic-shape graph) a new batch size triggers.
            return self.forward_loss(x, y)
        try:
            return self._compiled(x, y)
        except Exception as err:  # noqa: BLE001 - any compiler failure falls back to eager
            warnings.warn(f"`jit=True`: torch.compile failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); training continues "
                          f"in eager mode.", LaminaWarning, stacklevel=4)
            self._forward_loss = self.forward_loss
            return self.forward_loss(x, y)

    def inductor_options(self) -> dict | None:
        """Inductor's options for ``jit``: None, CUDA graphs on a GPU when ``cuda_graphs``
        is set, or channels-first maps for narrow CPU nets.

        On the CPU Inductor stores the maps of every convolution channels-last, vectorized
        over the channels. A net with a convolution of fewer than 8 maps (the floats of an
        AVX2 vector) wastes most of each vector that way: LeNet-5's compiled step (6 maps
        first) took 12.8 ms channels-last and 9.6 ms channels-first (2 threads, batch 128),
        while ResNet-20 (16 to 64 maps) ran 241 against 314 ms, so only such nets keep
        channels-first (``layout_optimization=False``).
        """
        if self.device is not None and self.device.type != "cpu":
            return {"triton.cudagraphs": True} if self.cuda_graphs else None
        narrow = any(isinstance(w, Tensor) and w.ndim >= 3 and w.shape[0] < 8
                     for w in (getattr(m, "weight", None) for m in self.model.modules()))
        return {"layout_optimization": False} if narrow else None

    def compute_loss(self, out: Tensor, y: Tensor, penalties=None) -> tuple[Tensor, Tensor | None]:
        """The minimized loss (data loss plus penalties) and the penalties' part (or None).

        ``penalties``: ``(regularizer, tensor)`` pairs; the ones found at the start of ``fit``
        when None.
        """
        loss = self.loss_fn(out, y)
        penalties = self._penalties if penalties is None else penalties
        if not penalties and not self._activity_layers:
            return loss, None
        reg = self.regularization_loss(activity=True, penalties=penalties)
        return loss + reg, reg.detach()

    def regularization_loss(self, activity: bool = False, penalties=None) -> Tensor:
        """Sum of the weight penalties (and of the layers' activity penalties if ``activity``)."""
        penalties = self._penalties if penalties is None else penalties
        terms = [reg(w) for reg, w in penalties]
        if activity:
            terms += [layer.activity_loss for layer in self._activity_layers
                      if layer.activity_loss is not None]
        return torch.stack(terms).sum() if terms else torch.zeros((), device=self.device)

    def penalty_pairs(self) -> list:
        """The model's ``(regularizer, tensor)`` pairs, read from its layers now.

        Example:
            >>> import lamina as lm
            >>> model = lm.Sequential([lm.layers.Dense(2, kernel_regularizer=lm.regularizers.l2(
            ...     0.1))], input_shape=(3,))
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> [tuple(t.shape) for _, t in model._trainer.penalty_pairs()]
            [(2, 3)]
        """
        return [pair for module in self.model.modules()
                if hasattr(module, "regularization_penalties")
                for pair in module.regularization_penalties()]

    def _collect_regularizers(self) -> None:
        """Find the penalties once per fit (the model is built by then)."""
        self._penalties = self.penalty_pairs()
        self._activity_layers = [module for module in self.model.modules()
                                 if getattr(module, "activity_regularizer", None) is not None]

    def _track(self, out: Tensor, y: Tensor, loss: Tensor, reg: Tensor | None) -> None:
        n = y.shape[0]
        self._loss_sum = loss * n if self._loss_sum is None else self._loss_sum.add_(loss * n)
        if reg is not None:
            self._reg_sum = reg * n if self._reg_sum is None else self._reg_sum.add_(reg * n)
        self._count += n
        if self.metrics:
            pred = out
            if self.output_activation is not None and not self._argmax_invariant(out):
                pred = self.output_activation(out)
            for metric in self.metrics:
                metric.update(pred, y)

    def _argmax_invariant(self, out: Tensor) -> bool:
        """Whether the metrics read only the argmax of each row of ``(N, C)`` scores, which
        the fused output activation (softmax or sigmoid, monotone along a row) keeps."""
        return (out.ndim == 2 and out.shape[1] > 1
                and all(metric.reads_argmax_only for metric in self.metrics))

    def reset(self) -> None:
        """Zero the loss and metric accumulators."""
        self._loss_sum, self._reg_sum, self._count = None, None, 0
        for metric in self.metrics:
            metric.reset()

    def results(self) -> dict[str, float]:
        """Loss and metrics accumulated since :meth:`reset`, read back in one sync."""
        if self._count == 0:
            return {}
        names, values = ["loss"], [self._loss_sum / self._count]
        if self._reg_sum is not None:
            names.append("reg_loss")
            values.append(self._reg_sum / self._count)
        names += [m.name for m in self.metrics]
        values += [m.result() for m in self.metrics]
        numbers = torch.stack([v.detach().float().reshape(()).cpu() for v in values]).tolist()
        return dict(zip(names, numbers))

    def _accumulator_state(self) -> dict:
        return {"loss_sum": self._loss_sum, "reg_sum": self._reg_sum, "count": self._count,
                "metrics": [m.state_dict() for m in self.metrics]}

    def _load_accumulator_state(self, state: dict) -> None:
        to = (lambda t: None if t is None else t.to(self.device)) if self.device else (lambda t: t)
        self._loss_sum, self._reg_sum = to(state["loss_sum"]), to(state["reg_sum"])
        self._count = state["count"]
        for metric, ms in zip(self.metrics, state["metrics"]):
            metric.load_state_dict({k: to(v) for k, v in ms.items()})

    # -- preparing data -----------------------------------------------------------------
    def _prepare(self, x, y, *, owner: str, batch_size: int, shuffle: bool = False):
        data = make_data(x, y, owner=owner, batch_size=batch_size, shuffle=shuffle,
                         device=self.device)
        if isinstance(data, ArrayData):
            out_shape = self._probe(data.x[:2], owner)
            if data.y is not None:
                data.y = check_targets(getattr(self.loss_fn, "name", ""), data.y, out_shape,
                                       owner)
        self._collect_regularizers()
        self._apply_layout()
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
            callbacks=(), initial_epoch: int = 0, checkpoint=None,
            checkpoint_every: int | None = None, resume: bool = False,
            augment=None) -> History:
        """Train for ``epochs`` epochs; see ``Model.fit``."""
        if augment is not None and not callable(augment):
            raise TypeError(message("Argument `augment` of fit must be a callable on a batch "
                                    "tensor (e.g. lm.augment.RandomFlip()).",
                                    received=f"type {type(augment).__name__}"))
        self.augment = augment
        batch_size = check_positive_int("batch_size", batch_size, "fit")
        epochs = check_nonnegative_int("epochs", epochs, "fit")
        if checkpoint_every is not None:
            check_positive_int("checkpoint_every", checkpoint_every, "fit")
        if (resume or checkpoint_every) and checkpoint is None:
            raise ValueError(message("`resume` and `checkpoint_every` need a checkpoint "
                                     "directory.", fix="Pass `checkpoint='run_dir'` to fit."))
        data = self._prepare(x, y, owner="fit", batch_size=batch_size, shuffle=shuffle)
        val = self._validation(data, validation_split, validation_data, batch_size)
        history, callbacks = History(), list(callbacks)
        extra = [ProgressBar(verbose)] if verbose else []
        cbs = CallbackList([history, *callbacks, *extra], model=self.model, params={
            "epochs": epochs, "steps": data.num_batches(batch_size), "verbose": verbose})
        self.model.stop_training = False
        self.model.stop_reason = None
        self.model.history = history
        was_training = self.model.training
        run = RunState(epoch=initial_epoch)
        run.generator.manual_seed(int(torch.randint(2**62, ())))
        fit_args = {"batch_size": batch_size, "epochs": epochs, "shuffle": shuffle,
                    "samples": len(data)}
        cbs.on_train_begin()
        if resume:
            restore_training_state(checkpoint, self, run, history, callbacks, fit_args)
        saver = None
        if checkpoint is not None:
            def saver():
                save_training_state(checkpoint, self, run, history, callbacks, fit_args)
        want_batch = cbs.wants("on_train_batch_begin") or cbs.wants("on_train_batch_end")
        try:
            while run.epoch < epochs and not self.model.stop_training:
                epoch = run.epoch
                cbs.on_epoch_begin(epoch)
                logs = self._run_epoch(data, batch_size, shuffle, run,
                                       cbs if want_batch else None, saver, checkpoint_every)
                if val is not None:
                    logs.update({f"val_{k}": v for k, v in self._evaluate(val, batch_size).items()})
                cbs.on_epoch_end(epoch, logs)
                run.epoch, run.step = epoch + 1, 0
                if saver is not None:
                    saver()
            if self.model.stop_training:
                history.stop_reason = (self.model.stop_reason
                                       or f"stopped by a callback after epoch {run.epoch}")
            else:
                history.stop_reason = f"max epochs reached ({epochs})"
        except TrainingStopped as stop:
            history.stop_reason = stop.reason
        except KeyboardInterrupt:
            history.stop_reason = f"interrupted by the user during epoch {run.epoch + 1}"
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

    def _run_epoch(self, data, batch_size: int, shuffle: bool, run: RunState, cbs, saver,
                   checkpoint_every: int | None) -> dict[str, float]:
        self.model.train()
        if run.step == 0:  # a fresh epoch; otherwise the accumulators were restored
            self.reset()
            run.epoch_generator_state = run.generator.get_state()
        else:
            run.generator.set_state(run.epoch_generator_state)
        running = _RunningLogs(self) if cbs is not None else None
        batches = data.batches(batch_size, shuffle, run.generator, start=run.step)
        for step, (xb, yb) in enumerate(batches, start=run.step):
            if cbs is not None:
                cbs.on_train_batch_begin(step)
            self.train_step(xb, yb)
            run.step, run.global_step = step + 1, run.global_step + 1
            if cbs is not None:
                cbs.on_train_batch_end(step, running)
            if checkpoint_every and run.global_step % checkpoint_every == 0:
                saver()
        return self.results()

    def _evaluate(self, data, batch_size: int) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        self.reset()
        try:
            with torch.no_grad():
                for xb, yb in data.batches(batch_size):
                    self.test_step(xb, yb)
                logs = self.results()
                if self._penalties and logs:  # the weights are fixed: add them once
                    reg = float(self.regularization_loss())
                    logs["loss"] += reg
                    logs = {"loss": logs["loss"], "reg_loss": reg,
                            **{k: v for k, v in logs.items() if k != "loss"}}
        finally:
            self.model.train(was_training)
        return logs

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
