"""Activations against numpy closed forms, torch's functional twins, and gradcheck."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamina import activations
from lamina.functional import activations as A

# Points away from every kink (0 for relu-like units, +-1 for saturation).
X = torch.tensor([-3.0, -1.5, -0.7, -0.2, 0.3, 0.8, 1.6, 4.0], dtype=torch.float64)
XN = X.numpy()

CLOSED_FORMS = {
    "threshold": lambda x: np.where(x >= 0, 1.0, 0.0),
    "sign": lambda x: np.where(x >= 0, 1.0, -1.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "gaussian": lambda x: np.exp(-(x**2)),
    "identity": lambda x: x,
    "saturation": lambda x: np.clip(x, -1.0, 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1.0),
    "softplus": lambda x: np.log1p(np.exp(x)),
}

TORCH_TWINS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "saturation": F.hardtanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "softplus": F.softplus,
}

DIFFERENTIABLE = [
    "sigmoid",
    "tanh",
    "gaussian",
    "identity",
    "saturation",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
]


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_matches_closed_form(name):
    out = getattr(A, name)(X)
    np.testing.assert_allclose(out.numpy(), CLOSED_FORMS[name](XN), rtol=1e-12, atol=1e-12)
    assert out.shape == X.shape and out.dtype == X.dtype


@pytest.mark.parametrize("name", sorted(TORCH_TWINS))
def test_matches_torch_twin(name):
    x = torch.randn(5, 7)
    torch.testing.assert_close(getattr(A, name)(x), TORCH_TWINS[name](x))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck(name):
    x = X.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(getattr(A, name), (x,))


def test_step_units_at_zero_and_zero_gradient():
    x = torch.tensor([-1e-30, 0.0, 1e-30], requires_grad=True)
    assert A.threshold(x).tolist() == [0.0, 1.0, 1.0]
    assert A.sign(x).tolist() == [-1.0, 1.0, 1.0]
    # The output stays in the graph, so backward runs and gives a zero gradient.
    (A.threshold(x) + A.sign(x)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    nan = torch.tensor([float("nan")])
    assert torch.isnan(A.sign(nan)).all() and torch.isnan(A.threshold(nan)).all()


def test_softmax_axis_against_numpy_and_torch():
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    for axis in (0, 1, -1):
        e = np.exp(x.numpy() - x.numpy().max(axis=axis, keepdims=True))
        np.testing.assert_allclose(
            A.softmax(x, axis=axis).numpy(), e / e.sum(axis=axis, keepdims=True), rtol=1e-12
        )
        torch.testing.assert_close(A.softmax(x, axis), F.softmax(x, dim=axis))
    assert torch.autograd.gradcheck(lambda t: A.softmax(t, axis=1), (x.requires_grad_(True),))


def test_softmax_is_stable_for_huge_logits():
    out = A.softmax(torch.tensor([[1e4, 0.0, -1e4]]))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0, 0.0]]))


def test_parameters():
    x = torch.tensor([-2.0, 3.0])
    torch.testing.assert_close(A.leaky_relu(x, negative_slope=0.2), torch.tensor([-0.4, 3.0]))
    torch.testing.assert_close(A.elu(x, alpha=2.0), F.elu(x, alpha=2.0))


def test_get_names_aliases_none_and_callables():
    assert activations.get(None) is A.identity
    assert activations.get("linear") is A.identity
    assert activations.get("ReLU") is A.relu
    assert activations.get("hard_tanh") is A.saturation
    assert activations.get(torch.relu) is torch.relu


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown activation 'rleu'.*Did you mean 'relu'"):
        activations.get("rleu")
    with pytest.raises(ValueError, match="Valid names:.*'saturation'"):
        activations.get("nope")


def test_get_wrong_type():
    with pytest.raises(TypeError, match=r"identifier.*Received: activation=3 \(type int\)"):
        activations.get(3)


def test_serialize():
    assert activations.serialize(A.linear) == "identity"
    assert activations.serialize(activations.get("HardTanh")) == "saturation"
    assert activations.serialize("Sigmoid") == "sigmoid"
    assert activations.serialize(None) == "identity"
    for name in activations.ACTIVATIONS.names():
        fn = activations.get(name)
        assert activations.get(activations.serialize(fn)) is fn
    with pytest.raises(ValueError, match="registered name"):
        activations.serialize(lambda x: x)
