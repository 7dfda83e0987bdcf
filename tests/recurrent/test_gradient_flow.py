"""Gradient flow: on a linear RNN with W_hh = a I the gradient scales exactly as a^k."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.recurrent import gradient_flow


def _linear_rnn(a, steps=8, return_sequences=False):
    rnn = layers.SimpleRNN(4, activation="linear", use_bias=False,
                           recurrent_initializer="identity", return_sequences=return_sequences)
    rnn.build((steps, 3))
    rnn.double()
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(a)
    return rnn


@pytest.mark.parametrize("a", [0.5, 0.9, 1.3])
def test_linear_rnn_gradient_scales_as_a_to_the_k(a):
    rnn = _linear_rnn(a)
    flow = gradient_flow(rnn, torch.randn(5, 8, 3, dtype=torch.float64))
    ratio = flow.state_grad_norm / flow.state_grad_norm[0]
    np.testing.assert_allclose(ratio, a ** flow.lags, rtol=1e-10)
    np.testing.assert_allclose(flow.jacobian_radius, a, rtol=1e-10)
    assert flow.weight_radius == {"h": pytest.approx(a)}
    assert flow.decay_rate() == pytest.approx(a)
    # dE/dx(t-k) = W_ih^T dE/dh(t-k): the same geometric law
    np.testing.assert_allclose(flow.input_grad_norm / flow.input_grad_norm[0], a ** flow.lags,
                               rtol=1e-10)


def test_gradient_flow_with_a_loss_and_an_lstm_model():
    model = lm.Sequential([layers.Embedding(6, 3), layers.LSTM(4), layers.Dense(2)],
                          input_shape=(9,))
    ids = torch.randint(0, 6, (4, 9))
    flow = gradient_flow(model, ids, torch.randn(4, 2), "mse", jacobian_samples=2)
    assert flow.state_grad_norm.shape == (9,) and flow.jacobian_radius.shape == (8,)
    assert set(flow.weight_radius) == set("ifgo") and flow.layer == model.layers[1].name
    assert np.isfinite(flow.state_grad_norm).all() and (flow.jacobian_radius > 0).all()


def test_many_to_many_sums_the_errors_of_every_later_step():
    a = 0.5
    rnn = _linear_rnn(a, steps=12, return_sequences=True)
    x = torch.randn(3, 12, 3, dtype=torch.float64)
    flow = gradient_flow(rnn, x)  # E = sum_t sum(h_t): dE/dh(T-1-k) = sum_{j<=k} a^j dE/dh_T
    ratio = flow.state_grad_norm / flow.state_grad_norm[0]
    np.testing.assert_allclose(ratio, (1 - a ** (flow.lags + 1)) / (1 - a), rtol=1e-10)
    rnn.activation = torch.tanh  # tanh' <= 1 only shrinks the Jacobian
    assert gradient_flow(rnn, x).jacobian_radius.max() <= a + 1e-12


def test_plot_gradient_flow(tmp_path):
    from lamina.viz import plot_gradient_flow

    flows = {f"a={a}": gradient_flow(_linear_rnn(a), torch.randn(2, 8, 3).double())
             for a in (0.8, 1.2)}
    fig = plot_gradient_flow(flows)
    fig.savefig(tmp_path / "flow.png")
    assert len(fig.axes) == 2
