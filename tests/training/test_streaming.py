"""Data larger than memory: memmaps and Datasets read batch by batch (lamina.training.streaming)
and ArrayFile, against the same data in memory."""

import os

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import lamina as lm
from lamina.callbacks.base import TrainingStopped
from lamina.datasets import ArrayFile
from lamina.training.streaming import StreamData, prefetch, streams


def _data(n=40):
    rng = np.random.default_rng(1)
    return (rng.integers(0, 256, (n, 1, 6, 6)).astype(np.uint8),
            rng.integers(0, 3, n).astype(np.int64))


def _net():
    lm.set_seed(3)
    net = lm.Sequential([lm.layers.Conv2D(2, 3, activation="relu"), lm.layers.Flatten(),
                         lm.layers.Dropout(0.2), lm.layers.Dense(3, activation="softmax")],
                        input_shape=(1, 6, 6))
    net.compile(lm.optimizers.SGD(0.001, momentum=0.9), "sparse_categorical_crossentropy",
                metrics=["accuracy"])
    return net


def _fit(x, y=None, **kw):
    net = _net()
    history = net.fit(x, y, batch_size=8, epochs=2, verbose=0, **kw)
    return net, history.history


def _same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture
def memmaps(tmp_path):
    x, y = _data()
    ArrayFile.write(tmp_path / "d", x=x, y=y)
    return (x, y), ArrayFile(tmp_path / "d").arrays("x", "y")


def test_a_memmap_trains_evaluates_and_predicts_as_the_array_in_memory(memmaps):
    (x, y), (xm, ym) = memmaps
    assert isinstance(xm, np.memmap) and streams(xm) and not streams(x)
    ref, ref_logs = _fit(x, y, validation_split=0.25)
    net, logs = _fit(xm, ym, validation_split=0.25)
    assert logs == ref_logs and _same_weights(net, ref)
    assert net.evaluate(xm, ym) == ref.evaluate(x, y)
    np.testing.assert_array_equal(net.predict(xm), ref.predict(x))


def test_a_dataset_trains_as_the_arrays_in_memory():
    x, y = _data()

    class Pairs(Dataset):  # a map-style Dataset of numpy samples
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], y[i]

    ref, ref_logs = _fit(x, y)
    for dataset in (Pairs(), TensorDataset(torch.from_numpy(x), torch.from_numpy(y))):
        net, logs = _fit(dataset)
        assert logs == ref_logs and _same_weights(net, ref)


def test_a_resumed_memmap_run_ends_with_the_weights_of_an_uninterrupted_one(memmaps, tmp_path):
    _, (xm, ym) = memmaps
    ref, _ = _fit(xm, ym)

    class Stop(lm.callbacks.Callback):
        def __init__(self, at):
            super().__init__()
            self.at = at

        def on_train_batch_end(self, batch, logs=None):
            if batch == self.at:
                raise TrainingStopped("test")

    net = _net()
    net.fit(xm, ym, batch_size=8, epochs=2, verbose=0, checkpoint=tmp_path / "run",
            checkpoint_every=1, callbacks=[Stop(2)])  # stopped after step 3 of epoch 1
    net = _net()
    net.fit(xm, ym, batch_size=8, epochs=2, verbose=0, checkpoint=tmp_path / "run",
            resume=True, callbacks=[Stop(-1)])
    assert _same_weights(net, ref)


def test_bad_values_are_found_in_the_batch_that_holds_them(tmp_path):
    x, y = _data()
    x = x.astype(np.float32)
    x[37, 0, 2, 2] = np.nan
    ArrayFile.write(tmp_path / "d", x=x, y=y)
    xm, ym = ArrayFile(tmp_path / "d").arrays("x", "y")
    with pytest.raises(ValueError, match="NaN or infinite"):
        _net().fit(xm, ym, batch_size=8, verbose=0, shuffle=False)
    bad = np.array(ym)
    bad[30] = 7
    ArrayFile.write(tmp_path / "e", x=np.nan_to_num(x), y=bad)
    xm, ym = ArrayFile(tmp_path / "e").arrays("x", "y")
    with pytest.raises(ValueError, match=r"integers in \[0, 3\)"):
        _net().fit(xm, ym, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="needs `y`"):
        _net().fit(xm, batch_size=8, verbose=0)


def test_prefetch_keeps_order_and_raises_at_the_failing_item():
    def items():
        yield 1
        yield 2
        raise KeyError("disk")

    got = []
    with pytest.raises(KeyError, match="disk"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [1, 2]
    assert list(prefetch(iter(range(100)))) == list(range(100))
    for i in prefetch(iter(range(100))):  # leaving early stops the thread
        if i == 3:
            break


def test_arrayfile_chunks_read_back_as_the_whole(tmp_path):
    x, y = _data(23)
    with ArrayFile.create(tmp_path / "d") as out:
        for part in np.array_split(np.arange(23), 4):
            out.append(x=x[part], y=y[part])
    data = ArrayFile(tmp_path / "d")
    assert data.names == ["x", "y"] and len(data) == 23
    np.testing.assert_array_equal(np.load(tmp_path / "d" / "x.npy"), x)  # plain .npy
    np.testing.assert_array_equal(data["y"], y)
    with pytest.raises(ValueError, match="same number of rows"):
        ArrayFile.write(tmp_path / "e", x=x, y=y[:3])
    with pytest.raises(ValueError, match="changed its dtype"), \
            ArrayFile.create(tmp_path / "f") as out:
        out.append(x=x[:2])
        out.append(x=x[:2].astype(np.float32))
    assert not os.path.exists(tmp_path / "f" / "x.npy")  # a failed write leaves no file
    with pytest.raises(KeyError, match="no array 'z'"):
        data["z"]


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_a_4_gb_sparse_memmap_trains_a_step_without_reading_it(tmp_path):
    n = 4 * 2**30 // (28 * 28 * 4)
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (n, 1, 28, 28))
    y = np.lib.format.open_memmap(tmp_path / "y.npy", "w+", np.int64, (n,))
    del x, y  # a sparse file of zeros: no disk used
    x, y = np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    net = lm.zoo.LeNet5()
    net.compile("sgd", "sparse_categorical_crossentropy")

    class OneStep(lm.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise TrainingStopped("one step")

    before = _rss()
    history = net.fit(x, y, batch_size=32, verbose=0, callbacks=[OneStep()])
    assert history.stop_reason == "one step"
    assert _rss() - before < 512 * 2**20


def test_stream_data_parts_and_splits():
    data = StreamData(np.arange(20.0).reshape(10, 2), np.arange(10), owner="fit")
    train, val = data.split(0.3)
    assert len(train) == 7 and len(val) == 3
    batches = list(val.batches(2))
    assert [b[1].tolist() for b in batches] == [[7, 8], [9]]
    shard = list(train.batches(4, shard=lambda i: i.tensor_split(2)[1]))
    assert [b[1].tolist() for b in shard] == [[2, 3], [6]]
