"""MNIST and Fashion-MNIST loaders: lookup order, validation, and the real Fashion-MNIST."""

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

from lamina.datasets import DatasetNotFoundError, _download, fashion_mnist, mnist
from lamina.datasets.idx import write_idx

FILES = list(mnist.SOURCE.checksums)
DEBIAN = "/usr/share/datasets/fashion-mnist"


def make_dataset(directory, n_train=6, n_test=4, seed=0, gz=True):
    """Write a tiny MNIST-format dataset; return its four arrays keyed by .gz file name."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{split}-images-idx3-ubyte.gz"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}-labels-idx1-ubyte.gz"] = rng.integers(0, 10, n, dtype=np.uint8)
    for name, array in arrays.items():
        write_idx(os.path.join(directory, name if gz else name[:-3]), array)
    return arrays


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Every lookup place under tmp_path; a download, if tried, fails at once."""
    for name in ("LAMINA_DATA", "LAMINA_DATASETS_URL", "LAMINA_FASHION_MNIST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAMINA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAMINA_MNIST_URL", "http://127.0.0.1:9/")  # discard port: refused
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setattr(_download, "_SYSTEM_ROOT", str(tmp_path / "system"))
    return tmp_path


def labels_of(result):
    (_, y_train), (_, y_test) = result
    return y_train.tolist(), y_test.tolist()


def test_lookup_order_path_then_data_then_system_then_cache(env, monkeypatch):
    places = {"path": env / "mine", "data": env / "data" / "mnist",
              "system": env / "system" / "mnist", "cache": env / "cache" / "mnist"}
    expected = {key: make_dataset(d, seed=i) for i, (key, d) in enumerate(places.items())}
    monkeypatch.setenv("LAMINA_DATA", str(env / "data"))

    def labels(key):
        arrays = expected[key]
        return (arrays["train-labels-idx1-ubyte.gz"].tolist(),
                arrays["t10k-labels-idx1-ubyte.gz"].tolist())

    assert labels_of(mnist.load_data(places["path"])) == labels("path")
    assert labels_of(mnist.load_data()) == labels("data")
    monkeypatch.delenv("LAMINA_DATA")
    assert labels_of(mnist.load_data()) == labels("system")
    os.rename(places["system"], env / "system-moved")
    assert labels_of(mnist.load_data()) == labels("cache")


def test_loads_exact_arrays_with_contract_dtypes(env):
    arrays = make_dataset(env / "d", n_train=7, n_test=3)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(str(env / "d"))
    assert x_train.shape == (7, 28, 28) and x_test.shape == (3, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_accepts_ungzipped_files(env):
    arrays = make_dataset(env / "raw", gz=False)
    (x_train, _), _ = fashion_mnist.load_data(env / "raw")
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])


def test_path_missing_files_does_not_look_elsewhere(env, monkeypatch):
    make_dataset(env / "data" / "mnist")
    monkeypatch.setenv("LAMINA_DATA", str(env / "data"))
    make_dataset(env / "partial")
    os.remove(env / "partial" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(DatasetNotFoundError, match="does not look elsewhere") as info:
        mnist.load_data(path=env / "partial")
    assert "missing train-labels-idx1-ubyte.gz" in str(info.value)
    assert str(env / "partial") in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        mnist.load_data(path=env / "nowhere")


def test_incomplete_directory_is_skipped(env, monkeypatch):
    make_dataset(env / "data" / "mnist", seed=1)
    os.remove(env / "data" / "mnist" / "t10k-images-idx3-ubyte.gz")
    monkeypatch.setenv("LAMINA_DATA", str(env / "data"))
    cached = make_dataset(env / "cache" / "mnist", seed=2)
    (_, y_train), _ = mnist.load_data()
    np.testing.assert_array_equal(y_train, cached["train-labels-idx1-ubyte.gz"])


def test_length_mismatch_is_refused(env):
    make_dataset(env / "d")
    write_idx(env / "d" / "t10k-labels-idx1-ubyte.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="differ in length.*4 images and 5 labels"):
        mnist.load_data(env / "d")


def test_label_out_of_range_is_refused(env):
    make_dataset(env / "d")
    write_idx(env / "d" / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 10, 4, 5], np.uint8))
    with pytest.raises(ValueError, match="labels 0 to 9. Received: label 10 at index 3"):
        fashion_mnist.load_data(env / "d")


def test_wrong_image_shape_is_refused(env):
    make_dataset(env / "d")
    write_idx(env / "d" / "train-images-idx3-ubyte.gz", np.zeros((6, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28\).*\(6, 32, 32\)"):
        mnist.load_data(env / "d")


def test_malformed_file_error_names_it(env):
    make_dataset(env / "d")
    target = env / "d" / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:50])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        mnist.load_data(env / "d")


def test_checksum_tables_are_complete():
    for source in (mnist.SOURCE, fashion_mnist.SOURCE):
        assert list(source.checksums) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in source.checksums.values())


@pytest.mark.skipif(not os.path.isdir(DEBIAN),
                    reason=f"{DEBIAN} is absent: `apt-get install dataset-fashion-mnist`")
def test_fashion_mnist_real_files(monkeypatch):
    monkeypatch.delenv("LAMINA_DATA", raising=False)  # so the default lookup reaches DEBIAN
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.max() == 255 and x_train.min() == 0


# Debian recompressed the upstream files without the gzip FNAME field; the deflate
# streams are the upstream ones, so restoring the upstream header (file name, and the
# mtimes below, from 2017-08-31) must give back files with the published digests.
_README_MD5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
               "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
               "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
               "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
_UPSTREAM_MTIME = {"train-images-idx3-ubyte.gz": 1504176606, "train-labels-idx1-ubyte.gz": 1504176606,
                   "t10k-images-idx3-ubyte.gz": 1504176627, "t10k-labels-idx1-ubyte.gz": 1504176627}


@pytest.mark.skipif(not os.path.isdir(DEBIAN),
                    reason=f"{DEBIAN} is absent: `apt-get install dataset-fashion-mnist`")
@pytest.mark.parametrize("name", FILES)
def test_fashion_mnist_checksums_match_rebuilt_upstream_file(name):
    debian = open(os.path.join(DEBIAN, name), "rb").read()
    if debian[:4] != b"\x1f\x8b\x08\x00":
        pytest.skip("this package version compresses differently; nothing to rebuild")
    upstream = (b"\x1f\x8b\x08\x08" + struct.pack("<I", _UPSTREAM_MTIME[name]) + b"\x00\x03"
                + name[:-3].encode() + b"\x00" + debian[10:])
    assert gzip.decompress(upstream) == gzip.decompress(debian)
    assert hashlib.md5(upstream).hexdigest() == _README_MD5[name]
    assert hashlib.sha256(upstream).hexdigest() == fashion_mnist.SOURCE.checksums[name]
