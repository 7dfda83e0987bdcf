"""A functional model's ``layers``: Keras's list to read, torch's named child to walk."""

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.models.layer_dict import LayerDict


def _model():
    x = lm.Input((4,))
    h = layers.Dense(3, activation="relu", name="hidden")(x)
    return lm.Model(x, layers.Dense(2, name="out")(h))


def test_layers_read_as_a_list_in_execution_order():
    model = _model()
    hidden, out = model.get_layer("hidden"), model.get_layer("out")
    assert list(model.layers) == [hidden, out]
    assert model.layers[0] is hidden and model.layers[-1] is out
    assert model.layers[:1] == [hidden]
    assert list(reversed(model.layers)) == [out, hidden]
    assert len(model.layers) == 2 and model.layers.index(out) == 1
    assert out in model.layers and "hidden" in model.layers and "nope" not in model.layers
    assert model.layers["out"] is out


def test_torch_reaches_the_layers_by_their_names():
    model = _model()
    assert model.get_submodule("layers.hidden") is model.get_layer("hidden")
    assert [name for name, _ in model.named_children()] == ["layers"]
    assert list(model.state_dict())[:2] == ["layers.hidden.weight", "layers.hidden.bias"]


def test_torch_export_runs_a_functional_model_as_it_is():
    model = _model().eval()
    x = torch.randn(5, 4)
    program = torch.export.export(model, (x,))
    torch.testing.assert_close(program.module()(x), model(x))


def test_index_of_a_stranger_says_so():
    with pytest.raises(ValueError, match="not one of this model's layers"):
        LayerDict({"a": layers.Dense(2)}).index(layers.Dense(2))
