"""Fashion-MNIST: 70,000 Zalando product photos, 28x28 grey, in 10 classes.

Xiao, Rasul and Vollgraf, 2017 (https://github.com/zalandoresearch/fashion-mnist),
a drop-in replacement for MNIST: same IDX files, same sizes. The files are looked
for in the order that :mod:`lamina.datasets._download` describes (``path``,
``$LAMINA_DATA/fashion-mnist``, ``/usr/share/datasets/fashion-mnist`` where
``apt-get install dataset-fashion-mnist`` puts them, the cache) and otherwise
downloaded with SHA-256 verification.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lamina.datasets._download import Source
from lamina.datasets.mnist import _load, _Split

__all__ = ["load_data", "CLASS_NAMES", "SOURCE"]

#: The label names, in label order.
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")

#: Where Fashion-MNIST is downloaded from, and the SHA-256 of each file served there.
#: Checked offline: Debian's dataset-fashion-mnist recompresses the files without the
#: gzip FNAME field, leaving the deflate stream unchanged; restoring the upstream
#: header (name, mtime 2017-08-31) rebuilds files whose MD5s equal the ones the
#: Fashion-MNIST README publishes (8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...),
#: and these SHA-256s are those rebuilt files' digests. They also match the values
#: published elsewhere (e.g. torchvision's prototype datasets). Debian's own .gz
#: files therefore have other digests, which is why files found on disk are not hashed.
SOURCE = Source(
    name="fashion-mnist",
    title="Fashion-MNIST",
    base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    checksums={
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    install_hint="`apt-get install dataset-fashion-mnist`",
)


def load_data(path: str | os.PathLike[str] | None = None, *, base_url: str | None = None,
              checksums: Mapping[str, str] | None = None,
              verbose: bool = True) -> tuple[_Split, _Split]:
    """Load Fashion-MNIST as numpy arrays, exactly as stored in the IDX files.

    Args:
        path: a directory holding ``train-images-idx3-ubyte.gz``,
            ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
            ``t10k-labels-idx1-ubyte.gz`` (or the same names without ``.gz``).
            When given, no other place is tried. Defaults to looking in
            ``$LAMINA_DATA/fashion-mnist``, ``/usr/share/datasets/fashion-mnist``
            and the cache, then downloading.
        base_url: the URL to download from. Defaults to ``$LAMINA_FASHION_MNIST_URL``,
            else ``$LAMINA_DATASETS_URL/fashion-mnist/``, else :data:`SOURCE`'s URL.
        checksums: file name -> SHA-256 hex digest, replacing :data:`SOURCE`'s
            for a mirror that serves other bytes. Defaults to None.
        verbose: whether to show download progress. Defaults to True.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: x uint8 of shape (N, 28, 28) with
        values 0 to 255, y int64 of shape (N,) with values 0 to 9 (see
        :data:`CLASS_NAMES`); N is 60,000 for train and 10,000 for test.

    Raises:
        DatasetNotFoundError: if the files are nowhere and cannot be downloaded; the
            message lists the places looked in and how to provide the files.
        ValueError: if a file is malformed, a download fails its checksum, images
            and labels differ in length, or a label is outside 0..9.

    Example:
        >>> from lamina.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype, CLASS_NAMES[y_train[0]]  # doctest: +SKIP
        ((60000, 28, 28), dtype('uint8'), 'Ankle boot')
    """
    return _load(SOURCE, path, base_url=base_url, checksums=checksums, verbose=verbose)
