"""Find a dataset's files on disk, or download them into the cache and verify them.

Lookup order for a dataset called ``<name>`` (e.g. ``"fashion-mnist"``):

1. the ``path`` argument, a directory; when given, nothing else is tried;
2. ``$LAMINA_DATA/<name>``;
3. the system directory, ``/usr/share/datasets/<name>`` (Debian's
   ``dataset-fashion-mnist`` package installs Fashion-MNIST there);
4. the cache, ``$LAMINA_CACHE/<name>``, else ``$XDG_CACHE_HOME/lamina/<name>``,
   else ``~/.cache/lamina/<name>``;
5. a download from the base URL into the cache. The URL is the ``base_url``
   argument, else ``$LAMINA_<NAME>_URL`` (``LAMINA_MNIST_URL``,
   ``LAMINA_FASHION_MNIST_URL``), else ``$LAMINA_DATASETS_URL/<name>/``, else the
   canonical URL.

A directory counts only when it holds every file, gzipped or not. Downloads are
streamed into a temporary file while hashed, and renamed into the cache only when
the SHA-256 matches, so the cache holds verified files or nothing. Files found on
disk are not hashed (a distribution may recompress them); the IDX reader checks
their structure instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import IO

from tqdm import tqdm

from lamina._io import atomic_open
from lamina.errors import LaminaError, message

__all__ = ["DatasetNotFoundError", "DownloadError", "Source", "default_cache_dir", "download",
           "fetch", "find_or_fetch"]

_CHUNK = 1 << 20
_SYSTEM_ROOT = "/usr/share/datasets"


class DownloadError(LaminaError, OSError):
    """A file could not be downloaded: no network, unreachable server, HTTP error."""


class DatasetNotFoundError(LaminaError, FileNotFoundError):
    """A dataset's files are in none of the places lamina looks, and downloading failed."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a dataset lives: its directory name, canonical URL and checksums.

    Args:
        name: directory name under ``LAMINA_DATA``, the system root and the cache.
        title: the dataset's name in messages, e.g. ``"Fashion-MNIST"``.
        base_url: the canonical download URL, ending in ``/``.
        checksums: file name -> SHA-256 hex digest of the file served there.
        install_hint: how to install the files system-wide, as code, if possible.

    Example:
        >>> Source("toy", "Toy", "http://example.org/", {"a.gz": "0" * 64}).url_env
        'LAMINA_TOY_URL'
    """

    name: str
    title: str
    base_url: str
    checksums: Mapping[str, str]
    install_hint: str | None = None

    @property
    def url_env(self) -> str:
        """The environment variable that overrides this dataset's base URL."""
        return "LAMINA_" + self.name.upper().replace("-", "_") + "_URL"


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def default_cache_dir(name: str) -> str:
    """The cache directory of dataset ``name`` (it may not exist yet).

    Args:
        name: the dataset's directory name, e.g. ``"mnist"``.

    Returns:
        ``$LAMINA_CACHE/<name>``, else ``$XDG_CACHE_HOME/lamina/<name>``, else
        ``~/.cache/lamina/<name>``.

    Example:
        >>> os.path.basename(default_cache_dir("mnist"))
        'mnist'
    """
    root = _env("LAMINA_CACHE")
    if root is None:
        xdg = _env("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "lamina")
    return os.path.join(os.path.expanduser(root), name)


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    return str(getattr(err, "reason", err))


def _hex(digest: str) -> str:
    return digest.lower().removeprefix("sha256:")


def _read_into(response: IO[bytes], f: IO[bytes], url: str, bar: tqdm) -> tuple[str, int]:
    """Copy ``response`` to ``f`` while hashing; return (sha256 hex, size)."""
    digest, size = hashlib.sha256(), 0
    while True:
        try:
            chunk = response.read(_CHUNK)
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(f"Downloading '{url}' failed after {size} bytes: {err}.") from err
        if not chunk:
            return digest.hexdigest(), size
        digest.update(chunk)
        f.write(chunk)
        size += len(chunk)
        bar.update(len(chunk))


def download(url: str, dest: str, sha256: str, *, timeout: float = 30.0,
             verbose: bool = True) -> str:
    """Download ``url`` to ``dest``, verifying its SHA-256; write nothing on failure.

    The body is streamed into a temporary file beside ``dest`` while it is
    hashed, and renamed onto ``dest`` only if the digest matches. A progress bar
    is shown when the size is known, ``verbose`` is true and stderr is a terminal.

    Args:
        url: the file's URL.
        dest: where to put the file. Its directory must exist.
        sha256: the expected SHA-256 hex digest.
        timeout: seconds to wait for the server on each blocking step. Defaults to 30.
        verbose: whether to show a progress bar. Defaults to True.

    Returns:
        ``dest``.

    Raises:
        DownloadError: on a network failure or an HTTP error (an ``OSError``).
        ValueError: if the digest differs; the message gives both digests.

    Example:
        >>> download("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        ...          "t10k-labels-idx1-ubyte.gz",
        ...          "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ... )  # doctest: +SKIP
        't10k-labels-idx1-ubyte.gz'
    """
    request = urllib.request.Request(url, headers={"User-Agent": "lamina"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise DownloadError(f"Could not download '{url}': {_reason(err)}.") from err
    with response:
        total = int(response.headers.get("Content-Length") or 0) or None
        quiet = not verbose or total is None or not sys.stderr.isatty()
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(dest),
                   disable=quiet, leave=False)
        with bar, atomic_open(dest, "wb") as f:
            got, size = _read_into(response, f, url, bar)
            if got != _hex(sha256):
                raise ValueError(message(
                    f"The file downloaded from '{url}' does not match its SHA-256 checksum, so "
                    f"nothing was written to '{os.path.dirname(os.path.abspath(dest))}'.",
                    expected=f"sha256 {_hex(sha256)}", received=f"sha256 {got} ({size} bytes)",
                    fix="The server or a proxy served a different file: try again later, or pass "
                        "`base_url=` a mirror you trust."))
    return dest


def fetch(name: str, files: Sequence[str], *, base_url: str, checksums: Mapping[str, str],
          cache_dir: str | None = None, timeout: float = 30.0,
          verbose: bool = True) -> dict[str, str]:
    """Download the ``files`` missing from a dataset's cache directory.

    Files already in the cache are kept as they are: they were verified before
    they were renamed into it.

    Args:
        name: the dataset's directory name, e.g. ``"mnist"``.
        files: file names, each downloaded from ``base_url + file``.
        base_url: the directory URL holding the files.
        checksums: file name -> SHA-256 hex digest; every file needs one.
        cache_dir: where to put the files. Defaults to :func:`default_cache_dir` of ``name``.
        timeout: seconds to wait for the server on each blocking step. Defaults to 30.
        verbose: whether to show progress bars. Defaults to True.

    Returns:
        File name -> path of the verified file in the cache.

    Raises:
        DownloadError: on a network failure or an HTTP error.
        ValueError: if a file has no checksum, or a download does not match it.

    Example:
        >>> fetch("mnist", ["t10k-labels-idx1-ubyte.gz"],
        ...       base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        ...       checksums=lamina.datasets.mnist.SOURCE.checksums)  # doctest: +SKIP
        {'t10k-labels-idx1-ubyte.gz': '/home/me/.cache/lamina/mnist/t10k-labels-idx1-ubyte.gz'}
    """
    unknown = [file for file in files if file not in checksums]
    if unknown:
        raise ValueError(message(
            f"No SHA-256 checksum for {', '.join(unknown)}; lamina never keeps an unverified "
            "download.", received=f"checksums for {sorted(checksums)}",
            fix="Pass `checksums={file: sha256_hex, ...}` covering every file."))
    directory = cache_dir if cache_dir is not None else default_cache_dir(name)
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for file in files:
        paths[file] = os.path.join(directory, file)
        if not os.path.isfile(paths[file]):
            url = base_url.rstrip("/") + "/" + file
            download(url, paths[file], checksums[file], timeout=timeout, verbose=verbose)
    return paths


def _scan(directory: str, files: Sequence[str]) -> tuple[dict[str, str], str]:
    """Find each file (or its un-gzipped twin); return (found, a note on what is missing)."""
    if not os.path.isdir(directory):
        return {}, "does not exist"
    found = {}
    for file in files:
        for candidate in (file, file.removesuffix(".gz")):
            if os.path.isfile(os.path.join(directory, candidate)):
                found[file] = os.path.join(directory, candidate)
                break
    missing = [file for file in files if file not in found]
    return found, ("missing " + ", ".join(missing)) if missing else "complete"


def _base_url(source: Source, base_url: str | None) -> str:
    if base_url is not None:
        return base_url
    generic = _env("LAMINA_DATASETS_URL")
    return (_env(source.url_env)
            or (generic.rstrip("/") + "/" + source.name + "/" if generic else source.base_url))


def _from_path(source: Source, path: str | os.PathLike[str]) -> dict[str, str]:
    directory = os.path.expanduser(os.fspath(path))
    found, note = _scan(directory, list(source.checksums))
    if note != "complete":
        raise DatasetNotFoundError(message(
            f"The directory given as `path` for {source.title} {note}; lamina does not look "
            "elsewhere when `path` is given.",
            expected=f"a directory holding {', '.join(source.checksums)} (gzipped or not)",
            received=f"path={os.fspath(path)!r}",
            fix="Put the files there, or leave out `path` to use LAMINA_DATA, the cache or a "
                "download."))
    return found


def find_or_fetch(source: Source, path: str | os.PathLike[str] | None = None, *,
                  base_url: str | None = None, checksums: Mapping[str, str] | None = None,
                  timeout: float = 30.0, verbose: bool = True) -> dict[str, str]:
    """Find a dataset's files in the lookup order above, downloading them if needed.

    Args:
        source: the dataset.
        path: a directory holding the files; when given, nothing else is tried.
        base_url: overrides the download URL (see the module docstring).
        checksums: overrides ``source.checksums`` for downloads.
        timeout: seconds to wait for the server on each blocking step. Defaults to 30.
        verbose: whether to show progress bars. Defaults to True.

    Returns:
        File name (as in ``source.checksums``) -> path of the file found.

    Raises:
        DatasetNotFoundError: if ``path`` lacks a file, or if the files are nowhere
            and the download failed; the message lists every place looked in.
        ValueError: if a download does not match its checksum.

    Example:
        >>> find_or_fetch(lamina.datasets.fashion_mnist.SOURCE)  # doctest: +SKIP
        {'train-images-idx3-ubyte.gz': '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz', ...}
    """
    if path is not None:
        return _from_path(source, path)
    files = list(source.checksums)
    data_root = _env("LAMINA_DATA")
    places = [
        ("$LAMINA_DATA/" + source.name,
         os.path.join(os.path.expanduser(data_root), source.name) if data_root else None),
        ("the system directory", os.path.join(_SYSTEM_ROOT, source.name)),
        ("the cache", default_cache_dir(source.name)),
    ]
    looked = []
    for label, directory in places:
        if directory is None:
            looked.append(f"{label} (LAMINA_DATA is not set)")
            continue
        found, note = _scan(directory, files)
        if note == "complete":
            return found
        looked.append(f"{label} {directory} ({note})")
    cache = places[-1][1]
    missing = [file for file in files if file not in _scan(cache, files)[0]]
    try:
        fetch(source.name, missing, base_url=_base_url(source, base_url),
              checksums=checksums if checksums is not None else source.checksums,
              cache_dir=cache, timeout=timeout, verbose=verbose)
    except DownloadError as err:
        hint = f", or {source.install_hint}" if source.install_hint else ""
        raise DatasetNotFoundError(message(
            f"{source.title} is not available: {err} lamina looked in: "
            + "; ".join(f"{i}. {place}" for i, place in enumerate(looked, 1)) + ".",
            fix=f"Pass `path=` a directory holding {', '.join(files)}, or set LAMINA_DATA to a "
                f"directory with a '{source.name}' folder holding them{hint}. To download from "
                f"another server, set {source.url_env} or pass `base_url=`.")) from err
    return _scan(cache, files)[0]
