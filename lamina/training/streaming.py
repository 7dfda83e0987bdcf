"""Data that stay on disk: numpy memory maps and map-style Datasets, read batch by batch.

``fit``, ``evaluate`` and ``predict`` give a ``numpy.memmap`` (e.g. ``np.load(path,
mmap_mode="r")`` or :class:`lamina.datasets.ArrayFile`) or a ``torch.utils.data.Dataset``
with a length to :class:`StreamData`. Nothing is read in full: each step gathers the rows of
its batch (``x[index]``), converts them as ``fit`` converts arrays (float32 inputs, int64
labels) and checks them (finite values, the loss's targets), one batch ahead in a
background thread, so the step does not wait on the disk. The epoch's order is the same
``randperm`` an in-memory ``fit`` draws, so the same data trained from a memmap or from RAM
give the same weights, and a resumed run continues exactly.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

from lamina.errors import message
from lamina.training.targets import check_targets, missing_targets
from lamina.training.tensors import check_finite, check_ids, to_tensor, validation_cut

__all__ = ["StreamData", "streams", "prefetch"]

#: Batches read ahead of the step.
DEPTH = 2


def streams(x) -> bool:
    """Whether ``fit`` reads ``x`` batch by batch instead of loading it: a ``numpy.memmap``,
    or a map-style ``Dataset`` with a length (not a ``DataLoader``, which batches itself).

    Example:
        >>> streams(np.zeros(3)), streams(torch.utils.data.TensorDataset(torch.zeros(3)))
        (False, True)
    """
    if isinstance(x, np.memmap):
        return True
    if isinstance(x, Dataset) and not isinstance(x, (IterableDataset, DataLoader)):
        try:
            len(x)
        except TypeError:
            return False
        return True
    return False


def prefetch(items: Iterator, depth: int = DEPTH) -> Iterator:
    """Yield ``items`` in order, computed ``depth`` ahead in a background thread.

    An exception raised while producing an item is raised here, at that item; leaving the
    loop early stops the thread.

    Example:
        >>> list(prefetch(iter(range(5))))
        [0, 1, 2, 3, 4]
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as err:  # handed to the consumer, raised at its item
            q.put((done, err))

    thread = threading.Thread(target=work, name="lamina-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, err = q.get()
            if item is done:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)


class StreamData:
    """Samples read batch by batch from a memmap (or any array) or a map-style Dataset.

    Args:
        x: a ``numpy.memmap`` / array of shape ``(N, ...)``, or a ``Dataset`` whose items
            are ``(x, y)`` pairs or ``x`` alone.
        y: targets with ``N`` rows (an array or memmap) when ``x`` is an array; None for a
            Dataset.
        owner: the call, for messages (``"fit"``, ``"evaluate"``, ``"predict"``).
        device: where the batches go.
        ids: the embedding the model starts with (integer inputs stay token ids), or None.

    Example:
        >>> data = StreamData(np.arange(10.0).reshape(5, 2), np.arange(5), owner="fit")
        >>> [tuple(xb.shape) for xb, yb in data.batches(2)]
        [(2, 2), (2, 2), (1, 2)]
    """

    def __init__(self, x, y=None, *, owner: str = "fit", device=None, ids=None):
        self.owner, self.device, self.ids = owner, device, ids
        self.needs_y = False
        self.check_y = None  # the loss's check of a target batch, set by ``checked``
        if isinstance(x, Dataset):
            if y is not None:
                raise ValueError(message(
                    f"Argument `y` of {owner} must be None when `x` is a Dataset (it yields the "
                    f"targets).", received=f"y of type {type(y).__name__}"))
            self.dataset, self.x, self.y = x, None, None
            self.n = len(x)
        else:
            self.dataset = None
            self.x = self._array(x, "x")
            self.y = None if y is None else self._array(y, "y")
            self.n = len(self.x)
            if self.y is not None and len(self.y) != self.n:
                raise ValueError(message(
                    f"Arguments `x` and `y` of {owner} must have the same number of samples.",
                    received=f"x with {self.n} samples (shape {self.x.shape}) and y with "
                             f"{len(self.y)} samples (shape {self.y.shape})"))
        self.start, self.stop = 0, self.n  # the rows used (a validation split's part)

    def _array(self, a, name: str):
        if isinstance(a, Tensor):
            return a
        if not isinstance(a, np.ndarray):
            a = np.asarray(a)
        if a.ndim == 0:
            raise ValueError(message(f"Argument `{name}` of {self.owner} must have a batch axis.",
                                     received="a scalar"))
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise TypeError(message(f"Argument `{name}` of {self.owner} must hold real numbers.",
                                    received=f"an array of dtype {a.dtype}"))
        return a

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def sample_shape(self) -> tuple | None:
        return None if self.x is None else tuple(self.x.shape[1:])

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    # -- one batch ----------------------------------------------------------------------
    def take(self, index: Tensor) -> tuple[Tensor, Tensor | None]:
        """The samples at ``index`` (positions in this data), converted and checked as
        ``fit`` converts arrays, on the device."""
        rows = index.numpy() + self.start
        if self.dataset is not None:
            xb, yb = self._collate([self.dataset[int(i)] for i in rows])
        else:
            xb = self._gather(self.x, rows)
            yb = None if self.y is None else self._gather(self.y, rows)
        xb = to_tensor(xb, "x", self.owner, ids=self.ids is not None)
        if self.ids is not None:
            xb = check_ids(xb, self.ids, self.owner)
        check_finite(xb, "x", self.owner)
        if yb is not None:
            yb = to_tensor(yb, "y", self.owner)
            check_finite(yb, "y", self.owner)
            if self.check_y is not None:
                yb = self.check_y(yb)
        elif self.needs_y:
            raise ValueError(message(
                f"The Dataset given to `{self.owner}` must yield (x, y) pairs: the model's "
                f"loss compares its output with targets.", received="samples of x alone",
                fix="Yield pairs, e.g. TensorDataset(x, y)."))
        if self.device is not None and torch.device(self.device).type != "cpu":
            if torch.device(self.device).type == "cuda":
                xb = xb.pin_memory()
                yb = None if yb is None else yb.pin_memory()
            xb = xb.to(self.device, non_blocking=True)
            yb = None if yb is None else yb.to(self.device, non_blocking=True)
        return xb, yb

    @staticmethod
    def _gather(a, rows: np.ndarray):
        if isinstance(a, Tensor):
            return a[torch.from_numpy(rows)]
        if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
            return np.array(a[rows[0]:rows[-1] + 1])  # a contiguous run: one read
        return a[rows]  # numpy's fancy indexing copies just these rows

    def _collate(self, items: list):
        if isinstance(items[0], (tuple, list)):
            batch = default_collate(items)
            return batch[0], (batch[1] if len(batch) > 1 else None)
        return default_collate(items), None

    # -- epochs -------------------------------------------------------------------------
    def batches(self, batch_size: int, shuffle: bool = False,
                generator: torch.Generator | None = None, start: int = 0,
                shard=None) -> Iterator[tuple]:
        """Yield ``(x_batch, y_batch)`` from batch ``start`` on, read one batch ahead; with
        ``shuffle`` one ``randperm`` (drawn from ``generator``) per epoch, as in memory.

        ``shard``: a function from a batch's indices to this process's part of them
        (data-parallel training, :mod:`lamina.distributed.parallel`).
        """
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)

        def indices():
            for i in range(start * batch_size, n, batch_size):
                index = order[i:i + batch_size]
                if shard is not None:
                    index = shard(index)
                yield index

        return prefetch(self.take(index) for index in indices())

    # -- the checks of a call -------------------------------------------------------------
    def checked(self, model, loss_name: str, output_shape) -> StreamData:
        """Check the first samples against the model (building it) and install the loss's
        target check for every batch; ``output_shape(model, x, owner)`` is the data
        module's shape check."""
        if self.dataset is not None:
            self.needs_y = True  # a Dataset of x alone: said at its first batch
        xb, yb = self.take(torch.arange(min(2, len(self))))
        out_shape = output_shape(model, xb, self.owner)
        if yb is None:
            raise missing_targets(model, loss_name, self.owner)
        owner = self.owner
        self.check_y = lambda y: check_targets(loss_name, y, out_shape, owner)
        self.check_y(yb)
        return self

    def split(self, fraction: float) -> tuple[StreamData, StreamData]:
        """The first ``1 - fraction`` and the last ``fraction`` of the samples (as Keras's
        ``validation_split``), without reading them."""
        cut = self.start + validation_cut(len(self), fraction)
        train, val = object.__new__(StreamData), object.__new__(StreamData)
        train.__dict__.update(self.__dict__)
        val.__dict__.update(self.__dict__)
        train.stop, val.start = cut, cut
        return train, val
