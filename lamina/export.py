"""Export a model for serving: ONNX through PyTorch's dynamo exporter, batch axis dynamic.

``model.export("model.onnx")`` (or :func:`export`) traces the model in eval mode with
``torch.export`` and translates the graph to ONNX (``torch.onnx.export(..., dynamo=True)``),
with the first axis of every input and output named ``batch`` and left free, so one file
serves any batch size (the other axes keep the sizes the model was built for). The exported graph is the textbook one: outside ``fit``/``predict``
every layer runs its own ``forward`` (no :mod:`lamina.fast` rewrite is active).

When the exporter fails, lamina names the layer to blame: the innermost layer whose
``forward`` was running when tracing failed (read from the exception's traceback); when the
failure came later (an operation ONNX cannot express), the first sub-module that fails to
export on its own, each exported on the inputs it received in one forward pass, descending
into it. The error gives the exporter's innermost reason too.

Needs the optional packages ``onnx`` and ``onnxscript`` (``pip install 'lamina[onnx]'``,
which adds ``onnxruntime`` to run the file).
"""

from __future__ import annotations

import importlib
import inspect
import os
import tempfile
import warnings

import torch
from torch import Tensor, nn
from torch.utils import _pytree

from lamina._io import atomic_write_bytes
from lamina.errors import LaminaError, NotBuiltError, message
from lamina.training.tensors import first_embedding

__all__ = ["export", "ExportError", "FORMATS"]

#: The formats :func:`export` writes.
FORMATS = ("onnx",)
#: Protobuf's limit for one file; larger models keep their weights in ``<path>.data``.
_PROTOBUF_LIMIT = 2**31 - 2**26
#: The batch size of the example input the exporter traces (a size of 1 would be taken
#: as a constant by ``torch.export``'s 0/1 specialization).
_EXAMPLE_BATCH = 2


class ExportError(LaminaError, RuntimeError):
    """The exporter could not express a model; the message names the layer and the reason.

    Attributes:
        layer: the dotted path of the offending sub-module inside the model (``""`` for the
            model itself), or None when no single layer could be blamed.
    """

    def __init__(self, text: str, layer: str | None = None):
        super().__init__(text)
        self.layer = layer


def _require(package: str) -> None:
    try:
        importlib.import_module(package)
    except ImportError as err:
        raise ImportError(message(
            f"ONNX export needs the optional package `{package}`, which is not installed.",
            fix="Install lamina's onnx extra: `pip install 'lamina[onnx]'` (onnx, onnxscript "
                "and onnxruntime).")) from err


def _input_shapes(model: nn.Module, input_shape) -> list[tuple]:
    """Per-sample input shapes, one per input (no batch axis)."""
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    name = getattr(model, "name", type(model).__name__)
    if shape is None:
        raise NotBuiltError(message(
            f"Model '{name}' has no input shape, so there is nothing to trace for export.",
            fix="Build it first (`input_shape=` or `model.build(shape)`), or pass "
                "`export(path, input_shape=(...))`."))
    if len(shape) and all(isinstance(s, (list, tuple)) for s in shape):
        return [tuple(int(d) for d in s) for s in shape]
    return [tuple(int(d) for d in shape)]


def _example_inputs(model: nn.Module, shapes: list[tuple]) -> tuple:
    """A batch of zeros (token id 0 when the model starts with an embedding) per input."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    ids = len(shapes) == 1 and first_embedding(model) is not None
    dtype = torch.int64 if ids else torch.float32
    return tuple(torch.zeros((_EXAMPLE_BATCH, *s), dtype=dtype, device=device) for s in shapes)


def _dynamic_batch(args: tuple) -> tuple:
    """``torch.export``'s ``dynamic_shapes`` for ``args``: axis 0 of every tensor is the batch."""
    batch = torch.export.Dim("batch")
    return _pytree.tree_map(lambda a: {0: batch} if isinstance(a, Tensor) and a.dim() else None,
                            args)


def _check_textbook(model: nn.Module) -> None:
    """Refuse to export while an execution plan's rewrites are installed (inside ``fit``)."""
    for name, module in model.named_modules():
        for attr in ("forward", "preactivation"):
            bound = vars(module).get(attr)
            if getattr(getattr(bound, "__func__", None), "__module__", "") == "lamina.fast.rewrites":
                raise RuntimeError(message(
                    f"Layer '{name or type(model).__name__}' runs an execution plan's "
                    f"rewritten `{attr}` (export was called inside `fit`/`predict`).",
                    fix="Export after `fit` returns, e.g. from `on_train_end`'s caller."))


class _Entry(nn.Module):
    """What the exporter traces: ``function(*inputs)``, with ``module``'s sub-modules,
    parameters and buffers registered here under their own names (``function`` may be a
    method other than ``forward``, such as an autoencoder's ``encode``)."""

    def __init__(self, module: nn.Module, function):
        super().__init__()
        for name, child in module.named_children():
            self.add_module(name, child)
        for name, param in module.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, buffer in module.named_buffers(recurse=False):
            self.register_buffer(name, buffer,
                                 persistent=name not in module._non_persistent_buffers_set)
        self.__dict__["function"] = function  # not a sub-module: called, not registered

    def forward(self, *inputs):
        return self.function(*inputs)


def _method(model: nn.Module, method: str):
    """``model.<method>`` on tensors: the tensor-level ``_<method>`` when the model has one
    (``encode`` -> ``_encode``), else the method itself."""
    function = getattr(model, f"_{method}", None) or getattr(model, method, None)
    if not callable(function):
        raise ValueError(message(
            f"Argument `method` of export names no method of model "
            f"'{getattr(model, 'name', type(model).__name__)}'.",
            expected="'forward', or 'encode' for an autoencoder", received=f"method={method!r}"))
    return function


def _to_onnx(module: nn.Module, args: tuple, *, input_names=None, output_names=None,
             opset_version: int | None = None):
    """``module`` (an :class:`_Entry`) as an ``ONNXProgram`` with a dynamic batch axis (not
    yet saved).

    The graph comes from ``torch.export.export(strict=False)`` here, not from the ONNX
    exporter's own attempts: those fall back to other tracers that may quietly fix the batch
    size when the code specializes it (``x.reshape(len(x), -1)``); here that is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter
        program = torch.export.export(module, args, strict=False,
                                      dynamic_shapes=(_dynamic_batch(args),))
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:  # torch >= 2.5
            return torch.onnx.export(program, args, dynamo=True, verbose=False,
                                     input_names=input_names, output_names=output_names,
                                     opset_version=opset_version, external_data=False)
        return torch.onnx.dynamo_export(program, *args)  # torch 2.4's dynamo exporter


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and the exceptions it was raised from, outermost first."""
    chain: list[BaseException] = []
    while err is not None and all(err is not e for e in chain):
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def _first_line(err: BaseException) -> str:
    """The innermost reason of ``err``, on one line."""
    root = _chain(err)[-1]
    lines = [line.strip() for line in str(root).splitlines() if line.strip()]
    return f"{type(root).__name__}: {lines[0] if lines else ''}"[:400]


def _traced_culprit(model: nn.Module, err: BaseException):
    """``(dotted path, module, err)`` of the innermost sub-module of ``model`` whose
    ``forward`` was running when tracing failed (read from the tracebacks), else None."""
    paths = {id(m): name for name, m in model.named_modules() if name}
    for error in reversed(_chain(err)):
        found, tb = None, error.__traceback__
        while tb is not None:
            owner = tb.tb_frame.f_locals.get("self")
            if owner is not None and id(owner) in paths:
                found = (paths[id(owner)], owner, err)
            tb = tb.tb_next
        if found is not None:
            return found
    return None


def _calls(entry: nn.Module, args: tuple) -> dict[str, tuple[nn.Module, tuple, dict]]:
    """Every sub-module one forward on ``args`` calls, by dotted path, in call order, with
    the (first) arguments it received."""
    seen: dict[str, tuple] = {}

    def recorder(path: str):
        def record(module, call_args, call_kwargs):
            seen.setdefault(path, (module, call_args, call_kwargs))
        return record

    handles = [module.register_forward_pre_hook(recorder(path), with_kwargs=True)
               for path, module in entry.named_modules() if path]
    try:
        with torch.no_grad():
            entry(*args)
    except Exception:  # noqa: BLE001 -- what ran before the failure is recorded
        pass
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _exports(module: nn.Module, args: tuple, kwargs: dict) -> BaseException | None:
    """None if ``module`` exports on ``args``, else the exporter's error."""
    try:
        _to_onnx(_Entry(module, lambda *a: module(*a, **kwargs)), args)
    except Exception as err:  # noqa: BLE001 -- any failure is what we look for
        return err
    return None


def _culprit(entry: nn.Module, args: tuple):
    """``(dotted path, module, error)`` of the innermost called sub-module that fails to
    export on its own: the called modules are tried in call order, level by level (a
    container that is never called itself, as a ``ModuleList``, is looked through)."""
    calls = _calls(entry, args)

    def callees(parent: str) -> list[str]:
        def caller(path: str) -> str:  # the nearest called ancestor ("" for the entry)
            parts = path.split(".")
            return next((".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)
                         if ".".join(parts[:i]) in calls), "")
        return [path for path in calls if caller(path) == parent]

    found, level = None, ""
    while True:
        for path in callees(level):
            module, call_args, call_kwargs = calls[path]
            error = _exports(module, call_args, call_kwargs)
            if error is not None:
                found, level = (path, module, error), path
                break
        else:
            return found


def _name_batch_axis(proto) -> None:
    """Call the batch axis ``batch`` throughout the graph, instead of the tracer's symbol."""
    names = {value.type.tensor_type.shape.dim[0].dim_param: "batch"
             for value in proto.graph.input
             if len(value.type.tensor_type.shape.dim)
             and value.type.tensor_type.shape.dim[0].dim_param}
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in names:
                dim.dim_param = names[dim.dim_param]


def _save(program, path: str) -> None:
    """Write the ONNX file atomically; weights over protobuf's limit go to ``<path>.data``."""
    proto = program.model_proto
    _name_batch_axis(proto)
    if proto.ByteSize() < _PROTOBUF_LIMIT:
        atomic_write_bytes(path, proto.SerializeToString())
        return
    import onnx  # an optional dependency, checked by export

    folder, base = os.path.split(os.path.abspath(path))
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        onnx.save_model(proto, os.path.join(tmp, base), save_as_external_data=True,
                        location=f"{base}.data")
        for name in sorted(os.listdir(tmp), key=lambda n: n == base):  # the model file last
            os.replace(os.path.join(tmp, name), os.path.join(folder, name))


def export(model: nn.Module, path, format: str = "onnx", *, input_shape=None,
           method: str = "forward", opset_version: int | None = None) -> str:
    """Write ``model`` as an ONNX file whose batch axis is dynamic: ``y = model(x)`` in eval mode.

    Args:
        model: a built lamina model or layer (Sequential, functional, zoo, recurrent,
            an autoencoder's encoder...) or any ``nn.Module`` given ``input_shape``.
        path: the file to write (replaced atomically).
        format: ``"onnx"``, the only format for now. Defaults to ``"onnx"``.
        input_shape: per-sample input shape (a list of shapes for several inputs); defaults
            to the model's ``input_shape``.
        method: what to export: ``"forward"`` (the model, the default) or another method
            taking the same input, e.g. ``"encode"``: an autoencoder's codes (its encoder).
        opset_version: the ONNX opset; defaults to the exporter's choice.

    Returns:
        ``path``, as a string. The graph's inputs are named after the model's ``lm.Input``
        tensors (``input`` for one input), its outputs ``output`` (``output_0``, ... for
        several); dropout is off and batch norms use their running statistics.

    Raises:
        ImportError: when ``onnx`` or ``onnxscript`` is not installed.
        ExportError: when the exporter cannot express the model; the message and
            ``err.layer`` name the first layer that fails on its own.

    Example:
        >>> import os, tempfile, onnx, lamina as lm
        >>> from lamina.export import export
        >>> net = lm.Sequential([lm.layers.Dense(3, activation="softmax")], input_shape=(4,))
        >>> path = export(net, os.path.join(tempfile.mkdtemp(), "net.onnx"))
        >>> [d.dim_param or d.dim_value for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
        ['batch', 4]
    """
    if format not in FORMATS:
        raise ValueError(message("Argument `format` of export is not a format lamina writes.",
                                 expected=" or ".join(repr(f) for f in FORMATS),
                                 received=f"format={format!r}"))
    _require("onnx")
    _require("onnxscript")
    if not isinstance(model, nn.Module):
        raise TypeError(message("Argument `model` of export must be an nn.Module.",
                                received=f"a {type(model).__name__}"))
    path = os.fspath(path)
    shapes = _input_shapes(model, input_shape)
    args = _example_inputs(model, shapes)
    entry = _Entry(model, _method(model, method))
    config = getattr(model, "_input_config", None)
    input_names = ([c["name"] for c in config] if config and len(config) == len(args)
                   else ["input"] if len(args) == 1 else [f"input_{i}" for i in range(len(args))])
    _check_textbook(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = entry(*args)
        outs = _pytree.tree_leaves(out)
        output_names = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
        try:
            program = _to_onnx(entry, args, input_names=input_names, output_names=output_names,
                               opset_version=opset_version)
        except Exception as err:  # noqa: BLE001 -- reported with the layer to blame
            raise _explain(model, entry, args, err) from err
    finally:
        model.train(was_training)
    _save(program, path)
    return path


def _explain(model: nn.Module, entry: _Entry, args: tuple, err: BaseException) -> ExportError:
    name = getattr(model, "name", type(model).__name__)
    found = _traced_culprit(entry, err) or _culprit(entry, args)
    if found is None:
        return ExportError(message(
            f"Model '{name}' could not be exported to ONNX, and none of its layers fails on "
            f"its own: the failure is in the model's own `forward`.",
            received=_first_line(err),
            fix="Keep the batch size symbolic in `forward` (`x.flatten(1)`, not "
            "`x.reshape(len(x), -1)`), branch on shapes rather than on tensor values, or "
            "report the model."))
    where, layer, error = found
    kind = type(layer).__name__
    return ExportError(message(
        f"Layer '{getattr(layer, 'name', where)}' ({kind}, at `{where}` in model '{name}') "
        f"cannot be exported to ONNX.", received=_first_line(error),
        fix="Replace or remove that layer for serving (a branch on tensor values, `.item()` "
            "or numpy calls cannot be traced), or export the part of the model before it "
            "(`lm.Model(inputs=model.input, outputs=layer_before.output)`)."),
        layer=where)
