"""Downloads are bounded (issue 25): a size cap, an overall deadline, arguments checked
before any traffic. Each against a real HTTP server on 127.0.0.1, bounded by itself."""

import hashlib
import http.server
import os
import threading
import time

import pytest

from lamina.datasets import DownloadError, _download, fetch
from lamina.datasets._download import download

SHA = hashlib.sha256(b"tiny file").hexdigest()


class _Hostile(http.server.BaseHTTPRequestHandler):
    """/flood: bytes without Content-Length, up to a hard stop; /drip: a byte per 0.4 s."""

    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        self.server.requests.append(self.path)

    def do_GET(self):
        self.send_response(200)
        if self.path.startswith("/liar"):
            self.send_header("Content-Length", str(10**9))
        self.end_headers()
        try:
            if self.path.startswith("/drip"):
                for _ in range(50):                      # 20 s at most, then stop
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.4)
            else:
                block = b"\0" * 65536
                for _ in range(16 * 20):                 # 20 MiB at most, then stop
                    self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass                                         # the client gave up: expected


@pytest.fixture
def hostile(monkeypatch):
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_stream_without_content_length_stops_at_the_expected_size(hostile, tmp_path):
    # A 200 MB stream used to fill a temp file for a 30 kB file before the checksum failed.
    dest = tmp_path / "f.gz"
    with pytest.raises(DownloadError, match=r"more than the 30000 bytes expected"):
        download(hostile + "/flood", dest, SHA, size=30_000, verbose=False)
    assert os.listdir(tmp_path) == []


def test_without_a_known_size_the_maximum_applies(hostile, tmp_path, monkeypatch):
    monkeypatch.setattr(_download, "MAX_DOWNLOAD_BYTES", 1 << 20)
    with pytest.raises(DownloadError, match=r"more than the 1048576 bytes"):
        download(hostile + "/flood", tmp_path / "f.gz", SHA, verbose=False)
    assert os.listdir(tmp_path) == []


def test_an_announced_size_above_the_cap_is_refused_before_reading(hostile, tmp_path):
    with pytest.raises(DownloadError, match=r"announces 1000000000 bytes"):
        download(hostile + "/liar", tmp_path / "f.gz", SHA, size=100, verbose=False)


def test_a_dripping_server_is_stopped_by_the_deadline(hostile, tmp_path):
    # 1 byte every 0.4 s kept a timeout=1 download alive for 4.4 s (and would forever).
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        download(hostile + "/drip", tmp_path / "f.gz", SHA, timeout=1, deadline=1.5,
                 verbose=False)
    assert time.monotonic() - start < 1.5 + 1 + 0.5     # deadline + one timeout, at most
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, match", [
    ({"checksums": {"f": None}}, "SHA-256 of 'f' as 64 hex digits.*None"),
    ({"checksums": {"f": "abc"}}, "64 hex digits.*'abc'"),
    ({"checksums": {}}, "No SHA-256 checksum for f"),
    ({"checksums": ["f"]}, "must map file names"),
    ({"files": "f"}, "list of file names"),
    ({"timeout": 0}, "`timeout`.*positive"),
    ({"timeout": float("nan")}, "`timeout`.*positive"),
    ({"deadline": -1}, "`deadline`.*positive"),
    ({"base_url": "ftp://x/"}, "http\\(s\\) or file URL"),
    ({"sizes": {"f": 0}}, "sizes\\['f'\\]"),
])
def test_arguments_are_checked_before_any_network_traffic(hostile, tmp_path, kwargs, match):
    # checksums={"f": None} used to crash with AttributeError after the whole download.
    args = {"files": ["f"], "base_url": hostile + "/", "checksums": {"f": SHA},
            "cache_dir": str(tmp_path), **kwargs}
    with pytest.raises(ValueError, match=match):
        fetch("toy", **args)
    assert os.listdir(tmp_path) == []


def test_download_checks_its_own_arguments_first(tmp_path):
    with pytest.raises(ValueError, match="64 hex digits"):
        download("http://127.0.0.1:9/x", tmp_path / "x", None)
    with pytest.raises(ValueError, match="does not exist"):
        download("http://127.0.0.1:9/x", tmp_path / "no" / "x", SHA)
    with pytest.raises(ValueError, match="`size`"):
        download("http://127.0.0.1:9/x", tmp_path / "x", SHA, size=2.5)
