"""Downloads against a real HTTP server on 127.0.0.1: never a mock, never the internet."""

import functools
import hashlib
import http.server
import os
import socket
import threading
import time

import numpy as np
import pytest

from lamina.datasets import (
    DatasetNotFoundError,
    DownloadError,
    _download,
    fashion_mnist,
    fetch,
    mnist,
)
from lamina.datasets._download import download
from lamina.datasets.idx import write_idx
from lamina.errors import LaminaError

FILES = list(mnist.SOURCE.checksums)


def make_dataset(directory, seed=0):
    """Write a tiny MNIST-format dataset (6 train, 4 test images); return its arrays."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    arrays = {}
    for split, n in (("train", 6), ("t10k", 4)):
        arrays[f"{split}-images-idx3-ubyte.gz"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}-labels-idx1-ubyte.gz"] = rng.integers(0, 10, n, dtype=np.uint8)
    for name, array in arrays.items():
        write_idx(os.path.join(directory, name), array)
    return arrays


def sha256_of(directory):
    return {name: hashlib.sha256(open(os.path.join(directory, name), "rb").read()).hexdigest()
            for name in FILES}


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        self.server.requests.append(self.path)


class Server:
    """A ThreadingHTTPServer serving ``root`` on 127.0.0.1, on a free port."""

    def __init__(self, root):
        self.root = str(root)
        handler = functools.partial(_Handler, directory=self.root)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def requests(self):
        return self.httpd.requests

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolate lookups: empty system root, cache under tmp_path, no proxy, no URL overrides."""
    for name in ("LAMINA_DATA", "LAMINA_DATASETS_URL", "LAMINA_MNIST_URL",
                 "LAMINA_FASHION_MNIST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAMINA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setattr(_download, "_SYSTEM_ROOT", str(tmp_path / "system"))
    return tmp_path


@pytest.fixture
def server(env):
    """A real HTTP server on 127.0.0.1 serving a tiny synthetic MNIST-format dataset."""
    served = env / "served"
    srv = Server(served)
    srv.arrays = make_dataset(served)
    srv.checksums = sha256_of(served)
    yield srv
    srv.stop()


def free_port():
    """A local port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64


def test_download_then_load(server, env):
    result = mnist.load_data(base_url=server.url, checksums=server.checksums)
    assert_loaded(result, server.arrays)
    assert sorted(os.listdir(env / "cache" / "mnist")) == sorted(FILES)
    assert sorted(server.requests) == sorted("/" + f for f in FILES)


def test_cache_hit_after_server_stopped(server):
    mnist.load_data(base_url=server.url, checksums=server.checksums)
    server.stop()
    assert_loaded(mnist.load_data(base_url=server.url, checksums=server.checksums), server.arrays)


def test_base_url_from_environment(server, monkeypatch):
    monkeypatch.setenv("LAMINA_FASHION_MNIST_URL", server.url)
    assert_loaded(fashion_mnist.load_data(checksums=server.checksums), server.arrays)


def test_generic_mirror_url_adds_dataset_folder(env, monkeypatch):
    served = env / "mirror"
    arrays = make_dataset(served / "mnist")
    srv = Server(served)
    try:
        monkeypatch.setenv("LAMINA_DATASETS_URL", srv.url.rstrip("/"))
        assert_loaded(mnist.load_data(checksums=sha256_of(served / "mnist")), arrays)
        assert all(r.startswith("/mnist/") for r in srv.requests)
    finally:
        srv.stop()


def test_checksum_mismatch_writes_nothing(server, env):
    wrong = dict(server.checksums, **{"t10k-images-idx3-ubyte.gz": "ab" * 32})
    with pytest.raises(ValueError, match="does not match its SHA-256 checksum") as info:
        mnist.load_data(base_url=server.url, checksums=wrong)
    text = str(info.value)
    assert "nothing was written" in text
    assert f"{server.url}t10k-images-idx3-ubyte.gz" in text
    assert "Expected: sha256 " + "ab" * 32 in text
    assert "Received: sha256 " + server.checksums["t10k-images-idx3-ubyte.gz"] in text
    left = os.listdir(env / "cache" / "mnist")
    assert "t10k-images-idx3-ubyte.gz" not in left
    assert not [name for name in left if name.endswith(".tmp")]


def test_published_checksums_refuse_synthetic_files(server, env):
    with pytest.raises(ValueError, match="does not match"):
        fashion_mnist.load_data(base_url=server.url)
    assert os.listdir(env / "cache" / "fashion-mnist") == []


def test_unreachable_server_says_where_lamina_looked(env):
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data(base_url=url)
    err = info.value
    assert isinstance(err, OSError) and isinstance(err, LaminaError)
    assert isinstance(err.__cause__, DownloadError)
    text = str(err)
    for expected in ("Fashion-MNIST is not available", url, "lamina looked in",
                     "$LAMINA_DATA/fashion-mnist (LAMINA_DATA is not set)",
                     str(env / "system" / "fashion-mnist") + " (does not exist)",
                     str(env / "cache" / "fashion-mnist"), "`path=`", "set LAMINA_DATA",
                     "`apt-get install dataset-fashion-mnist`", "LAMINA_FASHION_MNIST_URL"):
        assert expected in text, expected


def test_unreachable_server_lists_partial_directories(env, monkeypatch):
    data = env / "data"
    make_dataset(data / "mnist")
    os.remove(data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("LAMINA_DATA", str(data))
    monkeypatch.setenv("LAMINA_MNIST_URL", f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    text = str(info.value)
    assert f"$LAMINA_DATA/mnist {data / 'mnist'} (missing t10k-labels-idx1-ubyte.gz)" in text
    assert "apt-get" not in text  # MNIST has no Debian package


def test_http_error_is_a_download_error(env):
    srv = Server(env / "empty")
    (env / "empty").mkdir()
    try:
        with pytest.raises(DatasetNotFoundError, match="404"):
            mnist.load_data(base_url=srv.url)
    finally:
        srv.stop()


def test_fetch_downloads_only_missing_files(server, env):
    cache = env / "elsewhere"
    first = fetch("mnist", FILES[:1], base_url=server.url, checksums=server.checksums,
                  cache_dir=str(cache))
    assert first == {FILES[0]: str(cache / FILES[0])}
    paths = fetch("mnist", FILES, base_url=server.url, checksums=server.checksums,
                  cache_dir=str(cache))
    assert sorted(paths) == sorted(FILES)
    assert sorted(server.requests) == sorted("/" + f for f in FILES)  # first file fetched once


def test_fetch_refuses_files_without_checksum(server, env):
    with pytest.raises(ValueError, match="No SHA-256 checksum for extra.gz"):
        fetch("mnist", ["extra.gz"], base_url=server.url, checksums=server.checksums,
              cache_dir=str(env / "c"))
    assert not (env / "c").exists()


def test_silent_server_times_out(env):
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x.gz"
        start = time.perf_counter()
        with pytest.raises(DownloadError, match="timed out"):
            download(url, str(env / "x.gz"), "0" * 64, timeout=0.5)
    assert time.perf_counter() - start < 10
    assert not (env / "x.gz").exists()
