"""Saliency and deconvnet against hand computations on tiny nets."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lamina as lm
from lamina import layers


def linear_net(activation=None):
    return lm.Sequential([layers.Flatten(), layers.Dense(3, activation=activation, name="head")],
                         input_shape=(1, 4, 4))


def conv_net():
    """conv1 (2 maps, 3x3, relu) -> 2x2 max pool -> conv2 (3 maps, 2x2, relu) -> Dense(4)."""
    torch.manual_seed(0)
    return lm.Sequential([layers.Conv2D(2, 3, activation="relu", name="conv1"),
                          layers.MaxPool2D(2, name="pool1"),
                          layers.Conv2D(3, 2, activation="relu", name="conv2"),
                          layers.Flatten(), layers.Dense(4, name="head")],
                         input_shape=(1, 10, 10))


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_saliency_of_a_linear_model_is_the_weight_row(activation):
    net = linear_net(activation)
    x = torch.rand(2, 1, 4, 4)
    grad, fig = lm.viz.saliency(net, x, class_index=2)
    assert grad.shape == (2, 1, 4, 4)
    row = net.get_layer("head").weight[2].detach().reshape(1, 4, 4).numpy()
    # with a folded softmax the score is still the pre-softmax one: the same weight row
    np.testing.assert_allclose(grad[0], row, atol=1e-6)
    np.testing.assert_allclose(grad[1], row, atol=1e-6)
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), np.abs(row[0]), atol=1e-6)


def test_saliency_of_a_conv_net_matches_finite_differences():
    net = conv_net().double()
    x = torch.rand(2, 1, 10, 10, dtype=torch.float64)
    grad, _ = lm.viz.saliency(net, x, class_index=[1, 3])
    h = 1e-6
    for n, c in ((0, 1), (1, 3)):
        numeric = np.zeros((10, 10))
        for i in range(10):
            for j in range(10):
                up, down = x[n:n + 1].clone(), x[n:n + 1].clone()
                up[0, 0, i, j] += h
                down[0, 0, i, j] -= h
                with torch.no_grad():
                    numeric[i, j] = (net(up)[0, c] - net(down)[0, c]).item() / (2 * h)
        assert np.abs(numeric).max() > 0
        np.testing.assert_allclose(grad[n, 0], numeric, rtol=1e-5, atol=1e-8)


def test_saliency_defaults_to_the_top_class_and_leaves_the_model_alone():
    net = conv_net()
    net.train()
    x = torch.rand(10, 10)[None]  # one image (C, H, W)
    grad, _ = lm.viz.saliency(net, x)
    top = int(net(x[None]).argmax())
    expected, _ = lm.viz.saliency(net, x, class_index=top)
    assert grad.shape == (1, 10, 10)
    np.testing.assert_array_equal(grad, expected)
    assert all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        lm.viz.saliency(net, x, class_index=4)


def hand_deconvnet(net, image, channel):
    """Zeiler & Fergus's projection for conv_net, step by step with explicit loops."""
    w1, b1 = net.get_layer("conv1").weight.detach(), net.get_layer("conv1").bias.detach()
    w2, b2 = net.get_layer("conv2").weight.detach(), net.get_layer("conv2").bias.detach()
    # forward: conv1 + relu (8x8), 2x2 max pool with its switches (4x4), conv2 + relu (3x3)
    a1 = torch.relu(F.conv2d(image[None], w1, b1))[0]
    pooled = torch.zeros(2, 4, 4)
    switches = {}
    for k in range(2):
        for i in range(4):
            for j in range(4):
                window = a1[k, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                r, s = divmod(int(torch.argmax(window)), 2)
                switches[k, i, j] = (2 * i + r, 2 * j + s)
                pooled[k, i, j] = window[r, s]
    a2 = torch.relu(F.conv2d(pooled[None], w2, b2))[0]
    # keep the strongest activation of the channel, everything else zero
    i0, j0 = divmod(int(torch.argmax(a2[channel])), 3)
    top = torch.zeros(3, 3, 3)
    top[channel, i0, j0] = a2[channel, i0, j0]
    # layer 2 down: rectify, transposed filters (each output pixel spreads its filter back)
    top = torch.relu(top)
    down2 = torch.zeros(2, 4, 4)
    for o in range(3):
        for i in range(3):
            for j in range(3):
                down2[:, i:i + 2, j:j + 2] += top[o, i, j] * w2[o]
    # unpool with the switches, rectify, transposed filters of layer 1
    unpooled = torch.zeros(2, 8, 8)
    for (k, i, j), (r, s) in switches.items():
        unpooled[k, r, s] = down2[k, i, j]
    rectified = torch.relu(unpooled)
    pixels = torch.zeros(1, 10, 10)
    for o in range(2):
        for i in range(8):
            for j in range(8):
                pixels[:, i:i + 3, j:j + 3] += rectified[o, i, j] * w1[o]
    return pixels, unpooled


def test_deconvnet_matches_the_projection_by_hand():
    net = conv_net()
    x = torch.rand(3, 1, 10, 10)
    for channel in range(3):
        projection, fig = lm.viz.deconvnet(net, x, "conv2", channel)
        assert projection.shape == (3, 1, 10, 10)
        for n in range(3):
            expected, unpooled = hand_deconvnet(net, x[n], channel)
            np.testing.assert_allclose(projection[n], expected.numpy(), atol=1e-5)
    # the rectification matters: the unpooled signal has negative parts for some channel
    assert any(hand_deconvnet(net, x[0], c)[1].min() < 0 for c in range(3))
    assert len(fig.axes) == 6


def test_deconvnet_differs_from_the_gradient_and_works_on_torch_modules():
    net = conv_net()
    x = torch.rand(1, 10, 10, generator=torch.Generator().manual_seed(1))
    projection, _ = lm.viz.deconvnet(net, x, net.get_layer("conv2"), 0)
    # the same net as torch modules (nn.ReLU, nn.MaxPool2d), the layer by path
    torch_net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 3, 2),
                              nn.ReLU())
    with torch.no_grad():
        for mine, theirs in ((net.get_layer("conv1"), torch_net[0]),
                             (net.get_layer("conv2"), torch_net[3])):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    same, _ = lm.viz.deconvnet(torch_net, x, "4", 0)
    np.testing.assert_allclose(same, projection, atol=1e-6)
    # plain backprop (gradient of the same selected activation) is another picture
    xg = x[None].clone().requires_grad_(True)
    out = torch_net(xg)[0, 0].flatten()
    k = int(out.argmax())
    (out[k] * out[k].detach()).backward()
    assert projection.shape == (1, 10, 10) and np.abs(projection).max() > 1e-3
    assert not np.allclose(xg.grad[0].numpy(), projection, atol=1e-6)


def test_deconvnet_of_a_silent_channel_is_zero_and_errors():
    net = conv_net()
    with torch.no_grad():
        net.get_layer("conv2").bias[1] = -1e3  # channel 1 never fires
    projection, _ = lm.viz.deconvnet(net, torch.rand(2, 1, 10, 10), "conv2", 1)
    assert not projection.any()
    with pytest.raises(ValueError, match=r"`channel`.*\[0, 3\).*Received: channel=3"):
        lm.viz.deconvnet(net, torch.rand(1, 10, 10), "conv2", 3)
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        lm.viz.deconvnet(net, torch.rand(1, 10, 10), "conv9", 0)


def test_deconvnet_through_residual_blocks_and_png(tmp_path):
    net = lm.zoo.ResNet(20, num_classes=10, input_shape=(1, 12, 12))
    projection, _ = lm.viz.deconvnet(net, torch.rand(1, 12, 12), "conv3_1", 5,
                                     path=tmp_path / "d.png")
    assert projection.shape == (1, 12, 12) and np.isfinite(projection).all()
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
