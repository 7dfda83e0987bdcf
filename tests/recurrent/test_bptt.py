"""Truncated BPTT(k2; k1): the windows, the gradient of a window, state carried across chunks."""

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.functional.recurrent import tbptt_windows
from lamina.recurrent import (
    TruncatedBPTT,
    carry_gradients,
    get_states,
    reset_states,
    sequence_loss,
    truncated_bptt,
)


@pytest.mark.parametrize(("length", "k1", "k2"), [(10, 4, 6), (12, 3, 3), (7, 2, 9), (9, 4, 8)])
def test_windows_follow_williams_and_peng(length, k1, k2):
    windows = tbptt_windows(length, k1, k2)
    ends = [t for _, _, t in windows]
    assert ends == list(range(k1, length, k1)) + [length]
    previous = 0
    for (s, s_next, t), nxt in zip(windows, windows[1:] + [(length, length, length)]):
        assert s == max(0, t - k2)  # back-propagate k2 steps (or to the start)
        assert s <= s_next <= t and s_next == min(nxt[0], t)
        assert t - previous <= k1
        previous = t


def _model(stateful=False):
    torch.manual_seed(0)
    return lm.Sequential([layers.LSTM(3, return_sequences=True, stateful=stateful),
                          layers.Dense(1)], input_shape=(4, 2)).double()


def test_one_window_is_full_bptt():
    model = _model()
    x, y = torch.randn(2, 9, 2).double(), torch.randn(2, 9, 1).double()
    loss = lm.losses.get("mse")
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    truncated_bptt(model, x, y, k1=9, loss=loss, optimizer=opt)
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    sequence_loss(loss, model(x), y).backward()
    for a, p in zip(got, model.parameters()):
        torch.testing.assert_close(a, p.grad)


@pytest.mark.parametrize(("k1", "k2"), [(3, 3), (3, 5), (2, 7)])
def test_last_window_gradient_is_truncated_at_k2(k1, k2):
    model = _model()
    x, y = torch.randn(2, 11, 2).double(), torch.randn(2, 11, 1).double()
    loss = lm.losses.get("mse")
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    history = TruncatedBPTT(model, loss, opt, k1=k1, k2=k2).fit(x, y)
    got = [p.grad.clone() for p in model.parameters()]
    s, _, t = tbptt_windows(11, k1, k2)[-1]
    prev = tbptt_windows(11, k1, k2)[-2][2]
    lstm = model.layers[0]
    probe = layers.LSTM.from_config({**lstm.get_config(), "return_state": True})
    probe.build((4, 2))
    probe.double().load_state_dict(lstm.state_dict())
    with torch.no_grad():  # the state at s, reached without gradient
        _, h, c = probe(x[:, :s])
    model.zero_grad()
    out = model.layers[1](lstm(x[:, s:t], initial_state=(h, c)))
    sequence_loss(loss, out[:, prev - s:], y[:, prev:t]).backward()
    for a, p in zip(got, model.parameters()):
        torch.testing.assert_close(a, p.grad)
    # with the weights fixed, chunked k1 == k2 passes reproduce the full-sequence loss
    if k1 == k2:
        full = sequence_loss(loss, model(x), y)
        assert history[-1, "loss"] == pytest.approx(float(full.detach()), rel=1e-9)


def test_state_helpers_and_carry_gradients():
    model = _model(stateful=True)
    x = torch.randn(2, 4, 2).double()
    model(x)
    states = get_states(model)
    assert states[0][0].shape == (2, 3) and not states[0][0].requires_grad
    with carry_gradients(model):
        model(x)
        assert get_states(model)[0][0].requires_grad
    assert get_states(model)[0] is states[0]  # restored on exit
    reset_states(model)
    assert get_states(model) == [None]


def test_truncated_bptt_learns_a_running_sum_on_a_long_stream():
    torch.manual_seed(0)
    model = lm.Sequential([layers.GRU(8, return_sequences=True), layers.Dense(1)],
                          input_shape=(10, 1))
    x = torch.randn(4, 300, 1)
    y = x.roll(2, dims=1)  # echo the input two steps later: needs memory across chunks
    y[:, :2] = 0
    history = truncated_bptt(model, x, y, k1=5, k2=10, optimizer=lm.optimizers.Adam(lr=0.02),
                             epochs=4)
    assert history[-1, "loss"] < 0.3 * history[0, "loss"]


def test_truncated_bptt_errors():
    model = _model()
    with pytest.raises(ValueError, match="k2"):
        TruncatedBPTT(model, k1=4, k2=2)
    with pytest.raises(ValueError, match="recurrent layers"):
        TruncatedBPTT(lm.Sequential([layers.Dense(1)], input_shape=(2,)), k1=2)
    with pytest.raises(ValueError, match=r"\(N, L, features\)"):
        TruncatedBPTT(model, k1=2).fit(torch.randn(5, 2), torch.randn(5, 1))
