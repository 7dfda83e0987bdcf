"""``Model``: a layer that can be compiled, trained, evaluated, saved and summarized.

The loops live in :mod:`lamina.training`; ``Model`` keeps the familiar Keras surface.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lamina import activations, losses, optimizers
from lamina import metrics as metrics_mod
from lamina.errors import LaminaWarning, NotCompiledError, message
from lamina.functional import cpu_kernels
from lamina.layers.base import Layer
from lamina.layers.input_spec import format_shape
from lamina.training.history import History
from lamina.training.precision import resolve_precision
from lamina.training.trainer import Trainer, predict

__all__ = ["Model", "resolve_device"]


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; anything else as ``torch.device``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _channels_last(model: nn.Module, device: torch.device, setting, jit: bool = False) -> bool:
    """``compile(channels_last=...)``: ``"auto"`` is True for nets with a 2-D conv on CUDA,
    and in eager training on CPUs where NHWC measured faster (``cpu_kernels``)."""
    if setting == "auto":
        fast = device.type == "cuda" or (device.type == "cpu" and not jit
                                         and cpu_kernels.prefers_channels_last())
        return fast and any(
            isinstance(m, nn.Conv2d) or (getattr(m, "is_convolution", False)
                                         and getattr(m, "rank", 0) == 2)
            for m in model.modules())
    if not isinstance(setting, bool):
        raise ValueError(message("Argument `channels_last` of compile must be True, False or "
                                 "'auto'.", received=f"channels_last={setting!r}"))
    return setting


def _cuda_graphs(device: torch.device, jit: bool, setting) -> bool:
    """``compile(cuda_graphs=...)``: only with ``jit`` on a CUDA device."""
    if setting == "auto":
        return jit and device.type == "cuda"
    if not isinstance(setting, bool):
        raise ValueError(message("Argument `cuda_graphs` of compile must be True, False or "
                                 "'auto'.", received=f"cuda_graphs={setting!r}"))
    if setting and not (jit and device.type == "cuda"):
        warnings.warn(f"`cuda_graphs=True` needs `jit=True` on a CUDA device (here: "
                      f"jit={jit}, device '{device}'); it is ignored.", LaminaWarning,
                      stacklevel=3)
        return False
    return setting


class Model(Layer):
    """Base of lamina models: ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``, ``save``.

    Subclass it and define ``forward`` (and ``build`` if the model creates weights lazily),
    use :class:`lamina.Sequential`, call it on a graph of layers
    (``lm.Model(inputs=x, outputs=y)``, see :class:`lamina.models.Functional`), or wrap any
    ``nn.Module`` with :meth:`Model.wrap`.

    Example:
        >>> import torch, lamina as lm
        >>> net = lm.Model.wrap(torch.nn.Linear(4, 3))
        >>> net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        >>> net.predict(torch.zeros(2, 4)).shape
        (2, 3)
    """

    #: True for a net that accepts images of any height and width at least those it was
    #: built for (``fit``/``predict`` then check the channels only), as the output of
    #: :func:`lamina.zoo.to_fully_convolutional`.
    fully_convolutional: bool = False

    def __new__(cls, *args, **kwargs):
        # ``lm.Model(inputs=x, outputs=y)`` builds a functional graph model.
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from lamina.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *, name: str | None = None):
        super().__init__(name=name)
        self.stop_training = False
        self.stop_reason: str | None = None
        self.history: History | None = None
        self._trainer: Trainer | None = None

    # -- compile ------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, *, device="auto",
                jit: bool = False, precision="32", channels_last="auto",
                cuda_graphs="auto") -> None:
        """Choose the optimizer, loss and metrics, and the device to train on.

        A final softmax (or sigmoid) followed by a cross-entropy is computed from the logits
        in one stable step during training; ``predict`` still returns probabilities.

        Args:
            optimizer: a name (``"sgd"``, ``"adam"``) or an optimizer
                (``lm.optimizers.SGD(lr=0.05, momentum=0.9)`` or any ``torch.optim``
                optimizer). Defaults to ``"adam"``.
            loss: a name (``"sparse_categorical_crossentropy"``, ``"mse"``, ...), a
                ``lamina.losses.Loss`` or a callable ``(y_pred, y_true) -> scalar``.
            metrics: names or ``lamina.metrics.Metric`` objects (``["accuracy"]``).
            device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
            jit: compile the training step with ``torch.compile``: with lamina's ``SGD``
                and a net without convolutions, forward pass, backward pass and update as
                one graph, else the forward pass and loss (the first steps are slow while
                it compiles; falls back to eager mode with a warning where it cannot).
                Defaults to False.
            precision: ``"32"`` (float32), ``"bf16-mixed"`` or ``"16-mixed"`` (float16 with
                loss scaling): the forward pass runs under ``torch.autocast`` in that dtype,
                while weights, optimizer state, loss and metrics stay float32 (Keras's
                ``"mixed_bfloat16"``/``"mixed_float16"`` are accepted too). Defaults to
                ``"32"``.
            channels_last: store 2-D convolutions' weights and input batches NHWC.
                ``"auto"``: for nets with a 2-D convolution on a CUDA device, and without
                ``jit`` on AVX2 and AVX-512 CPUs (eager LeNet-5 epochs 7 % faster on an
                AVX-512 Xeon, 25 % on the same held to AVX2, deck 004's nets up to 33 %;
                see ``lamina.functional.cpu_kernels``). Defaults to ``"auto"``.
            cuda_graphs: with ``jit=True`` on a CUDA device, replay the compiled step as
                CUDA graphs (kernel launches dominate small models there). ``"auto"``: on
                whenever ``jit`` runs on CUDA; ignored, with a warning when asked for
                explicitly, elsewhere. Defaults to ``"auto"``.

        Example:
            >>> import lamina as lm
            >>> model = lm.zoo.LeNet5()
            >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
            ...               precision="bf16-mixed")
        """
        if loss is None:
            raise ValueError(message(f"`compile` of model '{self.name}' needs a `loss`.",
                                     fix="Call e.g. `model.compile(optimizer='adam', "
                                         "loss='sparse_categorical_crossentropy')`."))
        loss_obj = losses.get(loss)
        metric_objs = [metrics_mod.get(m) for m in (metrics or [])]
        opt = optimizers.get(optimizer)
        device = resolve_device(device)
        if self.built:
            self.to(device)
        forward, out_act = self, None
        final = self.output_activation_name()
        fusable = getattr(loss_obj, "fusable_activation", None)
        if final is not None and final == fusable and not loss_obj.from_logits:
            loss_obj, forward = loss_obj.with_logits(), self.forward_logits
            out_act = activations.get(final)
        elif fusable and not getattr(loss_obj, "from_logits", False) and final is not None \
                and final not in ("softmax", "sigmoid"):
            warnings.warn(
                f"Model '{self.name}' ends with activation '{final}', but the loss "
                f"'{loss_obj.name}' expects probabilities. End the model with "
                f"activation='{fusable}', or pass a loss with from_logits=True.",
                LaminaWarning, stacklevel=2)
        self._trainer = Trainer(
            self, opt, loss_obj, metric_objs, forward=forward, output_activation=out_act,
            device=device, jit=jit, precision=resolve_precision(precision),
            channels_last=_channels_last(self, device, channels_last, jit),
            cuda_graphs=_cuda_graphs(device, jit, cuda_graphs))
        if self.built:
            self._trainer._bind_optimizer()

    @property
    def optimizer(self):
        """The bound optimizer (after ``compile``)."""
        return self._require_trainer("optimizer").optimizer

    @property
    def loss(self):
        """The loss object (after ``compile``)."""
        return self._require_trainer("loss").loss_fn

    def _require_trainer(self, what: str) -> Trainer:
        if self._trainer is None:
            raise NotCompiledError(
                f"Model '{self.name}' must be compiled before `{what}`. Call "
                f"`model.compile(optimizer=..., loss=..., metrics=[...])` first.")
        return self._trainer

    # -- the Keras surface --------------------------------------------------------------
    def fit(self, x, y=None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, *,
            callbacks=(), initial_epoch: int = 0, checkpoint=None,
            checkpoint_every: int | None = None, resume: bool = False,
            augment=None) -> History:
        """Train the model on ``(x, y)``.

        Args:
            x: inputs ``(N, *input_shape)`` (numpy or torch; cast to float32, not rescaled),
                or a ``Dataset``/``DataLoader`` yielding ``(x, y)`` batches.
            y: targets with ``N`` rows (integer labels are cast to int64).
            batch_size: samples per step. Defaults to 32.
            epochs: passes over the data. Defaults to 1.
            verbose: 0 silent, 1 progress bar (one line per epoch when not a terminal),
                2 one line per epoch. Defaults to 1.
            validation_split: fraction of the data, taken from the end, held out for
                validation. Defaults to 0.
            validation_data: ``(x_val, y_val)``; overrides ``validation_split``.
            shuffle: reshuffle the training data every epoch. Defaults to True.
            callbacks: ``lamina.callbacks.Callback`` objects.
            initial_epoch: epoch to start from. Defaults to 0.
            checkpoint: a directory; the whole training state (weights, optimizer, RNG
                streams, epoch and step, history, callbacks) is saved there, atomically,
                at the end of every epoch.
            checkpoint_every: also save every this many steps (mid-epoch).
            resume: continue from the latest state in ``checkpoint`` (or start afresh if
                there is none). With the same arguments, an interrupted and resumed run
                ends with bit-identical weights on CPU.
            augment: a callable applied to each training batch on the device before the
                forward pass (``lm.augment.Compose([...])``); not used for validation.

        Returns:
            The ``History`` (also kept as ``model.history``). Its ``history`` dict holds a
            list per key: ``loss`` (the minimized loss, penalties included), ``reg_loss``
            (the penalties, when the model has regularizers), each metric, and their
            ``val_`` twins.
        """
        self.history = self._require_trainer("fit").fit(
            x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, callbacks=callbacks, initial_epoch=initial_epoch,
            checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
            augment=augment)
        return self.history

    def evaluate(self, x, y=None, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics on ``(x, y)``, as a dict: ``{"loss": ..., "accuracy": ...}``."""
        return self._require_trainer("evaluate").evaluate(x, y, batch_size=batch_size,
                                                          verbose=verbose)

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """The model's outputs for ``x`` (probabilities after a final softmax), as numpy."""
        if self._trainer is not None:
            return self._trainer.predict(x, batch_size=batch_size)
        return predict(self, x, batch_size=batch_size)

    # -- hooks for loss fusion ----------------------------------------------------------
    def output_activation_name(self) -> str | None:
        """Name of the final activation if the model can split it off (else None)."""
        return None

    def forward_logits(self, x: Tensor) -> Tensor:
        """The output before the final activation (only when it can be split off)."""
        return self(x)

    # -- description ----------------------------------------------------------------------
    def summary_rows(self) -> list[tuple[str, str, int]]:
        """(layer, output shape, parameter count) for each direct sub-module."""
        rows = []
        for name, child in self.named_children():
            shape = child._shape_str() if isinstance(child, Layer) else "?"
            label = f"{getattr(child, 'name', name)} ({type(child).__name__})"
            rows.append((label, shape, sum(p.numel() for p in child.parameters())))
        return rows

    def summary(self, print_fn=print) -> None:
        """Print each layer with its output shape and parameter count, then the totals."""
        if not self.built:
            self.count_params()  # raises the not-built hint
        rows = self.summary_rows()
        w0 = max([len("Layer (type)")] + [len(r[0]) for r in rows]) + 2
        w1 = max([len("Output Shape")] + [len(r[1]) for r in rows]) + 2
        line = "=" * (w0 + w1 + 12)
        out = [f'Model: "{self.name}"', line,
               f"{'Layer (type)':<{w0}}{'Output Shape':<{w1}}{'Param #':>10}", line]
        out += [f"{a:<{w0}}{b:<{w1}}{c:>10,}" for a, b, c in rows]
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters() if not p.requires_grad)
        out += [line, f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {frozen:,}", line]
        print_fn("\n".join(out))

    # -- persistence --------------------------------------------------------------------
    def save(self, path) -> None:
        """Save architecture (JSON) and weights (safetensors) to one file; see ``lm.load_model``."""
        from lamina.saving import save_model

        save_model(self, path)

    def save_weights(self, path) -> None:
        """Save the weights alone, as a safetensors file."""
        from lamina.saving import save_weights

        save_weights(self, path)

    def load_weights(self, path) -> None:
        """Load weights saved by ``save_weights`` or ``save`` (shapes must match)."""
        from lamina.saving import load_weights

        load_weights(self, path)

    @staticmethod
    def wrap(module: nn.Module, input_shape=None, *, name: str | None = None) -> Model:
        """Give any ``nn.Module`` lamina's ``compile/fit/evaluate/predict``.

        Example:
            >>> import torch, lamina as lm
            >>> model = lm.Model.wrap(torch.nn.Sequential(torch.nn.Linear(2, 1)))
            >>> model.count_params()
            3
        """
        from lamina.models.wrap import WrappedModel

        return WrappedModel(module, input_shape=input_shape, name=name)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def _shape_str(self) -> str:
        return format_shape(self.output_shape) if self.output_shape is not None else "?"
