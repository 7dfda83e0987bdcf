"""Resume is explicit about settings (issue 25): each setting that differs from the
checkpoint's is refused with ResumeMismatchError or applied with a ResumeWarning naming
the old and new values -- never a silent change, a raw KeyError or a torch size mismatch."""

import warnings

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.checkpoint import load_state, save_state
from lamina.errors import FileFormatError, ResumeMismatchError, ResumeWarning


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def model(units=8, optimizer=None, loss="sparse_categorical_crossentropy",
          metrics=("accuracy",)):
    torch.manual_seed(0)
    m = lm.Sequential([layers.Dense(units, activation="relu"),
                       layers.Dense(2, activation="softmax")], input_shape=(5,))
    m.compile(optimizer=optimizer or lm.optimizers.SGD(lr=0.5, momentum=0.9), loss=loss,
              metrics=list(metrics))
    return m


def fit(m, ckpt, resume=False, batch_size=8, epochs=2):
    return m.fit(*data(), batch_size=batch_size, epochs=epochs, verbose=0, checkpoint=ckpt,
                 resume=resume)


@pytest.fixture
def ckpt(tmp_path):
    fit(model(), tmp_path, epochs=1)   # a run of 1 epoch to continue
    return tmp_path


def test_same_settings_resume_without_a_warning(ckpt):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)
        history = fit(model(), ckpt, resume=True)
    assert history.epoch == [0, 1]   # the checkpoint's epoch, then one more


def test_changed_lr_applies_the_checkpoints_with_a_warning_naming_both(ckpt):
    # Used to continue silently with the checkpoint's lr=0.5.
    m = model(optimizer=lm.optimizers.SGD(lr=0.001, momentum=0.9))
    with pytest.warns(ResumeWarning, match=r"lr: compile gave 0.001, the checkpoint's 0.5 is used"):
        fit(m, ckpt, resume=True)
    assert m._trainer.optimizer.param_groups[0]["lr"] == 0.5


def test_changed_momentum_is_named_too(ckpt):
    with pytest.warns(ResumeWarning, match=r"momentum: compile gave 0.0, the checkpoint's 0.9"):
        fit(model(optimizer=lm.optimizers.SGD(lr=0.5)), ckpt, resume=True)


def test_another_optimizer_type_is_refused(ckpt):
    # Adam -> SGD used to raise a raw KeyError: 'momentum'.
    with pytest.raises(ResumeMismatchError, match=r"optimizer type.*'SGD'.*Received.*'Adam'"):
        fit(model(optimizer=lm.optimizers.Adam(lr=0.01)), ckpt, resume=True)


def test_another_loss_is_refused(tmp_path):
    x, y = data()
    onehot = np.eye(2, dtype=np.float32)[y]
    model(loss="mse", metrics=()).fit(x, onehot, epochs=1, verbose=0, checkpoint=tmp_path)
    with pytest.raises(ResumeMismatchError, match=r"another loss.*mean_squared_error"):
        model(loss="mae", metrics=()).fit(x, onehot, epochs=2, verbose=0, checkpoint=tmp_path,
                                          resume=True)


def test_dropping_a_metric_is_refused(ckpt):
    # Used to leave history lists of different lengths.
    with pytest.raises(ResumeMismatchError, match=r"metrics.*\['accuracy'\].*Received.*\[\]"):
        fit(model(metrics=()), ckpt, resume=True)


def test_another_architecture_is_refused_naming_the_tensor(ckpt):
    # Used to raise torch's raw "size mismatch".
    with pytest.raises(ResumeMismatchError, match=r"'layers.0.weight'.*\(8, 5\).*\(16, 5\)"):
        fit(model(units=16), ckpt, resume=True)


def test_changed_batch_size_warns_with_a_resume_warning(ckpt):
    with pytest.warns(ResumeWarning, match=r"batch_size.*8 -> 4"):
        fit(model(), ckpt, resume=True, batch_size=4)


def test_refused_resume_leaves_the_model_untouched(ckpt):
    m = model(units=16)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(ResumeMismatchError):
        fit(m, ckpt, resume=True)
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in before.items())


def test_checkpoint_without_settings_still_gets_a_clear_error(ckpt):
    # A checkpoint written before the settings were recorded: the optimizer state itself
    # does not fit another optimizer, and that must not be a raw KeyError either.
    state = load_state(ckpt / "last.ckpt")
    del state["settings"]
    save_state(ckpt / "last.ckpt", state)
    with pytest.raises(ResumeMismatchError, match="optimizer state does not fit"):
        fit(model(optimizer=lm.optimizers.Adam(lr=0.01)), ckpt, resume=True)


@pytest.mark.parametrize("edit", [
    lambda s: s.pop("epoch"),
    lambda s: s.update(epoch=-1),
    lambda s: s.update(model=[1]),
    lambda s: s.update(callbacks=[1]),
], ids=["no-epoch", "negative-epoch", "model-list", "callbacks"])
def test_malformed_training_state_is_a_file_format_error(ckpt, edit):
    state = load_state(ckpt / "last.ckpt")
    edit(state)
    save_state(ckpt / "last.ckpt", state)
    with pytest.raises(FileFormatError, match="training state lamina writes|malformed callback"):
        fit(model(), ckpt, resume=True)


def test_hostile_rng_state_is_a_clear_error(ckpt):
    state = load_state(ckpt / "last.ckpt")
    state["rng"]["python"] = (3, "not a state")
    save_state(ckpt / "last.ckpt", state)
    with pytest.raises(ResumeMismatchError, match="random generator state"):
        fit(model(), ckpt, resume=True)
