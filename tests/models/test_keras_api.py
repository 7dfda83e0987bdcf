"""Keras's weight-list and one-batch utilities (lamina.models.keras_api) and
``summary(show_trainable=True)``, checked against hand computations in torch."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina import layers
from lamina.errors import NotBuiltError


def _net(seed: int = 0) -> lm.Sequential:
    torch.manual_seed(seed)
    return lm.Sequential([layers.Dense(5, activation="relu"), layers.BatchNormalization(),
                          layers.Dense(3, activation="softmax")], input_shape=(4,))


def _batch(n: int = 8):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_get_weights_lists_each_layers_kernel_bias_then_state_in_order():
    net = _net()
    weights = net.get_weights()
    assert [w.shape for w in weights[:2]] == [(5, 4), (5,)]
    assert [w.shape for w in weights[-2:]] == [(3, 5), (3,)]
    for w, (key, t) in zip(weights, net.state_dict().items()):
        np.testing.assert_array_equal(w, t.cpu().numpy(), err_msg=key)
    weights[0][:] = 123.0  # copies: the model does not change
    assert not np.any(net.get_weights()[0] == 123.0)


def test_set_weights_round_trip_gives_the_same_predictions():
    source, target = _net(0), _net(1)
    x, _ = _batch()
    assert not np.allclose(source.predict(x), target.predict(x))
    target.set_weights(source.get_weights())
    np.testing.assert_array_equal(target.predict(x), source.predict(x))
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_weights_checks_count_and_shapes_and_changes_nothing_on_error():
    net = _net()
    before = net.get_weights()
    wrong = [w.copy() for w in before]
    wrong[-2] = wrong[-2].T
    with pytest.raises(ValueError, match=r"weight 'layers\.2\.weight' has another shape.*"
                                         r"\(3, 5\).*\(5, 3\)"):
        net.set_weights(wrong)
    with pytest.raises(ValueError, match=f"{len(before)} arrays"):
        net.set_weights(before[:-1])
    with pytest.raises(TypeError, match="list of arrays"):
        net.set_weights(np.zeros(3))
    for a, b in zip(net.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NotBuiltError):
        lm.Sequential([layers.Dense(2)]).get_weights()


def _compiled(seed: int = 0, metrics=("accuracy",)) -> lm.Sequential:
    net = _net(seed)
    net.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return net


def test_train_on_batch_is_one_fit_step_and_returns_the_loss_before_it():
    x, y = _batch()
    a, b = _compiled(), _compiled()
    b.set_weights(a.get_weights())
    hand = copy.deepcopy(a)  # the loss by hand, in training mode (batch statistics)
    with torch.no_grad():
        hand.train()
        expected_loss = F.nll_loss(torch.log(hand(torch.from_numpy(x))), torch.from_numpy(y))
    loss, acc = a.train_on_batch(x, y)
    b.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert loss == pytest.approx(float(expected_loss), rel=1e-5)
    assert acc == pytest.approx(b.history.history["accuracy"][0])
    assert a.history is None  # train_on_batch leaves model.history alone


def test_train_on_batch_updates_as_plain_sgd_by_hand():
    x, y = _batch()
    net = lm.Sequential([layers.Dense(3, activation="softmax")], input_shape=(4,))
    net.compile(optimizer=lm.optimizers.SGD(lr=0.5), loss="sparse_categorical_crossentropy")
    w, b = (torch.tensor(t, requires_grad=True) for t in net.get_weights())
    F.cross_entropy(torch.from_numpy(x) @ w.T + b, torch.from_numpy(y)).backward()
    assert isinstance(net.train_on_batch(x, y), float)  # no metrics: the loss alone
    new_w, new_b = net.get_weights()
    np.testing.assert_allclose(new_w, (w - 0.5 * w.grad).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, (b - 0.5 * b.grad).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_test_on_batch_equals_evaluate_and_the_hand_computed_loss():
    x, y = _batch()
    net = _compiled()
    net.train_on_batch(x, y)
    logs = net.evaluate(x, y, batch_size=len(x))
    assert net.test_on_batch(x, y, return_dict=True) == logs
    loss, acc = net.test_on_batch(x, y)
    net.eval()
    with torch.no_grad():
        probs = net(torch.from_numpy(x))
    assert loss == pytest.approx(float(F.nll_loss(torch.log(probs), torch.from_numpy(y))),
                                 rel=1e-5)
    assert acc == pytest.approx(float((probs.argmax(1).numpy() == y).mean()))
    np.testing.assert_array_equal(net.predict_on_batch(x), net.predict(x))


def test_summary_show_trainable_marks_frozen_layers():
    net = _net()
    net.freeze(until=0)
    lines: list[str] = []
    net.summary(print_fn=lines.append, show_trainable=True)
    table = lines[0].splitlines()
    assert table[2].rstrip().endswith("Trainable")
    rows = [line for line in table if "(Dense)" in line or "(BatchNorm)" in line]
    assert [row.split()[-1] for row in rows] == ["N", "Y", "Y"]
    plain: list[str] = []
    net.summary(print_fn=plain.append)
    assert "Trainable  " not in plain[0].splitlines()[2]


def test_summary_show_trainable_on_a_graph_marks_inputs_and_partial_layers():
    x = lm.Input((3,), name="features")
    model = lm.Model(inputs=x, outputs=layers.Dense(2, name="head")(x))
    model.get_layer("head").bias.requires_grad_(False)
    lines: list[str] = []
    model.summary(print_fn=lines.append, show_trainable=True)
    rows = lines[0].splitlines()[4:6]
    assert rows[0].startswith("features") and rows[0].split()[-1] == "-"
    assert rows[1].startswith("head") and rows[1].split()[-1] == "partial"


def test_train_and_test_on_batch_take_sample_weights_as_fit_and_evaluate_do():
    x, y = _batch()
    w = np.linspace(0.0, 2.0, len(x)).astype(np.float32)
    a, b = _compiled(), _compiled()
    b.set_weights(a.get_weights())
    a.train_on_batch(x, y, sample_weight=w)
    b.fit(x, y, batch_size=len(x), shuffle=False, verbose=0, sample_weight=w)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    logs = a.evaluate(x, y, batch_size=len(x), sample_weight=w)
    assert a.test_on_batch(x, y, sample_weight=w, return_dict=True) == logs
