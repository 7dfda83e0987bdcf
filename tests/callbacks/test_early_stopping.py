"""EarlyStopping, driven with fake logs on a tiny real model, plus one fit."""

import pytest
import torch

from lamina.callbacks import EarlyStopping


def drive(stop, model, values, key="val_loss", before_epoch=None):
    """Feed ``values`` as the monitored value of successive epochs until a stop."""
    stop.set_model(model)
    model.stop_training = False
    stop.on_train_begin()
    for epoch, value in enumerate(values):
        if before_epoch is not None:
            before_epoch(epoch)
        stop.on_epoch_end(epoch, {"loss": 0.0, key: value})
        if model.stop_training:
            break
    stop.on_train_end()
    return stop


def test_patience_counts_epochs_without_improvement(model):
    stop = drive(EarlyStopping(patience=2), model, [1.0, 0.9, 0.95, 0.92, 0.5])
    assert model.stop_training
    assert (stop.stopped_epoch, stop.best_epoch, stop.best, stop.wait) == (3, 1, 0.9, 2)
    assert stop.stop_reason == "early stopping at epoch 4 (best epoch 2, val_loss=0.9)"
    assert model.stop_reason == stop.stop_reason


def test_patience_zero_stops_after_the_first_bad_epoch(model):
    assert drive(EarlyStopping(), model, [1.0, 0.9, 1.0, 0.1]).stopped_epoch == 2


def test_runs_to_the_end_while_improving(model):
    stop = drive(EarlyStopping(patience=1), model, [5.0, 4.0, 3.0, 2.0])
    assert not model.stop_training and stop.stopped_epoch is None and stop.stop_reason is None


def test_min_delta_ignores_small_improvements(model):
    stop = drive(EarlyStopping(patience=1, min_delta=0.1), model, [1.0, 0.95, 0.91, 0.85])
    assert stop.stopped_epoch == 1 and stop.best == 1.0


def test_mode_max(model):
    stop = drive(EarlyStopping(monitor="val_accuracy", patience=1), model,
                 [0.5, 0.7, 0.6], key="val_accuracy")
    assert stop.stopped_epoch == 2 and stop.best == 0.7


def test_explicit_mode_min_on_an_accuracy_name(model):
    stop = drive(EarlyStopping(monitor="val_accuracy", mode="min", patience=1), model,
                 [0.5, 0.7], key="val_accuracy")
    assert stop.stopped_epoch == 1 and stop.best == 0.5


def test_baseline_not_reached_stops_after_patience(model):
    # Improving, but never below the baseline: the two epochs count as waiting (Keras
    # returns early on any improvement and would never stop here).
    stop = drive(EarlyStopping(patience=2, baseline=0.5), model, [0.9, 0.8, 0.7, 0.6])
    assert stop.stopped_epoch == 1 and stop.best == 0.8


def test_baseline_reached_resets_waiting(model):
    stop = drive(EarlyStopping(patience=2, baseline=0.5), model, [0.9, 0.4, 0.45, 0.45, 0.45])
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1


def test_start_from_epoch_skips_warm_up(model):
    stop = drive(EarlyStopping(patience=0, start_from_epoch=2), model, [1.0, 2.0, 3.0, 4.0])
    assert stop.best_epoch == 2 and stop.stopped_epoch == 3


def test_restore_best_weights_restores_exactly_the_best_epoch(model, weights, perturb,
                                                              assert_same):
    snapshots = []

    def train_a_bit(epoch):  # each "epoch" moves every weight, then we log a value
        perturb(model, by=0.5)
        snapshots.append(weights(model))

    drive(EarlyStopping(patience=2, restore_best_weights=True), model,
          [1.0, 0.4, 0.6, 0.7, 0.1], before_epoch=train_a_bit)
    assert len(snapshots) == 4  # stopped at epoch 3
    assert_same(weights(model), snapshots[1])


def test_restore_best_weights_also_when_epochs_run_out(model, weights, perturb, assert_same):
    snapshots = []

    def train_a_bit(epoch):
        perturb(model, by=1.0)
        snapshots.append(weights(model))

    stop = drive(EarlyStopping(patience=5, restore_best_weights=True), model,
                 [1.0, 0.2, 0.5], before_epoch=train_a_bit)
    assert stop.stopped_epoch is None
    assert_same(weights(model), snapshots[1])


def test_best_weights_are_a_cpu_copy_not_a_view(model, perturb):
    stop = drive(EarlyStopping(patience=5, restore_best_weights=True), model, [1.0])
    before = {k: v.clone() for k, v in stop.best_weights.items()}
    perturb(model)
    for key, value in stop.best_weights.items():
        assert value.device.type == "cpu"
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_early_stopping_reuse_across_fits(model):
    # Regression: state from the first fit (best, wait, stopped_epoch) must not leak into
    # the second, which would otherwise stop at once against the old best value.
    stop = drive(EarlyStopping(patience=1), model, [0.1, 0.5, 0.6])
    assert stop.stopped_epoch == 1
    drive(stop, model, [2.0, 1.5, 1.0])
    assert stop.stopped_epoch is None and stop.best == 1.0 and stop.wait == 0


def test_early_stopping_reuse_across_models(make_model):
    # Regression: "auto" resolved for one model's metrics must be resolved again.
    stop = EarlyStopping(monitor="val_score", patience=0)
    first, second = make_model(), make_model()
    drive(stop, first, [0.1, 0.2], key="val_score")
    assert stop.stopped_epoch == 1 and stop.best == 0.1
    second._trainer.metrics = [type("Score", (), {"name": "score", "direction": "max"})()]
    drive(stop, second, [0.1, 0.2], key="val_score")
    assert stop.stopped_epoch is None and stop.best == 0.2


def test_state_dict_round_trip_resumes_exactly(model):
    stop = drive(EarlyStopping(patience=3, restore_best_weights=True), model, [1.0, 0.5, 0.7])
    state = stop.state_dict()
    assert {k: state[k] for k in ("best", "wait", "best_epoch", "stopped_epoch")} == {
        "best": 0.5, "wait": 1, "best_epoch": 1, "stopped_epoch": None}
    resumed = EarlyStopping(patience=3, restore_best_weights=True)
    resumed.load_state_dict(state)
    resumed.set_model(model)
    resumed.on_train_begin()  # a resumed fit keeps the loaded state
    for epoch, value in [(3, 0.8), (4, 0.9)]:
        resumed.on_epoch_end(epoch, {"val_loss": value})
    assert resumed.stopped_epoch == 4 and resumed.best_epoch == 1
    resumed.on_train_begin()  # the next fit starts afresh
    assert resumed.best is None and resumed.wait == 0


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`patience` of EarlyStopping must be an integer >= 0"):
        EarlyStopping(patience=-1)
    with pytest.raises(TypeError, match=r"`restore_best_weights` of EarlyStopping must be True"):
        EarlyStopping(restore_best_weights="yes")


def test_fit_stops_early_and_restores(model, data):
    x, y = data
    stop = EarlyStopping(monitor="loss", patience=0, min_delta=1e9, restore_best_weights=True)
    history = model.fit(x, y, batch_size=8, epochs=10, verbose=0, callbacks=[stop])
    assert len(history) == 2 and stop.stopped_epoch == 1 and stop.best_epoch == 0
    assert model.stop_reason.startswith("early stopping at epoch 2 (best epoch 1, loss=")
