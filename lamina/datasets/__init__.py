"""Datasets as numpy arrays: MNIST and Fashion-MNIST, and the IDX format they use.

Example:
    >>> from lamina.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

from lamina.datasets import captions, fashion_mnist, mnist, sequences, surfaces, synthetic
from lamina.datasets._download import DatasetNotFoundError, DownloadError, fetch
from lamina.datasets.arrayfile import ArrayFile
from lamina.datasets.idx import read_idx, write_idx
from lamina.datasets.split import split

__all__ = ["ArrayFile", "captions", "fashion_mnist", "mnist", "sequences", "surfaces", "synthetic",
           "read_idx",
           "write_idx", "fetch", "DatasetNotFoundError", "DownloadError", "split"]
