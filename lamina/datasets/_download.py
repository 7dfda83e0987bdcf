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

A download is bounded in size and time: it stops with a :class:`DownloadError` once
it passes the file's expected size (``Source.sizes``) or, where that is unknown,
:data:`MAX_DOWNLOAD_BYTES`, and once it has run for ``deadline`` seconds in all
(``timeout`` bounds each wait on the server, ``deadline`` the whole transfer, so a
server dripping a byte at a time cannot keep it alive). Every argument is checked
before the first byte goes over the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import math
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import IO

from tqdm import tqdm

from lamina._io import atomic_open
from lamina.errors import LaminaError, message

__all__ = ["DatasetNotFoundError", "DownloadError", "Source", "default_cache_dir", "download",
           "fetch", "find_or_fetch", "MAX_DOWNLOAD_BYTES", "DEFAULT_DEADLINE"]

_CHUNK = 1 << 20
#: Largest download when the file's size is not known in advance (1 GiB).
MAX_DOWNLOAD_BYTES = 2**30
#: Seconds a whole download may take by default.
DEFAULT_DEADLINE = 1800.0
_SHA256 = re.compile(r"(sha256:)?[0-9a-fA-F]{64}")
_HEX_PREFIX = re.compile(r"[0-9a-fA-F]{8,64}")
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
        sizes: file name -> size in bytes, where known; a download stops beyond it.

    Example:
        >>> Source("toy", "Toy", "http://example.org/", {"a.gz": "0" * 64}).url_env
        'LAMINA_TOY_URL'
    """

    name: str
    title: str
    base_url: str
    checksums: Mapping[str, str]
    install_hint: str | None = None
    sizes: Mapping[str, int] = dataclasses.field(default_factory=dict)

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


def _check_number(name: str, value, owner: str, *, integer: bool = False):
    kinds = (int,) if integer else (int, float)
    if (isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value)
            or value <= 0):
        raise ValueError(message(
            f"Argument `{name}` of {owner} must be a positive finite "
            f"{'int' if integer else 'number'}.", received=f"{name}={value!r}"))
    return value


def _check_sha256(file: str, digest, owner: str) -> str:
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ValueError(message(
            f"{owner} needs the SHA-256 of {file!r} as 64 hex digits; lamina never keeps an "
            f"unverified download.", received=f"{digest!r}",
            fix="Pass `checksums={file: sha256_hex, ...}` covering every file."))
    return digest


def _check_url(url, owner: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://",
                                                                "file://")):
        raise ValueError(message(f"Argument `url` of {owner} must be an http(s) or file URL.",
                                 received=f"{url!r}"))
    return url


def _read_into(response: IO[bytes], f: IO[bytes], url: str, bar: tqdm, cap: int,
               until: float) -> tuple[str, int]:
    """Copy ``response`` to ``f`` while hashing; return (sha256 hex, size).

    Each read returns what one receive brings (``read1``), so the deadline is checked
    at least every ``timeout`` seconds however slowly the server sends; the loop ends at
    end of file, past ``cap`` bytes or past the deadline.
    """
    digest, size = hashlib.sha256(), 0
    read = getattr(response, "read1", response.read)
    while True:
        if time.monotonic() > until:
            raise DownloadError(f"Downloading '{url}' took longer than its deadline; stopped "
                                f"after {size} bytes. Pass a larger `deadline=` for a slow "
                                f"connection.")
        try:
            chunk = read(min(_CHUNK, cap + 1 - size))
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(f"Downloading '{url}' failed after {size} bytes: {err}.") from err
        if not chunk:
            return digest.hexdigest(), size
        size += len(chunk)
        if size > cap:
            raise DownloadError(f"Downloading '{url}' stopped: the server sent more than the "
                                f"{cap} bytes expected. It is not the file lamina asked for.")
        digest.update(chunk)
        f.write(chunk)
        bar.update(len(chunk))


def download(url: str, dest: str, sha256: str, *, timeout: float = 30.0,
             deadline: float = DEFAULT_DEADLINE, size: int | None = None,
             verbose: bool = True, prefix: bool = False) -> str:
    """Download ``url`` to ``dest``, verifying its SHA-256; write nothing on failure.

    The body is streamed into a temporary file beside ``dest`` while it is
    hashed, and renamed onto ``dest`` only if the digest matches. A progress bar
    is shown when the size is known, ``verbose`` is true and stderr is a terminal.
    Every argument is checked before the request is sent.

    Args:
        url: the file's URL.
        dest: where to put the file. Its directory must exist.
        sha256: the expected SHA-256 hex digest.
        timeout: seconds to wait for the server on each blocking step. Defaults to 30.
        deadline: seconds the whole download may take. Defaults to
            :data:`DEFAULT_DEADLINE` (30 minutes).
        size: the file's size in bytes, if known: a larger body is refused. Defaults
            to None, allowing up to :data:`MAX_DOWNLOAD_BYTES`.
        verbose: whether to show a progress bar. Defaults to True.
        prefix: ``sha256`` is only the start of the digest, at least 8 hex digits (what
            ``torch.hub`` file names carry, where the full digest is unpublished).
            Defaults to False.

    Returns:
        ``dest``.

    Raises:
        DownloadError: on a network failure, an HTTP error, a body larger than
            allowed or a download past its deadline (an ``OSError``).
        ValueError: if an argument is invalid, or the digest differs; the message
            gives both digests.

    Example:
        >>> download("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        ...          "t10k-labels-idx1-ubyte.gz",
        ...          "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ... )  # doctest: +SKIP
        't10k-labels-idx1-ubyte.gz'
    """
    _check_url(url, "download")
    if prefix:
        if not isinstance(sha256, str) or not _HEX_PREFIX.fullmatch(sha256):
            raise ValueError(message("With `prefix=True`, `sha256` of download must be at "
                                     "least 8 hex digits.", received=f"{sha256!r}"))
    else:
        _check_sha256(os.path.basename(str(dest)), sha256, "download")
    _check_number("timeout", timeout, "download")
    _check_number("deadline", deadline, "download")
    cap = MAX_DOWNLOAD_BYTES if size is None else _check_number("size", size, "download",
                                                                  integer=True)
    directory = os.path.dirname(os.path.abspath(os.fspath(dest)))
    if not os.path.isdir(directory):
        raise ValueError(message("The directory of `dest` given to download does not exist.",
                                 received=f"dest={os.fspath(dest)!r}",
                                 fix=f"Create it first: `os.makedirs({directory!r})`."))
    until = time.monotonic() + deadline
    request = urllib.request.Request(url, headers={"User-Agent": "lamina"})
    try:
        response = urllib.request.urlopen(request, timeout=min(timeout, deadline))
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise DownloadError(f"Could not download '{url}': {_reason(err)}.") from err
    with response:
        declared = response.headers.get("Content-Length")
        total = int(declared) if declared and declared.isdigit() else None
        if total is not None and total > cap:
            raise DownloadError(f"Not downloading '{url}': the server announces {total} bytes, "
                                f"more than the {cap} expected.")
        quiet = not verbose or not total or not sys.stderr.isatty()
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(dest),
                   disable=quiet, leave=False)
        with bar, atomic_open(dest, "wb") as f:
            got, got_size = _read_into(response, f, url, bar, cap, until)
            want = sha256.lower() if prefix else _hex(sha256)
            if not (got.startswith(want) if prefix else got == want):
                kind = "the SHA-256 prefix in its name" if prefix else "its SHA-256 checksum"
                raise ValueError(message(
                    f"The file downloaded from '{url}' does not match {kind}, so nothing was "
                    f"written to '{directory}'.",
                    expected=f"sha256 {want}{'...' if prefix else ''}",
                    received=f"sha256 {got} ({got_size} bytes)",
                    fix="The server or a proxy served a different file: try again later, or pass "
                        "`base_url=` a mirror you trust."))
    return dest


def fetch(name: str, files: Sequence[str], *, base_url: str, checksums: Mapping[str, str],
          cache_dir: str | None = None, timeout: float = 30.0,
          deadline: float = DEFAULT_DEADLINE, sizes: Mapping[str, int] | None = None,
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
        deadline: seconds each file's download may take. Defaults to 30 minutes.
        sizes: file name -> expected size in bytes, where known. Defaults to None.
        verbose: whether to show progress bars. Defaults to True.

    Returns:
        File name -> path of the verified file in the cache.

    Raises:
        DownloadError: on a network failure or an HTTP error.
        ValueError: if an argument is invalid (checked before any download), a file
            has no checksum, or a download does not match it.

    Example:
        >>> fetch("mnist", ["t10k-labels-idx1-ubyte.gz"],
        ...       base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        ...       checksums=lamina.datasets.mnist.SOURCE.checksums)  # doctest: +SKIP
        {'t10k-labels-idx1-ubyte.gz': '/home/me/.cache/lamina/mnist/t10k-labels-idx1-ubyte.gz'}
    """
    if isinstance(files, (str, bytes)) or not all(isinstance(f, str) and f for f in files):
        raise ValueError(message("Argument `files` of fetch must be a list of file names.",
                                 received=f"files={files!r}"))
    if not isinstance(checksums, Mapping):
        raise ValueError(message("Argument `checksums` of fetch must map file names to "
                                 "SHA-256 hex digests.", received=f"{type(checksums).__name__}"))
    unknown = [file for file in files if file not in checksums]
    if unknown:
        raise ValueError(message(
            f"No SHA-256 checksum for {', '.join(unknown)}; lamina never keeps an unverified "
            "download.", received=f"checksums for {sorted(checksums)}",
            fix="Pass `checksums={file: sha256_hex, ...}` covering every file."))
    for file in files:
        _check_sha256(file, checksums[file], "fetch")
        if sizes and file in sizes:
            _check_number(f"sizes[{file!r}]", sizes[file], "fetch", integer=True)
    _check_url(base_url, "fetch")
    _check_number("timeout", timeout, "fetch")
    _check_number("deadline", deadline, "fetch")
    directory = cache_dir if cache_dir is not None else default_cache_dir(name)
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for file in files:
        paths[file] = os.path.join(directory, file)
        if not os.path.isfile(paths[file]):
            url = base_url.rstrip("/") + "/" + file
            download(url, paths[file], checksums[file], timeout=timeout, deadline=deadline,
                     size=(sizes or {}).get(file), verbose=verbose)
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
                  timeout: float = 30.0, deadline: float = DEFAULT_DEADLINE,
                  verbose: bool = True) -> dict[str, str]:
    """Find a dataset's files in the lookup order above, downloading them if needed.

    Args:
        source: the dataset.
        path: a directory holding the files; when given, nothing else is tried.
        base_url: overrides the download URL (see the module docstring).
        checksums: overrides ``source.checksums`` (and drops ``source.sizes``) for downloads.
        timeout: seconds to wait for the server on each blocking step. Defaults to 30.
        deadline: seconds each file's download may take. Defaults to 30 minutes.
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
              cache_dir=cache, timeout=timeout, deadline=deadline,
              sizes=source.sizes if checksums is None else None, verbose=verbose)
    except DownloadError as err:
        hint = f", or {source.install_hint}" if source.install_hint else ""
        raise DatasetNotFoundError(message(
            f"{source.title} is not available: {err} lamina looked in: "
            + "; ".join(f"{i}. {place}" for i, place in enumerate(looked, 1)) + ".",
            fix=f"Pass `path=` a directory holding {', '.join(files)}, or set LAMINA_DATA to a "
                f"directory with a '{source.name}' folder holding them{hint}. To download from "
                f"another server, set {source.url_env} or pass `base_url=`.")) from err
    return _scan(cache, files)[0]
