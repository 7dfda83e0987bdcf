"""Captioned 2x2 grids of Fashion-MNIST items, for image captioning (one-to-many).

A grid is a black ``2h x 2w`` canvas of four ``h x w`` cells holding *two* items in the
same row or the same column. Its caption names them in reading order: ``"a sneaker above
a bag"`` (same column, the upper item first) or ``"a shirt beside a coat"`` (same row, the
left item first). A captioner must therefore classify both items *and* tell where they are.

- :class:`Vocabulary`: words <-> integer ids, with ``<pad>`` (0), ``<start>`` (1) and
  ``<end>`` (2) first; encodes captions as ``<start> words <end> <pad>...`` rows;
- :func:`caption_grids`: grids composed from any labelled ``(M, h, w)`` images;
- :func:`fashion_grids`: grids of Fashion-MNIST's train or test images.

Example:
    >>> import numpy as np
    >>> items, labels = np.full((3, 4, 4), 255, np.uint8), np.array([7, 8, 0])
    >>> grids = caption_grids(items, labels, 2, seed=0)
    >>> grids.images.shape, grids.tokens.shape
    ((2, 1, 8, 8), (2, 7))
    >>> grids.vocabulary.decode(grids.tokens[0]) == grids.captions[0]
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lamina._validation import check_positive_int
from lamina.datasets import fashion_mnist
from lamina.errors import message

__all__ = ["CLASS_WORDS", "RELATIONS", "Vocabulary", "CaptionedGrids", "grid_vocabulary",
           "caption_grids", "fashion_grids"]

#: One word per Fashion-MNIST class, in label order.
CLASS_WORDS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
               "bag", "boot")
#: The relation words: ``above`` joins two items of one column, ``beside`` two of one row.
RELATIONS = ("above", "beside")

# The four placements of two items: first and second cell as (row, column), and the
# relation (index into RELATIONS). Rows 0 and 1 read left to right; columns top to bottom.
_FIRST = np.array([[0, 0], [1, 0], [0, 0], [0, 1]])
_SECOND = np.array([[0, 1], [1, 1], [1, 0], [1, 1]])
_RELATION = np.array([1, 1, 0, 0])


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class Vocabulary:
    """Words <-> integer ids; ids 0, 1, 2 are ``<pad>``, ``<start>`` and ``<end>``.

    A caption of ``k`` words is encoded as ``k + 2`` ids, ``<start> w_1 .. w_k <end>``,
    right-padded with ``<pad>`` to a common length; :meth:`decode` inverts it, reading up
    to the first ``<end>``.

    Args:
        words: the ordinary words (distinct, non-empty, without spaces); they get ids
            3, 4, ... in this order.

    Attributes:
        words: every token, specials first; ``words[i]`` is the word of id ``i``.
        pad_id, start_id, end_id: 0, 1 and 2.

    Example:
        >>> vocab = Vocabulary(["a", "cat", "dog"])
        >>> len(vocab), vocab.encode("a dog", length=6).tolist()
        (6, [1, 3, 5, 2, 0, 0])
        >>> vocab.decode([1, 3, 4, 2, 0, 0])
        'a cat'
    """

    PAD, START, END = "<pad>", "<start>", "<end>"
    pad_id, start_id, end_id = 0, 1, 2

    def __init__(self, words):
        words = list(words)
        bad = [w for w in words if not isinstance(w, str) or not w or re.search(r"\s", w)
               or w in (self.PAD, self.START, self.END)]
        if bad or len(set(words)) != len(words):
            raise ValueError(message(
                "Argument `words` of Vocabulary must hold distinct non-empty strings without "
                "spaces, other than '<pad>', '<start>' and '<end>'.",
                received=f"invalid words {bad!r}" if bad else "duplicated words",
                fix="Pass each word once, e.g. Vocabulary(['a', 'cat'])."))
        self.words = [self.PAD, self.START, self.END, *words]
        self._ids = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary({self.words[3:]!r})"

    def id(self, word: str) -> int:
        """The id of ``word``; raises for a word outside the vocabulary."""
        try:
            return self._ids[word]
        except (KeyError, TypeError):
            raise ValueError(message(
                f"Word {word!r} is not in the vocabulary.",
                expected=f"one of {self.words[3:]}",
                fix="Add it to the words the Vocabulary is built from.")) from None

    def encode(self, caption: str, length: int | None = None) -> np.ndarray:
        """``<start> ids <end>``, padded to ``length`` (defaults to the words + 2), int64."""
        ids = [self.start_id, *(self.id(w) for w in caption.split()), self.end_id]
        if length is None:
            length = len(ids)
        if length < len(ids):
            raise ValueError(message(
                f"Caption {caption!r} needs {len(ids)} ids with <start> and <end>.",
                received=f"length={length}", fix=f"Pass length >= {len(ids)}."))
        return np.array(ids + [self.pad_id] * (length - len(ids)), dtype=np.int64)

    def encode_batch(self, captions, length: int | None = None) -> np.ndarray:
        """Captions as one ``(n, length)`` int64 array (length: the longest + 2 by default)."""
        captions = list(captions)
        if length is None:
            length = max((len(c.split()) + 2 for c in captions), default=2)
        return np.stack([self.encode(c, length) for c in captions]) if captions else \
            np.zeros((0, length), dtype=np.int64)

    def decode(self, ids) -> str:
        """The words of ``ids`` up to the first ``<end>``; ``<start>`` and ``<pad>`` skipped."""
        words = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == self.end_id:
                break
            if i not in (self.pad_id, self.start_id):
                if not 0 <= i < len(self.words):
                    raise ValueError(message(
                        f"Token id {i} is outside the vocabulary of {len(self.words)} words.",
                        expected=f"ids in [0, {len(self.words)})"))
                words.append(self.words[i])
        return " ".join(words)

    def decode_batch(self, ids) -> list[str]:
        """:meth:`decode` for each row of a 2-D array of ids."""
        return [self.decode(row) for row in np.asarray(ids)]


def grid_vocabulary(class_words=CLASS_WORDS) -> Vocabulary:
    """The vocabulary of grid captions: ``a``, the relations and the class words.

    Example:
        >>> len(grid_vocabulary()), grid_vocabulary().id("bag")
        (16, 14)
    """
    return Vocabulary(["a", *RELATIONS, *class_words])


@dataclass
class CaptionedGrids:
    """Grids with their captions, as returned by :func:`caption_grids`.

    Attributes:
        images: ``(n, 1, 2h, 2w)`` float32 in ``[0, 1]``.
        tokens: ``(n, 7)`` int64, ``<start> a first relation a second <end>``.
        captions: the ``n`` captions as strings.
        labels: ``(n, 2)`` class labels of the first and the second item.
        cells: ``(n, 2)`` cells of the first and the second item, ``2 * row + column``.
        vocabulary: the :class:`Vocabulary` of ``tokens``.
    """

    images: np.ndarray
    tokens: np.ndarray
    captions: list
    labels: np.ndarray
    cells: np.ndarray
    vocabulary: Vocabulary

    def __len__(self) -> int:
        return len(self.images)


def _check_items(items, labels, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    items, labels = np.asarray(items), np.asarray(labels)
    if items.ndim != 3 or labels.shape != items.shape[:1] or not len(items):
        raise ValueError(message(
            "Arguments `items` and `labels` of caption_grids must be images (M, h, w) and "
            "labels (M,), M >= 1.", received=f"items {items.shape}, labels {labels.shape}"))
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 \
            or labels.max() >= n_classes:
        raise ValueError(message(
            f"Argument `labels` of caption_grids must hold integers in [0, {n_classes}), one "
            f"per class word.", received=f"dtype {labels.dtype}, values from {labels.min()} "
                                         f"to {labels.max()}",
            fix="Pass `class_words` with a word for every label."))
    return items, labels.astype(np.int64)


def caption_grids(items, labels, n: int, *, seed=0, class_words=CLASS_WORDS) -> CaptionedGrids:
    """``n`` captioned 2x2 grids, each holding two random ``items`` in one row or column.

    The placement (top row, bottom row, left column, right column) and the two items
    (uniformly, with replacement) are drawn from ``seed``; the other two cells stay black.
    The same seed gives the same grids.

    Args:
        items: ``(M, h, w)`` images: uint8 (divided by 255) or floats in ``[0, 1]``.
        labels: ``(M,)`` integer labels, indices into ``class_words``.
        n: number of grids.
        seed: an int, None or a ``numpy.random.Generator``. Defaults to 0.
        class_words: one word per label. Defaults to :data:`CLASS_WORDS`.

    Returns:
        A :class:`CaptionedGrids`.

    Example:
        >>> items, labels = np.ones((2, 3, 3), np.float32), np.array([1, 4])
        >>> caption_grids(items, labels, 3, seed=1).captions
        ['a coat beside a trouser', 'a trouser above a coat', 'a coat above a trouser']
    """
    n = check_positive_int("n", n, "caption_grids")
    items, labels = _check_items(items, labels, len(class_words))
    vocab = grid_vocabulary(class_words)
    rng = _rng(seed)
    layout = rng.integers(0, 4, n)
    picks = rng.integers(0, len(items), (n, 2))
    h, w = items.shape[1:]
    scale = np.float32(1 / 255) if items.dtype == np.uint8 else np.float32(1)
    canvas = np.zeros((n, 2, h, 2, w), dtype=np.float32)
    rows = np.arange(n)
    for k, cell in enumerate((_FIRST[layout], _SECOND[layout])):
        canvas[rows, cell[:, 0], :, cell[:, 1], :] = items[picks[:, k]].astype(np.float32) * scale
    grid_labels = labels[picks]
    relation = _RELATION[layout]
    word_ids = np.array([vocab.id(w) for w in class_words])
    relation_ids = np.array([vocab.id(r) for r in RELATIONS])
    a = np.full(n, vocab.id("a"))
    tokens = np.stack([np.full(n, vocab.start_id), a, word_ids[grid_labels[:, 0]],
                       relation_ids[relation], a, word_ids[grid_labels[:, 1]],
                       np.full(n, vocab.end_id)], axis=1).astype(np.int64)
    captions = [f"a {class_words[i]} {RELATIONS[r]} a {class_words[j]}"
                for (i, j), r in zip(grid_labels.tolist(), relation.tolist())]
    cells = np.stack([2 * _FIRST[layout][:, 0] + _FIRST[layout][:, 1],
                      2 * _SECOND[layout][:, 0] + _SECOND[layout][:, 1]], axis=1)
    return CaptionedGrids(images=canvas.reshape(n, 1, 2 * h, 2 * w), tokens=tokens,
                          captions=captions, labels=grid_labels, cells=cells, vocabulary=vocab)


def fashion_grids(n: int, *, train: bool = True, seed=0, path=None) -> CaptionedGrids:
    """``n`` captioned grids of Fashion-MNIST items: ``(n, 1, 56, 56)`` images.

    Training grids use the 60,000 training images, held-out grids (``train=False``) the
    10,000 test images, so no item is seen both in training and in evaluation.

    Args:
        n: number of grids.
        train: draw from the training images (default) or from the test images.
        seed: an int, None or a ``numpy.random.Generator``. Defaults to 0.
        path: a directory with the Fashion-MNIST files (see
            ``lamina.datasets.fashion_mnist.load_data``).

    Returns:
        A :class:`CaptionedGrids` (see :func:`caption_grids`).

    Example:
        >>> grids = fashion_grids(100, train=False, seed=0)  # doctest: +SKIP
        >>> grids.images.shape, grids.captions[0]  # doctest: +SKIP
        ((100, 1, 56, 56), 'a trouser above a pullover')
    """
    (x, y), (xt, yt) = fashion_mnist.load_data(path, verbose=False)
    return caption_grids(x, y, n, seed=seed) if train else caption_grids(xt, yt, n, seed=seed)
