"""Fixtures for the callback tests: a tiny compiled model, tiny data, weight helpers.

Helpers are fixtures (factories) because pytest imports this folder as a namespace
package, so test modules cannot import a sibling helper module by its bare name.
"""

import pytest
import torch

import lamina as lm


def _make_model(lr=0.1):
    """``Dense(2)`` on 3 inputs, SGD + MSE on the CPU: the smallest real lamina model."""
    model = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    model.compile(optimizer=lm.optimizers.SGD(lr=lr), loss="mse", device="cpu")
    return model


def _weights(model):
    """A detached copy of the model's state dict."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _perturb(model, by=1.0):
    """Shift every weight, standing in for an epoch of training."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(by)


def _assert_same(actual, expected):
    """Exact equality of two state dicts."""
    assert actual.keys() == expected.keys()
    for key, value in actual.items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)


@pytest.fixture
def make_model():
    return _make_model


@pytest.fixture
def model():
    return _make_model()


@pytest.fixture
def data():
    """16 samples of a linear target (learnable, so the loss goes down)."""
    x = torch.randn(16, 3)
    return x, x @ torch.tensor([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]])


@pytest.fixture
def weights():
    return _weights


@pytest.fixture
def perturb():
    return _perturb


@pytest.fixture
def assert_same():
    return _assert_same
