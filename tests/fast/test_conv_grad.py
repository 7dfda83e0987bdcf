"""conv2d_correlation_grad: the weight gradient as a correlation equals ATen's, and the plan
gives it to Conv2D layers on one channel with kernels of 5x5 or more on AVX2 CPUs."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lamina as lm
from lamina.fast import policy
from lamina.fast.conv_grad import conv2d_correlation_grad
from lamina.fast.plan import Settings, plan_for
from lamina.layers import Conv2D
from tests.helpers import assert_matches_torch, copy_params, param_pairs

# (channels, size (H, W), kernel, stride, padding): remainders (H + 2p - k) % s of 0 and not 0
CASES = [(1, (12, 12), 5, 1, 0), (1, (13, 11), 5, 2, 2), (2, (11, 12), (5, 3), 3, (1, 2)),
         (1, (9, 10), (7, 5), (2, 1), 0), (3, (8, 8), 3, 2, 1)]


@pytest.mark.parametrize("channels, size, kernel, stride, padding", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_equal_aten(channels, size, kernel, stride, padding, bias):
    torch.manual_seed(0)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    weight = torch.randn(4, channels, kh, kw, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64) if bias else None
    x = torch.randn(3, channels, *size, dtype=torch.float64)
    w0, w1 = (weight.clone().requires_grad_() for _ in range(2))
    b0, b1 = (b.clone().requires_grad_() if bias else None for _ in range(2))
    params = {"weight": (w0, w1), **({"bias": (b0, b1)} if bias else {})}
    assert_matches_torch(lambda x: conv2d_correlation_grad(x, w0, b0, stride, padding),
                         lambda x: F.conv2d(x, w1, b1, stride, padding), x, params)


def test_gradcheck_and_gradgradcheck():
    x = torch.randn(2, 1, 7, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def fn(x, w, b):
        return conv2d_correlation_grad(x, w, b, 2, 1)

    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))


def test_weight_without_gradient_gets_none_and_input_still_gets_its_own():
    x = torch.randn(2, 1, 9, 9, requires_grad=True)
    w = torch.randn(3, 1, 5, 5)
    conv2d_correlation_grad(x, w, None, 1, 2).square().sum().backward()
    torch.testing.assert_close(
        x.grad, torch.autograd.grad(F.conv2d(x, w, None, 1, 2).square().sum(), x)[0])


def _plan(model, capability, training=True, **settings):
    with policy.emulate(capability):
        return plan_for(model, torch.device("cpu"), Settings(**settings), training=training)


def _convs(plan):
    return [r.module for r in plan.rewrites if r.attr == "preactivation"]


def test_the_plan_takes_the_correlation_for_a_grayscale_first_layer_on_avx2_only():
    model = lm.Sequential([Conv2D(6, 5), Conv2D(4, 3), Conv2D(2, 5, dilation_rate=2)],
                          input_shape=(1, 28, 28))
    first = model.layers[0]
    assert _convs(_plan(model, "AVX2", channels_last=False)) == [first]
    assert _convs(_plan(model, "AVX512", channels_last=False)) == []  # oneDNN's wins there
    assert _convs(_plan(model, "AVX2", channels_last=True)) == []     # NHWC: oneDNN's kernels
    assert _convs(_plan(model, "AVX2", training=False, channels_last=False)) == []
    assert _convs(_plan(model, "AVX2", channels_last=False, autocast=True)) == []
    assert _convs(_plan(model, "AVX2", channels_last=False, fast=False)) == []
    first.weight.requires_grad_(False)
    assert _convs(_plan(model, "AVX2", channels_last=False)) == []
    assert _convs(_plan(model.double(), "AVX2", channels_last=False)) == []


@pytest.mark.parametrize("kwargs, torch_kwargs", [
    ({}, {}), ({"strides": 2, "padding": 2}, {"stride": 2, "padding": 2}),
    ({"padding": "same"}, {"padding": "same"})])
def test_a_planned_conv2d_takes_the_correlation_and_matches_nn(kwargs, torch_kwargs):
    torch.manual_seed(0)
    model = lm.Sequential([Conv2D(6, 5, **kwargs)], input_shape=(1, 16, 16))
    layer = model.layers[0]
    twin = nn.Conv2d(1, 6, 5, **torch_kwargs)
    copy_params(layer, twin)
    x = torch.rand(4, 1, 16, 16)
    with _plan(model, "AVX2", channels_last=False):
        assert layer.preactivation(x).grad_fn.name() == "_Conv2dCorrelationGradBackward"
        assert_matches_torch(layer, twin, x, param_pairs(layer, twin), rtol=1e-5, atol=1e-5)
    assert layer.preactivation(x).grad_fn.name() != "_Conv2dCorrelationGradBackward"
