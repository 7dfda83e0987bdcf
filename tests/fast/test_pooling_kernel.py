"""tiled_max_pool2d: max pooling over tiling windows as maxima of strided views equals ATen's."""

import pytest
import torch
import torch.nn.functional as F

from lamina.fast.pooling import tiled_max_pool2d

SHAPES = [((4, 3, 28, 28), 2), ((2, 5, 11, 13), (3, 2)), ((2, 3, 9, 7), 3),
          ((2, 2, 8, 8), (1, 4)), ((1, 2, 5, 5), 1)]


@pytest.mark.parametrize("shape, pool_size", SHAPES)
def test_inference_equals_torch_nan_included(shape, pool_size):
    x = torch.randn(shape)
    x[0, 0, 0, 0] = float("nan")
    got, want = tiled_max_pool2d(x, pool_size), F.max_pool2d(x, pool_size)
    assert got.shape == want.shape and got.is_contiguous()
    assert torch.equal(got.nan_to_num(7.0), want.nan_to_num(7.0))


@pytest.mark.parametrize("shape, pool_size", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_training_equals_torch_in_values_and_gradients(shape, pool_size, ties):
    # each window's first maximum (row-major) takes the gradient, as in ATen; rounded ReLU
    # outputs make many tied windows
    torch.manual_seed(0)
    x = torch.randn(shape)
    if ties:
        x = x.round().relu()
    ours, ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    got, want = tiled_max_pool2d(ours, pool_size), F.max_pool2d(ref, pool_size)
    assert got.grad_fn.name() == "_TiledMaxPoolBackward"
    grad = torch.randn_like(want)
    got.backward(grad)
    want.backward(grad)
    assert torch.equal(got, want) and torch.equal(ours.grad, ref.grad)


def test_gradcheck_and_gradgradcheck():
    x = torch.randn(2, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: tiled_max_pool2d(t, 2), (x,))
    assert torch.autograd.gradgradcheck(lambda t: tiled_max_pool2d(t, 2), (x,))


def test_unbatched_input_like_torch():
    x = torch.randn(3, 9, 8)
    ours, ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    got, want = tiled_max_pool2d(ours, (3, 2)), F.max_pool2d(ref, (3, 2))
    got.sum().backward()
    want.sum().backward()
    assert torch.equal(got, want) and torch.equal(ours.grad, ref.grad)


def test_compiles_whole_on_channels_last_maps():
    # an NHWC map's window maxima are NHWC: an `out=` there made Dynamo break the graph
    x = torch.randn(2, 3, 6, 8).contiguous(memory_format=torch.channels_last)
    compiled = torch.compile(lambda t: tiled_max_pool2d(t, 2), fullgraph=True, backend="eager")
    assert torch.equal(compiled(x), F.max_pool2d(x, 2))
