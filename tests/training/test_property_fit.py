"""Issue 25: random shapes, dtypes and values thrown at ``fit``/``evaluate``/``predict`` of
small compiled models end in a result or in lamina's own error, never a raw traceback.

An error counts as lamina's when it is a ``ValueError``/``TypeError`` raised by lamina's code
(the innermost frame is in the ``lamina`` package) whose message says what it received
(``Received:``). A result must have the shape the model promises.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lamina as lm  # noqa: E402
from lamina import layers  # noqa: E402

LAMINA_DIR = os.path.dirname(lm.__file__)
SETTINGS = settings(max_examples=20, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Repeats weight the draw towards inputs that train, so the result path is exercised too.
DTYPES = ["float32", "float32", "float64", "int64", "int32", "uint8", "bool", "complex64"]
ODD_FILLS = ["nan", "inf", "huge", "negative-huge", "bad-ids"]
VOCAB, T = 12, 5


def mlp():
    model = lm.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)],
                          input_shape=(4,))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def convnet():
    model = lm.Sequential([layers.Conv2D(2, 3, activation="relu"), layers.Flatten(),
                           layers.Dense(3, activation="softmax")], input_shape=(1, 5, 5))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def token_classifier():
    model = lm.zoo.SequenceClassifier(3, (T,), vocab_size=VOCAB, cell="lstm", units=4,
                                      embedding_dim=3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


MODELS = {"mlp": (mlp, (4,)), "convnet": (convnet, (1, 5, 5)),
          "lstm": (token_classifier, (T,))}


def make_array(shape, dtype, fill, seed):
    rng = np.random.default_rng(seed)
    if fill in ("ids", "bad-ids", "labels"):
        low, high = {"ids": (0, VOCAB), "bad-ids": (-1, VOCAB + 1), "labels": (0, 3)}[fill]
        a = rng.integers(low, high, size=shape).astype(np.float64)
    else:
        a = rng.standard_normal(shape) * 3
        if a.size and fill != "normal":
            value = {"nan": np.nan, "inf": np.inf, "huge": 1e300, "negative-huge": -1e30}[fill]
            a.flat[rng.integers(a.size)] = value
    if dtype == "bool":
        return a > 0.5
    if dtype == "complex64":
        with np.errstate(over="ignore"):
            return (a + 0.5j).astype(np.complex64)
    if dtype in ("int64", "int32", "uint8"):
        info = np.iinfo(dtype)  # inf clips to int64's max, which float64 rounds past
        with np.errstate(invalid="ignore"):
            return np.clip(np.nan_to_num(a, nan=0), info.min, info.max).astype(dtype)
    with np.errstate(over="ignore"):
        return a.astype(dtype)


@st.composite
def arrays(draw, plausible, fill):
    """An array-like (numpy, tensor or list), mostly of the plausible shape and ``fill``,
    else of a random shape or with odd values."""
    if draw(st.sampled_from([True, True, True, False])):
        shape = plausible
    else:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    fill = draw(st.sampled_from([fill, fill, fill, *ODD_FILLS]))
    a = make_array(shape, draw(st.sampled_from(DTYPES)), fill, draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["numpy", "numpy", "tensor", "list"]))
    if kind == "tensor":
        return torch.from_numpy(np.ascontiguousarray(a))
    return a.tolist() if kind == "list" else a


def is_lamina_error(err: BaseException) -> bool:
    if not isinstance(err, (ValueError, TypeError)):
        return False
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    raised_by_lamina = os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(LAMINA_DIR)
    return raised_by_lamina and "Received:" in str(err)


def note(label: str) -> None:
    """Count outcomes for ``--hypothesis-show-statistics`` (no-op outside a @given test)."""
    if hypothesis.currently_in_test_context():
        event(label)


def result_or_lamina_error(fn, *args, **kwargs):
    """``fn``'s result, or None when it raised lamina's error; anything else fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = fn(*args, **kwargs)
            note(f"{fn.__name__}: a result")
            return result
        except Exception as err:  # noqa: BLE001 - classified below
            note(f"{fn.__name__}: {type(err).__name__}: {re.sub(r'[0-9]+', 'k', str(err))[:50]}")
            if not is_lamina_error(err):
                raise AssertionError(f"not lamina's error from {fn.__name__}: "
                                     f"{type(err).__name__}: {err}") from err
            return None


def test_the_oracle_tells_lamina_errors_from_raw_ones():
    with pytest.raises(AssertionError, match="not lamina's error"):
        result_or_lamina_error(torch.mm, torch.ones(2, 3), torch.ones(2, 3))
    assert result_or_lamina_error(mlp().fit, np.ones((4, 4)), np.ones((4, 3)),
                                  shuffle="no") is None


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one thread avoids the pool's start-up cost per call.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@SETTINGS
@given(kind=st.sampled_from(sorted(MODELS)), n=st.integers(0, 5), data=st.data())
def test_fit_evaluate_predict_give_a_result_or_lamina_error(kind, n, data):
    build, sample_shape = MODELS[kind]
    model = build()
    x = data.draw(arrays((n, *sample_shape), "ids" if kind == "lstm" else "normal"), label="x")
    y_shape, y_fill = ((n, 3), "normal") if kind == "mlp" else ((n,), "labels")
    missing = data.draw(st.sampled_from([False] * 7 + [True]), label="y is None")
    y = None if missing else data.draw(arrays(y_shape, y_fill), label="y")
    batch_size = data.draw(st.sampled_from([1, 2, 32]), label="batch_size")

    history = result_or_lamina_error(model.fit, x, y, batch_size=batch_size, epochs=1,
                                     verbose=0)
    if history is not None:
        assert len(history.history["loss"]) == 1
        assert all(isinstance(v, float) for v in history.history["loss"])
    logs = result_or_lamina_error(model.evaluate, x, y, batch_size=batch_size)
    if logs is not None:
        assert "loss" in logs and isinstance(logs["loss"], float)
    out = result_or_lamina_error(model.predict, x, batch_size=batch_size)
    if out is not None:
        n_out = len(x)
        assert out.shape == (n_out, *model.output_shape) and out.dtype == np.float32
        if kind != "mlp" and n_out:  # a softmax: probabilities, whatever the input
            assert np.all(np.isfinite(out)) and np.allclose(out.sum(1), 1, atol=1e-5)


@SETTINGS
@given(ids=st.lists(st.integers(0, VOCAB - 1), min_size=T, max_size=T)
       | st.lists(st.integers(-2**40, 2**40) | st.integers(-1, VOCAB), min_size=T, max_size=T),
       dtype=st.sampled_from(["int64", "int32", "float64", "uint8"]))
def test_token_ids_are_used_exactly_or_refused(ids, dtype):
    """Ids in range give the rows of exactly those ids; an id outside is refused."""
    model = token_classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = np.array([ids]).astype(dtype)  # int32/uint8 wrap around: those are the ids given
    out = result_or_lamina_error(model.predict, x)
    if not all(0 <= int(v) < VOCAB for v in x[0]):
        assert out is None
        return
    expected = model.predict(torch.tensor([[int(v) for v in x[0]]]))
    np.testing.assert_array_equal(out, expected)
