"""Compiled training steps (``compile(jit=True)``): the forward graph, or the whole step.

* :class:`ForwardGraph`: ``torch.compile`` of the trainer's forward pass and loss; backward
  and update stay the textbook ones.
* :class:`WholeStep`: forward, backward (``torch.func.grad_and_value``) and the optimizer's
  update as one graph, for optimizers whose update traces (``traces_whole_step``: lamina's
  SGD) and nets without convolutions or lamina's own backward kernels.

Both compile for the first batch size and run a batch of another size (an epoch's partial
last one) eagerly instead of recompiling; both fall back, with a warning, when compiling
fails (whole step -> forward graph -> eager).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from lamina.errors import LaminaWarning

__all__ = ["ForwardGraph", "WholeStep", "inductor_options"]


def _first_line(err: Exception) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def inductor_options(model: nn.Module, device: torch.device | None,
                     cuda_graphs: bool) -> dict | None:
    """Inductor's options: CUDA graphs on a GPU when asked for; channels-first maps on the
    CPU for nets with a convolution of fewer than 8 maps (an AVX2 vector holds 8 floats,
    and Inductor's channels-last layout wastes the rest; see docs/benchmarks.md).

    Example:
        >>> import lamina as lm
        >>> inductor_options(lm.zoo.LeNet5(), torch.device("cpu"), False)
        {'layout_optimization': False}
    """
    if device is not None and device.type != "cpu":
        return {"triton.cudagraphs": True} if cuda_graphs else None
    narrow = any(isinstance(w, Tensor) and w.ndim >= 3 and w.shape[0] < 8
                 for w in (getattr(m, "weight", None) for m in model.modules()))
    return {"layout_optimization": False} if narrow else None


class ForwardGraph:
    """The trainer's ``forward_loss`` compiled; ``__call__`` is one training step with it.

    Example:
        >>> import lamina as lm
        >>> model = lm.zoo.MLP((8,), outputs=3, input_shape=(4,))
        >>> model.compile(optimizer="adam", loss="mse", jit=True)
        >>> step = ForwardGraph(model._trainer, None)
    """

    def __init__(self, trainer, options: dict | None):
        self.trainer, self.options = trainer, options
        self.compiled = None
        self.batch_size = 0
        self.failed = False
        self.cuda_graphs = bool(options and options.get("triton.cudagraphs"))

    def forward_loss(self, x: Tensor, y: Tensor):
        """Compiled ``trainer.forward_loss`` (eager for another batch size or after a failure)."""
        trainer = self.trainer
        if self.failed:
            return trainer.forward_loss(x, y)
        if self.compiled is None:
            self.compiled = torch.compile(trainer.forward_loss, options=self.options)
            self.batch_size = x.shape[0]
        elif x.shape[0] != self.batch_size:
            return trainer.forward_loss(x, y)  # cheaper than recompiling for the last batch
        try:
            return self.compiled(x, y)
        except Exception as err:  # noqa: BLE001 - any compiler failure falls back to eager
            warnings.warn(f"`jit=True`: torch.compile failed ({_first_line(err)}); training "
                          f"continues in eager mode.", LaminaWarning, stacklevel=5)
            self.failed = True
            return trainer.forward_loss(x, y)

    def __call__(self, x: Tensor, y: Tensor) -> None:
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's outputs are read
        self.trainer.train_step(x, y, forward_loss=self.forward_loss)


class _LossOf(nn.Module):
    """A trainer's loss as a module over its model's parameters, for ``torch.func``.

    The modules that hold parameters or buffers are registered flat (``owners.<i>``): a
    model's own child names need not be attribute paths.
    """

    def __init__(self, trainer):
        super().__init__()
        self.owners = nn.ModuleList(
            m for m in trainer.model.modules()
            if next(m.parameters(recurse=False), None) is not None
            or next(m.buffers(recurse=False), None) is not None)
        self.trainer = trainer

    def forward(self, x: Tensor, y: Tensor):
        trainer = self.trainer
        out = trainer.output(x)
        loss, reg = trainer.penalties.add_to(trainer.loss_fn(out, y), fresh=True)
        trainer.penalties.clear_activity()  # its value must not outlive the transform
        return out, loss, reg


class WholeStep:
    """Forward, gradients and update as one compiled function; the forward graph otherwise.

    The gradients come from ``torch.func.grad_and_value`` over the trainable parameters
    (entering detached, so no outer autograd graph is built), the buffers are inputs too
    (batch-norm statistics update), and the learning rates enter as 0-d tensors swapped into
    the param groups around the call, so a schedule does not recompile. The first step runs
    eagerly to create the optimizer's state. Freezing or unfreezing a layer traces again.

    Example:
        >>> import lamina as lm
        >>> model = lm.zoo.MLP((8,), outputs=3, input_shape=(4,))
        >>> model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse", jit=True)
        >>> WholeStep(model._trainer, None).failed
        False
    """

    def __init__(self, trainer, options: dict | None):
        self.trainer, self.options = trainer, options
        self.fallback = ForwardGraph(trainer, options)
        self.compiled = None
        self.failed = False
        self.batch_size = 0
        self.trainable: tuple = ()
        self._rates: list = []
        self._rate_tensors: list[Tensor] = []

    def step(self, x: Tensor, y: Tensor):
        """One step as a single function; returns the detached output, loss and penalty."""
        def loss_of(values, buffers, x, y):
            out, loss, reg = torch.func.functional_call(self.loss_module, (values, buffers),
                                                        (x, y))
            return loss, (out,) if reg is None else (out, reg)  # aux holds tensors only

        values = {name: p.detach() for name, p in self.params.items()}
        grads, (loss, aux) = torch.func.grad_and_value(loss_of, has_aux=True)(
            values, self.buffers, x, y)
        for name, param in self.params.items():
            param.grad = grads[name]
        self.trainer.optimizer.step()
        return aux[0], loss, aux[1] if len(aux) > 1 else None

    def _trace(self, trainable: tuple, batch_size: int) -> None:
        self.trainable, self.batch_size = trainable, batch_size
        for param in self.trainer.model.parameters():
            if not param.requires_grad:
                param.grad = None  # a frozen weight's old gradient must not step it
        self.loss_module = _LossOf(self.trainer)
        self.params = {n: p for n, p in self.loss_module.named_parameters() if p.requires_grad}
        self.buffers = dict(self.loss_module.named_buffers())
        self.compiled = torch.compile(self.step, options=self.options)

    def __call__(self, x: Tensor, y: Tensor) -> None:
        if self.fallback.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        if self.failed:
            return self.fallback(x, y)
        run = self._function_for(x)
        if run is None:  # a batch of another size: eager is cheaper than recompiling
            return self.trainer.train_step(x, y)
        groups = self.trainer.optimizer.param_groups
        rates = self._swap_in_rate_tensors(groups)
        try:
            out, loss, reg = run(x, y)
        except Exception as err:  # noqa: BLE001 - the forward-only graph may still compile
            warnings.warn(f"`jit=True`: the whole training step could not be compiled "
                          f"({_first_line(err)}); compiling the forward pass and loss only.",
                          LaminaWarning, stacklevel=4)
            self.failed = True
            return self.fallback(x, y)
        finally:
            for group, rate in zip(groups, rates):
                group["lr"] = rate
        self.trainer.track(out, y, loss, reg)

    def _function_for(self, x: Tensor):
        """The step to run: traced afresh (and run eagerly once, which creates the optimizer
        state the graph then finds) when new or when the trainable weights changed; None for
        a batch of another size."""
        trainable = tuple(p.requires_grad for p in self.trainer.model.parameters())
        if self.compiled is None or trainable != self.trainable:
            self._trace(trainable, x.shape[0])
            return self.step
        return self.compiled if x.shape[0] == self.batch_size else None

    def _swap_in_rate_tensors(self, groups: list) -> list:
        """Give each group its rate as a 0-d tensor, refilled only when it changed; returns
        the floats to put back."""
        rates = [group["lr"] for group in groups]
        if len(self._rates) != len(rates):
            device = self.trainer.device
            self._rates = [None] * len(rates)
            self._rate_tensors = [torch.zeros((), device=device) for _ in rates]
        for i, (group, rate) in enumerate(zip(groups, rates)):
            if rate != self._rates[i]:
                self._rate_tensors[i].fill_(rate)
                self._rates[i] = rate
            group["lr"] = self._rate_tensors[i]
        return rates
