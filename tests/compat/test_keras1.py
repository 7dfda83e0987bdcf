"""lamina.compat.keras1: each Keras 1 constructor against PyTorch's module with the same
weights, the initializers against their formulas, the optimizers against Keras 1's update
rule written out, and the Keras 1 model surface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import lamina as lm
from lamina.compat import keras1 as k1


def _same_outputs_and_grads(layer, reference: nn.Module, x: torch.Tensor) -> None:
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    y1, y2 = layer(x1), reference(x2)
    torch.testing.assert_close(y1, y2, atol=1e-6, rtol=1e-5)
    y1.square().sum().backward()
    y2.square().sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=1e-5)
    for p1, p2 in zip(layer.parameters(), reference.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("border_mode, subsample", [("valid", (2, 1)), ("same", (1, 1))])
def test_convolution2d_is_torch_conv2d_with_an_nb_row_by_nb_col_kernel(border_mode, subsample):
    conv = k1.Convolution2D(4, 3, 5 if border_mode == "valid" else 3, border_mode=border_mode,
                            subsample=subsample, init="he_normal", activation="relu",
                            input_shape=(2, 9, 8))
    conv.build((2, 9, 8))
    kernel = tuple(conv.kernel_size)
    padding = 0 if border_mode == "valid" else 1
    ref = nn.Sequential(nn.Conv2d(2, 4, kernel, stride=subsample, padding=padding), nn.ReLU())
    with torch.no_grad():
        ref[0].weight.copy_(conv.weight)
        ref[0].bias.copy_(torch.randn(4))
        conv.bias.copy_(ref[0].bias)
    _same_outputs_and_grads(conv, ref, torch.randn(3, 2, 9, 8))
    assert conv.declared_input_shape == (2, 9, 8)


def test_dense_is_torch_linear():
    dense = k1.Dense(5, init="lecun_uniform", activation="tanh", input_dim=3)
    dense.build((3,))
    ref = nn.Sequential(nn.Linear(3, 5), nn.Tanh())
    with torch.no_grad():
        ref[0].weight.copy_(dense.weight)
        ref[0].bias.copy_(torch.randn(5))
        dense.bias.copy_(ref[0].bias)
    _same_outputs_and_grads(dense, ref, torch.randn(4, 3))
    assert dense.declared_input_shape == (3,)
    assert k1.Dense(2, bias=False, input_shape=(3,)).use_bias is False


@pytest.mark.parametrize("factory, reference", [
    (lambda: k1.MaxPooling2D(pool_size=(2, 2)), nn.MaxPool2d(2)),
    (lambda: k1.MaxPooling2D(pool_size=(3, 2), strides=(1, 2)), nn.MaxPool2d((3, 2), (1, 2))),
    (lambda: k1.AveragePooling2D(pool_size=(2, 2)), nn.AvgPool2d(2)),
    (lambda: k1.Flatten(), nn.Flatten()),
    (lambda: k1.Activation("softmax"), nn.Softmax(dim=1)),
    (lambda: k1.Activation("linear"), nn.Identity()),
    (lambda: k1.Reshape((3, 64)), nn.Unflatten(1, (3, 64))),
])
def test_parameter_free_layers_match_torch(factory, reference):
    x = torch.randn(2, 3, 8, 8)
    if isinstance(reference, (nn.Softmax, nn.Unflatten)):
        x = x.flatten(1)[:, :192] if isinstance(reference, nn.Unflatten) else x[:, :, 0, 0]
    _same_outputs_and_grads(factory(), reference, x)


def test_dropout_p_is_the_fraction_dropped():
    drop = k1.Dropout(0.25)
    x = torch.ones(20000)[None]
    drop.train()
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.25) < 0.02
    assert torch.allclose(y[y != 0], torch.tensor(1 / 0.75))
    drop.eval()
    assert torch.equal(drop(x), x)


@pytest.mark.parametrize("init, fans, check", [
    ("lecun_uniform", (300, 8), lambda w, i, o: w.abs().max() <= math.sqrt(3 / i)),
    ("glorot_uniform", (300, 8), lambda w, i, o: w.abs().max() <= math.sqrt(6 / (i + o))),
    ("he_uniform", (300, 8), lambda w, i, o: w.abs().max() <= math.sqrt(6 / i)),
    ("uniform", (300, 8), lambda w, i, o: w.abs().max() <= 0.05),
    # Keras 1's normal schemes do not truncate: some draws lie beyond 2 standard deviations
    ("he_normal", (300, 400), lambda w, i, o: abs(w.std() - math.sqrt(2 / i)) < 2e-3
     and w.abs().max() > 2.5 * math.sqrt(2 / i)),
    ("glorot_normal", (300, 400), lambda w, i, o: abs(w.std() - math.sqrt(2 / (i + o))) < 2e-3),
    ("normal", (300, 400), lambda w, i, o: abs(w.std() - 0.05) < 2e-3),
    ("zero", (3, 2), lambda w, i, o: w.abs().max() == 0),
])
def test_keras1_inits_follow_keras1_formulas(init, fans, check):
    fan_in, units = fans
    dense = k1.Dense(units, init=init, input_dim=fan_in)
    dense.build((fan_in,))
    assert check(dense.weight.detach(), fan_in, units)


def test_orthogonal_init_has_keras1_gain():
    w = lm.initializers.get(k1.initializers.get("orthogonal"))(torch.empty(6, 6))
    torch.testing.assert_close(w @ w.T, 1.21 * torch.eye(6), atol=1e-5, rtol=0)


def test_unsupported_keras1_arguments_raise_with_a_fix():
    with pytest.raises(ValueError, match="Unknown Keras 1 `init`"):
        k1.Dense(2, init="glorot_unifrom")
    with pytest.raises(ValueError, match="channels-first"):
        k1.Convolution2D(2, 3, 3, dim_ordering="tf")
    with pytest.raises(ValueError, match="set_weights"):
        k1.Dense(2, weights=[np.zeros((2, 2)), np.zeros(2)])
    with pytest.raises(TypeError, match="unexpected arguments"):
        k1.Dense(2, output_shape=(2,))


def _keras1_sgd_reference(w0, grads, lr, momentum, decay, nesterov):
    """Keras 1's SGD written out: lr_t = lr / (1 + decay t); v = m v - lr_t g; w += v
    (Nesterov: w += m v - lr_t g)."""
    w, v = w0.copy(), np.zeros_like(w0)
    for t, g in enumerate(grads):
        lr_t = lr / (1 + decay * t)
        v = momentum * v - lr_t * g
        w = w + (momentum * v - lr_t * g if nesterov else v)
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_decay_and_momentum_follow_keras1(nesterov):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=4)
    grads = [rng.normal(size=4) for _ in range(5)]
    param = nn.Parameter(torch.tensor(w0))
    opt = k1.SGD(lr=0.1, momentum=0.8, decay=0.5, nesterov=nesterov)
    opt.bind([param])
    for g in grads:
        param.grad = torch.tensor(g)
        opt.step()
    expected = _keras1_sgd_reference(w0, grads, 0.1, 0.8, 0.5, nesterov)
    np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-12)
    assert opt.iterations == 5
    again = k1.SGD.from_config(opt.get_config())
    assert (again.lr, again.decay, again.get_config()["momentum"]) == (0.1, 0.5, 0.8)


def test_adam_names_and_defaults_are_keras1s():
    opt = k1.optimizers.get("adam")
    assert isinstance(opt, k1.Adam) and opt.get_config()["epsilon"] == 1e-8
    with pytest.raises(ValueError, match="decay"):
        k1.Adam(decay=-1.0)


def test_to_categorical_matches_indexing_an_identity():
    y = np.array([3, 0, 2, 2])
    np.testing.assert_array_equal(k1.np_utils.to_categorical(y, 5), np.eye(5)[y])
    assert k1.np_utils.to_categorical(y).shape == (4, 4)
    with pytest.raises(ValueError, match="nb_classes"):
        k1.np_utils.to_categorical(y, 3)


def _blobs(n=64):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = (np.eye(3)[y] * 3 + rng.normal(size=(n, 3)) * 0.3).astype(np.float32)
    return x, y


def test_keras1_sequential_fits_evaluates_and_predicts_classes_like_keras1():
    x, y = _blobs()
    model = k1.Sequential()
    model.add(k1.Dense(8, input_dim=3))
    model.add(k1.Activation("relu"))
    model.add(k1.Dense(3, init="lecun_uniform"))
    model.add(k1.Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=k1.SGD(lr=0.5),
                  metrics=["accuracy"])
    history = model.fit(x, k1.np_utils.to_categorical(y, 3), batch_size=16, nb_epoch=3,
                        verbose=0, validation_split=0.25)
    assert len(history.history["acc"]) == 3 and "val_acc" in history.history
    loss, acc = model.evaluate(x, k1.np_utils.to_categorical(y, 3), verbose=0)
    classes = model.predict_classes(x, verbose=0)
    np.testing.assert_array_equal(classes, model.predict(x).argmax(1))
    assert acc == pytest.approx(float(np.mean(classes == y)))
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, y, nb_epoch=1, epochs=1)


def test_predict_classes_thresholds_a_single_sigmoid_unit():
    model = k1.Sequential([k1.Dense(1, input_dim=1, activation="sigmoid")])
    model.set_weights([np.ones((1, 1)), np.zeros(1)])
    x = np.array([[-2.0], [0.5], [3.0]], dtype=np.float32)
    np.testing.assert_array_equal(model.predict_classes(x, verbose=0).ravel(), [0, 1, 1])


def test_keras1_functional_model_and_save_load(tmp_path):
    x, y = _blobs()
    inp = k1.Input(shape=(3,))
    out = k1.Dense(3, activation="softmax")(k1.Dense(6, activation="tanh")(inp))
    model = k1.Model(input=inp, output=out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, nb_epoch=1, batch_size=16, verbose=0)
    path = tmp_path / "k1.lamina"
    model.save(path)
    np.testing.assert_allclose(lm.load_model(path).predict(x), model.predict(x), rtol=1e-6)


def test_swap_imports_rewrites_keras_imports_only():
    source = ("import keras\nimport keras.backend as K\n    from keras.layers.core import Dense\n"
              "from kerasx import y\nx = 'from keras import z'\n")
    assert k1.swap_imports(source).splitlines() == [
        "import lamina.compat.keras1 as keras", "import lamina.compat.keras1 as K",
        "    from lamina.compat.keras1 import Dense", "from kerasx import y",
        "x = 'from keras import z'"]
