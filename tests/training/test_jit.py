"""compile(jit=True): torch.compile'd steps give the eager results; failures fall back."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.errors import LaminaWarning
from lamina.fast import policy, rewrites
from lamina.fast.plan import Settings, plan_for
from lamina.fast.steps import ForwardGraph, WholeStep


def train(jit):
    torch.manual_seed(0)
    x = np.random.default_rng(0).random((96, 1, 12, 12)).astype(np.float32)
    y = np.arange(96) % 3
    # a 5x5 kernel on one channel: the compiled step goes through conv2d_correlation_grad too
    model = lm.Sequential([lm.layers.Conv2D(4, 5, activation="relu"), lm.layers.MaxPool2D(2),
                           lm.layers.Flatten(), lm.layers.Dense(3, activation="softmax")],
                          input_shape=(1, 12, 12))
    model.compile(optimizer=lm.optimizers.SGD(lr=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit=jit)
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    return model, history


@pytest.mark.slow
def test_jit_matches_eager():
    eager, h_eager = train(False)
    compiled, h_jit = train(True)
    for key, value in eager.state_dict().items():
        torch.testing.assert_close(compiled.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h_jit.history["loss"], h_eager.history["loss"], rtol=1e-4)


def test_compile_failure_falls_back_to_eager_with_a_warning(monkeypatch):
    def broken_compile(fn, *args, **kwargs):
        def run(*a, **k):
            raise RuntimeError("backend exploded")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager, h_eager = train(False)
    with pytest.warns(LaminaWarning, match="backend exploded"):
        fallback, h_fallback = train(True)
    assert h_fallback.history == h_eager.history


def test_partial_last_batch_runs_eagerly_instead_of_recompiling(monkeypatch):
    compiled_sizes = []

    def recording_compile(fn, *args, **kwargs):
        def run(x, y):
            compiled_sizes.append(x.shape[0])
            return fn(x, y)
        return run

    monkeypatch.setattr(torch, "compile", recording_compile)
    model = lm.Sequential([lm.layers.Dense(3)], input_shape=(4,))
    model.compile(optimizer="sgd", loss="mse", jit=True)
    x = np.zeros((80, 4), np.float32)
    model.fit(x, np.zeros((80, 3), np.float32), batch_size=32, epochs=2, verbose=0)
    # SGD's update traces into the step: the first step runs eagerly (it creates the
    # optimizer's state), the two batches of 16 too
    assert compiled_sizes == [32, 32, 32]


def test_narrow_conv_nets_compile_channels_first_on_the_cpu(monkeypatch):
    options = []

    def recording_compile(fn, *args, **kwargs):
        options.append(kwargs.get("options"))
        return fn

    monkeypatch.setattr(torch, "compile", recording_compile)
    x, y = np.zeros((8, 1, 28, 28), np.float32), np.zeros(8, np.int64)
    for model in (lm.zoo.LeNet5(), lm.zoo.ResNet(20, num_classes=10, input_shape=(1, 28, 28))):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit=True)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert options == [{"layout_optimization": False}, None]  # LeNet-5 has 6 maps first


def _whole_step_model():
    layers = lm.layers
    return lm.Sequential([
        layers.Flatten(), layers.Dense(16, kernel_regularizer=lm.regularizers.l2(1e-3)),
        layers.BatchNormalization(), layers.Activation("relu"),
        layers.Dense(8, activation="relu", activity_regularizer=lm.regularizers.l1(1e-3)),
        layers.Dense(3, activation="softmax")], input_shape=(1, 8, 8))


def _fit_whole_step(jit):
    lm.set_seed(0)
    x = np.random.default_rng(1).random((64, 1, 8, 8)).astype(np.float32)
    y = np.arange(64) % 3
    model = _whole_step_model()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True,
                                              clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit=jit)
    halve = lm.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / 2 ** epoch)
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                        callbacks=[halve])
    return model, history


def test_whole_step_matches_eager_and_a_new_rate_does_not_recompile():
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    eager, h_eager = _fit_whole_step(False)
    compiled, h_jit = _fit_whole_step(True)
    # forward, backward (penalties, batch-norm statistics) and SGD's update in one graph,
    # compiled once although the schedule set three learning rates
    assert isinstance(compiled._trainer.compiled_step, WholeStep)
    assert compiled._trainer.compiled_step.compiled is not None
    assert counters["stats"]["unique_graphs"] == 1
    assert sum(counters["graph_break"].values()) == 0
    assert compiled.optimizer.param_groups[0]["lr"] == 0.025  # the float is back
    for key, value in eager.state_dict().items():
        torch.testing.assert_close(compiled.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    for key in ("loss", "reg_loss", "accuracy"):
        np.testing.assert_allclose(h_jit.history[key], h_eager.history[key], rtol=1e-4)


def test_whole_step_failure_falls_back_to_the_forward_graph(monkeypatch):
    calls = []

    def broken_whole_step(self, x, y):
        calls.append(x.shape[0])
        raise RuntimeError("cannot trace this optimizer")

    monkeypatch.setattr(WholeStep, "step", broken_whole_step)
    eager, h_eager = _fit_whole_step(False)
    with pytest.warns(LaminaWarning, match="cannot trace this optimizer"):
        fallback, h_fallback = _fit_whole_step(True)
    assert calls == [16]  # tried once, then the forward-only graph
    assert fallback._trainer.compiled_step.fallback.compiled is not None
    np.testing.assert_allclose(h_fallback.history["loss"], h_eager.history["loss"], rtol=1e-4)


def test_conv_nets_and_layers_with_their_own_backward_keep_the_forward_graph(monkeypatch):
    # convolutions dominate such steps; and torch.compile drops an autograd.Function's
    # backward inside torch.func.grad
    compiled = []

    def recording_compile(fn, *args, **kwargs):
        compiled.append(fn.__name__)
        return fn

    monkeypatch.setattr(torch, "compile", recording_compile)
    with policy.emulate("AVX2"):
        model, _ = train(True)  # a one-channel 5x5 Conv2D and a tiling MaxPool2D
        plan = plan_for(model, torch.device("cpu"), Settings(jit=True, channels_last=False),
                        training=True)
    assert {r.function for r in plan.rewrites} >= set(rewrites.OWN_BACKWARD)
    assert isinstance(model._trainer.compiled_step, ForwardGraph)
    net = lm.Sequential([lm.layers.MaxPool2D(3, strides=2), lm.layers.Flatten(),
                         lm.layers.Dense(3)], input_shape=(1, 8, 8))
    conv = lm.Sequential([lm.layers.Conv2D(4, 3), lm.layers.Flatten(), lm.layers.Dense(3)],
                         input_shape=(1, 8, 8))
    x, y = np.zeros((8, 1, 8, 8), np.float32), np.zeros((8, 3), np.float32)
    for m in (net, conv):
        m.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9), loss="mse", jit=True)
        m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert compiled == ["forward_loss", "step", "forward_loss"]


def test_freezing_a_layer_between_fits_retraces_the_whole_step(monkeypatch):
    traced = []

    def recording_compile(fn, *args, **kwargs):
        traced.append(fn)
        return fn

    monkeypatch.setattr(torch, "compile", recording_compile)
    model = lm.Sequential([lm.layers.Dense(4, activation="relu"), lm.layers.Dense(2)],
                          input_shape=(3,))
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9), loss="mse", jit=True)
    x, y = np.ones((16, 3), np.float32), np.zeros((16, 2), np.float32)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    first = model.layers[0].weight.detach().clone()
    model.layers[0].weight.requires_grad_(False)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert len(traced) == 2  # traced again without the frozen weight
    torch.testing.assert_close(model.layers[0].weight, first, rtol=0, atol=0)


def test_whole_step_keeps_each_parameter_groups_rate(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, *args, **kwargs: fn)  # the step, traced
    x = np.random.default_rng(2).random((32, 3)).astype(np.float32)
    y = np.random.default_rng(3).random((32, 2)).astype(np.float32)
    models = []
    for jit in (False, True):
        torch.manual_seed(0)
        model = lm.Sequential([lm.layers.Dense(4, activation="tanh"), lm.layers.Dense(2)],
                              input_shape=(3,))
        first, second = model.layers
        opt = lm.optimizers.SGD(lr=0.1, momentum=0.9).bind(
            [{"params": first.parameters(), "lr": 0.01}, {"params": second.parameters()}])
        model.compile(optimizer=opt, loss="mse", jit=jit)
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]  # floats again
        models.append(model)
    assert isinstance(models[1]._trainer.compiled_step, WholeStep)
    for key, value in models[0].state_dict().items():
        torch.testing.assert_close(models[1].state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_whole_step_trains_a_functional_model_with_a_skip(monkeypatch):
    # its layers sit under the child "layers" while `model.layers` is a list
    monkeypatch.setattr(torch, "compile", lambda fn, *args, **kwargs: fn)
    layers = lm.layers
    x = np.random.default_rng(0).random((32, 6)).astype(np.float32)
    y = np.arange(32) % 3
    runs = []
    for jit in (False, True):
        torch.manual_seed(0)
        inputs = lm.Input(shape=(6,))
        h = layers.Add()([layers.Dense(6, activation="relu")(inputs), inputs])
        model = lm.Model(inputs=inputs, outputs=layers.Dense(3, activation="softmax")(h))
        model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy", jit=jit)
        runs.append((model, model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)))
    (eager, h_eager), (compiled, h_jit) = runs
    assert isinstance(compiled._trainer.compiled_step, WholeStep)
    np.testing.assert_allclose(h_jit.history["loss"], h_eager.history["loss"], rtol=1e-5)
    for a, b in zip(compiled.parameters(), eager.parameters(), strict=True):  # auto-names differ
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
