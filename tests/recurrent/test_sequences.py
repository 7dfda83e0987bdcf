"""Sequence tasks: closed-form properties of the generated data."""

import numpy as np
import pytest

from lamina.datasets import sequences as S


def test_adding_problem_hochreiter():
    x, y = S.adding_problem(500, 30, seed=0)
    assert x.shape == (500, 30, 2) and y.shape == (500, 1) and x.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= -1 and values.max() <= 1
    marked = markers == 1
    assert (marked.sum(1) == 2).all()
    positions = np.nonzero(marked)[1].reshape(500, 2)
    assert (positions.min(1) < 10).all()  # X1 among the first ten pairs
    assert (positions.max(1) < 30 // 2 - 1).all()  # X2 among the first T/2 - 1
    ends = markers[:, [0, -1]]
    assert (ends[:, 1] == -1).all() and ((ends[:, 0] == -1) | marked[:, 0]).all()
    assert set(np.unique(markers)) <= {-1.0, 0.0, 1.0}
    np.testing.assert_allclose(y[:, 0], 0.5 + (values * marked).sum(1) / 4, rtol=1e-6)
    assert (values[marked[:, 0], 0] == 0).all()  # a marked first pair has value 0
    assert 0 <= y.min() and y.max() <= 1
    x2, y2 = S.adding_problem(500, 30, seed=0)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_adding_problem_sum_variant_and_accuracy():
    x, y = S.adding_problem(300, 20, variant="sum", seed=1)
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0 and set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, :10].sum(1) == 1).all() and (markers[:, 10:].sum(1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(1), rtol=1e-6)
    assert S.adding_accuracy(y, y) == 1.0
    assert S.adding_accuracy(y + 0.05, y) == 0.0
    with pytest.raises(ValueError, match="variant"):
        S.adding_problem(2, 10, variant="mul")
    with pytest.raises(ValueError, match="T"):
        S.adding_problem(2, 4)


def test_copy_task():
    x, y = S.copy_task(50, 12, length=5, n_symbols=4, seed=0)
    assert x.shape == y.shape == (50, 12 + 10)
    assert ((x[:, :5] >= 1) & (x[:, :5] <= 4)).all()
    assert (x[:, 5 + 11] == 5).all() and (np.delete(x[:, 5:], 11, axis=1) == 0).all()
    assert (y[:, :-5] == 0).all() and (y[:, -5:] == x[:, :5]).all()


def test_reber_strings_are_valid_and_the_checker_rejects_others():
    strings = S.embedded_reber(300, seed=0)
    assert all(S.is_embedded_reber(s) for s in strings)
    assert all(s[1] == s[-2] and s[2] == "B" for s in strings)
    assert {s[1] for s in strings} == {"T", "P"}
    for bad in ["BTBTXSEPE", "BTBTXSET", "BPBTSSXXTTVVETE", "TBTXSETE", "BTBTSXXTVPXVVEPE"]:
        assert not S.is_embedded_reber(bad)
    assert S.is_embedded_reber("BTSSXXTVPXVVE", embedded=False)
    # every symbol of a generated string is one the grammar allowed
    for s in strings[:50]:
        succ = S.reber_successors(s)
        assert all(s[t + 1] in succ[t] for t in range(len(s) - 1)) and succ[-1] == set()
    with pytest.raises(ValueError, match="symbol 2"):
        S.reber_successors("BTX")


def test_reber_encoding_and_correctness():
    strings = S.embedded_reber(20, seed=2)
    x, y, lengths = S.encode_reber(strings)
    assert x.shape == y.shape and x.shape[2] == 7
    assert (lengths == [len(s) - 1 for s in strings]).all()
    assert (x.sum(-1)[np.arange(x.shape[1]) < lengths[:, None]] == 1).all()
    # after the inner E, the only successor is the symbol seen at step 1: the long lag
    for i, s in enumerate(strings):
        t = len(s) - 3
        assert y[i, t].tolist() == [float(c == s[1]) for c in S.REBER_SYMBOLS]
    assert S.reber_correct(y, y, lengths).all()
    wrong = y.copy()
    wrong[0, lengths[0] - 2] = 1 - wrong[0, lengths[0] - 2]  # flip the long-lag prediction
    assert S.reber_correct(wrong, y, lengths).tolist() == [False] + [True] * 19


def test_image_sequences():
    images = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    rows = S.row_sequences(images)
    assert rows.shape == (2, 4, 15)
    np.testing.assert_array_equal(rows[1, 2], images[1, :, 2, :].reshape(-1))
    pixels = S.pixel_sequences(images)
    assert pixels.shape == (2, 20, 3)
    np.testing.assert_array_equal(pixels[0, 7], images[0, :, 1, 2])
    perm = S.pixel_sequences(images, permute=True, seed=0)
    assert sorted(perm[0, :, 0]) == sorted(pixels[0, :, 0])
    np.testing.assert_array_equal(S.pixel_sequences(images, permute=True, seed=0), perm)
    gray = S.row_sequences(np.full((1, 28, 28), 255, dtype=np.uint8))
    assert gray.dtype == np.float32 and gray.max() == 1.0
    with pytest.raises(ValueError, match="Images"):
        S.row_sequences(np.zeros((2, 3)))


def test_char_corpus(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("to be or not to be\n", encoding="utf-8")
    corpus = S.CharCorpus.from_file(path)
    assert corpus.vocab == sorted(set("to be or not to be\n"))
    assert corpus.decode(corpus.encode("not")) == "not"
    x, y = corpus.sequences(5, step=2)
    assert x.shape == y.shape and (x[:, 1:] == y[:, :-1]).all()
    assert corpus.decode(y[0]) == "o be "
    train, held = corpus.split(0.75)
    assert len(train) + len(held) == len(corpus.ids)
    xs, ys = corpus.streams(3)
    assert xs.shape == (3, 6) and (xs[:, 1:] == ys[:, :-1]).all()
    with pytest.raises(ValueError, match="not in the corpus"):
        corpus.encode("xyz")
    assert S.CharCorpus.from_file(path, max_chars=5).text == "to be"
