"""MonitorCallback: direction, improvement, the missing-key error, argument checks."""

import math

import pytest

import lamina as lm
from lamina.callbacks import EarlyStopping, ModelCheckpoint, MonitorCallback, ReduceLROnPlateau


@pytest.mark.parametrize("monitor, expected", [
    ("val_loss", "min"), ("loss", "min"), ("val_accuracy", "max"), ("acc", "max"),
    ("val_mean_absolute_error", "min"), ("custom_score", "min"),
])
def test_auto_direction_from_name(monitor, expected):
    assert MonitorCallback(monitor=monitor).direction == expected


def test_auto_direction_from_compiled_metric():
    metric = lm.metrics.MeanMetricWrapper(lambda p, t: (p - t).abs(), name="score",
                                          direction="max")
    model = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    model.compile(optimizer="sgd", loss="mse", metrics=[metric], device="cpu")
    watch = MonitorCallback(monitor="val_score")
    watch.set_model(model)
    assert watch.direction == "max"  # the name alone would say "min"


def test_explicit_mode_wins_over_auto():
    assert MonitorCallback(monitor="val_accuracy", mode="MIN").direction == "min"


@pytest.mark.parametrize("mode, current, best, improved", [
    ("min", 0.89, 1.0, True), ("min", 0.95, 1.0, False), ("min", 0.9, 1.0, False),
    ("max", 1.11, 1.0, True), ("max", 1.05, 1.0, False),
])
def test_min_delta_is_strict(mode, current, best, improved):
    assert MonitorCallback(mode=mode, min_delta=0.1).is_improvement(current, best) is improved


def test_nan_never_improves():
    watch = MonitorCallback()
    assert not watch.is_improvement(math.nan, None)
    assert watch.is_improvement(1.0, None)


def test_unknown_mode_is_an_error_not_a_fallback():
    with pytest.raises(ValueError, match=r"`mode` of EarlyStopping must be one of 'auto', "
                                         r"'min', 'max'.*mode='minimum'"):
        EarlyStopping(mode="minimum")


@pytest.mark.parametrize("cls", [EarlyStopping, ReduceLROnPlateau])
def test_unknown_monitor_lists_the_available_keys(cls, model):
    cb = cls(monitor="val_acc")
    cb.set_model(model)
    cb.on_train_begin()
    with pytest.raises(ValueError, match=r"monitors 'val_acc', which is not in the logs\. "
                                         r"Expected: one of 'loss', 'val_loss'"):
        cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0})


def test_missing_val_key_suggests_validation_data(model):
    stop = EarlyStopping()
    stop.set_model(model)
    stop.on_train_begin()
    with pytest.raises(ValueError, match=r"validation_data=.*monitor='loss'"):
        stop.on_epoch_end(0, {"loss": 1.0})


def test_unknown_monitor_raises_from_fit(model, data):
    with pytest.raises(ValueError, match=r"'val_loss', which is not in the logs.*'loss'"):
        model.fit(*data, batch_size=8, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_checkpoint_checks_monitor_only_when_saving_best(model, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "m.lamina", monitor="nope")
    ckpt.set_model(model)
    ckpt.on_train_begin()
    ckpt.on_epoch_end(0, {"loss": 1.0})  # save_best_only=False: monitor unused
    assert (tmp_path / "m.lamina").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"min_delta": -0.1}, r"`min_delta` of MonitorCallback must be a finite number >= 0"),
    ({"baseline": "low"}, r"`baseline` of MonitorCallback must be a number or None"),
    ({"monitor": ""}, r"`monitor` of MonitorCallback must be a non-empty string"),
])
def test_argument_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MonitorCallback(**kwargs)
