"""BatchNorm against nn.BatchNorm1d / nn.BatchNorm2d, in training and eval mode."""

import pytest
import torch
from torch import nn

from lamina.layers import BatchNorm, BatchNormalization
from tests.helpers import assert_matches_torch, copy_params, param_pairs

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")

# per-sample shape -> the torch twin that takes it
TWINS = {(3, 5, 4): nn.BatchNorm2d, (3, 6): nn.BatchNorm1d, (3,): nn.BatchNorm1d}


def _pair(shape, momentum=0.1, epsilon=1e-5, **kwargs):
    layer = BatchNorm(momentum, epsilon, **kwargs)
    layer.build(shape)
    layer.double()
    affine = kwargs.get("center", True) and kwargs.get("scale", True)
    twin = TWINS[shape](shape[0], eps=epsilon, momentum=momentum, affine=affine).double()
    with torch.no_grad():  # non-trivial gamma/beta so their gradients mean something
        for p in layer.parameters():
            p.uniform_(0.5, 1.5)
    copy_params(layer, twin)
    return layer, twin


def _assert_same_buffers(layer, twin):
    for name in BUFFERS:
        torch.testing.assert_close(getattr(layer, name), getattr(twin, name), msg=name)


@pytest.mark.parametrize("shape", TWINS, ids=["2d", "1d_seq", "1d_vec"])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batchnorm_train_mode_matches_torch(shape, momentum):
    layer, twin = _pair(shape, momentum)
    for step in range(3):  # several steps: running statistics must track identically
        x = torch.randn(8, *shape, dtype=torch.float64) * (step + 1) + step
        assert_matches_torch(layer, twin, x, param_pairs(layer, twin))
        _assert_same_buffers(layer, twin)
    assert int(layer.num_batches_tracked) == 3


@pytest.mark.parametrize("shape", TWINS, ids=["2d", "1d_seq", "1d_vec"])
def test_batchnorm_eval_mode_uses_running_statistics_like_torch(shape):
    layer, twin = _pair(shape)
    for _ in range(2):
        x = torch.randn(16, *shape, dtype=torch.float64) * 3 + 1
        layer(x), twin(x)
    layer.eval(), twin.eval()
    x = torch.randn(4, *shape, dtype=torch.float64)
    assert_matches_torch(layer, twin, x, param_pairs(layer, twin))
    _assert_same_buffers(layer, twin)
    assert int(layer.num_batches_tracked) == 2  # eval mode leaves the statistics alone


def test_batchnorm_without_affine_matches_torch_affine_false():
    layer, twin = _pair((3, 5, 4), center=False, scale=False)
    assert layer.count_params() == 0 and layer.weight is None and layer.bias is None
    x = torch.randn(4, 3, 5, 4, dtype=torch.float64)
    assert_matches_torch(layer, twin, x)
    _assert_same_buffers(layer, twin)


def test_batchnorm_center_only_has_beta_only():
    layer = BatchNorm(scale=False)
    layer.build((4, 2, 2))
    assert layer.weight is None and layer.bias.shape == (4,) and layer.count_params() == 4
    y = layer(torch.randn(6, 4, 2, 2) * 5 + 3)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)


def test_batchnorm_normalizes_per_channel_in_training():
    x = torch.randn(32, 3, 4, 4, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]).view(
        1, 3, 1, 1).double() + 7
    layer = BatchNorm()
    layer.build((3, 4, 4))
    y = layer.double()(x)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64),
                               atol=1e-10, rtol=0)
    var = x.var(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(y.var(dim=(0, 2, 3), unbiased=False), var / (var + 1e-5))


def test_batchnorm_state_dict_keys_match_torch():
    layer, twin = _pair((3, 5, 4))
    assert set(layer.state_dict()) == set(twin.state_dict())
    layer.load_state_dict(twin.state_dict())  # interchangeable checkpoints


def test_batchnorm_alias_and_repr():
    assert BatchNormalization is BatchNorm
    layer = BatchNorm(momentum=0.01)
    layer.build((5,))
    assert layer.extra_repr() == "5, momentum=0.01, epsilon=1e-05"


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_batchnorm_rejects_bad_momentum(momentum):
    with pytest.raises(ValueError, match=r"`momentum` of BatchNorm '\w+' must be a number in "
                                         r"\[0, 1\]"):
        BatchNorm(momentum)


def test_batchnorm_wrong_channels_after_build():
    layer = BatchNorm(name="bn_a")
    layer.build((3, 4, 4))
    with pytest.raises(ValueError, match=r"Layer 'bn_a' expects input with axis 1 of size 3\. "
                                         r"Received: input of shape \(N, 4, 4, 4\)"):
        layer.build_shapes((4, 4, 4))
