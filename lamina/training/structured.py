"""Data for several inputs and outputs, or with sample weights, checked once per call.

The inputs and targets come as lists (in the model's order) or dicts keyed by the input
and output layers' names; the sample weights as one array for every output, or one per
output; ``class_weight`` (one output) becomes sample weights here, as Keras turns it
into them. A batch is ``(x, Targets(y's, weights))``: ``x`` a tensor for one input, a
tuple for several.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from lamina.errors import message
from lamina.layers.input_spec import format_shape
from lamina.layers.recurrent.embedding import Embedding
from lamina.training.data import _checked
from lamina.training.outputs import Heads, Targets
from lamina.training.targets import check_targets
from lamina.training.tensors import check_finite, check_ids, to_tensor, validation_cut

__all__ = ["StructuredData", "structured_data", "prepare_structured", "class_sample_weights",
           "is_multi_io"]


def is_multi_io(model) -> bool:
    """Whether ``model`` was built with a list of inputs or of outputs (a functional model).

    Example:
        >>> import lamina as lm
        >>> a, b = lm.Input((2,)), lm.Input((3,))
        >>> is_multi_io(lm.Model(inputs=[a, b], outputs=lm.layers.Concatenate()([a, b])))
        True
    """
    return bool(getattr(model, "_multi_in", False) or getattr(model, "_multi_out", False))


class StructuredData:
    """In-memory inputs, targets and sample weights on one device, served as batches
    ``(x, Targets)``, shuffled by one ``randperm`` per epoch.

    Example:
        >>> data = StructuredData([torch.arange(4.0)], [torch.arange(4)], [None],
        ...                       single_input=True)
        >>> [x.tolist() for x, _ in data.batches(3)]
        [[0.0, 1.0, 2.0], [3.0]]
    """

    structured = True
    sample_shape = None

    def __init__(self, xs: list[Tensor], ys: list[Tensor], ws: list, *, single_input: bool):
        self.xs, self.ys, self.ws = list(xs), list(ys), list(ws)
        self.single_input = single_input

    def __len__(self) -> int:
        return len(self.xs[0])

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def _batch(self, take) -> tuple:
        xs = [take(x) for x in self.xs]
        targets = Targets(tuple(take(y) for y in self.ys),
                          tuple(None if w is None else take(w) for w in self.ws))
        return (xs[0] if self.single_input else tuple(xs)), targets

    def batches(self, batch_size: int, shuffle: bool = False, generator=None,
                start: int = 0):
        """Yield ``(x, Targets)`` from batch ``start`` on."""
        n = len(self)
        if shuffle:
            perm = torch.randperm(n, generator=generator).to(self.xs[0].device)
            for i in range(start * batch_size, n, batch_size):
                idx = perm[i:i + batch_size]
                yield self._batch(lambda t, idx=idx: t.index_select(0, idx))
        else:
            for i in range(start * batch_size, n, batch_size):
                yield self._batch(lambda t, i=i: t[i:i + batch_size])

    def split(self, fraction: float) -> tuple[StructuredData, StructuredData]:
        """The first samples and the last ``fraction`` of them (as Keras holds out)."""
        cut = validation_cut(len(self), fraction)

        def part(sl):
            return StructuredData([x[sl] for x in self.xs], [y[sl] for y in self.ys],
                                  [None if w is None else w[sl] for w in self.ws],
                                  single_input=self.single_input)
        return part(slice(0, cut)), part(slice(cut, None))


# -- arranging the user's structures ------------------------------------------------------
def _arrange(value, names: list[str], what: str, owner: str, model: str, *,
             optional: bool = False) -> list:
    """``value`` as a list in the order of ``names``: from a dict keyed by name, a list or
    tuple by position, or one array for a single name."""
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        unknown = sorted(set(value) - set(names))
        if unknown or (missing and not optional):
            raise ValueError(message(
                f"Argument `{what}` of {owner}, a dict, must be keyed by the names of model "
                f"'{model}''s {'inputs' if what == 'x' else 'outputs'}.",
                expected=f"keys {names}", received=f"keys {sorted(value)}"))
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)) and not _is_number_list(value):
        if len(value) != len(names):
            raise ValueError(message(
                f"Argument `{what}` of {owner} must hold one array per "
                f"{'input' if what == 'x' else 'output'} of model '{model}' ({names}).",
                received=f"a {type(value).__name__} of {len(value)}",
                fix=f"Pass a list in the order {names}, or a dict keyed by these names."))
        return list(value)
    if len(names) == 1 or (optional and value is not None):
        return [value] * len(names)
    raise ValueError(message(
        f"Argument `{what}` of {owner} must hold one array per "
        f"{'input' if what == 'x' else 'output'} of model '{model}' ({names}).",
        received=f"one {type(value).__name__}",
        fix=f"Pass a list in the order {names}, or a dict keyed by these names."))


def _is_number_list(value) -> bool:
    """A (nested) list of numbers is one array, not a list of arrays."""
    first = value[0] if len(value) else None
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    return isinstance(first, (int, float)) and not isinstance(first, bool)


def _embedding_of(model, index: int) -> nn.Module | None:
    for layer in model.consumers(index):
        if isinstance(layer, (Embedding, nn.Embedding)):
            return layer
    return None


# -- weights --------------------------------------------------------------------------------
def _labels(y: Tensor) -> Tensor:
    """Class indices from integer labels, ``(N, 1)`` labels, one-hot or soft targets."""
    if y.dim() >= 2 and y.shape[-1] > 1:
        return y.argmax(-1).reshape(len(y), -1)[:, 0]
    return y.reshape(len(y), -1)[:, 0].round().long()


def class_sample_weights(y: Tensor, class_weight, owner: str = "fit") -> Tensor:
    """Per-sample weights ``w_i = class_weight[y_i]`` (1 for a class not listed), as Keras
    turns ``class_weight`` into sample weights; ``"balanced"`` gives each class present
    ``N / (K * N_c)`` (``K`` classes present, ``N_c`` samples of class ``c``), so every
    class weighs the same in the loss.

    Example:
        >>> class_sample_weights(torch.tensor([0, 1, 1, 1]), "balanced")
        tensor([2.0000, 0.6667, 0.6667, 0.6667])
        >>> class_sample_weights(torch.tensor([0, 1]), {0: 3.0})
        tensor([3., 1.])
    """
    labels = _labels(y)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(message(f"Argument `class_weight` of {owner} is not valid.",
                                     expected="a dict {class: weight} or 'balanced'",
                                     received=f"class_weight={class_weight!r}"))
        counts = torch.bincount(labels).double()
        present = int((counts > 0).sum())
        table = torch.where(counts > 0, len(labels) / (present * counts.clamp(min=1)),
                            torch.zeros_like(counts))
        return table[labels].float()
    if not isinstance(class_weight, dict):
        raise TypeError(message(f"Argument `class_weight` of {owner} must map class indices "
                                f"to weights.", expected="a dict {class: weight} or 'balanced'",
                                received=f"type {type(class_weight).__name__}"))
    table = {}
    for key, value in class_weight.items():
        try:
            cls = int(key)
        except (TypeError, ValueError):
            raise ValueError(message(f"`class_weight` of {owner} must be keyed by integer "
                                     f"class indices.", received=f"key {key!r}")) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value >= 0):
            raise ValueError(message(f"`class_weight` of {owner} must map to finite "
                                     f"numbers >= 0.", received=f"{key!r}: {value!r}"))
        table[cls] = float(value)
    size = max([*table, int(labels.max()) if len(labels) else 0]) + 1
    lookup = torch.ones(size, dtype=torch.float32)
    for cls, value in table.items():
        if cls >= 0:
            lookup[cls] = value
    return lookup[labels.cpu()].to(y.device)


def _weight_tensor(w, n: int, name: str, owner: str) -> Tensor:
    t = to_tensor(w, name, owner).float()
    if t.dim() == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.dim() != 1 or len(t) != n:
        raise ValueError(message(
            f"Argument `{name}` of {owner} must hold one weight per sample.",
            expected=f"shape ({n},)", received=f"shape {tuple(t.shape)}",
            fix="Give one number per sample; per-position weights are not supported."))
    check_finite(t, name, owner)
    if len(t) and bool((t < 0).any()):
        raise ValueError(message(f"Argument `{name}` of {owner} must hold weights >= 0.",
                                 received=f"smallest weight {float(t.min()):g}"))
    return t


def _sample_weights(sample_weight, class_weight, ys: list[Tensor], names: list[str],
                    owner: str, model: str) -> list:
    if class_weight is not None and sample_weight is not None:
        raise ValueError(message(f"`{owner}` takes `class_weight` or `sample_weight`, not "
                                 f"both.", fix="Multiply the class weights into the sample "
                                               "weights yourself."))
    if class_weight is not None:
        if len(ys) != 1:
            raise ValueError(message(
                f"`class_weight` applies to a model with one output; model '{model}' has "
                f"{len(ys)}.", fix="Pass `sample_weight` per output instead."))
        return [class_sample_weights(ys[0], class_weight, owner)]
    if sample_weight is None:
        return [None] * len(ys)
    per = _arrange(sample_weight, names, "sample_weight", owner, model, optional=True)
    n = len(ys[0])
    return [None if w is None else _weight_tensor(w, n, "sample_weight", owner).to(y.device)
            for w, y in zip(per, ys)]


# -- one call's data --------------------------------------------------------------------------
def _graph_data(model, heads: Heads, x, y, owner: str, device) -> tuple[list, list]:
    """A functional model's inputs and targets, checked (shapes, samples, finiteness, ids,
    labels against each output's loss)."""
    in_names = [spec["name"] for spec in model._input_config]
    out_names = model.output_names
    if y is None:
        raise ValueError(message(f"Model '{model.name}' is compiled with a loss, which "
                                 f"compares its outputs with targets: `{owner}` needs `y`.",
                                 received="y=None", fix=f"Pass y={out_names} (a list or dict)."))
    xs = _arrange(x, in_names, "x", owner, model.name)
    ys = _arrange(y, out_names, "y", owner, model.name)
    tensors = []
    for i, (value, spec) in enumerate(zip(xs, model._input_config)):
        emb = _embedding_of(model, i)
        t = to_tensor(value, f"x[{spec['name']!r}]", owner, ids=emb is not None)
        if emb is not None:
            t = check_ids(t, emb, owner)
        if tuple(t.shape[1:]) != tuple(spec["shape"]):
            raise ValueError(message(
                f"Input '{spec['name']}' of model '{model.name}' expects samples of shape "
                f"{format_shape(spec['shape'])}.", received=f"x of shape {tuple(t.shape)} in "
                f"`{owner}`", fix="Reshape that array, or check the order of the inputs."))
        check_finite(t, f"x[{spec['name']!r}]", owner)
        tensors.append(t)
    shapes = model.output_shape if model._multi_out else [model.output_shape]
    targets = []
    for value, name, head, shape in zip(ys, out_names, heads.heads, shapes):
        t = to_tensor(value, f"y[{name!r}]", owner)
        check_finite(t, f"y[{name!r}]", owner)
        targets.append(check_targets(head.loss_name, t, tuple(shape), owner))
    counts = {len(t) for t in tensors + targets}
    if len(counts) != 1:
        raise ValueError(message(
            f"The inputs and targets given to {owner} must have the same number of samples.",
            received=", ".join(f"{n}: {len(t)}" for n, t in
                               zip([*in_names, *out_names], tensors + targets))))
    if not len(tensors[0]):
        raise ValueError(message(f"`{owner}` needs at least one sample.", received="0 samples"))
    if device is not None:
        tensors = [t.to(device) for t in tensors]
        targets = [t.to(device) for t in targets]
    return tensors, targets


def structured_data(model, heads: Heads, x, y, *, sample_weight=None, class_weight=None,
                    owner: str, batch_size: int, device=None) -> StructuredData:
    """The :class:`StructuredData` of one call (for a single-input, single-output model the
    checks of :func:`lamina.training.data.prepare`)."""
    multi = is_multi_io(model)
    if multi:
        xs, ys = _graph_data(model, heads, x, y, owner, device)
        names = model.output_names
    else:
        if isinstance(x, (DataLoader, Dataset)):
            raise ValueError(message(
                f"`sample_weight` and `class_weight` of {owner} need in-memory arrays.",
                received=f"x of type {type(x).__name__}",
                fix="Pass numpy arrays or tensors (or weight the loss inside the dataset)."))
        data = _checked(model, x, y, owner=owner, loss_name=heads.heads[0].loss_name,
                        batch_size=batch_size, shuffle=False, device=device)
        xs, ys, names = [data.x], [data.y], [heads.heads[0].name or "output"]
    ws = _sample_weights(sample_weight, class_weight, ys, names, owner, model.name)
    return StructuredData(xs, ys, ws, single_input=not getattr(model, "_multi_in", False))


def prepare_structured(model, heads: Heads, x, y=None, *, sample_weight=None,
                       class_weight=None, owner: str, batch_size: int, device=None,
                       validation_split: float = 0.0, validation_data=None):
    """``(data, validation data or None)`` for several inputs/outputs or weighted samples;
    ``validation_data`` is ``(x, y)`` or ``(x, y, sample_weight)``.

    Example:
        >>> import numpy as np, lamina as lm
        >>> from lamina.training.outputs import Head
        >>> model = lm.Sequential([lm.layers.Dense(1)], input_shape=(2,))
        >>> heads = Heads([Head(None, lm.losses.get("mse"), 1.0, [], [])])
        >>> data, val = prepare_structured(model, heads, np.zeros((4, 2)), np.zeros((4, 1)),
        ...                                sample_weight=np.ones(4), owner="fit",
        ...                                batch_size=2, validation_split=0.25)
        >>> len(data), len(val), val.ws[0].tolist()
        (3, 1, [1.0])
    """
    data = structured_data(model, heads, x, y, sample_weight=sample_weight,
                           class_weight=class_weight, owner=owner, batch_size=batch_size,
                           device=device)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(message(
                "Argument `validation_data` of fit must be a tuple (x_val, y_val) or "
                "(x_val, y_val, sample_weight_val).",
                received=f"type {type(validation_data).__name__}"))
        vx, vy, *vw = validation_data
        return data, structured_data(model, heads, vx, vy,
                                     sample_weight=vw[0] if vw else None,
                                     owner=f"{owner} (validation_data)",
                                     batch_size=batch_size, device=device)
    if not validation_split:
        return data, None
    return data.split(validation_split)

