"""Issue 25: random shapes, dtypes and values thrown at the recurrent and unsupervised entry
points end in a result or in lamina's own error, never a raw torch/numpy/Python traceback.

An error counts as lamina's when it is a ``ValueError``/``TypeError`` raised by lamina's code
(the innermost frame is in the ``lamina`` package) with a house-style message (an argument in
backticks, or ``Expected:``/``Received:``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lamina as lm  # noqa: E402
from lamina import layers  # noqa: E402
from lamina.recurrent import gradient_flow, rtrl_gradients, truncated_bptt  # noqa: E402
from lamina.unsupervised import DBN, RBM, Autoencoder, ClassificationRBM  # noqa: E402

LAMINA_DIR = os.path.dirname(lm.__file__)
SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

DTYPES = ["float32", "float64", "int64", "bool", "complex64"]
FILLS = ["normal", "unit", "ids", "nan", "inf", "huge", "negative-huge"]


def _make(shape, dtype, fill, seed):
    rng = np.random.default_rng(seed)
    if fill == "ids":
        a = rng.integers(-1, 12, size=shape).astype(np.float64)
    elif fill == "unit":
        a = rng.random(shape)
    else:
        a = rng.standard_normal(shape)
        if a.size and fill in ("nan", "inf", "huge", "negative-huge"):
            value = {"nan": np.nan, "inf": np.inf, "huge": 1e30, "negative-huge": -1e30}[fill]
            a.flat[rng.integers(a.size)] = value
    if dtype == "bool":
        return a > 0.5
    if dtype == "int64":
        return np.nan_to_num(a, nan=0, posinf=2**62, neginf=-2**62).astype(np.int64)
    if dtype == "complex64":
        return (a + 0.5j).astype(np.complex64)
    return a.astype(dtype)


@st.composite
def arrays(draw, plausible=None):
    """An array-like: numpy, tensor or list; of a random or a plausible shape."""
    if plausible is not None and draw(st.booleans()):
        shape = tuple(draw(st.integers(0, 3)) if d is None else d for d in plausible)
    else:
        shape = tuple(draw(st.lists(st.integers(0, 3), max_size=4)))
    a = _make(shape, draw(st.sampled_from(DTYPES)), draw(st.sampled_from(FILLS)),
              draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["numpy", "tensor", "list"]))
    if kind == "tensor":
        return torch.from_numpy(np.ascontiguousarray(a))
    return a.tolist() if kind == "list" else a


def _is_lamina_error(err: BaseException) -> bool:
    if not isinstance(err, (ValueError, TypeError)):
        return False
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    text = str(err)
    raised_by_lamina = os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(LAMINA_DIR)
    return raised_by_lamina and ("`" in text or "Received:" in text or "Expected:" in text)


def _note(label: str) -> None:
    """Count outcomes for ``--hypothesis-show-statistics`` (no-op outside a @given test)."""
    if hypothesis.currently_in_test_context():
        event(label)


def _result_or_lamina_error(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = fn(*args, **kwargs)
            _note("a result")
            return result
        except Exception as err:  # noqa: BLE001 - classified below
            _note(f"{type(err).__name__}: {str(err)[:60]}")
            if not _is_lamina_error(err):
                raise AssertionError(f"raw {type(err).__name__} from "
                                     f"{getattr(fn, '__qualname__', fn)}: {err}") from err
            return None


def test_the_oracle_tells_lamina_errors_from_raw_ones():
    with pytest.raises(AssertionError, match="raw RuntimeError"):
        _result_or_lamina_error(torch.mm, torch.ones(2, 3), torch.ones(2, 3))
    layer = layers.SimpleRNN(2)
    layer.build((3, 1))
    assert _result_or_lamina_error(layer, torch.ones(2, 3, 5)) is None


# -- recurrent ------------------------------------------------------------------------------
def _tagger(cls):
    torch.manual_seed(0)
    return lm.Sequential([cls(2, return_sequences=True), layers.Dense(1)], input_shape=(4, 2))


def _regressor(cls):
    torch.manual_seed(0)
    return lm.Sequential([cls(2), layers.Dense(1)], input_shape=(4, 2))


CELLS = st.sampled_from([layers.SimpleRNN, layers.LSTM, layers.GRU])


@SETTINGS
@given(CELLS, arrays((None, None, 2)), arrays((None, None, 1)), st.integers(1, 3))
def test_truncated_bptt(cls, x, y, k1):
    _result_or_lamina_error(truncated_bptt, _tagger(cls), x, y, k1=k1)


@SETTINGS
@given(CELLS, st.booleans(), arrays((None, None, 2)), arrays((None, None, 1)))
def test_rtrl_gradients(cls, per_step, x, y):
    model = (_tagger if per_step else _regressor)(cls)
    _result_or_lamina_error(rtrl_gradients, model, x, y, "mse")


@SETTINGS
@given(CELLS, arrays((None, None, 2)), st.one_of(st.none(), arrays((None, 1))))
def test_gradient_flow(cls, x, y):
    _result_or_lamina_error(gradient_flow, _regressor(cls), x, y)


@SETTINGS
@given(CELLS, arrays((2, None, 2)), st.one_of(st.none(), arrays((2, None))),
       st.one_of(st.none(), arrays((2,))))
def test_recurrent_layers(cls, x, mask, lengths):
    layer = cls(2, return_sequences=True)
    layer.build((4, 2))
    if isinstance(x, torch.Tensor) and mask is not None and lengths is not None:
        lengths = None
    _result_or_lamina_error(layer, torch.as_tensor(np.asarray(x)) if not isinstance(
        x, torch.Tensor) else x, mask, lengths=lengths)


@SETTINGS
@given(arrays((None, None)))
def test_embedding_then_lstm(ids):
    model = lm.Sequential([layers.Embedding(10, 3, mask_zero=True), layers.LSTM(2)],
                          input_shape=(4,))
    ids = ids if isinstance(ids, torch.Tensor) else torch.as_tensor(np.asarray(ids))
    _result_or_lamina_error(model, ids)


# -- unsupervised ---------------------------------------------------------------------------
def _rbm(**kwargs):
    return RBM(2, epochs=1, batch_size=2, random_state=0, device="cpu", **kwargs)


@SETTINGS
@given(arrays((None, 3)), st.sampled_from(["binary", "gaussian"]))
def test_rbm_fit_then_transform(x, visible):
    rbm = _result_or_lamina_error(_rbm(visible=visible).fit, x)
    fitted = _rbm(visible=visible).fit(np.full((4, 3), 0.5, np.float32))
    for method in (fitted.transform, fitted.free_energy, fitted.reconstruct):
        _result_or_lamina_error(method, x)
    if rbm is not None:
        _result_or_lamina_error(rbm.transform, x)


@SETTINGS
@given(arrays((4, 3)), arrays((4,)))
def test_classification_rbm_fit(x, y):
    _result_or_lamina_error(ClassificationRBM(2, epochs=1, batch_size=2, device="cpu",
                                              random_state=0).fit, x, y)


@SETTINGS
@given(arrays((None, 3)), arrays((None, 3)))
def test_rbm_complete(x, mask):
    fitted = _rbm().fit(np.full((4, 3), 0.5, np.float32))
    _result_or_lamina_error(fitted.complete, x, mask, steps=1)


@SETTINGS
@given(arrays((None, 3)))
def test_dbn_fit_and_transform(x):
    _result_or_lamina_error(DBN([3, 2, 2], epochs=1, batch_size=2, device="cpu",
                                random_state=0).fit, x)
    fitted = DBN([3, 2], epochs=1, batch_size=2, device="cpu", random_state=0).fit(
        np.full((4, 3), 0.5, np.float32))
    _result_or_lamina_error(fitted.transform, x)


@SETTINGS
@given(arrays((None, 3)), arrays((None, 2)))
def test_autoencoder_inference(x, z):
    torch.manual_seed(0)
    model = Autoencoder(2)
    model.build((3,))
    for method, data in ((model.encode, x), (model.reconstruct, x), (model.decode, z)):
        _result_or_lamina_error(method, data)
