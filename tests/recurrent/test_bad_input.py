"""Issue 25: bad input to the recurrent layers and tools ends in lamina's message, not a raw
torch traceback or a silently wrong result."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.datasets.sequences import CharCorpus, encode_reber, reber_correct
from lamina.recurrent import gradient_flow, rtrl_gradients, truncated_bptt


def _rnn(**kwargs):
    layer = layers.SimpleRNN(3, **kwargs)
    layer.build((5, 2))
    return layer


def _tagger(cls=layers.SimpleRNN):
    torch.manual_seed(0)
    return lm.Sequential([cls(3, return_sequences=True), layers.Dense(1)], input_shape=(5, 2))


def _regressor():
    torch.manual_seed(0)
    return lm.Sequential([layers.SimpleRNN(3), layers.Dense(1)], input_shape=(5, 2))


def _embedding(vocabulary=10):
    emb = layers.Embedding(vocabulary, 3, name="tokens")
    emb.build((4,))
    return emb


# -- lengths and masks ----------------------------------------------------------------------
@pytest.mark.parametrize("lengths", [[2.5, 3.0], np.array([1.0, 4.7]), torch.tensor([2.0, 0.5]),
                                     [float("nan"), 2.0]])
def test_fractional_lengths_are_refused(lengths):
    with pytest.raises(ValueError, match=r"`lengths` of Layer 'simplernn.*' must hold 2 "
                                         r"integers in \[0, 5\].*Received: lengths="):
        _rnn()(torch.randn(2, 5, 2), lengths=lengths)


def test_whole_float_lengths_equal_integer_lengths():
    layer, x = _rnn(), torch.randn(2, 5, 2)
    torch.testing.assert_close(layer(x, lengths=np.array([2.0, 5.0])), layer(x, lengths=[2, 5]))


@pytest.mark.parametrize("convert", [np.array, lambda m: m, lambda m: torch.tensor(m)],
                         ids=["numpy", "list", "tensor"])
@pytest.mark.parametrize("rows", [[[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]],     # right padding
                                  [[1, 0, 1, 0, 1], [0, 1, 1, 1, 1]]],    # any pattern
                         ids=["padding", "arbitrary"])
def test_masks_as_numpy_arrays_and_lists_are_accepted(convert, rows):
    layer, x = _rnn(return_sequences=True), torch.randn(2, 5, 2)
    expected = layer(x, mask=torch.tensor(rows, dtype=torch.bool))
    torch.testing.assert_close(layer(x, mask=convert(rows)), expected)
    torch.testing.assert_close(layer(x, mask=convert([[bool(v) for v in r] for r in rows])),
                               expected)


@pytest.mark.parametrize("mask", [[[0.5, 1, 1, 1, 1], [1, 1, 1, 1, 1]],
                                  [[2, 1, 1, 1, 1], [1, 1, 1, 1, 1]],
                                  np.full((2, 5), 1 + 1j)])
def test_masks_that_are_not_booleans_are_refused(mask):
    with pytest.raises((ValueError, TypeError), match=r"`mask` of Layer 'simplernn.*' must "
                                                      r"hold booleans.*Received:"):
        _rnn()(torch.randn(2, 5, 2), mask=mask)


def test_a_mask_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"must have shape \(N, T\) = \(2, 5\).*Received: "
                                         r"mask of shape \(5,\)"):
        _rnn()(torch.randn(2, 5, 2), mask=[1, 1, 1, 0, 0])


# -- sequences of length 0 ------------------------------------------------------------------
@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("masking", [{}, {"mask": torch.ones(2, 0, dtype=torch.bool)},
                                     {"lengths": [0, 0]}], ids=["plain", "mask", "lengths"])
def test_sequences_of_no_steps_are_refused(cls, masking):
    layer = cls(3)
    layer.build((5, 2))
    with pytest.raises(ValueError, match=r"expects sequences of at least 1 time step.*"
                                         r"Received: input of shape \(N, 0, 2\)"):
        layer(torch.randn(2, 0, 2), **masking)


def test_bidirectional_refuses_sequences_of_no_steps():
    layer = layers.Bidirectional(layers.GRU(3))
    layer.build((5, 2))
    with pytest.raises(ValueError, match="at least 1 time step"):
        layer(torch.randn(2, 0, 2), mask=np.ones((2, 0), bool))


# -- embedding ids --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [10, 11, -1, 2**40])
def test_ids_out_of_range_name_the_layer_vocabulary_and_id(bad):
    with pytest.raises(ValueError, match=rf"Embedding 'tokens' has a vocabulary of 10 ids.*"
                                         rf"\[0, 10\).*Received: id {bad} "):
        _embedding()(torch.tensor([[1, bad, 3, 4]]))


def test_fractional_ids_are_refused_and_whole_float_ids_accepted():
    emb = _embedding()
    with pytest.raises(ValueError, match=r"Embedding 'tokens' takes integer ids.*Received: "
                                         r"id 1.5"):
        emb(torch.tensor([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="integer ids"):
        emb(torch.tensor([[float("nan"), 2.0]]))
    torch.testing.assert_close(emb(torch.tensor([[1.0, 2.0]])), emb(torch.tensor([[1, 2]])))


def test_complex_ids_are_refused():
    with pytest.raises(TypeError, match=r"Embedding 'tokens' takes integer ids.*complex64"):
        _embedding()(torch.ones(1, 2, dtype=torch.complex64))


# -- truncated BPTT -------------------------------------------------------------------------
def test_truncated_bptt_takes_float64_numpy_like_fit():
    model = _tagger()
    x, y = np.random.randn(2, 10, 2), np.random.randn(2, 10, 1)
    history = truncated_bptt(model, x, y, k1=5)
    assert np.isfinite(history[:, "loss"]).all()
    assert next(model.parameters()).dtype == torch.float32


def test_truncated_bptt_refuses_nan_in_the_data():
    y = np.random.randn(2, 10, 1)
    y[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"`y` of truncated_bptt contains NaN or infinite"):
        truncated_bptt(_tagger(), np.random.randn(2, 10, 2), y, k1=5)


def test_truncated_bptt_stops_when_the_loss_diverges():
    model = _tagger()
    with torch.no_grad():
        model.layers[1].weight.fill_(1e30)  # finite weights, an overflowing loss
    with pytest.raises(ValueError, match=r"loss of truncated_bptt became NaN or infinite in "
                                         r"epoch 0, at the window ending at step 5.*"
                                         r"learning rate"):
        truncated_bptt(model, torch.ones(2, 10, 2), torch.zeros(2, 10, 1), k1=5, k2=5,
                       optimizer=lm.optimizers.SGD(lr=0.1))


@pytest.mark.parametrize("shape", [(2, 0, 2), (0, 10, 2)])
def test_truncated_bptt_refuses_empty_streams(shape):
    n, steps = shape[:2]
    with pytest.raises(ValueError, match=r"truncated_bptt needs at least 1 sequence of at "
                                         r"least 1 step.*Received: "
                                         rf"x of shape \({n}, {steps}, 2\)"):
        truncated_bptt(_tagger(), torch.randn(*shape), torch.randn(n, steps, 1), k1=5)


def test_truncated_bptt_refuses_complex_streams():
    with pytest.raises(TypeError, match=r"`x` of truncated_bptt must hold real numbers"):
        truncated_bptt(_tagger(), torch.randn(2, 10, 2, dtype=torch.complex64),
                       torch.randn(2, 10, 1), k1=5)


# -- RTRL -----------------------------------------------------------------------------------
def test_rtrl_takes_float64_numpy_like_fit():
    model = _regressor()
    x, y = np.random.randn(4, 5, 2), np.random.randn(4, 1)
    grads = rtrl_gradients(model, x, y, "mse")
    model.zero_grad()
    lm.losses.get("mse")(model(torch.as_tensor(x, dtype=torch.float32)),
                         torch.as_tensor(y, dtype=torch.float32)).backward()
    for g, p in zip(grads, model.parameters()):
        torch.testing.assert_close(g, p.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 0, 2), (0, 5, 2)])
def test_rtrl_refuses_empty_sequences_instead_of_returning_zeros(shape):
    with pytest.raises(ValueError, match=r"rtrl_gradients needs at least 1 sequence of at "
                                         r"least 1 step"):
        rtrl_gradients(_regressor(), torch.randn(*shape), torch.randn(shape[0], 1))


def test_rtrl_refuses_nan_inputs():
    x = torch.randn(4, 5, 2)
    x[0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="`x` of rtrl_gradients contains NaN or infinite"):
        rtrl_gradients(_regressor(), x, torch.randn(4, 1))


def test_rtrl_names_the_targets_shape():
    with pytest.raises(ValueError, match=r"`y` of rtrl_gradients must have shape \(N, T, "
                                         r"\.\.\.\) = \(4, 5, \.\.\.\).*Received: y of shape "
                                         r"\(4, 1\)"):
        rtrl_gradients(_tagger(), torch.randn(4, 5, 2), torch.randn(4, 1))


# -- gradient flow --------------------------------------------------------------------------
def test_gradient_flow_refuses_no_steps():
    with pytest.raises(ValueError, match=r"gradient_flow needs at least 1 sequence of at least "
                                         r"1 step.*Received: x of shape \(2, 0, 2\)"):
        gradient_flow(_regressor(), torch.randn(2, 0, 2))


def test_gradient_flow_refuses_2d_input_with_the_layers_message():
    with pytest.raises(ValueError, match=r"expects input of shape \(N, T, 2\).*Received: "
                                         r"input of shape \(N, 2\)"):
        gradient_flow(_regressor(), torch.randn(2, 2))


def test_gradient_flow_takes_float64_numpy():
    flow = gradient_flow(_regressor(), np.random.randn(2, 4, 2))
    assert flow.state_grad_norm.shape == (4,) and np.isfinite(flow.state_grad_norm).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.bool])
def test_input_of_another_dtype_than_the_weights_is_named(dtype):
    with pytest.raises(TypeError, match=r"Layer 'simplernn.*' expects input of dtype "
                                        rf"torch.float32.*Received: input of dtype {dtype}"):
        _rnn()(torch.ones(2, 5, 2, dtype=dtype))


# -- sequence data sets ---------------------------------------------------------------------
def test_reber_correct_refuses_fractional_or_misshaped_lengths():
    _, y, lengths = encode_reber(["BTBTXSETE", "BPBPVVEPE"])
    with pytest.raises(ValueError, match=r"`lengths` of reber_correct must hold integers in "
                                         r"\[0, 9\).*Received: lengths=\[8.5, 8.5\]"):
        reber_correct(y, y, lengths + 0.5)
    with pytest.raises(ValueError, match=r"one length per string \(2\).*Received: lengths of "
                                         r"shape \(1,\)"):
        reber_correct(y, y, lengths[:1])


@pytest.mark.parametrize("ids", [[100], [-1], [1.5]])
def test_char_corpus_decode_refuses_ids_outside_the_vocabulary(ids):
    with pytest.raises(ValueError, match=r"`ids` of CharCorpus.decode must hold integers in "
                                         rf"\[0, 8\).*Received: ids=\[{ids[0]}\]"):
        CharCorpus("hello world").decode(ids)


def test_char_corpus_refuses_windows_longer_than_the_text():
    corpus = CharCorpus("hello world")
    with pytest.raises(ValueError, match=r"needs at least 101 tokens.*Received: 11 tokens"):
        corpus.sequences(100)
    with pytest.raises(ValueError, match=r"needs at least 12 tokens.*Received: 11 tokens"):
        corpus.streams(11)
    with pytest.raises(ValueError, match=r"`fraction` of CharCorpus.split"):
        corpus.split(float("nan"))
    assert corpus.streams(10)[0].shape == (10, 1)
