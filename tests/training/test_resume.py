"""Exact resume: an interrupted and resumed run ends bit-identical to an uninterrupted one."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.callbacks import Callback
from lamina.checkpoint import load_state


class Crash(Exception):
    pass


class CrashAt(Callback):
    """Simulates a crash at a given (epoch, step); also carries state that must survive."""

    def __init__(self, epoch=None, step=None):
        super().__init__()
        self.epoch, self.step, self.seen_batches = epoch, step, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self.step is None and epoch == self.epoch:
            raise Crash

    def on_train_batch_end(self, batch, logs=None):
        self.seen_batches += 1
        if self.step is not None and (self._epoch, batch) == (self.epoch, self.step):
            raise Crash

    def state_dict(self):
        return {"seen_batches": self.seen_batches}

    def load_state_dict(self, state):
        self.seen_batches = state["seen_batches"]


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y


def make_model(seed):
    torch.manual_seed(seed)
    model = lm.Sequential([layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                           layers.Dense(3, activation="softmax")], input_shape=(6,))
    model.compile(optimizer=lm.optimizers.Adam(lr=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model, ckpt=None, crash=None, resume=False, every=None):
    x, y = data()
    cb = crash or CrashAt()
    history = model.fit(x, y, batch_size=16, epochs=4, validation_split=0.2, verbose=0,
                        callbacks=[cb], checkpoint=ckpt, checkpoint_every=every, resume=resume)
    return history, cb


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("crash, every", [
    (CrashAt(epoch=2), None),            # after 2 full epochs
    (CrashAt(epoch=2, step=2), 2),       # in the middle of epoch 3 (checkpoint every 2 steps)
], ids=["between-epochs", "mid-epoch-3"])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, crash, every):
    torch.manual_seed(123)
    straight = make_model(seed=1)
    h_straight, cb_straight = train(straight)

    torch.manual_seed(123)
    first = make_model(seed=1)
    with pytest.raises(Crash):
        train(first, ckpt=tmp_path, crash=crash, every=every)
    state = load_state(tmp_path / "last.ckpt")
    assert (state["epoch"], state["step"]) == ((2, 0) if every is None else (2, 2))

    torch.manual_seed(999)                      # a different process state entirely
    resumed = make_model(seed=7)                # and different initial weights
    h_resumed, cb_resumed = train(resumed, ckpt=tmp_path, resume=True, every=every)

    for key, value in weights(straight).items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert h_resumed.history == h_straight.history
    assert cb_resumed.seen_batches == cb_straight.seen_batches


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    model = make_model(0)
    history, _ = train(model, ckpt=tmp_path / "new", resume=True)
    assert len(history.epoch) == 4
    assert load_state(tmp_path / "new" / "last.ckpt")["epoch"] == 4


def test_resume_of_a_finished_run_does_nothing_more(tmp_path):
    model = make_model(0)
    train(model, ckpt=tmp_path)
    before = weights(model)
    history, _ = train(model, ckpt=tmp_path, resume=True)
    assert len(history.epoch) == 4
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_resume_needs_a_directory():
    with pytest.raises(ValueError, match="checkpoint="):
        make_model(0).fit(*data(), verbose=0, resume=True)


def test_corrupted_checkpoint_gives_a_clear_error(tmp_path):
    model = make_model(0)
    train(model, ckpt=tmp_path)
    path = tmp_path / "last.ckpt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated, corrupted"):
        train(make_model(0), ckpt=tmp_path, resume=True)


WRITER = textwrap.dedent("""
    import sys, torch
    from lamina.checkpoint import save_state
    path = sys.argv[1]
    i = 0
    while True:
        i += 1
        save_state(path, {"i": i, "w": torch.full((4_000_000,), float(i))})
        print(i, flush=True)
""")


def test_sigkill_during_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "last.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "1"   # one complete checkpoint exists
        time.sleep(0.3)                                # now kill it, most likely mid-write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_state(path)
    assert state["i"] >= 1
    assert torch.equal(state["w"], torch.full((4_000_000,), float(state["i"])))
