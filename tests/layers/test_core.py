"""Dense, Activation, Flatten, Reshape and Dropout against torch oracles and closed forms."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lamina import activations
from lamina.errors import NotBuiltError
from lamina.layers import Activation, Dense, Dropout, Flatten, Reshape
from tests.helpers import assert_matches_torch, copy_params, param_pairs


def _dense64(units, in_features, **kwargs):
    layer = Dense(units, **kwargs)
    layer.build((in_features,))
    return layer.double()


# -- Dense -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)], ids=["2d", "3d"])
def test_dense_matches_f_linear(batch_shape):
    dense = _dense64(5, 3)
    weight = dense.weight.detach().clone().requires_grad_()
    bias = dense.bias.detach().clone().requires_grad_()
    assert_matches_torch(dense, lambda x: F.linear(x, weight, bias),
                         torch.randn(*batch_shape, 3, dtype=torch.float64),
                         {"weight": (dense.weight, weight), "bias": (dense.bias, bias)})


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_matches_nn_linear(use_bias):
    dense = _dense64(4, 6, use_bias=use_bias)
    linear = nn.Linear(6, 4, bias=use_bias).double()
    copy_params(dense, linear)
    assert_matches_torch(dense, linear, torch.randn(5, 6, dtype=torch.float64),
                         param_pairs(dense, linear))


def test_dense_activation_is_applied_after_the_affine_map():
    dense = _dense64(3, 4, activation="tanh")
    linear = nn.Linear(4, 3).double()
    copy_params(dense, linear)
    assert_matches_torch(dense, lambda x: torch.tanh(linear(x)),
                         torch.randn(6, 4, dtype=torch.float64), param_pairs(dense, linear))


def test_dense_float32_matches_nn_linear_within_float32_tolerance():
    dense = Dense(7)
    dense.build((9,))
    linear = nn.Linear(9, 7)
    copy_params(dense, linear)
    assert_matches_torch(dense, linear, torch.randn(8, 9), param_pairs(dense, linear),
                         rtol=1e-5, atol=1e-6)


def test_dense_gradcheck():
    dense = _dense64(3, 4, activation="sigmoid")
    x = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(dense, (x,))


def test_dense_builds_lazily_from_first_input():
    dense = Dense(2)
    assert dense(torch.zeros(3, 5)).shape == (3, 2)
    assert dense.weight.shape == (2, 5) and dense.input_shape == (5,)


# -- Dense errors ------------------------------------------------------------------------
def test_dense_zero_units_is_rejected():
    with pytest.raises(ValueError, match=r"`units` of Dense .* integer >= 1\. "
                                         r"Received: units=0 \(type int\)"):
        Dense(0)


def test_dense_wrong_last_axis_after_build_names_layer_and_shape():
    dense = Dense(3, name="fc")
    dense.build((4,))
    with pytest.raises(ValueError, match=r"Layer 'fc' expects input with last axis of size 4\. "
                                         r"Received: input of shape \(N, 5\)\..*Flatten"):
        dense.build_shapes((5,))


def test_count_params_on_unbuilt_layer_says_to_pass_input_shape():
    with pytest.raises(NotBuiltError, match=r"Layer 'fc1' has no weights yet.*`input_shape=`"):
        Dense(3, name="fc1").count_params()


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown activation 'rleu'\. Did you mean 'relu'\? "
                                         r"Valid names: .*'sigmoid'.*'tanh'"):
        Dense(3, activation="rleu")


# -- Activation ----------------------------------------------------------------------------
ACTIVATION_NAMES = sorted({activations.ACTIVATIONS.canonical(n)
                           for n in activations.ACTIVATIONS.names()})


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_layer_applies_the_registered_function(name):
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    layer = Activation(name)
    y = layer(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, activations.get(name)(x), rtol=0, atol=0)
    assert Activation.from_config(layer.get_config()).activation is layer.activation
    assert layer.extra_repr() == name


def test_activation_oracles():
    x = torch.randn(4, 6, dtype=torch.float64)
    oracles = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
               "saturation": F.hardtanh, "softplus": F.softplus, "elu": F.elu,
               "leaky_relu": F.leaky_relu, "identity": lambda t: t,
               "softmax": lambda t: torch.softmax(t, -1),
               "gaussian": lambda t: torch.exp(-t * t),
               "sign": lambda t: torch.where(t >= 0, 1.0, -1.0).double(),
               "threshold": lambda t: (t >= 0).double()}
    assert set(oracles) == set(ACTIVATION_NAMES), "a new activation needs an oracle here"
    for name, oracle in oracles.items():
        torch.testing.assert_close(Activation(name)(x), oracle(x), msg=name)


def test_softmax_activation_sums_to_one_over_last_axis():
    y = Activation("softmax")(torch.randn(3, 4, 7) * 10)
    torch.testing.assert_close(y.sum(-1), torch.ones(3, 4))
    assert (y >= 0).all()


def test_activation_aliases_resolve_to_canonical_name():
    assert Activation("linear").get_config()["activation"] == "identity"
    assert Activation("HardTanh").get_config()["activation"] == "saturation"


# -- Flatten, Reshape ----------------------------------------------------------------------
def test_flatten_matches_torch_flatten():
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(Flatten()(x), torch.flatten(x, 1), rtol=0, atol=0)
    assert Flatten().compute_output_shape((3, 4, 5)) == (60,)


@pytest.mark.parametrize("target, expected", [((4, 6), (4, 6)), ((-1, 3), (8, 3)),
                                              ((2, -1, 2), (2, 6, 2)), ((-1,), (24,))])
def test_reshape_matches_torch_reshape(target, expected):
    layer = Reshape(target)
    x = torch.randn(3, 2, 3, 4)
    assert layer.build_shapes((2, 3, 4)) == expected
    torch.testing.assert_close(layer(x), x.reshape(3, *expected), rtol=0, atol=0)


@pytest.mark.parametrize("target", [(-1, -1), (0, 4), (2, -3)])
def test_reshape_rejects_bad_target(target):
    with pytest.raises(ValueError, match=r"`target_shape` of Reshape .* positive sizes and at "
                                         r"most one -1\. Received: target_shape="):
        Reshape(target)


@pytest.mark.parametrize("target", [(5,), (-1, 5)])
def test_reshape_incompatible_size_names_layer(target):
    layer = Reshape(target, name="to_five")
    with pytest.raises(ValueError, match=r"Layer 'to_five' cannot reshape input of per-sample "
                                         r"shape \(2, 3\) \(6 values\)"):
        layer.build_shapes((2, 3))


# -- Dropout ---------------------------------------------------------------------------------
def test_dropout_is_identity_in_eval_mode():
    x = torch.randn(4, 10)
    layer = Dropout(0.7).eval()
    assert torch.equal(layer(x), x)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_train_zeroes_about_rate_and_rescales_survivors(rate):
    x = torch.rand(200, 500) + 0.5  # never zero
    y = Dropout(rate).train()(x)
    dropped = (y == 0).float().mean().item()
    # 100,000 Bernoulli draws: the standard error is < 0.0016
    assert math.isclose(dropped, rate, abs_tol=0.01)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - rate))


def test_dropout_zero_rate_is_identity_in_training():
    x = torch.randn(3, 4)
    assert torch.equal(Dropout(0.0).train()(x), x)


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5"])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=r"`rate` of Dropout .* in \[0, 1\)"):
        Dropout(rate)
