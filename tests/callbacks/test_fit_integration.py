"""Callbacks driven by a real fit: NaN guard, early stopping, schedules, resume of their state."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import callbacks, layers


def regression_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype=np.float32)


def regression_model(lr):
    torch.manual_seed(0)
    model = lm.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)], input_shape=(4,))
    model.compile(optimizer=lm.optimizers.SGD(lr=lr), loss="mse")
    return model


def test_terminate_on_nan_stops_restores_and_keeps_checkpoints(tmp_path):
    """Regression for a NaN guard whose shutdown deletes the backup (Keras #21771)."""
    x, y = regression_data()
    model = regression_model(lr=10.0)  # diverges within the first epochs
    history = model.fit(x, y * 1e3, batch_size=8, epochs=20, verbose=0, checkpoint=tmp_path,
                        callbacks=[callbacks.TerminateOnNaN()])
    assert "non-finite" in history.stop_reason and "step" in history.stop_reason
    assert len(history.epoch) < 20
    assert all(torch.isfinite(p).all() for p in model.parameters())
    if history.epoch:  # a checkpoint of a finished epoch exists and is untouched
        assert (tmp_path / "last.ckpt").exists()


def test_early_stopping_through_fit_records_the_reason():
    x, y = regression_data()
    model = regression_model(lr=0.0)  # nothing improves
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2)
    # without shuffling every epoch sums the same batches in the same order: equal losses
    # (a shuffled order can differ in the last float bit and count as an improvement)
    history = model.fit(x, y, epochs=50, verbose=0, shuffle=False, callbacks=[stopper])
    assert len(history.epoch) == 3
    assert history.stop_reason.startswith("early stopping at epoch 3")


def test_max_epochs_is_a_stop_reason():
    x, y = regression_data()
    history = regression_model(lr=0.01).fit(x, y, epochs=2, verbose=0)
    assert history.stop_reason == "max epochs reached (2)"


def test_step_schedule_changes_the_rate_every_batch():
    class Halving:
        unit = "step"

        def __call__(self, t):
            return 0.1 * 0.5 ** t

    x, y = regression_data(32)
    model = regression_model(lr=0.1)
    seen = []
    spy = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(model.optimizer.param_groups[0]["lr"]))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
              callbacks=[callbacks.LearningRateScheduler(Halving()), spy])
    assert seen == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_early_stopping_state_survives_resume(tmp_path):
    """Regression for resume forgetting EarlyStopping's best value (Keras #17012)."""

    class Crash(Exception):
        pass

    class CrashAfter(callbacks.Callback):
        def __init__(self, epoch):
            super().__init__()
            self.epoch = epoch

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == self.epoch:
                raise Crash

    x, y = regression_data()
    first = callbacks.EarlyStopping(monitor="loss", patience=5)
    with pytest.raises(Crash):
        regression_model(lr=0.01).fit(x, y, epochs=6, verbose=0, checkpoint=tmp_path,
                                      callbacks=[first, CrashAfter(3)])
    resumed = callbacks.EarlyStopping(monitor="loss", patience=5)
    model = regression_model(lr=0.01)
    model.fit(x, y, epochs=3, verbose=0, checkpoint=tmp_path, resume=True,
              callbacks=[resumed, CrashAfter(None)])
    assert resumed.best == pytest.approx(first.best)
    assert resumed.best_epoch == first.best_epoch
