"""TerminateOnNaN, driven through its hooks (fit must catch TrainingStopped: see base)."""

import math

import pytest
import torch

from lamina.callbacks import CallbackList, TerminateOnNaN, TrainingStopped


def run(guard, model, losses_per_epoch, perturb):
    """Drive epochs of fake batch losses; each step moves the weights like training."""
    guard.set_model(model)
    guard.set_params({"epochs": len(losses_per_epoch), "steps": 3, "verbose": 0})
    guard.on_train_begin()
    for epoch, losses in enumerate(losses_per_epoch):
        guard.on_epoch_begin(epoch)
        for batch, loss in enumerate(losses):
            perturb(model, by=0.25)
            guard.on_train_batch_end(batch, {"loss": loss})


def test_stops_at_the_first_non_finite_loss_with_a_clear_message(model, perturb):
    guard = TerminateOnNaN()
    with pytest.raises(TrainingStopped, match=r"^non-finite loss \(nan\) at epoch 2, step 3$"):
        run(guard, model, [[1.0, 0.9, 0.8], [0.7, 0.6, math.nan], [0.5]], perturb)
    assert (guard.stopped_epoch, guard.stopped_step) == (1, 2)
    assert guard.stop_reason == model.stop_reason == "non-finite loss (nan) at epoch 2, step 3"
    assert model.stop_training


def test_infinite_loss_counts_too(model, perturb):
    with pytest.raises(TrainingStopped, match=r"non-finite loss \(inf\) at epoch 1, step 1"):
        run(TerminateOnNaN(), model, [[math.inf]], perturb)


def test_weights_restored_to_the_start_of_the_bad_epoch(model, weights, perturb, assert_same):
    guard = TerminateOnNaN()
    starts = []
    original = guard.on_epoch_begin

    def record(epoch, logs=None):
        starts.append(weights(model))
        original(epoch, logs)

    guard.on_epoch_begin = record
    with pytest.raises(TrainingStopped):
        run(guard, model, [[1.0, 1.0, 1.0], [1.0, math.nan]], perturb)
    assert_same(weights(model), starts[1])


def test_optimizer_state_restored_too(model, data):
    x, y = data
    model.optimizer.param_groups[0]["momentum"] = 0.9
    guard = TerminateOnNaN()
    guard.set_model(model)
    guard.on_train_begin()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # creates momentum buffers
    guard.on_epoch_begin(0)
    saved = {k: v.clone() for k, v in model.optimizer.state_dict()["state"][0].items()
             if torch.is_tensor(v)}
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # buffers move on
    with pytest.raises(TrainingStopped):
        guard.on_train_batch_end(0, {"loss": math.nan})
    for key, value in model.optimizer.state_dict()["state"][0].items():
        if torch.is_tensor(value):
            torch.testing.assert_close(value, saved[key], rtol=0, atol=0)


def test_finite_losses_change_nothing(model, weights, perturb):
    guard = TerminateOnNaN()
    run(guard, model, [[1.0, 2.0, 3.0]], perturb)
    assert guard.stop_reason is None and not model.stop_training


def test_never_touches_files(model, tmp_path, perturb):
    kept = tmp_path / "ckpt-01.lamina"
    model.save(kept)
    before = (kept.read_bytes(), kept.stat().st_mtime_ns)
    with pytest.raises(TrainingStopped):
        run(TerminateOnNaN(), model, [[math.nan]], perturb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01.lamina"]
    assert (kept.read_bytes(), kept.stat().st_mtime_ns) == before


def test_reads_lazy_batch_logs_once_per_step(model):
    class CountingLogs(dict):
        reads = 0

        def __getitem__(self, key):
            CountingLogs.reads += 1
            return super().__getitem__(key)

    guard = TerminateOnNaN()
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, CountingLogs(loss=1.0))
    assert CountingLogs.reads <= 1


def test_reuse_resets_the_reason(model, perturb):
    guard = TerminateOnNaN()
    with pytest.raises(TrainingStopped):
        run(guard, model, [[math.nan]], perturb)
    run(guard, model, [[1.0]], perturb)
    assert guard.stop_reason is None and guard.stopped_epoch is None


def test_asks_for_the_batch_end_hook_only():
    callbacks = CallbackList([TerminateOnNaN()])
    assert callbacks.wants("on_train_batch_end")
    assert not callbacks.wants("on_train_batch_begin")
