"""Symbolic tensors: what ``lm.Input`` returns and what a layer called on one returns.

Calling a lamina layer on a :class:`SymbolicTensor` builds the layer for that shape and
returns a new symbolic tensor that records the call (a :class:`Node`: the layer and its
inbound tensors). A layer remembers the tensors it produced (its ``output``), so that a
graph can be cut at any layer; ``lamina.models.functional`` turns such a graph into a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.errors import message
from lamina.layers.input_spec import format_shape
from lamina.layers.naming import auto_name

if TYPE_CHECKING:
    from lamina.layers.base import Layer

__all__ = ["Input", "SymbolicTensor", "Node", "call_symbolic", "is_symbolic"]

_ONLY_LAYERS = ("Only lamina layers can be called on symbolic tensors: use a lamina layer "
                "(`layers.Dense`, `layers.Add()([a, b])`, ...) or write the operation as a "
                "`lamina.layers.Layer` subclass.")


class Node:
    """One call of a layer in a graph: the layer, its inbound tensors, and whether the
    layer was given a list (merge layers) or a single tensor."""

    __slots__ = ("layer", "inbound", "as_list")

    def __init__(self, layer: Layer, inbound: list[SymbolicTensor], as_list: bool):
        self.layer, self.inbound, self.as_list = layer, inbound, as_list


class SymbolicTensor:
    """A placeholder for a batch of data in a functional graph: a per-sample shape and the
    :class:`Node` that produced it (``None`` for an :func:`Input`).

    Attributes:
        shape: per-sample shape, without the batch axis.
        node: the layer call that produced this tensor, or None for an input.
        name: the input's name, or the name of the layer that produced the tensor.

    Example:
        >>> import lamina as lm
        >>> x = lm.Input((3, 8, 8), name="image")
        >>> x
        <SymbolicTensor 'image' shape=(N, 3, 8, 8)>
        >>> lm.layers.Conv2D(4, 3, padding="same")(x).shape
        (4, 8, 8)
    """

    def __init__(self, shape, node: Node | None = None, *, name: str):
        self.shape = tuple(shape)
        self.node = node
        self.name = name

    def __repr__(self) -> str:
        return f"<SymbolicTensor '{self.name}' shape={format_shape(self.shape)}>"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", repr(func))
        raise TypeError(f"`{name}` was called on a symbolic tensor (from `lm.Input`), which "
                        f"holds no data. {_ONLY_LAYERS}")

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(f"A symbolic tensor (from `lm.Input`) has no attribute `{attr}`: "
                             f"it holds no data. {_ONLY_LAYERS}")


def Input(shape, name: str | None = None) -> SymbolicTensor:  # noqa: N802 - Keras's name
    """The entry point of a functional model: a symbolic batch of per-sample ``shape``.

    Args:
        shape: per-sample shape without the batch axis, channels first (``(1, 28, 28)``);
            an int is a vector length.
        name: the input's name (in summaries and saved configs). Defaults to ``input``,
            ``input_1``, ...

    Returns:
        A :class:`SymbolicTensor`; call lamina layers on it, then pass it to
        ``lm.Model(inputs=..., outputs=...)``.

    Example:
        >>> import lamina as lm
        >>> from lamina import layers
        >>> x = lm.Input((4,))
        >>> y = layers.Dense(2, activation="softmax")(layers.Dense(8, activation="relu")(x))
        >>> lm.Model(inputs=x, outputs=y).count_params()
        58
    """
    dims = (shape,) if isinstance(shape, int) else shape
    try:
        dims = tuple(dims)
        ok = all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(message(
            "Argument `shape` of Input must be a tuple of positive ints: the per-sample shape, "
            "without the batch axis.", received=f"shape={shape!r}",
            fix="E.g. `lm.Input(shape=(1, 28, 28))` for grayscale 28x28 images."))
    return SymbolicTensor(dims, name=name or auto_name("Input"))


def call_symbolic(layer: Layer, inputs, *args, **kwargs) -> SymbolicTensor:
    """``layer(inputs)`` on symbolic tensors: build the layer for their shapes and record
    the call. ``Layer.__call__`` sends symbolic inputs here."""
    cls = type(layer).__name__
    if args or kwargs:
        raise TypeError(f"Layer '{layer.name}' ({cls}) was called on symbolic tensors with extra "
                        f"arguments; in a functional model a layer takes its input tensor(s) "
                        f"only.")
    as_list = not isinstance(inputs, SymbolicTensor)
    tensors = list(inputs) if as_list else [inputs]
    for t in tensors:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(message(
                f"Layer '{layer.name}' ({cls}) was called on a list mixing symbolic tensors with "
                f"other values.", received=f"an element of type {type(t).__name__}",
                fix="Every input of a layer in a functional model must come from `lm.Input` "
                    "or from another layer."))
    if as_list and not layer.list_input:
        raise TypeError(message(
            f"Layer '{layer.name}' ({cls}) takes one tensor.",
            received=f"a list of {len(tensors)} symbolic tensors",
            fix="Merge them first, e.g. `layers.Concatenate()([a, b])` or "
                "`layers.Add()([a, b])`."))
    if not as_list and layer.list_input:
        raise TypeError(message(
            f"Layer '{layer.name}' ({cls}) takes a list of tensors.",
            received=f"one symbolic tensor '{inputs.name}'", fix=f"Call `{cls}()([a, b])`."))
    shapes = [t.shape for t in tensors] if as_list else inputs.shape
    try:
        out_shape = layer.build_shapes(shapes)
    except ValueError as err:
        if as_list:
            raise
        raise ValueError(f"{err} (Its input is '{inputs.name}'.)") from None
    except RuntimeError as err:  # a torch error in a layer's dry run
        shown = ", ".join(format_shape(s) for s in shapes) if as_list else format_shape(shapes)
        raise ValueError(f"Layer '{layer.name}' ({cls}) cannot take input of shape {shown}: "
                         f"{err}") from None
    out = SymbolicTensor(out_shape, Node(layer, tensors, as_list), name=layer.name)
    layer._symbolic_outputs.append(out)  # what ``layer.output`` returns
    return out


def is_symbolic(x) -> bool:
    """Whether ``x`` is a symbolic tensor (``lm.Input``) or a list holding one.

    Example:
        >>> is_symbolic(Input((2,))), is_symbolic([1.0])
        (True, False)
    """
    if isinstance(x, (list, tuple)):
        return any(isinstance(t, SymbolicTensor) for t in x)
    return isinstance(x, SymbolicTensor)
