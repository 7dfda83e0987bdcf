"""GradientStats: per-layer gradient and weight norms per epoch, and their plot."""

import math

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.callbacks import GradientStats, LambdaCallback


def _model():
    lm.set_seed(0)
    model = lm.Sequential([layers.Dense(6, activation="sigmoid", name="d1"),
                           layers.Dense(5, activation="sigmoid", name="d2"),
                           layers.Dense(3, name="d3")], input_shape=(4,))
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1), loss="mse")
    return model


def _norm(tensors):
    return math.sqrt(sum(float(t.detach().square().sum()) for t in tensors))


def test_norms_equal_a_per_batch_hand_computation():
    model = _model()
    seen = []  # per epoch, per batch: each layer's gradient norm, read with .item() here
    by_hand = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append([]),
        on_train_batch_end=lambda batch, logs: seen[-1].append(
            [_norm([layer.weight.grad, layer.bias.grad]) for layer in model.layers]))
    stats = GradientStats()
    x, y = torch.randn(50, 4), torch.randn(50, 3)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[stats, by_hand])
    assert stats.layers == ["d1", "d2", "d3"]
    for epoch in range(2):
        for i, name in enumerate(stats.layers):
            mean = sum(batch[i] for batch in seen[epoch]) / len(seen[epoch])
            assert stats.history[f"grad_norm/{name}"][epoch] == pytest.approx(mean, rel=1e-5)
            assert history[f"grad_norm/{name}"][epoch] == stats.history[f"grad_norm/{name}"][epoch]
    for layer in model.layers:  # weight norms at the end of the last epoch
        assert history[f"weight_norm/{layer.name}"][-1] == pytest.approx(
            _norm([layer.weight, layer.bias]), rel=1e-5)
    assert stats.gradient_ratio() == pytest.approx(
        stats.history["grad_norm/d1"][-1] / stats.history["grad_norm/d3"][-1])


def test_log_false_keeps_the_history_clean_and_state_round_trips():
    model = _model()
    stats = GradientStats(log=False)
    history = model.fit(torch.randn(20, 4), torch.randn(20, 3), batch_size=8, epochs=1,
                        verbose=0, callbacks=[stats])
    assert not any("_norm/" in k for k in history.history)
    assert len(stats.history["grad_norm/d2"]) == 1
    again = GradientStats()
    again.set_model(model)
    again.on_train_begin()
    again.load_state_dict(stats.state_dict())
    assert again.history == stats.history
    with pytest.raises(TypeError, match="log"):
        GradientStats(log="yes")


def test_frozen_layers_are_left_out():
    model = _model()
    model.layers[0].trainable = False
    stats = GradientStats()
    model.fit(torch.randn(8, 4), torch.randn(8, 3), batch_size=4, epochs=1, verbose=0,
              callbacks=[stats])
    assert stats.layers == ["d2", "d3"]


def test_gradient_norms_figure_from_history_callback_and_comparison(tmp_path):
    model = _model()
    stats = GradientStats()
    history = model.fit(torch.randn(20, 4), torch.randn(20, 3), batch_size=8, epochs=2,
                        verbose=0, callbacks=[stats])
    fig = lm.viz.gradient_norms(history)
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == pytest.approx(
        [stats.history[f"grad_norm/{n}"][-1] for n in stats.layers])
    path = tmp_path / "g.png"
    fig = lm.viz.gradient_norms({"a": stats, "b": history}, epoch=0, path=str(path))
    assert len(fig.axes[0].lines) == 2 and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="GradientStats"):
        lm.viz.gradient_norms({"loss": [1.0]})
