"""ModelCheckpoint: path templates, save_best_only, weights-only, step saves, loading."""

import os

import pytest

import lamina as lm
from lamina.callbacks import ModelCheckpoint


def start(ckpt, model, steps=4):
    ckpt.set_model(model)
    ckpt.set_params({"epochs": 3, "steps": steps, "verbose": 0})
    ckpt.on_train_begin()
    return ckpt


def test_template_is_formatted_with_one_based_epoch_and_logs(model, tmp_path):
    ckpt = start(ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.4f}.lamina")), model)
    ckpt.on_epoch_begin(0)
    ckpt.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.123456})
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01-0.1235.lamina"]


def test_saved_files_load_with_load_model(model, tmp_path, weights, perturb, assert_same):
    ckpt = start(ModelCheckpoint(tmp_path / "m-{epoch}.lamina"), model)
    ckpt.on_epoch_end(0, {"val_loss": 1.0})
    expected = weights(model)
    perturb(model)
    assert_same(weights(lm.load_model(tmp_path / "m-1.lamina")), expected)


def test_save_best_only_saves_only_on_improvement(model, tmp_path):
    ckpt = start(ModelCheckpoint(tmp_path / "{epoch}.lamina", save_best_only=True), model)
    for epoch, val_loss in enumerate([1.0, 1.2, 0.8, 0.8, 0.9]):
        ckpt.on_epoch_end(epoch, {"val_loss": val_loss})
    assert sorted(os.listdir(tmp_path)) == ["1.lamina", "3.lamina"]
    assert ckpt.best == 0.8 and ckpt.last_saved == str(tmp_path / "3.lamina")


def test_save_best_only_in_max_mode(model, tmp_path):
    ckpt = start(ModelCheckpoint(tmp_path / "{epoch}.lamina", monitor="val_accuracy",
                                 save_best_only=True), model)
    for epoch, acc in enumerate([0.5, 0.4, 0.6]):
        ckpt.on_epoch_end(epoch, {"val_accuracy": acc})
    assert sorted(os.listdir(tmp_path)) == ["1.lamina", "3.lamina"]


def test_save_weights_only_writes_weights_for_load_weights(model, tmp_path, weights, perturb,
                                                          assert_same):
    ckpt = start(ModelCheckpoint(tmp_path / "w.safetensors", save_weights_only=True), model)
    ckpt.on_epoch_end(0, {})
    expected = weights(model)
    perturb(model)
    model.load_weights(tmp_path / "w.safetensors")
    assert_same(weights(model), expected)
    with pytest.raises(ValueError, match="holds no model architecture"):
        lm.load_model(tmp_path / "w.safetensors")


def test_missing_folders_are_created(model, tmp_path):
    ckpt = start(ModelCheckpoint(tmp_path / "a" / "b" / "m.lamina"), model)
    ckpt.on_epoch_end(0, {})
    assert (tmp_path / "a" / "b" / "m.lamina").exists()


def test_every_n_steps_saves_on_batch_end_with_global_step(model, tmp_path):
    ckpt = start(ModelCheckpoint(tmp_path / "e{epoch}-s{step}.lamina", every_n_steps=3),
                 model, steps=4)
    for epoch in range(2):
        ckpt.on_epoch_begin(epoch)
        for batch in range(4):
            ckpt.on_train_batch_end(batch, {"loss": 1.0})
        ckpt.on_epoch_end(epoch, {"loss": 1.0})
    assert sorted(os.listdir(tmp_path)) == ["e1-s3.lamina", "e2-s6.lamina"]


def test_batch_hook_is_dispatched_only_with_every_n_steps(tmp_path):
    from lamina.callbacks import CallbackList

    assert not CallbackList([ModelCheckpoint(tmp_path / "m")]).wants("on_train_batch_end")
    assert CallbackList([ModelCheckpoint(tmp_path / "m", every_n_steps=2)]).wants(
        "on_train_batch_end")


@pytest.mark.parametrize("filepath, match", [
    ("ckpt-{epoch:02d", r"not a valid path template"),
    ("ckpt-{}.lamina", r"fields must be plain names"),
    ("ckpt-{0}.lamina", r"fields must be plain names"),
    ("ckpt-{val_loss:d}.lamina", r"Unknown format code 'd'"),
    ("ckpt-{logs.loss}.lamina", r"fields must be plain names, not \{logs\.loss\}"),
])
def test_bad_templates_fail_in_init(filepath, match):
    with pytest.raises(ValueError, match=match):
        ModelCheckpoint(filepath)


def test_unknown_placeholder_fails_at_format_time_listing_keys(model, tmp_path):
    ckpt = start(ModelCheckpoint(tmp_path / "{epoch}-{val_acc:.2f}.lamina"), model)
    with pytest.raises(ValueError, match=r"names \{val_acc\}, which is not in the logs\. "
                                         r"Expected: fields among epoch, step, loss, val_loss"):
        ckpt.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0})
    assert os.listdir(tmp_path) == []


def test_non_path_filepath_is_a_type_error():
    with pytest.raises(TypeError, match=r"`filepath` of ModelCheckpoint must be a string"):
        ModelCheckpoint(3)


def test_state_dict_round_trip(model, tmp_path):
    ckpt = start(ModelCheckpoint(tmp_path / "{epoch}.lamina", save_best_only=True), model)
    ckpt.on_epoch_end(0, {"val_loss": 0.5})
    resumed = ModelCheckpoint(tmp_path / "{epoch}.lamina", save_best_only=True)
    resumed.load_state_dict(ckpt.state_dict())
    start(resumed, model)
    resumed.on_epoch_end(1, {"val_loss": 0.6})  # no better than the loaded best
    assert sorted(os.listdir(tmp_path)) == ["1.lamina"]


def test_fit_writes_checkpoints(tmp_path, model, data):
    ckpt = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.lamina")
    model.fit(*data, batch_size=8, epochs=2, verbose=0, validation_data=data, callbacks=[ckpt])
    files = sorted(os.listdir(tmp_path))
    assert [f[:8] for f in files] == ["ckpt-01-", "ckpt-02-"]
    assert lm.load_model(tmp_path / files[-1]).count_params() == model.count_params()
