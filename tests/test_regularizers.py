"""Weight and activity penalties: closed forms, the cost fit minimizes, and the logs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina import layers, regularizers


def test_penalties_match_the_decks_formula():
    w = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    assert regularizers.l1(0.1)(w).item() == pytest.approx(0.1 * 3.5)
    assert regularizers.l2(0.1)(w).item() == pytest.approx(0.1 * 5.25)
    assert regularizers.l1_l2(0.1, 0.2)(w).item() == pytest.approx(0.35 + 0.2 * 5.25)
    with pytest.raises(ValueError, match=">= 0"):
        regularizers.l2(-1.0)
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.get("l3")


def test_one_step_minimizes_loss_plus_beta_sum_w_squared():
    """K = loss + beta * sum W^2: one SGD step equals torch's step on that cost."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    model = lm.Sequential([layers.Dense(2, activation="softmax",
                                        kernel_regularizer=regularizers.l2(0.05))],
                          input_shape=(3,))
    w0, b0 = model.layers[0].weight.detach().clone(), model.layers[0].bias.detach().clone()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    data_loss = F.cross_entropy(F.linear(x, w, b), y)
    penalty = 0.05 * w.square().sum()
    (data_loss + penalty).backward()
    torch.testing.assert_close(model.layers[0].weight.detach(), w0 - 0.1 * w.grad)
    assert history.history["reg_loss"][0] == pytest.approx(penalty.item(), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx((data_loss + penalty).item(), rel=1e-5)


def test_evaluate_reports_the_penalty_of_the_current_weights():
    model = lm.Sequential([layers.Dense(2, kernel_regularizer="l1", bias_regularizer="l2")],
                          input_shape=(3,))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.rand(10, 3), np.random.rand(10, 2)
    scores = model.evaluate(x, y)
    layer = model.layers[0]
    expected = 0.01 * layer.weight.abs().sum() + 0.01 * layer.bias.square().sum()
    assert scores["reg_loss"] == pytest.approx(expected.item(), rel=1e-5)
    with torch.no_grad():
        mse = F.mse_loss(model(torch.tensor(x, dtype=torch.float32)),
                         torch.tensor(y, dtype=torch.float32))
    assert scores["loss"] == pytest.approx(mse.item() + expected.item(), rel=1e-5)


def test_activity_regularizer_penalizes_outputs_per_sample():
    torch.manual_seed(0)
    layer = layers.Dense(4, activation="relu", activity_regularizer=regularizers.l1(0.5))
    out = layer(torch.randn(6, 3))
    assert layer.activity_loss.item() == pytest.approx(0.5 * out.abs().sum().item() / 6)
    layer.eval()
    layer.activity_loss = None
    layer(torch.randn(6, 3))
    assert layer.activity_loss is None  # only while training


def test_activity_penalty_is_logged_in_fit():
    model = lm.Sequential([layers.Dense(4, activation="relu",
                                        activity_regularizer=regularizers.l2(0.1)),
                           layers.Dense(1)], input_shape=(3,))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.random.rand(20, 3), np.random.rand(20, 1), epochs=1, verbose=0)
    assert history.history["reg_loss"][0] > 0


def test_regularizers_survive_save_and_load(tmp_path):
    model = lm.Sequential([layers.Conv2D(2, 3, kernel_regularizer=regularizers.l1_l2(0.1, 0.2)),
                           layers.Flatten(), layers.Dense(2, bias_regularizer="l2")],
                          input_shape=(1, 5, 5))
    model.save(tmp_path / "m.lamina")
    loaded = lm.load_model(tmp_path / "m.lamina")
    reg = loaded.layers[0].kernel_regularizer
    assert (reg.l1, reg.l2) == (0.1, 0.2)
    assert loaded.layers[2].bias_regularizer.l2 == 0.01
