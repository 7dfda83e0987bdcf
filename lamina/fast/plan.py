"""The execution plan: every machine decision of a ``fit``/``evaluate``/``predict``, made once.

At the start of a call lamina looks at the machine (device, CPU policy) and the model and
decides which layers run which kernel (:mod:`lamina.fast.rewrites`), which memory layout
the weights and batches take, and which function runs a training step
(:mod:`lamina.fast.steps`). The plan is applied for the length of the call and removed
after it: outside ``fit``/``predict`` every layer runs its own textbook ``forward``.
``compile(fast=False)`` gives the textbook plan: plain layers, plain loop, no rewrite.

The plan depends on the machine, the model and the call's mode (training or inference),
never on what ran before: ``predict`` takes the same kernels and layout before and after
``compile``, and after ``save`` and ``load_model``.
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from torch import Tensor, nn

from lamina.errors import LaminaWarning, message
from lamina.fast import policy, rewrites
from lamina.fast.steps import ForwardGraph, WholeStep, inductor_options
from lamina.layers.normalization import BatchNorm

__all__ = ["ExecutionPlan", "Settings", "DEFAULT_SETTINGS", "plan_for", "check_switch", "channels_last_for",
           "cuda_graphs_for"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """The user's switches, as ``compile`` received them (validated by :func:`check_switch`).

    Example:
        >>> Settings(jit=True).channels_last, Settings(fast=False).fast
        ('auto', False)
    """

    fast: bool = True
    jit: bool = False
    channels_last: bool | str = "auto"
    cuda_graphs: bool | str = "auto"
    autocast: bool = False


#: ``compile``'s defaults: the plan picks kernels and layout, no ``jit``.
DEFAULT_SETTINGS = Settings()


def check_switch(name: str, value) -> bool | str:
    """``value`` if it is True, False or ``"auto"``; a ValueError otherwise.

    Example:
        >>> check_switch("channels_last", "auto")
        'auto'
    """
    if value == "auto" or isinstance(value, bool):
        return value
    raise ValueError(message(f"Argument `{name}` of compile must be True, False or 'auto'.",
                             received=f"{name}={value!r}"))


def _has_conv2d(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) or (getattr(m, "is_convolution", False)
                                            and getattr(m, "rank", 0) == 2)
               for m in model.modules())


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, (BatchNorm, nn.modules.batchnorm._BatchNorm))
               for m in model.modules())


def channels_last_for(model: nn.Module, device: torch.device, setting) -> bool:
    """Whether 2-D maps are stored NHWC. ``"auto"``: for nets with a 2-D convolution on a
    CUDA device, or on a CPU whose policy prefers it when the net has no batch normalization
    (ATen's NHWC batch norm on the CPU loses precision: ResNet-20's gradients came out
    7.7e-4 off their float64 values, against 1.5e-6 NCHW). The same for training, ``jit``
    (where the layouts measured a tie) and inference, so that a compiled step that falls back
    to eager mode, and ``predict``, run the very kernels of an eager ``fit``.

    Example:
        >>> import lamina as lm
        >>> channels_last_for(lm.zoo.MLP((8,), input_shape=(4,)), torch.device("cuda"), "auto")
        False
    """
    if setting != "auto":
        return bool(setting)
    if device.type == "cuda":
        return _has_conv2d(model)
    return (device.type == "cpu" and policy.current().channels_last and _has_conv2d(model)
            and not _has_batch_norm(model))


def cuda_graphs_for(device: torch.device, jit: bool, setting) -> bool:
    """Whether compiled steps replay as CUDA graphs: only with ``jit`` on a CUDA device
    (``"auto"``: whenever that holds; True elsewhere warns and is ignored).

    Example:
        >>> cuda_graphs_for(torch.device("cpu"), True, "auto")
        False
    """
    possible = jit and device.type == "cuda"
    if setting is True and not possible:
        warnings.warn(f"`cuda_graphs=True` needs `jit=True` on a CUDA device (here: jit={jit}, "
                      f"device '{device}'); it is ignored.", LaminaWarning, stacklevel=4)
    return possible and setting in (True, "auto")


@dataclasses.dataclass
class ExecutionPlan:
    """What a call runs: module rewrites, the memory layout, and (training) the step.

    Use it as a context manager around the call: entering stores the weights in the plan's
    layout and installs the rewrites, leaving removes the rewrites.

    Example:
        >>> import lamina as lm
        >>> model = lm.zoo.LeNet5()
        >>> with plan_for(model, torch.device("cpu"), Settings(fast=False), training=False) as p:
        ...     p.rewrites, p.memory_format
        ([], torch.contiguous_format)
    """

    model: nn.Module
    memory_format: torch.memory_format = torch.contiguous_format
    rewrites: list = dataclasses.field(default_factory=list)
    step: object = None

    def __enter__(self) -> ExecutionPlan:
        fmt = self.memory_format
        if any(p.dim() == 4 and not p.is_contiguous(memory_format=fmt)
               for p in self.model.parameters()):
            self.model.to(memory_format=fmt)
        rewrites.apply(self.rewrites)
        return self

    def __exit__(self, *exc) -> None:
        rewrites.undo(self.rewrites)

    def batch(self, x: Tensor) -> Tensor:
        """A batch in the plan's layout (4-D maps NHWC when the plan is channels-last)."""
        if self.memory_format is torch.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x


def plan_for(model: nn.Module, device: torch.device, settings: Settings, *,
             training: bool, trainer=None) -> ExecutionPlan:
    """The plan of a call on ``model`` on ``device``: training (``fit``) or inference.

    ``trainer`` (training only) keeps the compiled step from one ``fit`` to the next.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.MaxPool2D(2)], input_shape=(1, 4, 4))
        >>> len(plan_for(net, torch.device("cpu"), Settings(), training=False).rewrites)
        1
    """
    if not settings.fast:
        return ExecutionPlan(model)
    nhwc = channels_last_for(model, device, settings.channels_last)
    plan = ExecutionPlan(model, torch.channels_last if nhwc else torch.contiguous_format)
    if device.type == "cpu":
        own_kernels = policy.current().lamina_kernels and not nhwc
        # The tiled pooling: always without gradients (several times ATen's speed); in
        # training on the CPUs where lamina's backward kernels win, and under jit, where
        # Inductor's own lowering of the pooling backward is the slow one.
        pooling = (rewrites.tiled_pooling(model)
                   if not training or own_kernels or settings.jit else [])
        conv = (rewrites.correlation_conv(model)
                if training and own_kernels and not settings.autocast else [])
        plan.rewrites = pooling + conv
    else:
        pooling = []
    plan.rewrites += rewrites.pool_before_relu(model, pooling)
    if training and trainer is not None and settings.jit:
        plan.step = _compiled_step(trainer, model, device, settings, plan.rewrites)
    return plan


def _compiled_step(trainer, model, device, settings: Settings, planned: list):
    """The trainer's compiled step, made on its first ``fit`` and kept for the next ones."""
    if trainer.compiled_step is None:
        # (on a CPU compile already warned about cuda_graphs=True)
        graphs = device.type == "cuda" and cuda_graphs_for(device, True, settings.cuda_graphs)
        options = inductor_options(model, device, graphs)
        # Traced inside torch.func.grad, Dynamo drops an autograd.Function's backward
        # (pytorch/pytorch#193279): nets whose plan uses lamina's kernels, and conv nets
        # (where the whole step measured no faster), keep the forward graph.
        own_backward = any(r.function in rewrites.OWN_BACKWARD for r in planned)
        whole = (getattr(trainer.optimizer, "traces_whole_step", False)
                 and not trainer.amp.scaler and not own_backward and not _has_conv(model))
        trainer.compiled_step = (WholeStep if whole else ForwardGraph)(trainer, options)
    return trainer.compiled_step


def _has_conv(model: nn.Module) -> bool:
    return any(getattr(m, "is_convolution", False) or isinstance(m, nn.modules.conv._ConvNd)
               for m in model.modules())
