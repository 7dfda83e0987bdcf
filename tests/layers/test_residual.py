"""``layers.Residual``: ``x + inner(x)`` against a hand computation with the same weights."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from tests.helpers import run_layer_test


def test_dense_residual_equals_the_hand_computation():
    torch.manual_seed(0)
    block = layers.Residual([layers.Dense(3, activation="tanh"), layers.Dense(3)])
    x = torch.randn(5, 3, dtype=torch.float64)
    block.build((3,))
    block.double()
    y = block(x)
    w1, b1 = block.inner[0].weight, block.inner[0].bias
    w2, b2 = block.inner[1].weight, block.inner[1].bias
    expected = x + (torch.tanh(x @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


def test_conv_residual_equals_the_hand_computation():
    torch.manual_seed(1)
    block = layers.Residual(layers.Conv2D(2, 3, padding="same"))
    x = torch.randn(2, 2, 5, 5)
    y = block(x)
    conv = block.inner[0]
    expected = x + torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1)
    torch.testing.assert_close(y, expected)


def test_layer_contract():
    run_layer_test(lambda: layers.Residual([layers.Dense(4, activation="tanh"), layers.Dense(4)]),
                   (4,), expected_output_shape=(4,), expected_params=2 * (16 + 4))
    run_layer_test(lambda: layers.Residual([layers.Conv2D(3, 3, padding="same")]), (3, 6, 6),
                   expected_output_shape=(3, 6, 6), expected_params=3 * 3 * 9 + 3)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"same shape.*input of shape \(N, 4\), inner output "
                                         r"of shape \(N, 3\)"):
        layers.Residual([layers.Dense(3)]).build((4,))
    with pytest.raises(ValueError, match=r"inner output of shape \(N, 2, 4, 4\)"):
        layers.Residual(layers.Conv2D(2, 3))(torch.zeros(1, 2, 6, 6))
    with pytest.raises(TypeError, match="lamina layers"):
        layers.Residual(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="lamina layers"):
        layers.Residual([])


def test_mlp_to_resnet_is_three_lines_and_survives_save_and_load(tmp_path):
    n = 5
    net = lm.Sequential([layers.Dense(n, activation="tanh"),
                         *[layers.Residual([layers.Dense(n, activation="tanh"),
                                            layers.Dense(n, activation="tanh")]) for _ in range(2)],
                         layers.Dense(1)], input_shape=(2,))
    assert net.count_params() == 15 + 4 * 30 + 6
    path = str(tmp_path / "resnet.lamina")
    net.save(path)
    again = lm.load_model(path)
    assert isinstance(again.layers[1], layers.Residual)
    assert [type(inner).__name__ for inner in again.layers[1].inner] == ["Dense", "Dense"]
    x = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), net.predict(x))
    # the bypass matters: the same weights without it give another function
    plain = lm.Sequential([layers.Dense(n, activation="tanh"), layers.Dense(n, activation="tanh"),
                           layers.Dense(n, activation="tanh"), layers.Dense(n, activation="tanh"),
                           layers.Dense(n, activation="tanh"), layers.Dense(1)], input_shape=(2,))
    plain.load_state_dict(dict(zip(plain.state_dict(), net.state_dict().values())))
    assert not np.allclose(plain.predict(x), net.predict(x))
