"""LearningRateScheduler and ReduceLROnPlateau, driven with fake logs, plus fits."""

import pytest
import torch

import lamina as lm
from lamina.callbacks import CallbackList, LearningRateScheduler, ReduceLROnPlateau


class StepDecay:
    """A step-unit schedule object: the rate halves every 2 optimizer steps."""

    unit = "step"

    def __call__(self, step):
        return 0.8 * 0.5 ** (step // 2)


def lrs(model):
    return [group["lr"] for group in model.optimizer.param_groups]


@pytest.fixture
def two_group_model():
    """The Dense kernel at lr 0.1, its bias at 0.3: a 1:3 ratio to preserve."""
    model = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    kernel, bias = list(model.parameters())
    optimizer = torch.optim.SGD([{"params": [kernel]}, {"params": [bias], "lr": 0.3}], lr=0.1)
    model.compile(optimizer=optimizer, loss="mse", device="cpu")
    return model


def start(cb, model, steps=3):
    cb.set_model(model)
    cb.set_params({"epochs": 3, "steps": steps, "verbose": 0})
    cb.on_train_begin()
    return cb


def test_keras_function_gets_epoch_and_current_lr(model):
    calls = []

    def schedule(epoch, lr):
        calls.append((epoch, lr))
        return lr * 0.5

    cb = start(LearningRateScheduler(schedule), model)
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
    assert calls == [(0, 0.1), (1, 0.05), (2, 0.025)]
    assert lrs(model) == [0.0125]


def test_epoch_unit_schedule_object_gets_the_epoch(model):
    class Table:
        unit = "epoch"

        def __call__(self, epoch):
            return [0.3, 0.2, 0.1][epoch]

    cb = start(LearningRateScheduler(Table()), model)
    cb.on_epoch_begin(1)
    assert lrs(model) == [0.2]


def test_step_unit_schedule_updates_before_every_step_with_the_global_step(model):
    seen = []
    cb = start(LearningRateScheduler(StepDecay()), model, steps=3)
    for epoch in range(2):
        cb.on_epoch_begin(epoch)
        for batch in range(3):
            cb.on_train_batch_begin(batch)
            seen.append(lrs(model)[0])
    assert seen == [0.8, 0.8, 0.4, 0.4, 0.2, 0.2]  # steps 0..5 across the two epochs


def test_only_step_schedules_ask_for_batch_hooks(model):
    assert CallbackList([LearningRateScheduler(StepDecay())]).wants("on_train_batch_begin")
    assert not CallbackList([LearningRateScheduler(lambda e, lr: lr)]).wants(
        "on_train_batch_begin")


def test_ratio_between_groups_is_kept(two_group_model):
    cb = start(LearningRateScheduler(lambda epoch, lr: 0.01), two_group_model)
    cb.on_epoch_begin(0)
    assert lrs(two_group_model) == pytest.approx([0.01, 0.03], rel=1e-12)
    cb.on_epoch_begin(1)  # initial_lr is kept once, so ratios do not drift
    assert lrs(two_group_model) == pytest.approx([0.01, 0.03], rel=1e-12)


def test_lr_is_added_to_the_epoch_logs(model):
    cb = start(LearningRateScheduler(lambda epoch, lr: 0.05), model)
    cb.on_epoch_begin(0)
    logs = {"loss": 1.0}
    cb.on_epoch_end(0, logs)
    assert logs == {"loss": 1.0, "lr": 0.05}


@pytest.mark.parametrize("bad", [None, -0.1, float("nan"), "0.1"])
def test_bad_schedule_output(model, bad):
    cb = start(LearningRateScheduler(lambda epoch, lr: bad), model)
    with pytest.raises(ValueError, match=r"must return a finite learning rate >= 0 \(epoch 0\)"):
        cb.on_epoch_begin(0)


def test_bad_schedule_arguments():
    with pytest.raises(TypeError, match=r"`schedule` of LearningRateScheduler must be callable"):
        LearningRateScheduler(0.1)

    class Weekly:
        unit = "week"

        def __call__(self, t):
            return 0.1

    with pytest.raises(ValueError, match=r"`unit` of the schedule object must be one of"):
        LearningRateScheduler(Weekly())


def test_fit_records_lr_in_history(model, data):
    history = model.fit(*data, batch_size=8, epochs=3, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])


# -- ReduceLROnPlateau --------------------------------------------------------------------
def feed(cb, values, key="val_loss"):
    out = []
    for epoch, value in enumerate(values):
        cb.on_epoch_end(epoch, {key: value})
        out.append(cb.model.optimizer.param_groups[0]["lr"])
    return out


def test_reduces_after_patience(model):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=2), model)
    assert feed(cb, [1.0, 1.0, 1.0, 1.0, 1.0]) == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_improvement_resets_waiting(model):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=2), model)
    assert feed(cb, [1.0, 1.0, 0.5, 0.5, 0.5]) == [0.1, 0.1, 0.1, 0.1, 0.05]


def test_min_delta(model):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1), model)
    assert feed(cb, [1.0, 0.95]) == [0.1, 0.05]


def test_cooldown_pauses_counting(model):
    # As in Keras, the epoch on which the cooldown runs out counts again.
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), model)
    assert feed(cb, [1.0] * 6) == [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]


def test_min_lr_is_a_floor(model):
    cb = start(ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005), model)
    assert feed(cb, [1.0, 1.0, 1.0, 1.0]) == pytest.approx([0.1, 0.01, 0.005, 0.005])


def test_max_mode_from_the_name(model):
    cb = start(ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1), model)
    assert feed(cb, [0.5, 0.6, 0.55], key="val_accuracy") == [0.1, 0.1, 0.05]


def test_plateau_keeps_group_ratios_and_logs_the_used_lr(two_group_model):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1), two_group_model)
    logs = [{"val_loss": 1.0}, {"val_loss": 1.0}, {"val_loss": 1.0}]
    for epoch, entry in enumerate(logs):
        cb.on_epoch_end(epoch, entry)
    assert [entry["lr"] for entry in logs] == pytest.approx([0.1, 0.1, 0.05])
    assert lrs(two_group_model) == pytest.approx([0.025, 0.075])


def test_plateau_state_dict_round_trip(model):
    cb = start(ReduceLROnPlateau(factor=0.5, patience=3, cooldown=1), model)
    feed(cb, [1.0, 1.1])
    assert cb.state_dict() == {"best": 1.0, "wait": 1, "cooldown_counter": 0}
    resumed = ReduceLROnPlateau(factor=0.5, patience=3, cooldown=1)
    resumed.load_state_dict(cb.state_dict())
    start(resumed, model)
    assert (resumed.best, resumed.wait) == (1.0, 1)


def test_plateau_reuse_resets_state(model):
    # Regression: the best value of one fit must not make the next fit look stuck.
    cb = start(ReduceLROnPlateau(factor=0.5, patience=1), model)
    feed(cb, [0.1, 0.2])
    start(cb, model)
    assert cb.best is None and cb.wait == 0 and cb.cooldown_counter == 0


@pytest.mark.parametrize("factor", [1.0, 0.0, 2])
def test_factor_must_be_below_one(factor):
    with pytest.raises(ValueError, match=r"`factor` of ReduceLROnPlateau must be a number in"):
        ReduceLROnPlateau(factor=factor)


def test_fit_with_plateau(model, data):
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    history = model.fit(*data, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05])  # the rate each epoch used
