"""Initializers: fans as torch computes them, Keras's formulas, and sample statistics."""

import math

import pytest
import torch

from lamina import initializers as I

TRUNC = 0.87962566103423978


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_fans_match_torch_layers():
    linear = torch.nn.Linear(7, 5)
    conv = torch.nn.Conv2d(3, 16, (5, 3))
    conv1d = torch.nn.Conv1d(4, 2, 9)
    assert I.compute_fans(linear.weight.shape) == (7, 5)
    assert I.compute_fans(conv.weight.shape) == (3 * 15, 16 * 15)
    assert I.compute_fans(conv1d.weight.shape) == (36, 18)
    for w in (linear.weight, conv.weight, conv1d.weight):
        assert I.compute_fans(w.shape) == torch.nn.init._calculate_fan_in_and_fan_out(w)
    assert I.compute_fans((10,)) == (10, 10)
    assert I.compute_fans(()) == (1, 1)


# (initializer, shape, expected std, bound or None, truncated?)
FAN_IN, FAN_OUT = 300, 200
CASES = [
    (I.uniform_fan_in, 1 / math.sqrt(FAN_IN) / math.sqrt(3), 1 / math.sqrt(FAN_IN)),
    (I.lecun_uniform, math.sqrt(1 / FAN_IN), math.sqrt(3 / FAN_IN)),
    (I.glorot_uniform, math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (I.he_uniform, math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    (I.lecun_normal, math.sqrt(1 / FAN_IN), 2 * math.sqrt(1 / FAN_IN) / TRUNC),
    (
        I.glorot_normal,
        math.sqrt(2 / (FAN_IN + FAN_OUT)),
        2 * math.sqrt(2 / (FAN_IN + FAN_OUT)) / TRUNC,
    ),
    (I.he_normal, math.sqrt(2 / FAN_IN), 2 * math.sqrt(2 / FAN_IN) / TRUNC),
]


@pytest.mark.parametrize("init,std,bound", CASES, ids=[c[0].__name__ for c in CASES])
def test_statistics_follow_keras_formulas(init, std, bound):
    w = torch.empty(FAN_OUT, FAN_IN)
    out = init(w, gen())
    assert out is w
    assert abs(w.mean().item()) < 0.02 * std
    assert w.std().item() == pytest.approx(std, rel=0.02)
    assert w.abs().max().item() <= bound + 1e-7
    assert w.abs().max().item() >= 0.95 * bound  # the support reaches the bound


def test_conv_weight_uses_receptive_field():
    w = I.he_normal(torch.empty(64, 32, 3, 3), gen())
    assert w.std().item() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.03)


def test_uniform_fan_in_matches_torch_linear_default_bound():
    layer = torch.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert layer.weight.abs().max().item() <= bound
    w = I.uniform_fan_in(torch.empty(300, 400), gen())
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() > 0.99 * bound
    b = I.uniform_fan_in(torch.empty(5000), gen(), fan_in=400)
    assert 0.99 * bound < b.abs().max().item() <= bound


def test_variance_scaling_modes_and_distributions():
    w = torch.empty(100, 400)  # fan_in 400, fan_out 100
    I.VarianceScaling(3.0, "fan_out", "untruncated_normal")(w, gen())
    assert w.std().item() == pytest.approx(math.sqrt(3 / 100), rel=0.02)
    assert w.abs().max().item() > 2.5 * math.sqrt(3 / 100)  # not truncated
    I.VarianceScaling(1.0, "fan_avg", "uniform")(w, gen())
    assert w.abs().max().item() <= math.sqrt(3 / 250) + 1e-7
    assert I.VarianceScaling(2.0).std((10, 50)) == pytest.approx(math.sqrt(2 / 50))
    assert I.VarianceScaling(1.0).std((0, 0)) == 1.0  # fan floored at 1, as Keras


def test_variance_scaling_validates():
    with pytest.raises(ValueError, match=r"`mode` of VarianceScaling.*Received: mode='fan_sum'"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="`distribution`"):
        I.VarianceScaling(distribution="normal")
    with pytest.raises(ValueError, match="`scale`"):
        I.VarianceScaling(scale=0)


def test_generator_reproducible_and_in_place_on_parameters():
    a = I.glorot_normal(torch.empty(20, 30), gen(3))
    b = I.glorot_normal(torch.empty(20, 30), gen(3))
    torch.testing.assert_close(a, b)
    p = torch.nn.Parameter(torch.empty(4, 5))
    assert I.he_uniform(p) is p and p.requires_grad
    assert I.zeros(p).abs().sum() == 0 and I.ones(p).sum() == 20


def test_orthogonal():
    w = I.orthogonal(torch.empty(6, 10), gen())
    torch.testing.assert_close(w @ w.T, torch.eye(6), atol=1e-5, rtol=0)
    w = I.orthogonal(torch.empty(5, 5), gen(), gain=2.0)
    torch.testing.assert_close(w @ w.T, 4 * torch.eye(5), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        I.orthogonal(torch.empty(5))


def test_get_and_serialize():
    assert I.get("Xavier_Uniform") is I.glorot_uniform
    assert I.get("kaiming_normal") is I.he_normal
    vs = I.get("variance_scaling")
    assert vs == I.VarianceScaling()
    assert I.get(I.VarianceScaling) == I.VarianceScaling()
    custom = I.VarianceScaling(0.5, "fan_out", "uniform")
    assert I.get(custom) is custom
    assert I.get(I.serialize(custom)) == custom
    assert I.serialize(I.xavier_normal) == "glorot_normal"
    for name in I.INITIALIZERS.names():
        obj = I.get(name)
        assert I.get(I.serialize(obj)) in (obj, I.VarianceScaling())
    with pytest.raises(ValueError, match=r"Unknown initializer 'he_nromal'.*Did you mean"):
        I.get("he_nromal")
    with pytest.raises(TypeError, match=r"Received: initializer=1\.5 \(type float\)"):
        I.get(1.5)
    with pytest.raises(ValueError, match="registered name"):
        I.serialize(lambda t, generator=None: t)
