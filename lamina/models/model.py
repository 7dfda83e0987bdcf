"""``Model``: a layer that can be compiled, trained, evaluated, saved and summarized.

The loops live in :mod:`lamina.training`; ``Model`` keeps the familiar Keras surface.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor, nn

from lamina import losses, optimizers, saving
from lamina import metrics as metrics_mod
from lamina.config import resolve_device
from lamina.errors import NotCompiledError, message
from lamina.export import export as export_model
from lamina.fast.plan import Settings, check_switch, cuda_graphs_for
from lamina.layers.base import Layer
from lamina.models.keras_api import KerasAPI
from lamina.models.logits import fold
from lamina.training import binding
from lamina.training.history import History
from lamina.training.inference import predict
from lamina.training.outputs import Head, Heads, rename_weighted, resolve_heads
from lamina.training.precision import resolve_precision
from lamina.training.structured import is_multi_io
from lamina.training.trainer import Trainer

__all__ = ["Model", "resolve_device"]


def _set_trainable(module: nn.Module, value: bool) -> None:
    if isinstance(module, Layer):
        module.trainable = value
    else:  # a plain torch module
        for param in module.parameters():
            param.requires_grad_(value)


class Model(KerasAPI, Layer):
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
    #: What ``lm.Model(inputs=..., outputs=...)`` and :meth:`wrap` build (set by
    #: ``lamina.models.functional`` and ``lamina.models.wrap``, which subclass Model).
    functional_class: type | None = None
    wrapper_class: type | None = None

    def __new__(cls, *args, **kwargs):
        # ``lm.Model(inputs=x, outputs=y)`` builds a functional graph model.
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(Model.functional_class)
        return super().__new__(cls)

    def __init__(self, *, name: str | None = None):
        super().__init__(name=name)
        self.stop_training = False
        self.stop_reason: str | None = None
        self.history: History | None = None
        self._trainer: Trainer | None = None

    # -- compile ------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, *, loss_weights=None,
                weighted_metrics=None, device="auto", jit: bool = False, precision="32",
                channels_last="auto", cuda_graphs="auto", fast: bool = True,
                lr_multipliers=None) -> None:
        """Choose the optimizer, loss and metrics, and the device to train on.

        A final softmax (or sigmoid) followed by a cross-entropy is computed from the logits
        in one stable step during training; ``predict`` still returns probabilities.

        Args:
            optimizer: a name (``"sgd"``, ``"adam"``) or an optimizer
                (``lm.optimizers.SGD(lr=0.05, momentum=0.9)`` or any ``torch.optim``
                optimizer). Defaults to ``"adam"``.
            loss: a name (``"sparse_categorical_crossentropy"``, ``"mse"``, ...), a
                ``lamina.losses.Loss`` or a callable ``(y_pred, y_true) -> scalar``. For
                several outputs: one loss for all, a list (one per output) or a dict keyed
                by output name (``model.output_names``).
            metrics: names or ``lamina.metrics.Metric`` objects (``["accuracy"]``); for
                several outputs a list with one entry per output or a dict
                (``{"class": ["accuracy"]}``), logged as ``<output>_<metric>``. They
                ignore sample weights, as Keras's do.
            loss_weights: several outputs: a list or dict of multipliers; the minimized
                loss is ``sum_k w_k * loss_k``. Defaults to 1 each.
            weighted_metrics: like ``metrics``, but weighted by ``fit``'s and
                ``evaluate``'s ``sample_weight`` (or ``class_weight``):
                ``sum_i w_i m_i / sum_i w_i``.
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
                ``"auto"``: the execution plan decides from the machine and the model (on a
                CUDA device for nets with a 2-D convolution; on CPUs where it measured
                faster, for such nets without batch norm; see :mod:`lamina.fast.plan`).
                Defaults to ``"auto"``.
            cuda_graphs: with ``jit=True`` on a CUDA device, replay the compiled step as
                CUDA graphs (kernel launches dominate small models there). ``"auto"``: on
                whenever ``jit`` runs on CUDA; ignored, with a warning when asked for
                explicitly, elsewhere. Defaults to ``"auto"``.
            fast: let lamina's execution plan pick kernels, layout and rewrites for this
                machine (:mod:`lamina.fast`). ``False`` runs the textbook path: every
                layer's own ``forward``, the plain loop, no rewrite; the same numbers
                within float rounding. Defaults to True.
            lr_multipliers: ``{"conv*": 0.1, "dense_2": 1.0}``: the layers whose names
                match a glob pattern train at that multiple of the learning rate (their own
                parameter group; kept through schedules, checkpoints and resume). Needs
                lamina's optimizer (a name or an unbound ``lm.optimizers.*``). Defaults to
                None.

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
        if not isinstance(fast, bool):
            raise ValueError(message("Argument `fast` of compile must be True or False.",
                                     received=f"fast={fast!r}"))
        if is_multi_io(self):  # per-output losses and metrics (lamina.training.outputs)
            heads = resolve_heads(self.output_names, loss, loss_weights, metrics,
                                  weighted_metrics, self.name)
            loss_obj, forward, out_act, metric_objs = heads, None, None, heads.metrics
        else:
            if loss_weights not in (None, 1, 1.0, [1], [1.0]):
                raise ValueError(message(
                    f"`loss_weights` weigh the outputs of a model with several; model "
                    f"'{self.name}' has one.", received=f"loss_weights={loss_weights!r}",
                    fix="Drop it (scale the learning rate to scale the loss)."))
            loss_obj, forward, out_act = fold(self, losses.get(loss))
            plain = [metrics_mod.get(m) for m in (metrics or [])]
            weighted = rename_weighted(plain, [metrics_mod.get(m)
                                               for m in (weighted_metrics or [])])
            heads = Heads([Head(None, loss_obj, 1.0, plain, weighted, out_act)])
            metric_objs = plain + weighted
        opt = optimizers.get(optimizer)
        device = resolve_device(device)
        if self.built:
            self.to(device)
        settings = Settings(fast=fast, jit=bool(jit),
                            channels_last=check_switch("channels_last", channels_last),
                            cuda_graphs=check_switch("cuda_graphs", cuda_graphs))
        cuda_graphs_for(device, settings.jit, settings.cuda_graphs)  # warns if impossible
        if lr_multipliers is not None and getattr(opt, "is_bound", True):
            raise ValueError(message(
                "`lr_multipliers` needs an optimizer that lamina binds to the model's "
                "parameters.", received=f"a bound {type(opt).__name__}",
                fix="Pass a name ('adam') or an unbound lamina optimizer "
                    "(lm.optimizers.SGD(0.01)), or build the parameter groups yourself."))
        self._trainer = Trainer(self, opt, loss_obj, metric_objs, forward=forward,
                                output_activation=out_act, device=device,
                                precision=resolve_precision(precision), settings=settings,
                                lr_multipliers=lr_multipliers, heads=heads)
        if self.built and getattr(opt, "is_bound", True) is False:
            binding.bind(opt, self, self._trainer.lr_multipliers)

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
            augment=None, strategy="auto", sync_batchnorm: bool = False,
            sample_weight=None, class_weight=None) -> History:
        """Train the model on ``(x, y)``.

        Args:
            x: inputs ``(N, *input_shape)``, ``N >= 1`` (numpy or torch, real numbers; cast
                to float32, not rescaled), or a ``Dataset``/``DataLoader`` yielding
                ``(x, y)`` batches. When the model's first layer is an ``Embedding``, integer
                ``x`` stays int64 (token ids above 2**24 are exact), whole floats become ids,
                and every id is checked against the vocabulary once.
            y: targets with ``N`` rows (integer labels are cast to int64); required.
            batch_size: samples per step. Defaults to 32.
            epochs: the epoch to stop at (not a count of further epochs when
                ``initial_epoch`` is set). Defaults to 1.
            verbose: 0 silent, 1 progress bar (one line per epoch when not a terminal),
                2 one line per epoch; ``True``/``False`` mean 1/0. Defaults to 1.
            validation_split: a float in [0, 1): the fraction of the data, taken from the
                end, held out for validation. Defaults to 0.
            validation_data: ``(x_val, y_val)``; overrides ``validation_split``.
            shuffle: ``True`` or ``False``: reshuffle the training data every epoch.
                Defaults to True.
            callbacks: a list of ``lamina.callbacks.Callback`` objects.
            initial_epoch: epoch to start from, in ``[0, epochs]``; training runs epochs
                ``initial_epoch + 1`` to ``epochs``. Defaults to 0.
            checkpoint: a directory; the whole training state (weights, optimizer, RNG
                streams, epoch and step, history, callbacks) is saved there, atomically,
                at the end of every epoch.
            checkpoint_every: also save every this many steps (mid-epoch).
            resume: continue from the latest state in ``checkpoint`` (or start afresh if
                there is none). With the same arguments, an interrupted and resumed run
                ends with bit-identical weights on CPU. Settings that differ from the
                checkpoint's: another optimizer type, loss, metrics or architecture raise
                ``lamina.errors.ResumeMismatchError``; the optimizer's hyper-parameters
                (``lr``, ``momentum``, ...) are taken from the checkpoint with a
                ``lamina.errors.ResumeWarning`` naming both values; a new ``batch_size``,
                ``shuffle``, sample count or callbacks apply, with a ``ResumeWarning``.
            augment: a callable applied to each training batch on the device before the
                forward pass (``lm.augment.Compose([...])``); not used for validation.
            strategy: ``"auto"``: data-parallel (``DistributedDataParallel``) when the
                script was launched as several processes (``torchrun``, ``WORLD_SIZE > 1``),
                else one process; ``"ddp"``: data-parallel, an error when not launched;
                None: never. ``batch_size`` is then the global batch, split across the
                processes (see :mod:`lamina.distributed.parallel`). Defaults to ``"auto"``.
            sync_batchnorm: in data-parallel training, batch norms use the statistics of
                the whole global batch (all ranks). Defaults to False.
            sample_weight: ``N`` weights ``w_i >= 0`` (or, for several outputs, a list or
                dict with one array per output); the loss of a batch of ``B`` is Keras's
                ``sum_i w_i l_i / B`` and ``weighted_metrics`` use them. Also taken from
                ``validation_data=(x, y, w)``. Defaults to None.
            class_weight: ``{class: weight}`` (missing classes weigh 1) or ``"balanced"``
                (``N / (K N_c)`` per class): one output only, turned into sample weights
                of the training data. Defaults to None.

        Returns:
            The ``History`` (also kept as ``model.history``). Its ``history`` dict holds a
            list per key: ``loss`` (the minimized loss, penalties included), ``reg_loss``
            (the penalties, when the model has regularizers), each metric, and their
            ``val_`` twins.

        Raises:
            ValueError: for zero samples, a missing ``y``, ragged or non-finite data, token
                ids outside the embedding's vocabulary, or a setting out of range (each
                message says what was expected and received).
            TypeError: for complex data, a non-bool ``shuffle`` or a non-callback in
                ``callbacks``.
        """
        self.history = self._require_trainer("fit").fit(
            x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, callbacks=callbacks, initial_epoch=initial_epoch,
            checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
            augment=augment, strategy=strategy, sync_batchnorm=sync_batchnorm,
            sample_weight=sample_weight, class_weight=class_weight)
        return self.history

    def evaluate(self, x, y=None, batch_size: int = 256, verbose: int = 0, *,
                 sample_weight=None) -> dict[str, float]:
        """Loss and metrics on ``(x, y)``, as a dict: ``{"loss": ..., "accuracy": ...}``.

        ``x`` and ``y`` follow ``fit``'s rules (at least one sample, ``y`` required; lists
        or dicts for several inputs and outputs); ``verbose``: 0, 1 or 2 (or a bool),
        printing one line when not 0; ``sample_weight`` weighs the loss and the
        ``weighted_metrics`` as in ``fit``.
        """
        return self._require_trainer("evaluate").evaluate(x, y, batch_size=batch_size,
                                                          verbose=verbose,
                                                          sample_weight=sample_weight)

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """The model's outputs for ``x`` (probabilities after a final softmax), as numpy.

        ``x`` follows ``fit``'s rules, except that zero samples give an empty array of shape
        ``(0, *output_shape)`` (``(0,)`` when the output shape is not known).
        """
        if self._trainer is not None:
            return self._trainer.predict(x, batch_size=batch_size)
        return predict(self, x, batch_size=batch_size)

    # -- layers: finding, cutting, freezing -------------------------------------------------
    def _layer_list(self) -> list:
        layers = getattr(self, "layers", None)
        return list(layers) if layers is not None else list(self.children())

    def get_layer(self, name: str | None = None, index: int | None = None) -> nn.Module:
        """The layer called ``name`` (searched at any depth), or the ``index``-th top layer.

        Example:
            >>> import lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(4, name="hidden"), lm.layers.Dense(2)],
            ...                     input_shape=(3,))
            >>> net.get_layer("hidden").units, net.get_layer(index=-1).units
            (4, 2)
        """
        if (name is None) == (index is None):
            raise ValueError(message(f"`get_layer` of model '{self.name}' takes a `name` or an "
                                     f"`index`, not both or neither.",
                                     received=f"name={name!r}, index={index!r}"))
        layers = self._layer_list()
        if index is not None:
            if not isinstance(index, int) or not -len(layers) <= index < len(layers):
                raise ValueError(message(f"Model '{self.name}' has {len(layers)} layers.",
                                         received=f"index={index!r}"))
            return layers[index]
        found = [m for m in self.modules() if getattr(m, "name", None) == name and m is not self]
        if not found:
            raise ValueError(message(
                f"Model '{self.name}' has no layer named '{name}'.",
                expected=f"one of {[getattr(m, 'name', '?') for m in layers]} (or a layer "
                         f"inside them)"))
        return found[0]

    def _index_of(self, layer) -> int:
        layers = self._layer_list()
        if isinstance(layer, int) and not isinstance(layer, bool):
            return self._layer_list().index(self.get_layer(index=layer))
        if isinstance(layer, str):
            layer = self.get_layer(layer)
        for i, top in enumerate(layers):
            if top is layer or any(m is layer for m in top.modules()):
                return i
        raise ValueError(message(f"Layer {layer!r} is not in model '{self.name}'."))

    def freeze(self, until=None) -> None:
        """Freeze the whole model, or its layers up to and including ``until`` (a layer name
        or index): their weights stop training and their batch norms run in inference mode
        (``layer.trainable = False``). A compiled model picks this up at its next ``fit``.

        Example:
            >>> import lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(4), lm.layers.Dense(2)], input_shape=(3,))
            >>> net.freeze(until=0); [layer.trainable for layer in net.layers]
            [False, True]
        """
        if until is None:
            self.trainable = False
            return
        for layer in self._layer_list()[:self._index_of(until) + 1]:
            _set_trainable(layer, False)

    def unfreeze(self) -> None:
        """Make every layer trainable again (``trainable = True`` throughout).

        Example:
            >>> import lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
            >>> net.freeze(); net.unfreeze(); net.layers[0].weight.requires_grad
            True
        """
        self.trainable = True

    @property
    def input(self):
        """The symbolic input (``lm.Input``) of a functional model or of a ``Sequential``
        built with ``input_shape``; a list for several inputs.

        Example:
            >>> import lamina as lm
            >>> base = lm.Sequential([lm.layers.Flatten(name="flat"), lm.layers.Dense(3)],
            ...                      input_shape=(1, 2, 2))
            >>> lm.Model(inputs=base.input, outputs=base.get_layer("flat").output).output_shape
            (4,)
        """
        return self._symbolic("input")

    @property
    def output(self):
        """The symbolic output of a functional model or of a built ``Sequential``.

        Example:
            >>> import lamina as lm
            >>> lm.Sequential([lm.layers.Dense(3)], input_shape=(2,)).output.shape
            (3,)
        """
        return self._symbolic("output")

    def _symbolic(self, which: str):
        tensor = getattr(self, f"_symbolic_{which}", None)
        if tensor is None:
            raise ValueError(message(
                f"Model '{self.name}' has no symbolic {which}.",
                fix="Build it with `input_shape=` (Sequential) or from `lm.Input` (functional "
                    "API); a plain torch module inside a Sequential ends the graph."))
        return tensor

    # -- hooks for loss fusion ----------------------------------------------------------
    def output_activation_name(self) -> str | None:
        """Name of the final activation if the model can split it off (else None)."""
        return None

    def forward_logits(self, x: Tensor) -> Tensor:
        """The output before the final activation (only when it can be split off)."""
        return self(x)

    # -- description ----------------------------------------------------------------------
    def summary_rows(self) -> list[tuple]:
        """(layer, output shape, parameter count) for each direct sub-module; a fourth
        entry, the inbound layers, where the model is a graph."""
        return [(f"{getattr(child, 'name', name)} ({type(child).__name__})",
                 child._shape_str() if isinstance(child, Layer) else "?",
                 sum(p.numel() for p in child.parameters()))
                for name, child in self.named_children()]

    def summary(self, print_fn=print, show_trainable: bool = False) -> None:
        """Print each layer with its output shape and parameter count (and, for a graph,
        the layers it is connected to; with ``show_trainable``, a Trainable column: Y, N or
        partial), then the totals."""
        if not self.built:
            self.count_params()  # raises the not-built hint
        rows = self.summary_rows()
        heads = ("Layer (type)", "Output Shape", "Param #", "Connected to")
        graph = any(len(r) > 3 for r in rows)
        w0, w1 = (max([len(heads[k])] + [len(str(r[k])) for r in rows]) + 2 for k in (0, 1))
        w3 = max([len(heads[3])] + [len(str(r[3])) for r in rows]) + 2 if graph else 0
        tail = f"  {heads[3]}" if graph else ""
        table = [f"{heads[0]:<{w0}}{heads[1]:<{w1}}{heads[2]:>10}{tail}"]
        table += [f"{r[0]:<{w0}}{r[1]:<{w1}}{r[2]:>10,}" + (f"  {r[3]}" if graph else "")
                  for r in rows]
        if show_trainable:
            table = self._with_trainable_column(table, rows)
        line = "=" * max(w0 + w1 + 12 + w3, len(table[0]))
        out = [f'Model: "{self.name}"', line, table[0], line, *table[1:]]
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters() if not p.requires_grad)
        out += [line, f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}",
                f"Non-trainable params: {frozen:,}", line]
        print_fn("\n".join(out))

    # -- persistence --------------------------------------------------------------------
    def save(self, path) -> None:
        """Save architecture (JSON) and weights (safetensors) to one file; see ``lm.load_model``."""
        saving.save_model(self, path)

    def save_weights(self, path) -> None:
        """Save the weights alone, as a safetensors file."""
        saving.save_weights(self, path)

    def load_weights(self, path, by_name: bool = False, skip_mismatch: bool = False) -> None:
        """Load weights saved by ``save_weights`` or ``save``.

        Args:
            path: the safetensors file.
            by_name: match tensors by layer name (``"<layer>.<parameter>"``, at any
                depth): layers the file lacks keep their weights, tensors of layers this
                model lacks are ignored. With False, the file must hold exactly this
                model's tensors. Defaults to False.
            skip_mismatch: skip tensors of another shape with a warning instead of
                raising. Defaults to False.

        For torchvision's files and ImageNet weights, see
        :func:`lamina.transfer.load_pretrained`; details in :func:`lamina.saving.load_weights`.

        Example:
            >>> import os, tempfile, lamina as lm
            >>> p = os.path.join(tempfile.mkdtemp(), "lenet.safetensors")
            >>> lm.zoo.LeNet5().save_weights(p)
            >>> features = lm.zoo.LeNet5(include_top=False, pooling="avg")
            >>> features.load_weights(p, by_name=True)       # the conv layers, by name
        """
        saving.load_weights(self, path, by_name=by_name, skip_mismatch=skip_mismatch)

    def export(self, path, format: str = "onnx", **options) -> str:
        """Write the model for serving (ONNX, batch axis dynamic); see :func:`lamina.export.export`.

        Example:
            >>> import os, tempfile, lamina as lm
            >>> net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
            >>> net.export(os.path.join(tempfile.mkdtemp(), "net.onnx")).endswith(".onnx")
            True
        """
        return export_model(self, path, format, **options)

    @staticmethod
    def wrap(module: nn.Module, input_shape=None, *, name: str | None = None) -> Model:
        """Give any ``nn.Module`` lamina's ``compile/fit/evaluate/predict``.

        Example:
            >>> import torch, lamina as lm
            >>> model = lm.Model.wrap(torch.nn.Sequential(torch.nn.Linear(2, 1)))
            >>> model.count_params()
            3
        """
        return Model.wrapper_class(module, input_shape=input_shape, name=name)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}
