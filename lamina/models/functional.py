"""The functional API: ``lm.Model(inputs=..., outputs=...)`` over ``lm.Input`` tensors.

Calling layers on symbolic tensors (:mod:`lamina.layers.symbolic`) records a graph.
``Functional`` walks it back from the outputs once, at construction, into a flat list of
calls, so its ``forward`` is a plain loop of layer calls with no graph analysis per batch.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lamina._validation import check_positive_int
from lamina.errors import LaminaWarning, message
from lamina.layers.base import Layer
from lamina.layers.input_spec import format_shape
from lamina.layers.serialization import layer_from_config, layer_to_config
from lamina.layers.symbolic import Input, Node, SymbolicTensor, call_symbolic
from lamina.models.layer_dict import LayerDict
from lamina.models.logits import final_activation, without_activation
from lamina.models.model import Model
from lamina.training.tensors import to_tensor

__all__ = ["Input", "SymbolicTensor", "Node", "Functional", "call_symbolic"]


def _as_tensors(value, what: str, model: str) -> list[SymbolicTensor]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items or not all(isinstance(t, SymbolicTensor) for t in items):
        raise TypeError(message(
            f"Argument `{what}` of model '{model}' must be a symbolic tensor or a list of them.",
            received=f"{what} of type {type(value).__name__}",
            fix="Start from `x = lm.Input(shape)`, call layers on it, then "
                "`lm.Model(inputs=x, outputs=y)`."))
    return items


def _topological_order(inputs, outputs, model: str) -> list[SymbolicTensor]:
    """The layer-produced tensors the outputs need, each after its inbound tensors."""
    done = {id(t) for t in inputs}
    order: list[SymbolicTensor] = []
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            if id(t) in done:
                continue
            if expanded:
                done.add(id(t))
                order.append(t)
                continue
            if t.node is None:
                raise ValueError(message(
                    f"Output '{out.name}' of model '{model}' depends on Input '{t.name}', which "
                    f"is not among the model's `inputs` (the graph is disconnected).",
                    received=f"inputs={[i.name for i in inputs]}",
                    fix=f"Pass it too: `lm.Model(inputs=[..., {t.name}], outputs=...)`."))
            stack.append((t, True))
            stack.extend((src, False) for src in reversed(t.node.inbound) if id(src) not in done)
    return order


def _check_name(name: str, owner: str, model: str, seen: dict, obj) -> None:
    if not isinstance(name, str) or not name or "." in name:
        raise ValueError(message(f"{owner} of model '{model}' needs a non-empty name without "
                                 f"dots (it keys the weights).", received=f"name={name!r}"))
    other = seen.setdefault(name, obj)
    if other is not obj:
        raise ValueError(message(
            f"Model '{model}' has two different layers or inputs named '{name}'. Names must be "
            f"unique within a model (they key its weights).",
            fix="Pass a distinct `name=` to one of them."))


class Functional(Model):
    """A model defined by a graph of layer calls: ``lm.Model(inputs=..., outputs=...)``.

    Layers may be shared (called several times, with the same weights), merged
    (``layers.Add``, ``layers.Concatenate``) and skipped around; the model may have several
    inputs (``forward(x1, x2)`` or ``forward([x1, x2])``) and several outputs (returned
    as a tuple). Every layer is built when it is called on a symbolic tensor, so the model
    is built, and ``summary()`` works, as soon as it exists. ``model.layers`` lists the
    layers in execution order (a :class:`~lamina.models.layer_dict.LayerDict`: indexed and
    sliced as a list, and the child module ``layers`` that ``get_submodule`` and
    ``torch.export`` walk); their weights are keyed by layer name (``layers.<name>.weight``).

    ``fit``, ``evaluate`` and ``predict`` take several inputs (and targets) as lists in the
    model's order or as dicts keyed by the inputs' (outputs' layers') names; ``compile``
    takes a loss, loss weight and metrics per output (:mod:`lamina.training.outputs`), and
    the logs name each output's loss and metrics ``<output>_loss``, ``<output>_<metric>``.

    Args:
        inputs: an :func:`Input` tensor, or a list of them.
        outputs: a symbolic tensor computed from ``inputs``, or a list of them.
        name: model name.

    Example:
        >>> import torch, lamina as lm
        >>> from lamina import layers
        >>> x = lm.Input((2, 8, 8))
        >>> h = layers.Conv2D(2, 3, padding="same", activation="relu")(x)
        >>> h = layers.Add()([x, h])                                 # a residual skip
        >>> y = layers.Dense(3, activation="softmax")(layers.Flatten()(h))
        >>> model = lm.Model(inputs=x, outputs=y)
        >>> type(model).__name__, model(torch.zeros(5, 2, 8, 8)).shape
        ('Functional', torch.Size([5, 3]))
    """

    def __init__(self, inputs, outputs, *, name: str | None = None):
        super().__init__(name=name)
        self._multi_in = isinstance(inputs, (list, tuple))
        self._multi_out = isinstance(outputs, (list, tuple))
        ins = _as_tensors(inputs, "inputs", self.name)
        outs = _as_tensors(outputs, "outputs", self.name)
        for t in ins:
            if t.node is not None:
                raise ValueError(message(
                    f"Argument `inputs` of model '{self.name}' must hold `lm.Input` tensors.",
                    received=f"the output of layer '{t.name}'"))
        if len({id(t) for t in ins}) != len(ins):
            raise ValueError(f"Argument `inputs` of model '{self.name}' lists an Input twice.")
        order = _topological_order(ins, outs, self.name)
        self._trace(ins, outs, order)
        self._symbolic_input = ins if self._multi_in else ins[0]
        self._symbolic_output = outs if self._multi_out else outs[0]
        self.list_input = self._multi_in
        self.mark_built()

    def _trace(self, ins: list[SymbolicTensor], outs: list[SymbolicTensor], order) -> None:
        """Turn the traced graph into the execution plan and the graph's description."""
        slot = {id(t): i for i, t in enumerate([*ins, *order])}
        names: dict[str, Any] = {}
        for t in ins:
            _check_name(t.name, f"Input '{t.name}'", self.name, names, t)
        modules: dict[str, Layer] = {}
        calls: dict[str, int] = defaultdict(int)
        refs = [[t.name, 0] for t in ins]  # slot -> [producer name, call index]
        self._calls, self._nodes = [], []
        for t in order:
            layer = t.node.layer
            _check_name(layer.name, f"Layer '{layer.name}'", self.name, names, layer)
            modules[layer.name] = layer
            args = tuple(slot[id(src)] for src in t.node.inbound)
            self._calls.append((layer, args, t.node.as_list, slot[id(t)]))
            self._nodes.append({"layer": layer.name, "inbound": [refs[i] for i in args],
                                "list": t.node.as_list, "shape": list(t.shape)})
            refs.append([layer.name, calls[layer.name]])
            calls[layer.name] += 1
        used = {i for _, args, _, _ in self._calls for i in args} | {slot[id(t)] for t in outs}
        unused = [t.name for i, t in enumerate(ins) if i not in used]
        if unused:
            warnings.warn(f"Model '{self.name}': inputs {unused} are not used by any output.",
                          LaminaWarning, stacklevel=3)
        self.layers = LayerDict(modules)                # weights keyed ``layers.<name>.*``
        self._refs = refs
        self._n_slots = len(refs)
        self._outputs = tuple(slot[id(t)] for t in outs)
        self._input_config = [{"name": t.name, "shape": list(t.shape)} for t in ins]
        in_shapes, out_shapes = [t.shape for t in ins], [t.shape for t in outs]
        self.input_shape = in_shapes if self._multi_in else in_shapes[0]
        self.output_shape = out_shapes if self._multi_out else out_shapes[0]
        last = self._calls[-1] if self._calls else None
        self._fusable = (not self._multi_out and last is not None
                         and last[3] == self._outputs[0] and not last[2]
                         and final_activation(last[0]) is not None)

    # -- running --------------------------------------------------------------------------
    def forward(self, *inputs):
        return self._run(inputs, logits=False)

    def _run(self, inputs: tuple, logits: bool):
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
            inputs = tuple(inputs[0])
        if len(inputs) != len(self._input_config):
            raise TypeError(message(
                f"Model '{self.name}' takes {len(self._input_config)} input tensor(s) "
                f"({', '.join(i['name'] for i in self._input_config)}).",
                received=f"{len(inputs)}"))
        values = [*inputs, *([None] * (self._n_slots - len(inputs)))]
        plan = self._calls[:-1] if logits else self._calls
        for layer, args, as_list, out in plan:
            values[out] = layer([values[i] for i in args]) if as_list else layer(values[args[0]])
        if logits:
            layer, args, _, out = self._calls[-1]
            x = values[args[0]]
            values[out] = without_activation(layer, x)
        if not self._multi_out:
            return values[self._outputs[0]]
        return tuple(values[i] for i in self._outputs)

    def output_activation_name(self) -> str | None:
        """The final layer's activation, for a single output produced by a layer that has one."""
        return final_activation(self._calls[-1][0]) if self._fusable else None

    def forward_logits(self, *inputs) -> Tensor:
        """The output before the final layer's activation (see ``output_activation_name``)."""
        return self._run(inputs, logits=self._fusable)

    # -- shapes ---------------------------------------------------------------------------
    def _shapes(self):
        return [tuple(i["shape"]) for i in self._input_config]

    def build(self, input_shape) -> None:
        """A functional model is built at construction; this checks ``input_shape``."""
        self.build_shapes(input_shape)

    def build_shapes(self, input_shape) -> tuple:
        """Check per-sample ``input_shape`` (a list of shapes for several inputs) against the
        inputs' shapes, and return the output shape."""
        shapes = self._shapes()
        given = ([tuple(int(d) for d in s) for s in input_shape] if self._multi_in
                 else [tuple(int(d) for d in input_shape)])
        if given != shapes:
            shown = ", ".join(format_shape(s) for s in given)
            raise ValueError(message(
                f"Model '{self.name}' expects input of shape "
                f"{', '.join(format_shape(s) for s in shapes)}.", received=f"input of shape "
                f"{shown}", fix="Reshape the data, or build the model from an `lm.Input` of "
                                "that shape."))
        if self._multi_out:
            raise TypeError(f"Model '{self.name}' has several outputs, so it cannot be used as "
                            f"a layer of another model.")
        return self.output_shape

    def compute_output_shape(self, input_shape) -> tuple:
        return self.build_shapes(input_shape)

    # -- Keras surface for several inputs or outputs ----------------------------------------
    def predict(self, x, batch_size: int = 256):
        """The model's outputs for ``x`` as numpy; a list of arrays ``x`` for several inputs,
        and a list of arrays returned for several outputs."""
        if not (self._multi_in or self._multi_out):
            return super().predict(x, batch_size=batch_size)
        return _predict_graph(self, x, batch_size)

    @property
    def input_names(self) -> list[str]:
        """The names of the inputs, in order (the keys of a dict ``x``)."""
        return [spec["name"] for spec in self._input_config]

    @property
    def output_names(self) -> list[str]:
        """The names of the layers (or inputs) producing the outputs, in order: the keys of
        a dict ``y`` and of per-output ``loss``/``metrics``, and the log prefixes.

        Example:
            >>> import lamina as lm
            >>> x = lm.Input((2,))
            >>> lm.Model(inputs=x, outputs=[lm.layers.Dense(1, name="price")(x),
            ...                             lm.layers.Dense(3, name="kind")(x)]).output_names
            ['price', 'kind']
        """
        return [self._refs[i][0] for i in self._outputs]

    def consumers(self, index: int) -> list[Layer]:
        """The layers called on input number ``index`` directly."""
        return [layer for layer, args, _, _ in self._calls if index in args]

    # -- description ----------------------------------------------------------------------
    def summary_rows(self) -> list[tuple[str, str, int, str]]:
        """(layer, output shape, parameter count, connected to), inputs first, then each
        layer once; a shared layer's later calls show as ``name[1]``, ``name[2]``, ..."""
        counts = defaultdict(int)
        for node in self._nodes:
            counts[node["layer"]] += 1

        def label(ref):
            return ref[0] if counts.get(ref[0], 1) <= 1 else f"{ref[0]}[{ref[1]}]"

        rows = [(f"{i['name']} (Input)", format_shape(i["shape"]), 0, "-")
                for i in self._input_config]
        for layer in self.layers:
            nodes = [n for n in self._nodes if n["layer"] == layer.name]
            shapes = {format_shape(n["shape"]) for n in nodes}
            sources = [label(r) for n in nodes for r in n["inbound"]]
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         shapes.pop() if len(shapes) == 1 else "multiple",
                         sum(p.numel() for p in layer.parameters()), ", ".join(sources)))
        return rows

    # -- persistence ------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The layers' configs and the graph: inputs (name, shape), nodes (layer, inbound
        tensors as ``[producer, call index]``, list call or not) and outputs."""
        return {"name": self.name, "inputs": self._input_config,
                "layers": [layer_to_config(layer) for layer in self.layers],
                "nodes": [{k: n[k] for k in ("layer", "inbound", "list")} for n in self._nodes],
                "outputs": [self._refs[i] for i in self._outputs],
                "multi_input": self._multi_in, "multi_output": self._multi_out}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        """Rebuild the layers, then replay the graph's calls on fresh inputs."""
        layers = [layer_from_config(entry) for entry in config["layers"]]
        by_name = {layer.name: layer for layer in layers}
        tensors, calls = {}, defaultdict(int)
        inputs = [Input(tuple(i["shape"]), name=i["name"]) for i in config["inputs"]]
        for t in inputs:
            tensors[(t.name, 0)] = t
        for node in config["nodes"]:
            args = [tensors[tuple(ref)] for ref in node["inbound"]]
            out = by_name[node["layer"]](args if node["list"] else args[0])
            tensors[(node["layer"], calls[node["layer"]])] = out
            calls[node["layer"]] += 1
        outputs = [tensors[tuple(ref)] for ref in config["outputs"]]
        return cls(inputs if config.get("multi_input", len(inputs) > 1) else inputs[0],
                   outputs if config.get("multi_output", len(outputs) > 1) else outputs[0],
                   name=config.get("name"))


def _predict_graph(model: Functional, x, batch_size: int):
    """``predict`` for several inputs or outputs: eval mode, no grad, batch by batch; ``x``
    a list in the inputs' order or a dict keyed by their names."""
    batch_size = check_positive_int("batch_size", batch_size, "predict")
    n_in = len(model._input_config)
    if isinstance(x, dict):
        if set(x) != set(model.input_names):
            raise ValueError(message(
                f"`predict` of model '{model.name}', given a dict, needs one array per input "
                f"name.", expected=f"keys {model.input_names}", received=f"keys {sorted(x)}"))
        x = [x[name] for name in model.input_names]
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(xs) != n_in:
        raise ValueError(message(f"`predict` of model '{model.name}' needs {n_in} input "
                                 f"arrays, as a list.", received=f"{len(xs)}"))
    xs = [to_tensor(a, f"x[{i}]", "predict") for i, a in enumerate(xs)]
    for t, spec in zip(xs, model._input_config):
        if tuple(t.shape[1:]) != tuple(spec["shape"]) or len(t) != len(xs[0]):
            raise ValueError(message(
                f"`predict` of model '{model.name}': input '{spec['name']}' expects "
                f"{len(xs[0])} samples of shape {format_shape(spec['shape'])}.",
                received=f"shape {tuple(t.shape)}"))
    device = model._trainer.device if model._trainer is not None else None
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outs = []
            for i in range(0, len(xs[0]), batch_size):
                out = model(*[t[i:i + batch_size].to(device) for t in xs])
                outs.append(out if model._multi_out else (out,))
    finally:
        model.train(was_training)
    if outs:
        arrays = [torch.cat(parts).cpu().numpy() for parts in zip(*outs)]
    else:
        arrays = [np.empty((0,), dtype=np.float32) for _ in model._outputs]
    return arrays if model._multi_out else arrays[0]


Model.functional_class = Functional
