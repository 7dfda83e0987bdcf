"""RTRL: the forward-in-time gradient equals BPTT's (autograd) exactly; online learning works."""

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.functional.recurrent import rtrl_simple_rnn_step
from lamina.recurrent import RTRL, rtrl_gradients

CASES = {
    "rnn_tanh": lambda: layers.SimpleRNN(3),
    "rnn_relu": lambda: layers.SimpleRNN(3, activation="relu"),
    "rnn_softplus_nobias": lambda: layers.SimpleRNN(3, activation="softplus", use_bias=False),
    "lstm": lambda: layers.LSTM(3),
    "lstm_peephole": lambda: layers.LSTM(2, peephole=True),
    "gru": lambda: layers.GRU(3),
}


def _bptt(model, x, y, loss, sequences):
    """The oracle: autograd through the unfolded net (full BPTT) on the same error E."""
    model.zero_grad(set_to_none=True)
    out = model(x)
    if sequences:
        error = sum(loss(out[:, t], y[:, t]) for t in range(x.shape[1]))
    else:
        error = loss(out, y)
    error.backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("sequences", [False, True], ids=["many_to_one", "many_to_many"])
def test_rtrl_equals_bptt(kind, sequences):
    rnn = CASES[kind]()
    rnn.return_sequences = sequences
    head = [layers.Dense(2, activation="tanh")]
    model = lm.Sequential([rnn, *head], input_shape=(7, 2)).double()
    x = torch.randn(4, 7, 2, dtype=torch.float64)
    y = torch.randn(4, 7, 2, dtype=torch.float64) if sequences else torch.randn(4, 2).double()
    loss = lm.losses.get("mse")
    rtrl = rtrl_gradients(model, x, y, loss)
    bptt = _bptt(model, x, y, loss, sequences)
    assert len(rtrl) == len(bptt) == len(list(model.parameters()))
    for name, a, b in zip([n for n, _ in model.named_parameters()], rtrl, bptt):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9, msg=lambda m, n=name: f"{n}: {m}")
    assert all(p.grad is not None for p in model.parameters())  # the caller's .grad is kept


def test_rtrl_on_a_bare_layer_and_with_classification_loss():
    rnn = layers.GRU(4)
    rnn.build((5, 3))
    rnn.double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    y = torch.tensor([0, 3, 1])
    loss = lm.losses.get("sparse_categorical_crossentropy", from_logits=True)
    for a, b in zip(rtrl_gradients(rnn, x, y, loss), _bptt(rnn, x, y, loss, False)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_closed_form_step_matches_jacobians():
    torch.manual_seed(2)
    w_ih, w_hh, b = torch.randn(3, 2).double(), torch.randn(3, 3).double(), torch.randn(3).double()
    x, h = torch.randn(1, 2).double(), torch.randn(1, 3).double()
    sens = torch.zeros(1, 3, 6 + 9 + 3 + 3, dtype=torch.float64)
    _, p = rtrl_simple_rnn_step(x, h, sens, w_ih, w_hh, b, b.clone())

    def f(w_ih, w_hh, b_ih, b_hh):
        return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)[0]

    jac = torch.autograd.functional.jacobian(f, (w_ih, w_hh, b, b.clone()))
    torch.testing.assert_close(p[0], torch.cat([j.flatten(1) for j in jac], 1))


def test_online_rtrl_learns_to_echo_the_previous_input():
    torch.manual_seed(0)
    model = lm.Sequential([layers.SimpleRNN(6), layers.Dense(1)], input_shape=(1, 1))
    learner = RTRL(model, "mse", lm.optimizers.Adam(lr=0.02))
    stream = torch.randn(8, 601, 1)
    losses = [learner.step(stream[:, t + 1], stream[:, t]) for t in range(600)]
    early, late = torch.stack(losses[:100]).mean(), torch.stack(losses[-100:]).mean()
    assert float(late) < 0.3 * float(early)
    learner.reset()
    assert learner.state is None and learner.step(stream[:, 0]) is None


def test_rtrl_refuses_what_it_cannot_model():
    with pytest.raises(ValueError, match="recurrent layer"):
        RTRL(lm.Sequential([layers.Dense(2)], input_shape=(3,)))
    with pytest.raises(ValueError, match="go_backwards"):
        RTRL(layers.LSTM(2, go_backwards=True))
    with pytest.raises(ValueError, match="recurrent layer first"):
        RTRL(lm.Sequential([layers.Embedding(5, 2), layers.GRU(2)], input_shape=(3,)))
    with pytest.raises(ValueError, match="dropout"):
        RTRL(layers.GRU(2, dropout=0.5))
