"""The base of every lamina layer and model: a ``torch.nn.Module`` that knows its shapes.

``__init__`` stores and validates hyper-parameters; ``build(input_shape)`` creates the
weights once the per-sample input shape is known, then calls ``reset_parameters()``;
``forward`` is plain PyTorch. A layer built from ``input_shape`` records its input and
output shapes, which ``summary()`` prints.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from torch import nn

from lamina._registry import Registry
from lamina._validation import check_shape
from lamina.errors import NotBuiltError, message
from lamina.layers.input_spec import InputSpec, format_shape
from lamina.layers.naming import auto_name
from lamina.layers.symbolic import call_symbolic, is_symbolic

__all__ = ["Layer", "auto_name", "declared_input_shape", "LAYERS"]

#: Every ``Layer`` subclass, by class name (lamina's) or module-qualified name (others):
#: how ``load_model`` finds a saved layer's class.
LAYERS = Registry("layer")

class Layer(nn.Module):
    """Base class of lamina layers: lazy ``build``, shape checks, config, ``extra_repr``.

    Subclasses set ``self.input_spec`` (per-sample shape rules), implement ``build`` when
    they own weights and ``forward``; ``compute_output_shape`` defaults to a dry run.

    Args:
        name: the layer's name in summaries and error messages. Defaults to a unique
            snake-case name derived from the class (``dense_2``).
        input_shape: accepted by every layer, as in Keras: the per-sample input shape
            (no batch axis) of the first layer of a ``Sequential``, which then builds
            eagerly from it; kept as ``declared_input_shape``. Defaults to None.

    Example:
        >>> from lamina import layers
        >>> d = layers.Dense(3)
        >>> d.build((5,)); d.weight.shape
        torch.Size([3, 5])
    """

    #: True for layers called on a list of tensors (``Add``, ``Concatenate``): their
    #: ``build_shapes`` then takes a list of per-sample shapes.
    list_input = False

    def __init_subclass__(cls, overwrite: bool = False, **kwargs):
        # lamina's classes own their short names; a user class registers as
        # "module.Name" and takes a short name from another class only with
        # ``class Dense(Layer, overwrite=True)`` (see lamina._registry).
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LAYERS.register_class(cls, overwrite=overwrite)
        init = cls.__dict__.get("__init__")
        if init is not None and "input_shape" not in inspect.signature(init).parameters:
            cls.__init__ = _accepting_input_shape(init)

    def __init__(self, *, name: str | None = None):
        super().__init__()
        self.name = name or auto_name(type(self).__name__)
        self.built = False
        self.input_spec: InputSpec | None = None
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None
        self._trainable = True
        self._symbolic_outputs: list = []
        self.declared_input_shape: tuple | None = None
        self._lazy_hook = self.register_forward_pre_hook(_build_on_first_call)

    def __call__(self, *args, **kwargs):
        # One isinstance on the fast path; symbolic tensors (``lm.Input``) build a graph.
        if args and not isinstance(args[0], torch.Tensor) and is_symbolic(args[0]):
            return call_symbolic(self, *args, **kwargs)
        return nn.Module.__call__(self, *args, **kwargs)

    # -- freezing -------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether ``fit`` trains this layer (settable; Keras semantics).

        ``False`` freezes its parameters (and those of every layer inside it), and its
        batch-normalization layers run in inference mode during ``fit``: they normalize with
        their running statistics and leave them as they are.

        Example:
            >>> from lamina import layers
            >>> dense = layers.Dense(2); dense.build((3,)); dense.trainable = False
            >>> dense.weight.requires_grad
            False
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(message(f"`trainable` of layer '{self.name}' must be True or False.",
                                    received=f"{value!r} (type {type(value).__name__})"))
        for module in self.modules():
            if isinstance(module, Layer):
                module._trainable = value
        for param in self.parameters():
            param.requires_grad_(value)
        self.train(self.training)  # a frozen batch norm leaves training mode at once

    def train(self, mode: bool = True) -> Layer:
        """``nn.Module.train``, except that a frozen layer's batch norms stay in inference
        mode (see :attr:`trainable`)."""
        super().train(mode)
        if mode and not self._trainable:
            for module in self.modules():
                if getattr(module, "normalizes_batches", False) or isinstance(
                        module, nn.modules.batchnorm._BatchNorm):
                    nn.Module.train(module, False)
        return self

    # -- symbolic use ----------------------------------------------------------------
    @property
    def output(self):
        """The symbolic tensor this layer produced in a graph (``lm.Input`` or a built
        ``Sequential``): what ``lm.Model(inputs=base.input, outputs=layer.output)`` cuts at.

        Example:
            >>> import lamina as lm
            >>> net = lm.Sequential([lm.layers.Flatten(name="flat"), lm.layers.Dense(2)],
            ...                     input_shape=(1, 4, 4))
            >>> net.layers[0].output.shape
            (16,)
        """
        if len(self._symbolic_outputs) == 1:
            return self._symbolic_outputs[0]
        if not self._symbolic_outputs:
            raise ValueError(message(
                f"Layer '{self.name}' has no symbolic output: it has not been called on a "
                f"symbolic tensor.", fix="Build its model with `input_shape=` (Sequential) or "
                                         "from `lm.Input` (functional API)."))
        raise ValueError(message(
            f"Layer '{self.name}' was called {len(self._symbolic_outputs)} times in graphs, so "
            f"its `output` is ambiguous.", fix="Take the tensor returned by the call you mean."))

    # -- building -------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Create weights for per-sample ``input_shape`` (no batch axis). Idempotent."""
        self._record_build(input_shape)

    def _record_build(self, input_shape) -> None:
        """Check ``input_shape`` against the spec and mark the layer built."""
        input_shape = tuple(int(d) for d in input_shape)
        if self.input_spec is not None:
            self.input_spec.check(input_shape, self.name)
        self.input_shape = input_shape
        self.mark_built()

    def mark_built(self) -> None:
        """Mark the layer built and drop the hook that builds it on its first call.

        Example:
            >>> from lamina import layers
            >>> flat = layers.Flatten(); flat.mark_built(); flat.built
            True
        """
        self.built = True
        if self._lazy_hook is not None:
            self._lazy_hook.remove()
            self._lazy_hook = None

    def build_shapes(self, input_shape: tuple) -> tuple:
        """Build for ``input_shape`` if needed, record and return the output shape."""
        input_shape = tuple(int(d) for d in input_shape)
        if not self.built:
            self.build(input_shape)
            if not self._trainable:  # weights made by this build start frozen too
                for param in self.parameters():
                    param.requires_grad_(False)
        elif self.input_spec is not None:
            self.input_spec.check(input_shape, self.name)
        self.input_shape = input_shape
        self.output_shape = tuple(int(d) for d in self.compute_output_shape(input_shape))
        return self.output_shape

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Per-sample output shape for a per-sample input shape (default: a dry run)."""
        param = next(self.parameters(), None)
        device = param.device if param is not None else None
        dtype = param.dtype if param is not None and param.is_floating_point() else None
        x = torch.zeros((1, *input_shape), device=device, dtype=dtype)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                y = self(x)
        finally:
            self.train(was_training)
        return tuple(y.shape[1:])

    def reset_parameters(self) -> None:
        """(Re-)initialize the weights; layers without weights do nothing."""

    # -- introspection -----------------------------------------------------------------
    def count_params(self) -> int:
        """Number of parameters (trainable or not); raises if the layer is not built."""
        if not self.built:
            raise NotBuiltError(
                f"Layer '{self.name}' has no weights yet, so its parameters cannot be counted. "
                f"Pass `input_shape=` to the model or call `.build(input_shape)` first.")
        return sum(p.numel() for p in self.parameters())

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer: ``type(self)(**config)``."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Create a layer from the output of :meth:`get_config`."""
        return cls(**config)

    def _shape_str(self) -> str:
        """The output shape for summaries (several, comma-separated, for several outputs)."""
        shape = self.output_shape
        if shape is None:
            return "?"
        if shape and isinstance(shape[0], (tuple, list)):
            return ", ".join(format_shape(s) for s in shape)
        return format_shape(shape)


def _accepting_input_shape(init):
    """``init`` that also takes Keras's layer-level ``input_shape=`` (recorded once the
    constructor has run, as ``declared_input_shape``; ``Sequential`` builds from it)."""

    @functools.wraps(init)
    def __init__(self, *args, input_shape=None, **kwargs):
        init(self, *args, **kwargs)
        if input_shape is not None:
            self.declared_input_shape = check_shape("input_shape", input_shape,
                                                    f"layer '{self.name}'")

    return __init__


def declared_input_shape(layers) -> tuple | None:
    """The ``input_shape=`` given to the first of ``layers`` (None if none was).

    Example:
        >>> from lamina import layers
        >>> declared_input_shape([layers.Dense(2, input_shape=(3,)), layers.Dense(1)])
        (3,)
    """
    first = next(iter(layers), None)
    return getattr(first, "declared_input_shape", None)


def _build_on_first_call(layer: Layer, args: tuple) -> None:
    """Forward pre-hook: build a lazy layer from the first input it sees, then go away."""
    if layer.built or not args:
        return
    x = args[0]
    if isinstance(x, torch.Tensor):
        layer.build_shapes(tuple(x.shape[1:]))
    elif layer.list_input and isinstance(x, (list, tuple)) and x \
            and all(isinstance(t, torch.Tensor) for t in x):
        layer.build_shapes([tuple(t.shape[1:]) for t in x])
        x = x[0]
    else:
        return
    ref = next(layer.parameters(), None)
    if ref is not None and ref.device != x.device:
        layer.to(x.device)
