"""Turning user data into on-device batches, with the checks done once per call.

In-memory arrays become one tensor on the model's device; an epoch is one ``randperm`` and
slices of it (no per-sample collation). A ``torch.utils.data.Dataset`` or ``DataLoader``
is accepted for data that do not fit in memory.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lamina._validation import (
    check_bool,
    check_instances,
    check_nonnegative_int,
    check_positive_int,
    check_probability,
    check_verbose,
)
from lamina.callbacks.base import Callback
from lamina.errors import LaminaWarning, message
from lamina.layers.input_spec import format_shape
from lamina.training.streaming import StreamData, streams
from lamina.training.targets import check_targets, missing_targets
from lamina.training.tensors import (
    check_finite,
    check_ids,
    first_embedding,
    to_tensor,
    validation_cut,
)

__all__ = ["ArrayData", "LoaderData", "make_data",
           "split_validation", "check_input_shape", "check_fit_arguments", "prepare"]


class ArrayData:
    """In-memory ``(x, y)`` on one device, served as shuffled or ordered batches.

    Args:
        x: inputs, shape ``(N, *input_shape)``.
        y: targets with ``N`` rows, or None (for ``predict``).
        owner: the calling method, for error messages (``"fit"``).
        device: where the tensors go (after the checks).
        ids: the embedding the model starts with, if any: ``x`` then holds int64 token ids,
            checked against its vocabulary once.
    """

    def __init__(self, x, y=None, *, owner: str = "fit", device=None, ids=None):
        self.x = to_tensor(x, "x", owner, ids=ids is not None)
        self.y = None if y is None else to_tensor(y, "y", owner)
        if self.x.dim() == 0:
            raise ValueError(message(f"Argument `x` of {owner} must have a batch axis.",
                                     received="a scalar"))
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(message(
                f"Arguments `x` and `y` of {owner} must have the same number of samples.",
                received=f"x with {len(self.x)} samples (shape {tuple(self.x.shape)}) and y "
                         f"with {len(self.y)} samples (shape {tuple(self.y.shape)})"))
        if ids is not None:
            self.x = check_ids(self.x, ids, owner)
        check_finite(self.x, "x", owner)
        if self.y is not None:
            check_finite(self.y, "y", owner)
        if device is not None:
            self.x = self.x.to(device)
            self.y = None if self.y is None else self.y.to(device)

    def __len__(self) -> int:
        return len(self.x)

    def _buffers(self, batch_size: int) -> tuple[Tensor, Tensor | None]:
        """Batch-sized buffers, allocated once and reused every step and epoch.

        A batch is only valid until the next one is drawn (the training step is done by then).
        """
        size = min(batch_size, len(self.x))
        cached = getattr(self, "_buffer_cache", None)
        if cached is None or cached[0].shape[0] != size:
            xbuf = self.x.new_empty((size, *self.x.shape[1:]))
            ybuf = None if self.y is None else self.y.new_empty((size, *self.y.shape[1:]))
            self._buffer_cache = cached = (xbuf, ybuf)
        return cached

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def batches(self, batch_size: int, shuffle: bool = False,
                generator: torch.Generator | None = None, start: int = 0) -> Iterator[tuple]:
        """Yield ``(x_batch, y_batch)`` from batch ``start`` on; with ``shuffle`` one
        ``randperm`` (drawn from ``generator``) per epoch."""
        n = len(self)
        if shuffle:
            perm = torch.randperm(n, generator=generator).to(self.x.device)
            xbuf, ybuf = self._buffers(batch_size)
            for i in range(start * batch_size, n, batch_size):
                idx = perm[i:i + batch_size]
                k = len(idx)  # gather into reused buffers: no per-step allocation
                xb = torch.index_select(self.x, 0, idx, out=xbuf[:k])
                yb = None if ybuf is None else torch.index_select(self.y, 0, idx, out=ybuf[:k])
                yield xb, yb
        else:
            for i in range(start * batch_size, n, batch_size):
                yield self.x[i:i + batch_size], None if self.y is None else self.y[i:i + batch_size]


class LoaderData:
    """A ``Dataset`` or ``DataLoader`` of ``(x, y)`` pairs (or ``x`` alone), moved batch by batch.

    With ``needs_y`` (``fit``, ``evaluate``) a batch of ``x`` alone is an error.
    """

    def __init__(self, source, *, batch_size: int, shuffle: bool, device=None,
                 ids: bool = False, owner: str = "fit", needs_y: bool = False):
        if isinstance(source, DataLoader):
            self.loader = source
        else:
            self.loader = DataLoader(source, batch_size=batch_size, shuffle=shuffle)
        self.device, self.ids, self.owner, self.needs_y = device, ids, owner, needs_y
        self.sample_shape = None

    def __len__(self) -> int:
        return len(self.loader.dataset)

    def num_batches(self, batch_size: int) -> int | None:
        try:
            return len(self.loader)
        except TypeError:
            return None

    def batches(self, batch_size: int, shuffle: bool = False, generator=None,
                start: int = 0) -> Iterator[tuple]:
        """Yield the loader's batches on the device, skipping the first ``start``.

        (A shuffling loader draws its own order, so a resumed epoch is not the same one.)
        """
        for batch in itertools.islice(self.loader, start, None):
            if isinstance(batch, (list, tuple)):
                xb = to_tensor(batch[0], "x", self.owner, ids=self.ids)
                yb = to_tensor(batch[1], "y", self.owner) if len(batch) > 1 else None
            else:
                xb, yb = to_tensor(batch, "x", self.owner, ids=self.ids), None
            if yb is None and self.needs_y:  # a Python check, no sync
                raise ValueError(message(
                    f"The Dataset or DataLoader given to `{self.owner}` must yield (x, y) "
                    f"pairs: the model's loss compares its output with targets.",
                    received="batches of x alone", fix="Yield pairs, e.g. TensorDataset(x, y)."))
            if self.device is not None:
                xb = xb.to(self.device, non_blocking=True)
                yb = None if yb is None else yb.to(self.device, non_blocking=True)
            yield xb, yb


def make_data(x, y=None, *, owner: str, batch_size: int, shuffle: bool = False, device=None,
              ids=None, allow_empty: bool = False):
    """``ArrayData`` for arrays and tensors, ``LoaderData`` for a Dataset or DataLoader.

    ``ids``: the embedding the model starts with (see :func:`first_embedding`), or None.
    Without ``allow_empty`` (``fit``, ``evaluate``) zero samples are an error.
    """
    if streams(x):  # a memmap or a map-style Dataset: read batch by batch (training.streaming)
        data = StreamData(x, y, owner=owner, device=device, ids=ids)
    elif isinstance(x, (DataLoader, Dataset)):
        if y is not None:
            raise ValueError(message(
                f"Argument `y` of {owner} must be None when `x` is a Dataset or DataLoader "
                f"(it yields the targets).", received=f"y of type {type(y).__name__}"))
        data = LoaderData(x, batch_size=batch_size, shuffle=shuffle, device=device,
                          ids=ids is not None, owner=owner)
    else:
        data = ArrayData(x, y, owner=owner, device=device, ids=ids)
    try:
        n = len(data)
    except TypeError:  # an iterable dataset does not know its length
        n = None
    if n == 0 and not allow_empty:
        shape = f" (x of shape {tuple(data.x.shape)})" if isinstance(data, ArrayData) else ""
        raise ValueError(message(f"`{owner}` needs at least one sample.",
                                 received=f"0 samples{shape}",
                                 fix="Check the data loading or the slicing that produced x."))
    if isinstance(data, ArrayData) and batch_size > n and owner == "fit":
        warnings.warn(f"batch_size={batch_size} is larger than the {n} samples given to "
                      f"{owner}: every step sees the whole data set.", LaminaWarning, stacklevel=5)
    return data


def split_validation(data: ArrayData, fraction: float) -> tuple[ArrayData, ArrayData]:
    """Hold out the *last* ``fraction`` of the samples for validation (as Keras does)."""
    cut = validation_cut(len(data), fraction)
    train, val = object.__new__(ArrayData), object.__new__(ArrayData)
    train.x, train.y = data.x[:cut], data.y[:cut]
    val.x, val.y = data.x[cut:], data.y[cut:]
    return train, val


def check_input_shape(model, shape: tuple, owner: str) -> None:
    """Raise if per-sample ``shape`` differs from the shape the model was built for.

    A ``fully_convolutional`` model accepts any larger height and width (same channels).
    """
    expected = getattr(model, "input_shape", None)
    if expected is None or tuple(expected) == tuple(shape):
        return
    if getattr(model, "fully_convolutional", False) and len(shape) == len(expected) == 3:
        if shape[0] == expected[0] and all(s >= e for s, e in zip(shape[1:], expected[1:])):
            return
        raise ValueError(
            f"Fully convolutional model '{model.name}' expects images with {expected[0]} "
            f"channel(s), at least {expected[1]}x{expected[2]}. Received: input of shape "
            f"{format_shape(shape)} in `{owner}`. Pass images with {expected[0]} channel(s) "
            f"and at least the size the model was built for.")
    first = getattr(model, "layers", [None])[0] if getattr(model, "layers", None) else None
    who = f"Layer '{first.name}', the first of model '{model.name}'," if first is not None \
        else f"Model '{getattr(model, 'name', type(model).__name__)}'"
    raise ValueError(
        f"{who} expects input of shape {format_shape(expected)}. Received: input of shape "
        f"{format_shape(shape)} in `{owner}`. Reshape the data (e.g. x.reshape(-1, "
        f"{', '.join(map(str, expected))})) or build the model with input_shape={tuple(shape)}.")


def _output_shape(model, x: Tensor, owner: str) -> tuple:
    """Check ``x``'s per-sample shape against the model (building an unbuilt one) and return
    the per-sample output shape; torch's shape errors become a lamina message."""
    if hasattr(model, "built") and not model.built:
        model.build(tuple(x.shape[1:]))
        model.to(x.device)
    check_input_shape(model, tuple(x.shape[1:]), owner)
    out_shape = getattr(model, "output_shape", None)
    if out_shape is not None:
        return tuple(out_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return tuple(model(x).shape[1:])
    except RuntimeError as err:
        raise ValueError(
            f"Model '{getattr(model, 'name', type(model).__name__)}' cannot take input of "
            f"shape {format_shape(tuple(x.shape[1:]))} given to `{owner}`: {err}. Check the "
            f"input shape the model expects.") from None
    finally:
        model.train(was_training)


def _checked(model, x, y, *, owner: str, loss_name: str, batch_size: int, shuffle: bool,
             device):
    data = make_data(x, y, owner=owner, batch_size=batch_size, shuffle=shuffle, device=device,
                     ids=first_embedding(model))
    if isinstance(data, StreamData):  # checked on its first samples, then batch by batch
        return data.checked(model, loss_name, _output_shape)
    if isinstance(data, LoaderData):
        data.needs_y = True  # checked as its batches come
        return data
    if data.y is None:
        raise missing_targets(model, loss_name, owner)
    out_shape = _output_shape(model, data.x[:2], owner)
    data.y = check_targets(loss_name, data.y, out_shape, owner)
    return data


def check_fit_arguments(*, batch_size, epochs, verbose, validation_split, shuffle, callbacks,
                        initial_epoch, checkpoint_every, augment) -> tuple:
    """``fit``'s settings checked before any data is touched; returns ``(batch_size, epochs,
    verbose, validation_split, shuffle, callbacks, initial_epoch)`` normalized.

    Example:
        >>> check_fit_arguments(batch_size=8, epochs=2, verbose=True, validation_split=0,
        ...                     shuffle=False, callbacks=None, initial_epoch=0,
        ...                     checkpoint_every=None, augment=None)
        (8, 2, 1, 0.0, False, [], 0)
    """
    if augment is not None and not callable(augment):
        raise TypeError(message("Argument `augment` of fit must be a callable on a batch "
                                "tensor (e.g. lm.augment.RandomFlip()).",
                                received=f"type {type(augment).__name__}"))
    if checkpoint_every is not None:
        check_positive_int("checkpoint_every", checkpoint_every, "fit")
    epochs = check_nonnegative_int("epochs", epochs, "fit")
    initial_epoch = check_nonnegative_int("initial_epoch", initial_epoch, "fit")
    if initial_epoch > epochs:
        raise ValueError(message(
            "Argument `initial_epoch` of fit must be at most `epochs` (training runs from "
            "epoch `initial_epoch` up to epoch `epochs`, not for `epochs` more).",
            received=f"initial_epoch={initial_epoch}, epochs={epochs}",
            fix=f"Pass epochs={initial_epoch + epochs} to train {epochs} more epoch(s)."))
    return (check_positive_int("batch_size", batch_size, "fit"), epochs,
            check_verbose(verbose, "fit"),
            check_probability("validation_split", validation_split, "fit"),
            check_bool("shuffle", shuffle, "fit"),
            check_instances(
                "callbacks", callbacks, Callback, "fit",
                fix="Pass lm.callbacks objects, e.g. callbacks=[lm.callbacks.EarlyStopping()]"), initial_epoch)


def prepare(model, x, y=None, *, owner: str, loss_name: str = "", batch_size: int,
            shuffle: bool = False, device=None, validation_split: float = 0.0,
            validation_data=None):
    """The data of one call, checked once: ``(data, validation data or None)``.

    ``x`` and ``y`` become on-device tensors (or a loader), checked against the model's
    input shape (an unbuilt model is built from them) and against the loss; the validation
    set comes from ``validation_data`` or the last ``validation_split`` of the samples.

    Example:
        >>> import numpy as np, lamina as lm
        >>> model = lm.Sequential([lm.layers.Dense(2)])
        >>> data, val = prepare(model, np.zeros((10, 3)), np.zeros((10, 2)), owner="fit",
        ...                     batch_size=4, validation_split=0.2)
        >>> len(data), len(val), model.input_shape
        (8, 2, (3,))
    """
    data = _checked(model, x, y, owner=owner, loss_name=loss_name, batch_size=batch_size,
                    shuffle=shuffle, device=device)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(message("Argument `validation_data` of fit must be a tuple "
                                     "(x_val, y_val).",
                                     received=f"type {type(validation_data).__name__}"))
        return data, _checked(model, *validation_data, owner=f"{owner} (validation_data)",
                              loss_name=loss_name, batch_size=batch_size, shuffle=False,
                              device=device)
    if not validation_split:
        return data, None
    if isinstance(data, StreamData):  # a split of the rows, none read
        return data.split(validation_split)
    if not isinstance(data, ArrayData):
        raise ValueError("`validation_split` needs in-memory arrays; pass "
                         "`validation_data=` with a Dataset or DataLoader.")
    train, val = split_validation(data, validation_split)
    data.x, data.y = train.x, train.y
    return data, val
