"""conv2d_correlation_grad: the weight gradient as a correlation equals ATen's, and Conv2D uses
it for single-channel inputs with kernels of 5x5 or more on the CPU."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lamina as lm
from lamina.functional import cpu_kernels
from lamina.functional.conv_grad import conv2d_correlation_grad, use_correlation_weight_grad
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


def test_dispatch_rule(monkeypatch):
    monkeypatch.setattr(cpu_kernels, "prefers_lamina_kernels", lambda: True)
    w5 = torch.zeros(6, 1, 5, 5, requires_grad=True)
    x = torch.zeros(8, 1, 28, 28)
    assert use_correlation_weight_grad(x, w5, 1, (1, 1))
    assert not use_correlation_weight_grad(x, torch.zeros(6, 1, 3, 3, requires_grad=True), 1, 1)
    assert not use_correlation_weight_grad(x, w5, 1, (2, 2))
    assert not use_correlation_weight_grad(x.double(), w5.double(), 1, 1)
    assert not use_correlation_weight_grad(x, w5.detach(), 1, 1)
    with torch.no_grad():
        assert not use_correlation_weight_grad(x, w5, 1, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not use_correlation_weight_grad(x, w5, 1, 1)
        layer = Conv2D(2, 5)
        layer(x[:2]).sum().backward()  # ATen's path, in bfloat16
        assert layer.weight.grad.shape == (2, 1, 5, 5)


def test_avx512_cpus_keep_onednns_weight_gradient(monkeypatch):
    # oneDNN's AVX-512 kernel is the faster one there (benchmarks/conv_weight_grad.py)
    monkeypatch.setattr(cpu_kernels, "prefers_lamina_kernels", lambda: False)
    w5 = torch.zeros(6, 1, 5, 5, requires_grad=True)
    assert not use_correlation_weight_grad(torch.zeros(8, 1, 28, 28), w5, 1, 1)
    model = lm.Sequential([Conv2D(6, 5)], input_shape=(1, 28, 28))
    assert not model.layers[0].custom_backward


def test_channels_last_weights_keep_onednns_weight_gradient(monkeypatch):
    # an NHWC model (compile(channels_last=...)) trains with oneDNN's NHWC kernels
    monkeypatch.setattr(cpu_kernels, "prefers_lamina_kernels", lambda: True)
    w5 = torch.zeros(6, 1, 5, 5, requires_grad=True)
    nhwc = w5.detach().to(memory_format=torch.channels_last).requires_grad_()
    x = torch.zeros(8, 1, 28, 28)
    assert use_correlation_weight_grad(x, w5, 1, 1)
    assert not use_correlation_weight_grad(x, nhwc, 1, 1)
    model = lm.Sequential([Conv2D(6, 5)], input_shape=(1, 28, 28))
    assert model.layers[0].custom_backward
    model.to(memory_format=torch.channels_last)
    assert not model.layers[0].custom_backward


def test_cpu_rule_follows_torchs_kernel_capability():
    assert cpu_kernels.prefers_lamina_kernels("AVX2")
    assert not cpu_kernels.prefers_lamina_kernels("AVX512")
    assert not cpu_kernels.prefers_lamina_kernels("DEFAULT")
    expected = torch.backends.cpu.get_cpu_capability() == "AVX2"
    assert cpu_kernels.prefers_lamina_kernels() is expected


@pytest.mark.parametrize("kwargs, torch_kwargs", [
    ({}, {}), ({"strides": 2, "padding": 2}, {"stride": 2, "padding": 2}),
    ({"padding": "same"}, {"padding": "same"})])
def test_conv2d_layer_takes_the_path_for_a_grayscale_first_layer_and_matches_nn(
        kwargs, torch_kwargs, monkeypatch):
    monkeypatch.setattr(cpu_kernels, "prefers_lamina_kernels", lambda: True)  # any CPU
    torch.manual_seed(0)
    layer = Conv2D(6, 5, **kwargs)
    layer.build((1, 16, 16))
    twin = nn.Conv2d(1, 6, 5, **torch_kwargs)
    copy_params(layer, twin)
    x = torch.rand(4, 1, 16, 16)
    assert layer.preactivation(x).grad_fn.name() == "_Conv2dCorrelationGradBackward"
    assert_matches_torch(layer, twin, x, param_pairs(layer, twin), rtol=1e-5, atol=1e-5)
