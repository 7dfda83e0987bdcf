"""compile / fit / evaluate / predict: behaviour checked against plain torch computations."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import lamina as lm
from lamina import layers
from lamina.callbacks import Callback


def blobs(n=300, classes=3, dim=4, seed=0):
    """Well separated Gaussian blobs: a problem any working classifier solves."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(classes, dim))
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.normal(0, 0.5, size=(n, dim))
    return x.astype(np.float64), y


def classifier(dim=4, classes=3):
    return lm.Sequential([layers.Dense(16, activation="relu"),
                          layers.Dense(classes, activation="softmax")], input_shape=(dim,))


def test_fit_learns_and_history_has_keras_keys():
    x, y = blobs()
    model = classifier()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=5, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 5 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.95
    assert model.history is history


def test_evaluate_matches_torch_cross_entropy_and_accuracy():
    x, y = blobs(n=97)
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    scores = model.evaluate(x, y, batch_size=10)
    with torch.no_grad():
        probs = model(torch.tensor(x, dtype=torch.float32))
    yt = torch.tensor(y)
    expected_loss = F.nll_loss(torch.log(probs), yt).item()
    expected_acc = (probs.argmax(1) == yt).float().mean().item()
    assert scores["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert scores["accuracy"] == pytest.approx(expected_acc)
    np.testing.assert_allclose(model.predict(x), probs.numpy(), rtol=1e-6)


def test_fused_softmax_cross_entropy_is_finite_for_huge_logits():
    model = lm.Sequential([layers.Dense(3, activation="softmax")], input_shape=(2,))
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.tensor([[1e4, 0.0], [-1e4, 0.0], [0.0, 1e4]]))
        model.layers[0].bias.zero_()
    model.compile(optimizer=lm.optimizers.SGD(lr=1e-6), loss="sparse_categorical_crossentropy")
    x = np.array([[1.0, 0.0], [1.0, 0.0]])
    y = np.array([1, 2])  # badly wrong: losses 2e4 and 1e4, which must stay finite
    loss = model.evaluate(x, y)["loss"]
    assert np.isfinite(loss) and loss == pytest.approx(1.5e4, rel=1e-3)
    model.fit(x, y, epochs=1, verbose=0)
    assert torch.isfinite(model.layers[0].weight).all()


def test_fused_sigmoid_binary_crossentropy_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    y = (x[:, 0] > 0).astype(np.float32)[:, None]
    model = lm.Sequential([layers.Dense(1, activation="sigmoid")], input_shape=(3,))
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    scores = model.evaluate(x, y)
    with torch.no_grad():
        p = model(torch.tensor(x, dtype=torch.float32))
    yt = torch.tensor(y)
    assert scores["loss"] == pytest.approx(F.binary_cross_entropy(p, yt).item(), rel=1e-5)
    assert scores["accuracy"] == pytest.approx(((p > 0.5).float() == yt).float().mean().item())


def test_argmax_metrics_skip_the_fused_softmax_and_others_still_get_probabilities():
    # accuracy reads each row's argmax, which the softmax keeps: fit skips computing it;
    # a metric that reads the values still receives probabilities
    seen = []

    class RowSum(lm.metrics.Metric):
        default_name = "row_sum"

        def update(self, y_pred, y_true):
            seen.append(y_pred.sum(1))
            self._accumulate(y_pred.sum(), y_pred.shape[0])

    x, y = blobs(n=64, classes=4)
    model = lm.Sequential([layers.Dense(4, activation="softmax")], input_shape=(4,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", RowSum()])
    scores = model.evaluate(x, y, batch_size=16)
    with torch.no_grad():
        logits = model.forward_logits(torch.tensor(x, dtype=torch.float32))
    assert scores["accuracy"] == pytest.approx(
        (logits.argmax(1) == torch.tensor(y)).float().mean().item())
    torch.testing.assert_close(torch.cat(seen), torch.ones(64))
    assert scores["row_sum"] == pytest.approx(1.0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    calls = []
    activation = model._trainer.accumulators.output_activation
    model._trainer.accumulators.output_activation = lambda t: calls.append(t) or activation(t)
    assert model.evaluate(x, y, batch_size=16)["accuracy"] == scores["accuracy"]
    assert calls == []


def test_validation_split_holds_out_the_last_samples():
    x, y = blobs(n=100)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    tail = model.evaluate(x[75:], y[75:])
    assert history.history["val_loss"][0] == pytest.approx(tail["loss"], rel=1e-5)


def test_validation_data_is_used():
    x, y = blobs(n=60)
    xv, yv = blobs(n=30, seed=1)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, validation_data=(xv, yv), verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(xv, yv)["loss"],
                                                           rel=1e-5)


def test_fit_is_reproducible_with_a_seed():
    x, y = blobs(n=64)

    def train():
        torch.manual_seed(3)
        model = classifier()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model.layers[0].weight.detach().clone()

    assert torch.equal(train(), train())


def test_one_epoch_equals_a_hand_written_torch_loop():
    """Same weights, same batches (no shuffle), same SGD: the same trained weights."""
    x, y = blobs(n=40)
    model = classifier()
    twin = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        twin[0].weight.copy_(model.layers[0].weight)
        twin[0].bias.copy_(model.layers[0].bias)
        twin[2].weight.copy_(model.layers[1].weight)
        twin[2].bias.copy_(model.layers[1].bias)
    model.compile(optimizer=lm.optimizers.SGD(lr=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    for i in range(0, 40, 8):
        opt.zero_grad()
        F.cross_entropy(twin(xt[i:i + 8]), yt[i:i + 8]).backward()
        opt.step()
    torch.testing.assert_close(model.layers[1].weight, twin[2].weight, rtol=1e-5, atol=1e-6)


def test_dropout_is_off_in_evaluate_and_predict():
    x, y = blobs(n=50)
    model = lm.Sequential([layers.Dense(32, activation="relu"), layers.Dropout(0.5),
                           layers.Dense(3, activation="softmax")], input_shape=(4,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.evaluate(x, y) == model.evaluate(x, y)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    assert model.training  # fit/evaluate/predict leave the mode as they found it


def test_inputs_are_cast_not_rescaled_and_not_modified():
    model = lm.Sequential([layers.Flatten(), layers.Dense(2)], input_shape=(2, 2))
    x8 = np.arange(8, dtype=np.uint8).reshape(2, 2, 2) * 30
    original = x8.copy()
    np.testing.assert_allclose(model.predict(x8), model.predict(x8.astype(np.float32)))
    np.testing.assert_array_equal(x8, original)


def test_torch_tensors_dataset_and_dataloader_are_accepted():
    x, y = blobs(n=64)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    for data in (TensorDataset(xt, yt), DataLoader(TensorDataset(xt, yt), batch_size=16)):
        model = classifier()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(data, epochs=2, batch_size=16, verbose=0)
        assert len(history.history["loss"]) == 2
        assert set(model.evaluate(data)) == {"loss", "accuracy"}
    model.fit(xt, yt, epochs=1, verbose=0)


def test_callbacks_see_keras_hooks_and_can_stop_training():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))
            if epoch == 1:
                self.model.stop_training = True

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch", batch))

        def on_train_end(self, logs=None):
            events.append("train_end")

    x, y = blobs(n=40)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=10, epochs=5, verbose=0, callbacks=[Recorder()])
    assert events[0] == "train_begin" and events[-1] == "train_end"
    assert [e[1] for e in events if e[0] == "batch"] == [0, 1, 2, 3] * 2
    assert ("epoch_end", 1, ["accuracy", "loss"]) in events
    assert len(history.epoch) == 2 and "epoch 2" in history.stop_reason


def test_batch_logs_are_running_means():
    seen = []

    class Peek(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(dict(logs))

    x, y = blobs(n=30)
    model = classifier()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.0), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0, callbacks=[Peek()])
    # lr=0: the weights do not move, so the running mean after all batches is the data loss
    assert seen[-1]["loss"] == pytest.approx(model.evaluate(x, y)["loss"], rel=1e-5)


def test_verbose_two_prints_one_line_per_epoch(capsys):
    x, y = blobs(n=40)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("Epoch 1/2") and "accuracy:" in out[1]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_wrapped_torch_module_gets_fit():
    x, y = blobs(n=80)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    model = lm.Model.wrap(net)
    model.compile(optimizer=lm.optimizers.Adam(lr=0.05),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert model.evaluate(x, y)["accuracy"] > 0.9


def test_history_plot_returns_a_figure():
    x, y = blobs(n=40)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fig = model.fit(x, y, epochs=2, validation_split=0.2, verbose=0).plot()
    assert len(fig.axes) == 2
    assert [len(line.get_xdata()) for line in fig.axes[0].lines] == [2, 2]


def test_keras_example_of_deck_001_runs():
    """Deck 001's Keras ConvNet, in lamina (one-hot targets, categorical cross-entropy)."""
    rng = np.random.default_rng(0)
    x_train = rng.random((64, 1, 12, 12)).astype(np.float32)
    y_train = np.eye(3)[rng.integers(0, 3, 64)]
    model = lm.Sequential()
    model.add(layers.Conv2D(4, 3, padding="valid"))
    model.add(layers.MaxPool2D(pool_size=(2, 2)))
    model.add(layers.Activation("relu"))
    model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    model.add(layers.Dense(16, kernel_initializer="lecun_uniform"))
    model.add(layers.Activation("sigmoid"))
    model.add(layers.Dense(3, kernel_initializer="lecun_uniform"))
    model.add(layers.Activation("softmax"))
    sgd = lm.optimizers.SGD(lr=0.05, momentum=0.8)
    model.compile(loss="categorical_crossentropy", optimizer=sgd)
    history = model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0,
                        validation_split=0.25)
    assert len(history.history["val_loss"]) == 2
    assert set(model.evaluate(x_train, y_train, verbose=0)) == {"loss"}


def test_augment_sees_training_batches_only():
    seen = []

    def flip(x):
        seen.append(x.shape[0])
        return x.flip(-1)

    x, y = blobs(n=40)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, validation_split=0.2, verbose=0, augment=flip)
    assert seen == [16, 16]  # 32 training samples; validation is not augmented
    with pytest.raises(TypeError, match="augment"):
        model.fit(x, y, verbose=0, augment="flip")
