"""Add, Multiply, Concatenate: torch oracles, shape checks, config, lazy build on lists.

The merge layers take a list of tensors, so ``run_layer_test`` (one input) does not fit
them; ``test_merge_layer_matrix`` runs the same checks for lists of shapes.
"""

import json
import operator
from functools import reduce

import pytest
import torch

from lamina import layers
from lamina.layers.base import LAYERS
from tests.helpers import ATOL64, RTOL64, assert_matches_torch

MERGE_CASES = [  # (factory, list of per-sample input shapes, output shape)
    (layers.Add, [(3,), (3,)], (3,)),
    (layers.Add, [(2, 4, 4), (2, 4, 4), (2, 4, 4)], (2, 4, 4)),
    (layers.Add, [(2, 4, 4), (2, 1, 1)], (2, 4, 4)),
    (layers.Multiply, [(5,), (5,)], (5,)),
    (layers.Multiply, [(3, 4, 4), (3, 1, 1)], (3, 4, 4)),
    (layers.Concatenate, [(2, 4, 4), (3, 4, 4)], (5, 4, 4)),
    (lambda: layers.Concatenate(axis=-1), [(2, 3), (2, 5), (2, 1)], (2, 9)),
    (lambda: layers.Concatenate(axis=2), [(2, 3, 4), (2, 1, 4)], (2, 4, 4)),
]


@pytest.mark.parametrize("factory, shapes, out_shape", MERGE_CASES)
def test_merge_layer_matrix(factory, shapes, out_shape):
    layer = factory()
    assert not layer.built and type(layer).__name__ in repr(layer)
    assert LAYERS.lookup(type(layer).__name__) is type(layer)
    xs = [torch.randn(2, *s) for s in shapes]
    y = layer(xs)                                   # lazy build from the first list
    assert layer.built and layer.count_params() == 0
    assert tuple(y.shape) == (2, *out_shape)
    assert layer.compute_output_shape(shapes) == out_shape
    assert layer.build_shapes(shapes) == out_shape == layer.output_shape
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == config and not clone.built
    assert torch.equal(clone(xs), y)


@pytest.mark.parametrize("lamina_layer, oracle", [
    (layers.Add(), lambda *xs: reduce(operator.add, xs)),
    (layers.Multiply(), lambda *xs: reduce(operator.mul, xs)),
    (layers.Concatenate(), lambda *xs: torch.cat(xs, dim=1)),
    (layers.Concatenate(axis=-1), lambda *xs: torch.cat(xs, dim=-1)),
])
def test_matches_torch_ops_with_gradients(lamina_layer, oracle):
    xs = tuple(torch.randn(3, 2, 4, 4, dtype=torch.float64) for _ in range(3))
    assert_matches_torch(lambda *a: lamina_layer(list(a)), oracle, xs, rtol=RTOL64,
                         atol=ATOL64)


def test_multiply_broadcasts_a_channel_gate_like_torch():
    x, gate = torch.randn(2, 3, 4, 4), torch.rand(2, 3, 1, 1)
    torch.testing.assert_close(layers.Multiply()([x, gate]), x * gate, rtol=0, atol=0)


@pytest.mark.parametrize("layer, shapes, expected", [
    (layers.Add(name="skip"), [(4, 8, 8), (4, 4, 4)], "same shape"),
    (layers.Multiply(name="skip"), [(3,), (3, 1)], "same number of axes"),
    (layers.Concatenate(name="skip"), [(2, 4, 4), (3, 5, 4)], "every axis but axis 1"),
    (layers.Concatenate(axis=3, name="skip"), [(2, 4), (3, 4)], "at least 3 axes"),
])
def test_shape_mismatch_names_the_layer_and_the_shapes(layer, shapes, expected):
    xs = [torch.zeros(2, *s) for s in shapes]
    with pytest.raises(ValueError, match=expected) as info:
        layer(xs)                                   # the first call builds: lamina's message
    text = str(info.value)
    assert "'skip'" in text and type(layer).__name__ in text
    assert "Received: inputs of shapes [" in text and "(N, " in text
    assert not layer.built


def test_needs_a_list_of_at_least_two_tensors():
    with pytest.raises(ValueError, match="at least 2 tensors"):
        layers.Add(name="a").build_shapes([(3,)])
    with pytest.raises(ValueError, match=r"merges a list of tensors.*\(N, 3\)"):
        layers.Add(name="a").build_shapes((3,))


@pytest.mark.parametrize("axis", [0, 1.0, True, "1"])
def test_concatenate_rejects_the_batch_axis_and_non_ints(axis):
    with pytest.raises(ValueError, match="`axis` of Concatenate"):
        layers.Concatenate(axis=axis)


def test_concatenate_repr_shows_only_a_non_default_axis():
    assert repr(layers.Concatenate(name="c")) == "Concatenate()"
    assert "axis=-1" in repr(layers.Concatenate(axis=-1))
