"""Callback protocol pieces: LambdaCallback, override detection, TrainingStopped, TensorBoard."""

import sys
import types

import pytest

from lamina.callbacks import Callback, CallbackList, LambdaCallback, TensorBoard, TrainingStopped
from lamina.errors import LaminaError


def test_lambda_hooks_fire_with_keras_signatures():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: events.append(("epoch_begin", epoch, logs)),
        on_train_batch_begin=lambda batch, logs: events.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: events.append(("batch_end", batch, logs["loss"])),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch, logs["loss"])),
        on_train_end=lambda logs: events.append(("train_end", logs)))
    callbacks = CallbackList([cb])
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_train_batch_begin(0)
    callbacks.on_train_batch_end(0, {"loss": 0.5})
    callbacks.on_epoch_end(0, {"loss": 0.5})
    callbacks.on_train_end()
    assert events == [("train_begin", None), ("epoch_begin", 0, None), ("batch_begin", 0),
                      ("batch_end", 0, 0.5), ("epoch_end", 0, 0.5), ("train_end", None)]


def test_lambda_without_batch_functions_is_not_dispatched_per_batch():
    callbacks = CallbackList([LambdaCallback(on_epoch_end=lambda epoch, logs: None)])
    assert not callbacks.wants("on_train_batch_end")
    assert not callbacks.wants("on_train_batch_begin")


def test_lambda_batch_end_fires_during_fit(model, data):
    steps = []
    model.fit(*data, batch_size=8, epochs=2, verbose=0, callbacks=[
        LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))])
    assert steps == [0, 1, 0, 1]


def test_lambda_rejects_non_callables():
    with pytest.raises(TypeError, match=r"`on_epoch_end` of LambdaCallback must be callable"):
        LambdaCallback(on_epoch_end="print")


def test_instance_attribute_counts_as_an_override():
    cb = Callback()
    assert not CallbackList([cb]).wants("on_train_batch_end")
    cb.on_train_batch_end = lambda batch, logs=None: None
    assert CallbackList([cb]).wants("on_train_batch_end")


def test_class_override_still_counts():
    class Batchy(Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    assert CallbackList([Batchy()]).wants("on_train_batch_end")


def test_training_stopped_is_a_lamina_error_with_a_reason():
    err = TrainingStopped("non-finite loss (nan) at epoch 1, step 1")
    assert isinstance(err, LaminaError) and str(err) == err.reason


def test_tensorboard_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install tensorboard"):
        TensorBoard()


def test_tensorboard_writes_epoch_scalars(monkeypatch, tmp_path):
    written = []

    class FakeWriter:
        def __init__(self, log_dir):
            written.append(("open", log_dir))

        def add_scalar(self, tag, value, step):
            written.append((tag, value, step))

        def flush(self):
            pass

        def close(self):
            written.append(("close",))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    board = TensorBoard(log_dir=tmp_path)
    board.on_train_begin()
    board.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    board.on_train_end()
    assert written == [("open", str(tmp_path)), ("loss", 0.5, 0), ("val_loss", 0.75, 0),
                       ("close",)]
