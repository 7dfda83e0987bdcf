"""The shared test harness: ``run_layer_test`` and torch-oracle comparisons (STYLE habit 18).

Import from test modules as ``from tests.helpers import run_layer_test`` (``tests/`` is on
``sys.path`` because ``tests/conftest.py`` lives there).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from lamina.layers import Layer
from lamina.layers.input_spec import format_shape
from lamina.saving import load_weights, save_weights

__all__ = ["run_layer_test", "assert_matches_torch", "param_pairs", "copy_params", "bad_shape_for",
           "RTOL64", "ATOL64"]

# float64 oracle comparisons: both sides run the same maths, so only summation order differs.
RTOL64, ATOL64 = 1e-10, 1e-12


def run_layer_test(layer_factory: Callable[[], Layer], input_shape, *,
                   expected_output_shape=None, expected_params=None, bad_input_shape=None,
                   batch_size: int = 2, train_step: bool = True) -> Layer:
    """Check a layer end to end in one call and return the built layer.

    Checks, in order: build from the per-sample ``input_shape``; output shape (the forward
    pass agrees with ``compute_output_shape`` and ``expected_output_shape``); parameter
    count; ``extra_repr``; config round trip (JSON-serializable, rebuilds to the same shapes
    and parameter count); safetensors round trip into a fresh layer from the config (identical
    outputs in eval mode); one SGD step changes every trainable parameter; a wrong-shape
    input raises a ValueError naming the layer and the received shape.

    Args:
        layer_factory: zero-argument callable returning a new, unbuilt layer.
        input_shape: per-sample input shape (no batch axis).
        expected_output_shape: per-sample output shape to assert, if given.
        expected_params: parameter count to assert, if given.
        bad_input_shape: a per-sample shape the built layer must reject; defaults to one
            derived from its ``input_spec`` (see :func:`bad_shape_for`). An unbuilt layer
            from the factory must also reject a shape breaking its own spec. Layers whose
            spec accepts any shape skip these checks.
        batch_size: samples in the test batch.
        train_step: run the SGD-step check (turn off for layers with zero gradients).
    """
    input_shape = tuple(input_shape)
    layer = layer_factory()
    assert isinstance(layer, Layer), f"factory returned {type(layer).__name__}, not a Layer"
    assert not layer.built, f"'{layer.name}' is built before it has seen an input shape"
    assert type(layer).__name__ in repr(layer)  # extra_repr works before build too

    # build, output shape
    layer.build(input_shape)
    assert layer.built
    declared = tuple(layer.compute_output_shape(input_shape))
    x = torch.randn(batch_size, *input_shape)
    y = layer(x)
    assert tuple(y.shape) == (batch_size, *declared), (
        f"'{layer.name}': forward gives {tuple(y.shape)}, compute_output_shape {declared}")
    assert layer.build_shapes(input_shape) == declared
    if expected_output_shape is not None:
        assert declared == tuple(expected_output_shape), f"{declared} != {expected_output_shape}"

    # parameter count, repr
    n_params = layer.count_params()
    assert n_params == sum(p.numel() for p in layer.parameters())
    if expected_params is not None:
        assert n_params == expected_params, f"'{layer.name}': {n_params} != {expected_params}"
    assert isinstance(layer.extra_repr(), str)
    assert type(layer).__name__ in repr(layer)

    # config round trip, through JSON as in a saved model
    config = layer.get_config()
    config_json = json.loads(json.dumps(config))
    clone = type(layer).from_config(config_json)
    assert type(clone) is type(layer) and not clone.built
    assert clone.get_config() == config_json
    assert clone.build_shapes(input_shape) == declared
    assert clone.count_params() == n_params

    # safetensors round trip into the fresh layer
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.safetensors")
        save_weights(layer, path)
        load_weights(clone, path)
    for key, value in layer.state_dict().items():
        assert torch.equal(clone.state_dict()[key], value), f"'{key}' changed on reload"
    layer.eval()
    clone.eval()
    with torch.no_grad():
        assert torch.equal(layer(x), clone(x)), f"'{layer.name}': reloaded outputs differ"
    layer.train()

    if train_step:
        _check_one_sgd_step(layer, x)
    _check_rejects_bad_shape(layer, layer_factory, input_shape, bad_input_shape)
    return layer


def _check_one_sgd_step(layer: Layer, x: Tensor) -> None:
    """One SGD step on a random linear functional of the output moves every trainable weight."""
    named = [(n, p) for n, p in layer.named_parameters() if p.requires_grad]
    if not named:
        return
    before = {n: p.detach().clone() for n, p in named}
    optimizer = torch.optim.SGD([p for _, p in named], lr=0.1)
    y = layer(x)
    optimizer.zero_grad(set_to_none=True)
    (y * torch.randn_like(y)).sum().backward()
    for name, p in named:
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"bad grad for `{name}`"
    optimizer.step()
    for name, p in named:
        assert not torch.equal(p.detach(), before[name]), f"'{layer.name}'.{name} did not change"


def bad_shape_for(spec, input_shape: tuple) -> tuple | None:
    """A per-sample shape that ``spec`` (an ``InputSpec`` or None) rejects, or None if none is known.

    A pinned axis gets one more element; otherwise an exact rank gets one axis too few
    (or too many), and a minimum rank one axis too few.
    """
    if spec is None:
        return None
    if spec.axes:
        axis, size = next(iter(spec.axes.items()))
        bad = list(input_shape)
        bad[axis] = size + 1
        return tuple(bad)
    if spec.ndim is not None:
        return tuple(input_shape[1:]) if spec.ndim == len(input_shape) else (*input_shape, 1)
    if spec.min_ndim:
        return tuple(input_shape[: spec.min_ndim - 1])
    return None


def _assert_names_layer_and_shape(fn, layer: Layer, bad_shape: tuple) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{layer.name}'")) as info:
        fn(bad_shape)
    received = f"Received: input of shape {format_shape(bad_shape)}"
    assert received in str(info.value), str(info.value)


def _check_rejects_bad_shape(layer: Layer, layer_factory, input_shape: tuple, bad_shape) -> None:
    """The built layer, and an unbuilt one from the factory, reject a wrong input shape."""
    bad_built = bad_shape_for(layer.input_spec, input_shape) if bad_shape is None else bad_shape
    if bad_built is not None:
        bad_built = tuple(bad_built)
        _assert_names_layer_and_shape(layer.build_shapes, layer, bad_built)
        _assert_names_layer_and_shape(lambda s: layer.input_spec.check(s, layer.name), layer,
                                      bad_built)
        assert layer.input_shape == input_shape, "a rejected shape was recorded"
    fresh = layer_factory()
    bad_unbuilt = bad_shape_for(fresh.input_spec, input_shape)
    if bad_unbuilt is not None:
        _assert_names_layer_and_shape(fresh.build_shapes, fresh, bad_unbuilt)
        assert not any(True for _ in fresh.parameters()), "weights created for a rejected shape"


def param_pairs(lamina_module, torch_module, names=("weight", "bias")) -> dict:
    """``{name: (lamina tensor, torch tensor)}`` for the ``names`` both modules hold."""
    pairs = {}
    for name in names:
        a, b = getattr(lamina_module, name, None), getattr(torch_module, name, None)
        assert (a is None) == (b is None), f"only one module has `{name}`"
        if a is not None:
            pairs[name] = (a, b)
    return pairs


def copy_params(src, dst, names=("weight", "bias")) -> None:
    """Copy tensors ``names`` (parameters or buffers) from ``src`` into ``dst`` in place."""
    with torch.no_grad():
        for name in names:
            a, b = getattr(src, name, None), getattr(dst, name, None)
            if a is not None:
                b.copy_(a)


def assert_matches_torch(lamina_fn: Callable, torch_fn: Callable, inputs, params=None, *,
                         rtol: float = RTOL64, atol: float = ATOL64,
                         grad_rtol: float | None = None, grad_atol: float | None = None) -> None:
    """Outputs and gradients of ``lamina_fn`` equal those of the oracle ``torch_fn``.

    Both functions get their own leaf copies of ``inputs`` (a tensor or a tuple of them).
    The outputs are compared, then both are back-propagated with the same random
    ``grad_output`` and the gradients w.r.t. every input and every parameter pair are
    compared. Tolerances default to float64 round-off (``rtol=1e-10, atol=1e-12``); pass
    looser ones for float32.

    Args:
        lamina_fn: callable under test, ``lamina_fn(*inputs) -> Tensor``.
        torch_fn: the oracle with the same signature.
        inputs: a tensor or a tuple of tensors (floating point ones get gradients).
        params: ``{name: (lamina tensor, torch tensor)}`` whose gradients must match
            (typically :func:`param_pairs` of a lamina layer and its ``torch.nn`` twin,
            holding equal values).
        rtol, atol: tolerances for the outputs.
        grad_rtol, grad_atol: tolerances for the gradients; default to ``rtol``/``atol``.
    """
    params = params or {}
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    grad_atol = atol if grad_atol is None else grad_atol
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    for name, (a, b) in params.items():
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"`{name}` differs before the call")
        a.grad = b.grad = None

    def leaves():
        return tuple(t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs)

    xa, xb = leaves(), leaves()
    ya, yb = lamina_fn(*xa), torch_fn(*xb)
    torch.testing.assert_close(ya, yb, rtol=rtol, atol=atol,
                               msg=lambda m: f"outputs differ from the torch oracle: {m}")
    if not ya.requires_grad:
        return
    grad_output = torch.randn_like(yb)
    ya.backward(grad_output)
    yb.backward(grad_output)
    for i, (a, b) in enumerate(zip(xa, xb, strict=True)):
        if a.requires_grad:
            torch.testing.assert_close(a.grad, b.grad, rtol=grad_rtol, atol=grad_atol,
                                       msg=lambda m, i=i: f"grad w.r.t. input {i} differs: {m}")
    for name, (a, b) in params.items():
        assert a.grad is not None and b.grad is not None, f"no gradient for `{name}`"
        torch.testing.assert_close(a.grad, b.grad, rtol=grad_rtol, atol=grad_atol,
                                   msg=lambda m, name=name: f"grad w.r.t. `{name}` differs: {m}")


def fashion_available() -> bool:
    """Whether Fashion-MNIST's files can be found (without downloading them)."""
    import lamina as lm

    try:
        lm.datasets.fashion_mnist.load_data(verbose=False)
    except lm.datasets.DatasetNotFoundError:
        return False
    return True


#: Skip a test that needs the Fashion-MNIST files when they are absent.
needs_fashion = pytest.mark.skipif(not fashion_available(),
                                   reason="Fashion-MNIST files are not available")
