"""MNIST: 70,000 handwritten digits, 28x28 grey, in 10 classes (LeCun et al., 1998).

The four IDX files are looked for in the order that :mod:`lamina.datasets._download`
describes (``path``, ``$LAMINA_DATA/mnist``, ``/usr/share/datasets/mnist``, the
cache) and otherwise downloaded, with SHA-256 verification, from the mirror that
torchvision uses (``$LAMINA_MNIST_URL`` or ``base_url=`` picks another).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from lamina.datasets._download import Source, find_or_fetch
from lamina.datasets.idx import read_idx
from lamina.errors import message

__all__ = ["load_data", "SOURCE"]

#: Where MNIST is downloaded from, and the SHA-256 of each file served there.
#: These are the digests of the original yann.lecun.com files, which the mirror
#: serves byte for byte (torchvision checks the same files by MD5: f68b3c2d...,
#: d53e105e..., 9fb629c4..., ec29112d...). The SHA-256 values are the ones
#: published by many independent projects (e.g. TensorFlow Datasets' checksums
#: for its CVDF mirror of the same files); no copy of MNIST was available to
#: recompute them when this table was written.
SOURCE = Source(
    name="mnist",
    title="MNIST",
    base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
    checksums={
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
)

_Split = tuple[np.ndarray, np.ndarray]


def _read_split(images_path: str, labels_path: str, title: str) -> _Split:
    """Read one images/labels pair and check it is a 10-class 28x28 uint8 split."""
    x, y = read_idx(images_path), read_idx(labels_path)
    if x.dtype != np.uint8 or x.shape[1:] != (28, 28):
        raise ValueError(message(
            f"Images file '{images_path}' does not hold {title} images.",
            expected="uint8 images of shape (N, 28, 28)",
            received=f"{x.dtype} array of shape {x.shape}"))
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(message(
            f"Labels file '{labels_path}' does not hold {title} labels.",
            expected="integer labels of shape (N,)", received=f"{y.dtype} array of shape {y.shape}"))
    if len(x) != len(y):
        raise ValueError(message(
            f"{title} images '{images_path}' and labels '{labels_path}' differ in length.",
            expected="one label per image", received=f"{len(x)} images and {len(y)} labels",
            fix="One of the files is from another dataset or version: replace both."))
    bad = np.flatnonzero((y < 0) | (y > 9))
    if bad.size:
        raise ValueError(message(
            f"Labels file '{labels_path}' holds labels outside the {title} classes.",
            expected="labels 0 to 9", received=f"label {y[bad[0]]} at index {bad[0]}"))
    return x, y.astype(np.int64)


def _load(source: Source, path: str | os.PathLike[str] | None, **options) -> tuple[_Split, _Split]:
    """Find (or fetch) a MNIST-format dataset's four files and read both splits."""
    files = find_or_fetch(source, path, **options)
    train = _read_split(files["train-images-idx3-ubyte.gz"], files["train-labels-idx1-ubyte.gz"],
                        source.title)
    test = _read_split(files["t10k-images-idx3-ubyte.gz"], files["t10k-labels-idx1-ubyte.gz"],
                       source.title)
    return train, test


def load_data(path: str | os.PathLike[str] | None = None, *, base_url: str | None = None,
              checksums: Mapping[str, str] | None = None,
              verbose: bool = True) -> tuple[_Split, _Split]:
    """Load MNIST as numpy arrays, exactly as stored in the IDX files.

    Args:
        path: a directory holding ``train-images-idx3-ubyte.gz``,
            ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
            ``t10k-labels-idx1-ubyte.gz`` (or the same names without ``.gz``).
            When given, no other place is tried. Defaults to looking in
            ``$LAMINA_DATA/mnist``, ``/usr/share/datasets/mnist`` and the cache,
            then downloading.
        base_url: the URL to download from. Defaults to ``$LAMINA_MNIST_URL``,
            else ``$LAMINA_DATASETS_URL/mnist/``, else :data:`SOURCE`'s URL.
        checksums: file name -> SHA-256 hex digest, replacing :data:`SOURCE`'s
            for a mirror that serves other bytes. Defaults to None.
        verbose: whether to show download progress. Defaults to True.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: x uint8 of shape (N, 28, 28) with
        values 0 to 255, y int64 of shape (N,) with values 0 to 9; N is 60,000 for
        train and 10,000 for test.

    Raises:
        DatasetNotFoundError: if the files are nowhere and cannot be downloaded; the
            message lists the places looked in and how to provide the files.
        ValueError: if a file is malformed, a download fails its checksum, images
            and labels differ in length, or a label is outside 0..9.

    Example:
        >>> from lamina.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.dtype  # doctest: +SKIP
        ((60000, 28, 28), dtype('int64'))
    """
    return _load(SOURCE, path, base_url=base_url, checksums=checksums, verbose=verbose)
