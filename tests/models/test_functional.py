"""The functional API: lm.Input + lm.Model(inputs, outputs) against hand-written torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lamina as lm
from lamina import layers
from lamina.errors import LaminaWarning
from lamina.models.functional import Functional, SymbolicTensor
from tests.helpers import copy_params


def residual_model():
    x = lm.Input((2, 6, 6), name="image")
    h = layers.Conv2D(2, 3, padding="same", activation="relu", name="conv1")(x)
    h = layers.Conv2D(2, 3, padding="same", name="conv2")(h)
    h = layers.Add(name="skip")([x, h])
    y = layers.Dense(3, activation="softmax", name="head")(layers.Flatten(name="flat")(h))
    return lm.Model(inputs=x, outputs=y, name="resnetish")


def shared_model():
    """Two inputs through one shared Dense, merged; then a Dense head."""
    a, b = lm.Input((4,), name="a"), lm.Input((4,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    h = layers.Concatenate(name="cat")([shared(a), shared(b)])
    y = layers.Dense(2, name="head")(layers.Add(name="sum")([h, h]))
    return lm.Model(inputs=[a, b], outputs=y, name="siamese")


# -- independent truths ---------------------------------------------------------------------
def test_residual_model_equals_the_same_computation_by_hand():
    model = residual_model().double()
    c1, c2, head = (model.get_layer(n) for n in ("conv1", "conv2", "head"))
    x = torch.randn(5, 2, 6, 6, dtype=torch.float64)
    h = F.relu(F.conv2d(x, c1.weight, c1.bias, padding=1))
    h = x + F.conv2d(h, c2.weight, c2.bias, padding=1)
    expected = torch.softmax(F.linear(h.flatten(1), head.weight, head.bias), dim=1)
    torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)
    # the loss-fusion hooks split the final softmax off
    assert model.output_activation_name() == "softmax"
    torch.testing.assert_close(model.forward_logits(x),
                               F.linear(h.flatten(1), head.weight, head.bias),
                               rtol=1e-12, atol=1e-12)


def test_graph_equal_to_a_sequential_gives_identical_outputs():
    seq = lm.Sequential([layers.Conv2D(3, 3, activation="relu"), layers.MaxPool2D(2),
                         layers.Flatten(), layers.Dense(4, activation="softmax")],
                        input_shape=(1, 8, 8))
    x = h = lm.Input((1, 8, 8))
    twins = [layers.Conv2D(3, 3, activation="relu"), layers.MaxPool2D(2), layers.Flatten(),
             layers.Dense(4, activation="softmax")]
    for layer in twins:
        h = layer(h)
    model = lm.Model(inputs=x, outputs=h)
    for src, dst in zip(seq.layers, twins):
        copy_params(src, dst)
    data = torch.randn(7, 1, 8, 8)
    assert torch.equal(model(data), seq(data))
    assert torch.equal(model.forward_logits(data), seq.forward_logits(data))
    assert model.count_params() == seq.count_params()
    assert model.output_shape == seq.output_shape == (4,)


def test_shared_layer_has_one_set_of_weights_and_gradients_from_both_uses():
    model = shared_model()
    shared = model.get_layer("shared")
    assert [layer.name for layer in model.layers].count("shared") == 1
    assert model.count_params() == (4 * 4 + 4) + (8 * 2 + 2)
    assert sum(1 for k in model.state_dict() if k.startswith("layers.shared.")) == 2
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    model(a, b).sum().backward()
    # oracle: the same maths with one leaf weight used twice
    w = shared.weight.detach().clone().requires_grad_(True)
    bias = shared.bias.detach().clone().requires_grad_(True)
    head = model.get_layer("head")
    h = torch.cat([torch.tanh(F.linear(a, w, bias)), torch.tanh(F.linear(b, w, bias))], dim=1)
    F.linear(h + h, head.weight.detach(), head.bias.detach()).sum().backward()
    torch.testing.assert_close(shared.weight.grad, w.grad)
    torch.testing.assert_close(shared.bias.grad, bias.grad)
    # and it is the sum of both uses: one use alone gives a different gradient
    w1 = shared.weight.detach().clone().requires_grad_(True)
    F.linear(torch.cat([torch.tanh(F.linear(a, w1, bias.detach())),
                        torch.tanh(F.linear(b, w1.detach(), bias.detach()))], 1) * 2,
             head.weight.detach(), head.bias.detach()).sum().backward()
    assert not torch.allclose(w1.grad, w.grad)


def test_several_inputs_and_outputs():
    a, b = lm.Input((3,), name="a"), lm.Input((5,), name="b")
    h = layers.Concatenate(axis=-1)([a, layers.Dense(3)(b)])
    out1, out2 = layers.Dense(2, name="o1")(h), layers.Dense(1, name="o2")(h)
    model = lm.Model(inputs=[a, b], outputs=[out1, out2])
    xa, xb = torch.randn(4, 3), torch.randn(4, 5)
    y1, y2 = model(xa, xb)
    assert y1.shape == (4, 2) and y2.shape == (4, 1)
    assert all(torch.equal(u, v) for u, v in zip(model([xa, xb]), (y1, y2)))
    assert model.input_shape == [(3,), (5,)] and model.output_shape == [(2,), (1,)]
    p1, p2 = model.predict([xa.numpy(), xb.numpy()], batch_size=3)
    np.testing.assert_allclose(p1, y1.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(p2, y2.detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="needs 2 input arrays"):
        model.predict(xa.numpy())


def test_an_input_can_also_be_an_output():
    x = lm.Input((3,))
    model = lm.Model(inputs=x, outputs=[x, layers.Dense(2)(x)])
    data = torch.randn(2, 3)
    assert model(data)[0] is data and model.output_activation_name() is None


def test_models_nest_as_layers():
    inner_in = lm.Input((4,))
    inner = lm.Model(inputs=inner_in, outputs=layers.Dense(3, name="inner_d")(inner_in),
                     name="inner")
    stack = lm.Sequential([layers.Dense(4, name="seq_d")], input_shape=(4,), name="stack")
    x = lm.Input((4,))
    model = lm.Model(inputs=x, outputs=inner(stack(x)))
    data = torch.randn(2, 4)
    assert torch.equal(model(data), inner(stack(data)))
    assert model.count_params() == 20 + 15
    with pytest.raises(ValueError, match=r"Model 'inner' expects input of shape \(N, 4\)"):
        inner(lm.Input((5,)))


# -- training and saving through the existing trainer ---------------------------------------------
def test_fit_a_skip_model_decreases_the_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    inp = lm.Input((6,))
    h = layers.Dense(6, activation="tanh")(inp)
    y_prob = layers.Dense(2, activation="softmax")(layers.Add()([inp, h]))
    model = lm.Model(inputs=inp, outputs=y_prob)
    model.compile(optimizer=lm.optimizers.Adam(lr=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    assert model._trainer.forward == model.forward_logits     # softmax fused into the loss
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert model.evaluate(x, y)["accuracy"] > 0.8
    probs = model.predict(x)
    assert probs.shape == (64, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_predict_checks_the_input_shape_like_sequential():
    model = residual_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cpu")
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 2, 6, 6\)"):
        model.predict(np.zeros((2, 3, 6, 6), np.float32))


@pytest.mark.parametrize("make, data", [
    (residual_model, lambda: torch.randn(4, 2, 6, 6)),
    (shared_model, lambda: [torch.randn(4, 4), torch.randn(4, 4)]),
])
def test_save_load_round_trip_predicts_identically(tmp_path, make, data):
    model = make()
    x = data()
    path = tmp_path / "graph.lamina"
    model.save(path)
    loaded = lm.load_model(path)
    assert isinstance(loaded, Functional) and loaded.name == model.name
    assert loaded.get_config() == model.get_config()
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_save_load_keeps_a_shared_layer_shared(tmp_path):
    x = lm.Input((3,), name="x")
    d = layers.Dense(3, name="twice")
    model = lm.Model(inputs=x, outputs=d(layers.Add()([x, d(x)])))
    model.save(tmp_path / "m.lamina")
    loaded = lm.load_model(tmp_path / "m.lamina")
    nodes = loaded.get_config()["nodes"]
    assert [n["layer"] for n in nodes].count("twice") == 2
    assert nodes[-1]["inbound"] == [[nodes[1]["layer"], 0]]   # second call reads the Add
    data = torch.randn(2, 3)
    assert torch.equal(loaded(data), model(data))


# -- description --------------------------------------------------------------------------
def test_summary_has_a_connected_to_column():
    lines = []
    shared_model().summary(print_fn=lines.append)
    text = lines[0]
    assert "Connected to" in text
    rows = {line.split()[0]: line for line in text.splitlines()[4:]}
    assert rows["a"].rstrip().endswith("-")
    assert rows["shared"].rstrip().endswith("a, b")
    assert rows["cat"].rstrip().endswith("shared[0], shared[1]")
    assert "(N, 8)" in rows["cat"] and "Total params: 38" in text


def test_model_subclasses_and_wrap_still_work():
    class Net(lm.Model):
        def __init__(self):
            super().__init__(name="net")
            self.fc = layers.Dense(2)

        def forward(self, x):
            return self.fc(x)

    net = Net()
    assert type(net) is Net and net(torch.zeros(1, 3)).shape == (1, 2)
    assert type(lm.Model.wrap(nn.Linear(2, 2))).__name__ == "WrappedModel"
    assert type(lm.Model(name="plain")) is lm.Model


# -- errors --------------------------------------------------------------------------------
def test_disconnected_graph_names_the_missing_input():
    a, b = lm.Input((3,), name="a"), lm.Input((3,), name="b")
    y = layers.Add()([a, b])
    with pytest.raises(ValueError, match=r"depends on Input 'b'.*inputs=\['a'\]"):
        lm.Model(inputs=a, outputs=y)


def test_wrong_shape_on_a_symbolic_tensor_raises_lamina_message():
    x = lm.Input((5,), name="features")
    d = layers.Dense(2, name="fc")
    d(x)
    with pytest.raises(ValueError, match=r"'fc'.*last axis of size 5.*\(N, 7\).*'wide'"):
        d(lm.Input((7,), name="wide"))
    with pytest.raises(ValueError, match=r"'join' \(Add\).*\[\(N, 5\), \(N, 4\)\]"):
        layers.Add(name="join")([x, lm.Input((4,))])


def test_duplicate_layer_names_are_refused():
    x = lm.Input((3,))
    y = layers.Dense(3, name="same")(layers.Dense(3, name="same")(x))
    with pytest.raises(ValueError, match="two different layers or inputs named 'same'"):
        lm.Model(inputs=x, outputs=y)


def test_plain_torch_modules_and_ops_point_to_lamina_layers():
    x = lm.Input((3,))
    with pytest.raises(TypeError, match="lamina layer"):
        nn.Linear(3, 2)(x)
    with pytest.raises(TypeError, match="lamina layer"):
        torch.relu(x)
    with pytest.raises(AttributeError, match="lamina layer"):
        x.flatten()


def test_misuse_of_inputs_and_lists_is_explained():
    x = lm.Input((3,))
    h = layers.Dense(3)(x)
    with pytest.raises(TypeError, match=r"takes one tensor.*Concatenate"):
        layers.Dense(2)([x, h])
    with pytest.raises(TypeError, match="takes a list of tensors"):
        layers.Add()(x)
    with pytest.raises(TypeError, match="mixing symbolic tensors"):
        layers.Add()([x, torch.zeros(1, 3)])
    with pytest.raises(ValueError, match="must hold `lm.Input` tensors"):
        lm.Model(inputs=h, outputs=h)
    with pytest.raises(TypeError, match="`outputs`.*symbolic tensor"):
        lm.Model(inputs=x, outputs=torch.zeros(1))
    with pytest.raises(ValueError, match="positive ints"):
        lm.Input((None, 3))
    with pytest.raises(TypeError, match="takes 1 input tensor"):
        lm.Model(inputs=x, outputs=h)(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.warns(LaminaWarning, match="not used"):
        lm.Model(inputs=[x, lm.Input((2,), name="spare")], outputs=h)


def test_symbolic_tensor_repr_and_input_int_shape():
    x = lm.Input(6, name="v")
    assert isinstance(x, SymbolicTensor) and x.shape == (6,)
    assert repr(x) == "<SymbolicTensor 'v' shape=(N, 6)>"
