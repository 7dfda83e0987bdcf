"""Captioned grids: the caption must describe the items actually placed on the canvas."""

import numpy as np
import pytest

from lamina.datasets.captions import (
    CLASS_WORDS,
    Vocabulary,
    caption_grids,
    fashion_grids,
    grid_vocabulary,
)
from tests.helpers import needs_fashion


def _items(m=12, size=3, seed=0):
    """Item ``k`` is a constant square of value ``10 * (k + 1)``: its pixels name it."""
    rng = np.random.default_rng(seed)
    items = (10 * (np.arange(m) + 1)).astype(np.uint8)[:, None, None] * np.ones(
        (1, size, size), np.uint8)
    return items, rng.integers(0, 10, m)


def _read_grid(image, items, labels):
    """The caption of one grid found from its pixels alone (the independent truth)."""
    size = items.shape[1]
    found = {}
    for row in (0, 1):
        for col in (0, 1):
            cell = image[row * size:(row + 1) * size, col * size:(col + 1) * size]
            if cell.any():
                value = round(float(cell[0, 0]) * 255)
                found[(row, col)] = int(labels[value // 10 - 1])
    assert len(found) == 2
    (first, a), (second, b) = sorted(found.items())  # reading order: top, then left
    relation = "beside" if first[0] == second[0] else "above"
    assert first[0] == second[0] or first[1] == second[1]  # same row or same column
    return f"a {CLASS_WORDS[a]} {relation} a {CLASS_WORDS[b]}", (a, b)


def test_captions_describe_the_placed_items():
    items, labels = _items()
    grids = caption_grids(items, labels, 200, seed=3)
    assert grids.images.shape == (200, 1, 6, 6) and grids.images.dtype == np.float32
    for i in range(len(grids)):
        caption, pair = _read_grid(grids.images[i, 0], items, labels)
        assert grids.captions[i] == caption
        assert grids.vocabulary.decode(grids.tokens[i]) == caption
        assert tuple(grids.labels[i]) == pair


def test_cells_and_every_placement():
    grids = caption_grids(*_items(), 400, seed=1)
    pairs = {tuple(c) for c in grids.cells}
    assert pairs == {(0, 1), (2, 3), (0, 2), (1, 3)}  # two rows, two columns
    for (first, second), caption in zip(grids.cells, grids.captions):
        assert ("beside" in caption) == (second - first == 1)


def test_cells_hold_the_pixels():
    grids = caption_grids(*_items(), 50, seed=2)
    cells = grids.images[:, 0].reshape(50, 2, 3, 2, 3).transpose(0, 1, 3, 2, 4).reshape(50, 4, 9)
    filled = cells.any(axis=2)
    expected = np.zeros((50, 4), bool)
    expected[np.arange(50), grids.cells[:, 0]] = True
    expected[np.arange(50), grids.cells[:, 1]] = True
    np.testing.assert_array_equal(filled, expected)


def test_tokens_are_start_words_end():
    grids = caption_grids(*_items(), 20, seed=0)
    vocab = grids.vocabulary
    assert grids.tokens.shape == (20, 7) and grids.tokens.dtype == np.int64
    assert (grids.tokens[:, 0] == vocab.start_id).all()
    assert (grids.tokens[:, -1] == vocab.end_id).all()
    np.testing.assert_array_equal(grids.tokens, vocab.encode_batch(grids.captions))


def test_same_seed_same_grids_other_seed_other_grids():
    items, labels = _items()
    a, b = caption_grids(items, labels, 30, seed=7), caption_grids(items, labels, 30, seed=7)
    c = caption_grids(items, labels, 30, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.captions == b.captions and a.captions != c.captions


def test_float_items_are_kept_and_uint8_scaled():
    items, labels = _items()
    grids = caption_grids(items, labels, 10, seed=0)
    assert 0 < grids.images.max() <= 1.0
    floats = caption_grids(items.astype(np.float32) / 255, labels, 10, seed=0)
    np.testing.assert_allclose(floats.images, grids.images, rtol=1e-6)


def test_inputs_are_not_modified():
    items, labels = _items()
    before = items.copy(), labels.copy()
    caption_grids(items, labels, 10, seed=0)
    np.testing.assert_array_equal(items, before[0])
    np.testing.assert_array_equal(labels, before[1])


def test_caption_grids_errors():
    items, labels = _items()
    with pytest.raises(ValueError, match=r"integers in \[0, 10\).*Received: dtype"):
        caption_grids(items, labels + 10, 5)
    with pytest.raises(ValueError, match="images \\(M, h, w\\)"):
        caption_grids(items[:, 0], labels, 5)
    with pytest.raises(ValueError, match="`n` of caption_grids"):
        caption_grids(items, labels, 0)


def test_vocabulary_round_trip_and_specials():
    vocab = Vocabulary(["a", "red", "cat"])
    assert (vocab.pad_id, vocab.start_id, vocab.end_id) == (0, 1, 2) and len(vocab) == 6
    ids = vocab.encode("a red cat", length=8)
    assert ids.tolist() == [1, 3, 4, 5, 2, 0, 0, 0]
    assert vocab.decode(ids) == "a red cat"
    assert vocab.decode([3, 2, 4, 5]) == "a"  # stops at <end>
    assert vocab.decode_batch([[1, 5, 2], [4, 0, 0]]) == ["cat", "red"]
    assert "cat" in vocab and "dog" not in vocab


def test_vocabulary_errors():
    vocab = Vocabulary(["a", "cat"])
    with pytest.raises(ValueError, match="Word 'dog' is not in the vocabulary"):
        vocab.encode("a dog")
    with pytest.raises(ValueError, match="needs 4 ids.*Received: length=3"):
        vocab.encode("a cat", length=3)
    with pytest.raises(ValueError, match="distinct non-empty strings"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="distinct non-empty strings"):
        Vocabulary(["<end>"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([9])


def test_grid_vocabulary():
    vocab = grid_vocabulary()
    assert len(vocab) == 3 + 3 + 10
    assert all(word in vocab for word in ("a", "above", "beside", *CLASS_WORDS))


@needs_fashion
def test_fashion_grids_train_and_test_pools():
    import lamina as lm

    (_, _), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    test = fashion_grids(40, train=False, seed=0)
    assert test.images.shape == (40, 1, 56, 56)
    # Every item of a held-out grid is a test image with the label its caption names.
    for i in range(5):
        row, col = divmod(int(test.cells[i, 0]), 2)
        cell = test.images[i, 0, 28 * row:28 * row + 28, 28 * col:28 * col + 28]
        match = np.flatnonzero((np.abs(xt / 255.0 - cell).reshape(len(xt), -1) < 1e-6).all(1))
        assert match.size and yt[match[0]] == test.labels[i, 0]
