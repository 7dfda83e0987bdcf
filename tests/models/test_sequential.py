"""Sequential: eager build, add/pop, summary, lazy build, plain nn.Module use."""

import numpy as np
import pytest
import torch
from torch import nn

import lamina as lm
from lamina import layers
from lamina.errors import NotBuiltError


def test_eager_build_records_shapes_and_counts():
    model = lm.Sequential([layers.Flatten(), layers.Dense(5, activation="relu"), layers.Dense(2)],
                          input_shape=(2, 3))
    assert model.built and model.output_shape == (2,)
    assert [layer.output_shape for layer in model.layers] == [(6,), (5,), (2,)]
    assert model.count_params() == (6 * 5 + 5) + (5 * 2 + 2)


def test_summary_lists_layers_shapes_and_totals():
    model = lm.Sequential([layers.Dense(4, name="hidden"), layers.Dropout(0.5),
                           layers.BatchNorm(name="bn")], input_shape=(3,))
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "hidden (Dense)" in text and "(N, 4)" in text
    assert "Total params: 24" in text          # 16 (dense) + 8 (gamma, beta)
    assert "Trainable params: 24" in text and "Non-trainable params: 0" in text


def test_summary_counts_frozen_parameters_as_non_trainable():
    model = lm.Sequential([layers.Dense(4), layers.Dense(2)], input_shape=(3,))
    for p in model.layers[0].parameters():
        p.requires_grad_(False)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 10" in lines[0] and "Non-trainable params: 16" in lines[0]


def test_unbuilt_summary_and_count_params_say_how_to_build():
    model = lm.Sequential([layers.Dense(3)])
    with pytest.raises(NotBuiltError, match="input_shape"):
        model.count_params()
    with pytest.raises(NotBuiltError, match="input_shape"):
        model.summary()


def test_lazy_build_on_first_call_then_plain_module():
    model = lm.Sequential([layers.Dense(3), layers.Dense(1)])
    y = model(torch.ones(4, 7))
    assert y.shape == (4, 1) and model.layers[0].weight.shape == (3, 7)
    # a lamina model is a plain nn.Module: a hand-written torch step works on it
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.layers[0].weight.detach().clone()
    model(torch.randn(4, 7)).pow(2).mean().backward()
    opt.step()
    assert not torch.equal(before, model.layers[0].weight)


def test_add_and_pop_rebuild():
    model = lm.Sequential(input_shape=(4,))
    model.add(layers.Dense(3))
    model.add(layers.Dense(2))
    assert model.output_shape == (2,) and len(model) == 2
    last = model.pop()
    assert isinstance(last, layers.Dense) and model.output_shape == (3,)
    with pytest.raises(ValueError, match="no layer to pop"):
        lm.Sequential().pop()


def test_plain_torch_module_as_a_layer():
    model = lm.Sequential([layers.Dense(4), nn.ReLU(), layers.Dense(2)], input_shape=(3,))
    assert model.output_shape == (2,)
    assert model(torch.ones(5, 3)).shape == (5, 2)


def test_passing_a_class_instead_of_an_instance_is_explained():
    with pytest.raises(TypeError, match=r"Flatten\(\)"):
        lm.Sequential([layers.Flatten])


def test_mismatched_stack_names_the_layer_at_build():
    with pytest.raises(ValueError, match="conv2d_bad"):
        lm.Sequential([layers.Dense(3), layers.Conv2D(4, 3, name="conv2d_bad")],
                      input_shape=(5,))


def test_nested_sequential():
    inner = lm.Sequential([layers.Dense(4, activation="tanh")])
    model = lm.Sequential([inner, layers.Dense(2)], input_shape=(3,))
    assert model.output_shape == (2,)
    assert model.count_params() == 16 + 10


def test_forward_logits_strips_only_the_final_activation():
    model = lm.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3,
                           activation="softmax")], input_shape=(2,))
    x = torch.randn(5, 2)
    assert model.output_activation_name() == "softmax"
    torch.testing.assert_close(torch.softmax(model.forward_logits(x), -1), model(x))
    sep = lm.Sequential([layers.Dense(3), layers.Activation("sigmoid")], input_shape=(2,))
    torch.testing.assert_close(torch.sigmoid(sep.forward_logits(x)), sep(x))
    assert lm.Sequential([layers.Dense(3)], input_shape=(2,)).output_activation_name() == \
        "identity"


def test_predict_without_compile_returns_numpy():
    model = lm.Sequential([layers.Dense(2, activation="softmax")], input_shape=(3,))
    out = model.predict(np.ones((4, 3)))
    assert isinstance(out, np.ndarray) and out.shape == (4, 2)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)
