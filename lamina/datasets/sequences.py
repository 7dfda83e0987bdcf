"""Sequence tasks for recurrent nets: long-lag benchmarks, image sequences, text.

- :func:`adding_problem`: Hochreiter & Schmidhuber's (1997) experiment 4, and the ``"sum"``
  variant of later papers;
- :func:`copy_task`: remember ``length`` symbols across ``T`` blank steps;
- :func:`embedded_reber`: strings of the embedded Reber grammar, with the grammar's
  successor sets (:func:`reber_successors`) for next-symbol prediction and H&S's
  all-predictions-correct criterion (:func:`reber_correct`);
- :func:`row_sequences` / :func:`pixel_sequences`: images read row by row or pixel by pixel;
- :class:`CharCorpus`: a character vocabulary over any text file, with encode/decode and
  next-character training sequences.

Every generator takes ``seed`` (an int, ``None`` or a ``numpy.random.Generator``) and returns
numpy arrays (``float32`` inputs, ``float32`` or ``int64`` targets).
"""

from __future__ import annotations

import os

import numpy as np

from lamina._validation import check_positive_int, check_probability
from lamina.errors import message

__all__ = [
    "adding_problem", "adding_accuracy", "copy_task", "REBER_SYMBOLS", "reber_string",
    "embedded_reber", "reber_successors", "is_embedded_reber", "encode_reber", "reber_correct",
    "row_sequences", "pixel_sequences", "CharCorpus",
]


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# -- the adding problem ---------------------------------------------------------------------
def adding_problem(n: int, T: int, variant: str = "hochreiter", seed=None):
    """The adding problem: output the sum of the two marked values at the end of a sequence.

    Each step is a pair (value, marker). ``"hochreiter"`` (H&S 1997, experiment 4): values
    uniform in ``[-1, 1]``; one of the first ten pairs is marked 1 (value ``X1``), one of the
    first ``T/2 - 1`` still unmarked pairs is marked 1 (``X2``), the first and last pairs are
    marked -1 unless chosen (a chosen first pair gets the value 0, as H&S), all others 0;
    target ``0.5 + (X1 + X2)/4`` in ``[0, 1]``; a sequence counts as solved when the absolute
    error is below 0.04. Sequences here all have length ``T`` (H&S draw lengths in ``[T,
    T + T/10]``). ``"sum"`` (Le et al. 2015; Arjovsky et al. 2016): values uniform in
    ``[0, 1]``, one marker (1) in each half, other markers 0, target ``X1 + X2``.

    Args:
        n: number of sequences.
        T: sequence length (>= 6).
        variant: ``"hochreiter"`` (default) or ``"sum"``.
        seed: random seed or ``numpy.random.Generator``.

    Returns:
        ``x`` of shape ``(n, T, 2)`` and ``y`` of shape ``(n, 1)``, float32.

    Example:
        >>> x, y = adding_problem(4, 20, seed=0)
        >>> x.shape, y.shape
        ((4, 20, 2), (4, 1))
        >>> marked = x[..., 1] == 1
        >>> bool(np.allclose(y[:, 0], 0.5 + (x[..., 0] * marked).sum(1) / 4))
        True
    """
    n = check_positive_int("n", n, "adding_problem")
    T = check_positive_int("T", T, "adding_problem")
    if T < 6:
        raise ValueError(message("Argument `T` of adding_problem must be >= 6.",
                                 received=f"T={T}"))
    rng, rows = _rng(seed), np.arange(n)
    x = np.zeros((n, T, 2), dtype=np.float32)
    if variant == "hochreiter":
        x[..., 0] = rng.uniform(-1.0, 1.0, size=(n, T))
        first = rng.integers(0, min(10, T - 1), size=n)
        # the second marker: uniform among the first T/2 - 1 positions other than `first`
        span = T // 2 - 1
        second = rng.integers(0, span - (first < span), size=n)
        second = second + ((first < span) & (second >= first))
        x[:, 0, 1] = x[:, -1, 1] = -1.0
        x[rows, first, 1] = x[rows, second, 1] = 1.0
        x[x[:, 0, 1] == 1.0, 0, 0] = 0.0
        x1, x2 = x[rows, first, 0], x[rows, second, 0]
        y = 0.5 + (x1 + x2) / 4.0
    elif variant == "sum":
        x[..., 0] = rng.uniform(0.0, 1.0, size=(n, T))
        first = rng.integers(0, T // 2, size=n)
        second = rng.integers(T // 2, T, size=n)
        x[rows, first, 1] = x[rows, second, 1] = 1.0
        y = x[rows, first, 0] + x[rows, second, 0]
    else:
        raise ValueError(message("Argument `variant` of adding_problem must be 'hochreiter' "
                                 "or 'sum'.", received=f"variant={variant!r}"))
    return x, y.astype(np.float32).reshape(n, 1)


def adding_accuracy(y_pred, y_true, tol: float = 0.04) -> float:
    """Fraction of sequences with ``|y_pred - y_true| < tol`` (H&S's criterion, tol 0.04).

    Example:
        >>> adding_accuracy(np.array([[0.5], [0.6]]), np.array([[0.52], [0.5]]))
        0.5
    """
    err = np.abs(np.asarray(y_pred, dtype=np.float64).reshape(-1)
                 - np.asarray(y_true, dtype=np.float64).reshape(-1))
    return float((err < tol).mean())


# -- the copy task --------------------------------------------------------------------------
def copy_task(n: int, T: int, *, length: int = 10, n_symbols: int = 8, seed=None):
    """The copy (memory) task: reproduce ``length`` symbols after ``T`` steps of waiting.

    Arjovsky, Shah & Bengio (2016), after H&S 1997: input ``length`` symbols drawn from
    ``1..n_symbols``, then ``T - 1`` blanks (0), a delimiter (``n_symbols + 1``) and ``length``
    blanks; target ``T + length`` blanks, then the symbols. A memoryless model can only reach
    the cross-entropy ``length * log(n_symbols) / (T + 2 * length)``.

    Args:
        n: number of sequences.
        T: the delay (>= 1).
        length: symbols to remember. Defaults to 10.
        n_symbols: alphabet size. Defaults to 8 (tokens 0..9 with blank and delimiter).
        seed: random seed or generator.

    Returns:
        ``x`` and ``y``, int64 tokens of shape ``(n, T + 2*length)``.

    Example:
        >>> x, y = copy_task(2, 5, length=3, seed=0)
        >>> x.shape, bool((y[:, -3:] == x[:, :3]).all()), int(x[0, 7])
        ((2, 11), True, 9)
    """
    n = check_positive_int("n", n, "copy_task")
    T = check_positive_int("T", T, "copy_task")
    length = check_positive_int("length", length, "copy_task")
    n_symbols = check_positive_int("n_symbols", n_symbols, "copy_task")
    symbols = _rng(seed).integers(1, n_symbols + 1, size=(n, length))
    x = np.zeros((n, T + 2 * length), dtype=np.int64)
    y = np.zeros_like(x)
    x[:, :length] = symbols
    x[:, length + T - 1] = n_symbols + 1
    y[:, -length:] = symbols
    return x, y


# -- the embedded Reber grammar ----------------------------------------------------------------
#: The 7 symbols, in the order of the one-hot codes.
REBER_SYMBOLS = "BTSXPVE"
_INDEX = {s: i for i, s in enumerate(REBER_SYMBOLS)}
# Reber's automaton after the initial B: state -> [(symbol, next state)]; None ends it.
_REBER = {0: (("T", 1), ("P", 2)), 1: (("S", 1), ("X", 3)), 2: (("T", 2), ("V", 4)),
          3: (("X", 2), ("S", 5)), 4: (("P", 3), ("V", 5)), 5: (("E", None),)}


def reber_string(seed=None) -> str:
    """One string of the (plain) Reber grammar, each branch taken with probability 1/2.

    Example:
        >>> s = reber_string(0); s[0], s[-1]
        ('B', 'E')
    """
    rng, out, state = _rng(seed), ["B"], 0
    while state is not None:
        options = _REBER[state]
        symbol, state = options[rng.integers(len(options))]
        out.append(symbol)
    return "".join(out)


def embedded_reber(n: int, seed=None) -> list[str]:
    """``n`` strings of the embedded Reber grammar: ``B c <Reber string> c E``, ``c`` in {T, P}.

    Predicting the second-to-last symbol needs ``c``, seen many steps before: the long-lag
    part of H&S's experiment 1.

    Example:
        >>> strings = embedded_reber(3, seed=1)
        >>> all(is_embedded_reber(s) and s[1] == s[-2] for s in strings)
        True
    """
    rng = _rng(seed)
    out = []
    for _ in range(check_positive_int("n", n, "embedded_reber")):
        c = "TP"[rng.integers(2)]
        out.append(f"B{c}{reber_string(rng)}{c}E")
    return out


def reber_successors(string: str, embedded: bool = True) -> list[set[str]]:
    """The grammar's possible next symbols after each prefix ``string[:t+1]``.

    The last set is empty for a complete string.

    Raises:
        ValueError: if ``string`` breaks the grammar; the message names the position.

    Example:
        >>> [sorted(s) for s in reber_successors("BTSXSE", embedded=False)]
        [['P', 'T'], ['S', 'X'], ['S', 'X'], ['S', 'X'], ['E'], []]
    """
    sets: list[set[str]] = []
    allowed = {"B"}
    phase, state, c = "start", None, None
    for i, symbol in enumerate(string):
        if symbol not in allowed:
            raise ValueError(message(f"{string!r} is not a{'n embedded' if embedded else ''} "
                                     f"Reber string: symbol {i} is {symbol!r}.",
                                     expected=f"one of {sorted(allowed)}"))
        if phase == "start" and embedded:
            phase, allowed = "c", {"T", "P"}
        elif phase == "c":
            phase, c, allowed = "inner_b", symbol, {"B"}
        elif phase in ("start", "inner_b"):
            phase, state = "inner", 0
            allowed = {s for s, _ in _REBER[0]}
        elif phase == "inner":
            state = dict(_REBER[state])[symbol]
            if state is None:
                phase, allowed = ("tail", {c}) if embedded else ("done", set())
            else:
                allowed = {s for s, _ in _REBER[state]}
        elif phase == "tail":
            phase, allowed = "end", {"E"}
        else:
            phase, allowed = "done", set()
        sets.append(set(allowed))
    return sets


def is_embedded_reber(string: str, embedded: bool = True) -> bool:
    """Whether ``string`` is a complete string of the (embedded) Reber grammar.

    Example:
        >>> is_embedded_reber("BTBTXSETE"), is_embedded_reber("BTBTXSEPE")
        (True, False)
    """
    try:
        sets = reber_successors(string, embedded)
    except ValueError:
        return False
    return bool(sets) and not sets[-1]


def encode_reber(strings, max_len: int | None = None, embedded: bool = True):
    """One-hot inputs and multi-hot next-symbol targets for next-symbol prediction.

    Step ``t`` of string ``s`` has input ``s[t]`` and target the set of symbols the grammar
    allows after ``s[:t+1]``; the final ``E`` is not an input. Shorter strings are padded
    with zeros at the end.

    Returns:
        ``x`` ``(n, L, 7)`` and ``y`` ``(n, L, 7)`` float32 (symbol order
        :data:`REBER_SYMBOLS`), and ``lengths`` ``(n,)`` int64; ``L`` is ``max_len`` or the
        longest string minus one.

    Example:
        >>> x, y, lengths = encode_reber(["BTBTXSETE"])
        >>> x.shape, lengths.tolist(), "".join(np.array(list(REBER_SYMBOLS))[y[0, 0] > 0])
        ((1, 8, 7), [8], 'TP')
    """
    strings = list(strings)
    lengths = np.array([len(s) - 1 for s in strings], dtype=np.int64)
    steps = int(lengths.max()) if max_len is None else int(max_len)
    x = np.zeros((len(strings), steps, len(REBER_SYMBOLS)), dtype=np.float32)
    y = np.zeros_like(x)
    for i, s in enumerate(strings):
        for t, (symbol, nxt) in enumerate(zip(s[:steps], reber_successors(s, embedded))):
            if t >= lengths[i]:
                break
            x[i, t, _INDEX[symbol]] = 1.0
            y[i, t, [_INDEX[c] for c in nxt]] = 1.0
    return x, y, np.minimum(lengths, steps)


def reber_correct(y_pred, y_true, lengths) -> np.ndarray:
    """Per string, whether every next-symbol prediction is right (H&S 1997, experiment 1).

    At each real step, the outputs of the ``k`` possible successors must be the ``k`` most
    active ones ("the output unit(s) corresponding to the possible next symbol(s) is (are)
    always the most active ones").

    Example:
        >>> _, y, lengths = encode_reber(["BTBTXSETE", "BPBPVVEPE"])
        >>> reber_correct(y * 0.9 + 0.01, y, lengths).tolist()
        [True, True]
    """
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true) > 0.5
    if y_pred.shape != y_true.shape or y_true.ndim != 3:
        raise ValueError(message("reber_correct takes predictions and targets of one shape "
                                 "(N, T, symbols).", received=f"y_pred of shape "
                                 f"{y_pred.shape}, y_true of shape {y_true.shape}"))
    lengths = _integers(lengths, "lengths", "reber_correct", y_true.shape[1] + 1)
    if lengths.shape != y_true.shape[:1]:
        raise ValueError(message(f"Argument `lengths` of reber_correct must hold one length "
                                 f"per string ({y_true.shape[0]}).",
                                 received=f"lengths of shape {lengths.shape}"))
    k = y_true.sum(-1, keepdims=True)
    ranks = np.argsort(np.argsort(-y_pred, axis=-1, kind="stable"), axis=-1)
    ok = ((ranks < k) == y_true).all(-1)
    steps = np.arange(y_true.shape[1])[None, :] < lengths[:, None]
    return (ok | ~steps).all(1)


def _integers(values, name: str, owner: str, high: int) -> np.ndarray:
    """``values`` as int64, if each is a whole number in ``[0, high)``; else lamina's message
    (nothing is truncated, and -1 does not wrap around to the end)."""
    a = np.asarray(values)
    whole = a.dtype.kind in "iub" or (a.dtype.kind == "f" and bool(
        np.isfinite(a).all() and (a == np.trunc(a)).all()))
    if not whole or (a.size and (a.min() < 0 or a.max() >= high)):
        shown = a.reshape(-1)[:8].tolist() if a.dtype.kind in "biuf" else repr(a.dtype)
        raise ValueError(message(f"Argument `{name}` of {owner} must hold integers in "
                                 f"[0, {high}).", received=f"{name}={shown}"))
    return a.astype(np.int64)


# -- images as sequences --------------------------------------------------------------------
def _images(images) -> np.ndarray:
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise ValueError(message("Images must have shape (N, H, W) or (N, C, H, W).",
                                 received=f"an array of shape {a.shape}"))
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def row_sequences(images) -> np.ndarray:
    """Images read row by row: ``(N, H, W)`` or ``(N, C, H, W)`` -> ``(N, H, C*W)``.

    uint8 pixels are scaled to ``[0, 1]``; other dtypes are only cast to float32.

    Example:
        >>> row_sequences(np.zeros((2, 28, 28), dtype=np.uint8)).shape
        (2, 28, 28)
    """
    a = _images(images)
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.transpose(0, 2, 1, 3).reshape(n, h, c * w))


def pixel_sequences(images, permute: bool = False, seed=None) -> np.ndarray:
    """Images read pixel by pixel: ``-> (N, H*W, C)``; ``permute`` applies one fixed random
    permutation of the pixels to every image (the "permuted MNIST" of Le et al., 2015).

    Example:
        >>> pixel_sequences(np.ones((2, 3, 4, 4)), permute=True, seed=0).shape
        (2, 16, 3)
    """
    a = _images(images)
    n, c, h, w = a.shape
    seq = a.reshape(n, c, h * w).transpose(0, 2, 1)
    if permute:
        seq = seq[:, _rng(seed).permutation(h * w)]
    return np.ascontiguousarray(seq)


# -- a character corpus -----------------------------------------------------------------------
class CharCorpus:
    """Characters of a text as integer tokens, for character-level language models.

    Args:
        text: the whole text.

    Attributes:
        vocab: the distinct characters, sorted; token ``i`` is ``vocab[i]``.
        ids: the text encoded, int64.

    Example:
        >>> corpus = CharCorpus("hello world")
        >>> corpus.vocab_size, corpus.decode(corpus.encode("low"))
        (8, 'low')
        >>> x, y = corpus.sequences(4)
        >>> corpus.decode(x[0]), corpus.decode(y[0])
        ('hell', 'ello')
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError(message("CharCorpus needs a text of at least 2 characters.",
                                     received=f"{type(text).__name__} of length "
                                              f"{len(text) if hasattr(text, '__len__') else '?'}"))
        self.text = text
        self.vocab = sorted(set(text))
        self._index = {ch: i for i, ch in enumerate(self.vocab)}
        self.ids = self.encode(text)

    @classmethod
    def from_file(cls, path, *, encoding: str = "utf-8", max_chars: int | None = None):
        """Read a text file (undecodable bytes replaced), keeping the first ``max_chars``."""
        path = os.fspath(path)
        with open(path, encoding=encoding, errors="replace") as f:
            text = f.read() if max_chars is None else f.read(max_chars)
        return cls(text)

    @property
    def vocab_size(self) -> int:
        """Number of distinct characters."""
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """Tokens of ``text``; raises for a character outside the vocabulary."""
        try:
            return np.fromiter((self._index[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(message(f"Character {err.args[0]!r} is not in the corpus "
                                     f"vocabulary.", received=f"text={text[:40]!r}")) from None

    def decode(self, ids) -> str:
        """The text of tokens ``ids``."""
        ids = _integers(ids, "ids", "CharCorpus.decode", len(self.vocab))
        return "".join(self.vocab[i] for i in ids.reshape(-1))

    def split(self, fraction: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """``(train_ids, held_out_ids)``: the first ``fraction`` of the text and the rest."""
        fraction = check_probability("fraction", fraction, "CharCorpus.split",
                                     inclusive_high=True)
        cut = int(len(self.ids) * fraction)
        return self.ids[:cut], self.ids[cut:]

    def sequences(self, seq_len: int, step: int | None = None, ids=None):
        """Windows ``x`` ``(M, seq_len)`` and next-character targets ``y`` (shifted by one).

        Args:
            seq_len: characters per window.
            step: offset between windows; defaults to ``seq_len`` (no overlap).
            ids: tokens to cut (defaults to the whole text).
        """
        seq_len = check_positive_int("seq_len", seq_len, "CharCorpus.sequences")
        step = seq_len if step is None else check_positive_int("step", step,
                                                                "CharCorpus.sequences")
        ids = self.ids if ids is None else np.asarray(ids)
        _check_long_enough(len(ids), seq_len + 1, f"windows of seq_len={seq_len} (plus the "
                           f"target's shift)", "CharCorpus.sequences")
        starts = np.arange(0, len(ids) - seq_len, step)
        index = starts[:, None] + np.arange(seq_len)[None, :]
        return ids[index], ids[index + 1]

    def streams(self, n_streams: int, ids=None):
        """The text cut into ``n_streams`` parallel streams ``(n_streams, L)`` with their
        next-character targets, for truncated BPTT over the whole text."""
        n_streams = check_positive_int("n_streams", n_streams, "CharCorpus.streams")
        ids = self.ids if ids is None else np.asarray(ids)
        _check_long_enough(len(ids), n_streams + 1, f"{n_streams} streams of at least 1 "
                           f"step (plus the target's shift)", "CharCorpus.streams")
        length = (len(ids) - 1) // n_streams
        x = ids[:n_streams * length].reshape(n_streams, length)
        y = ids[1:n_streams * length + 1].reshape(n_streams, length)
        return x, y


def _check_long_enough(n_ids: int, needed: int, what: str, owner: str) -> None:
    if n_ids < needed:
        raise ValueError(message(f"{owner} needs at least {needed} tokens for {what}.",
                                 received=f"{n_ids} tokens",
                                 fix="Use a longer text or fewer/shorter sequences."))
