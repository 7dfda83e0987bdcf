"""Feature-map grids: panel count, panel values against a hand computation, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lamina as lm
from lamina import layers
from lamina.viz import feature_maps, layer_output, plot_feature_maps


def conv_net():
    """Conv2D(5, relu) -> MaxPool2D -> Conv2D(3) -> Flatten -> Dense(2)."""
    return lm.Sequential([layers.Conv2D(5, 3, padding="same", activation="relu", name="conv1"),
                          layers.MaxPool2D(2, name="pool1"),
                          layers.Conv2D(3, 3, name="conv2"), layers.Flatten(name="flatten"),
                          layers.Dense(2, name="head")], input_shape=(1, 8, 8))


def hand_maps(net, x):
    """conv1 and pool1 outputs from the weights, with torch.nn.functional."""
    conv = net.get_layer("conv1") if hasattr(net, "get_layer") else net.layers[0]
    relu = F.relu(F.conv2d(x, conv.weight, conv.bias, padding=1))
    return relu.detach().numpy(), F.max_pool2d(relu, 2).detach().numpy()


def panel_values(fig, rows, cols):
    """The array each axes shows, as a (rows, cols) nested list."""
    return [[np.asarray(fig.axes[i * cols + j].images[0].get_array())
             for j in range(cols)] for i in range(rows)]


def test_grid_has_one_row_per_image_and_the_layers_values():
    net, x = conv_net(), torch.randn(6, 1, 8, 8)
    fig = feature_maps(net, x, "conv1", n_images=3, max_maps=4)
    assert len(fig.axes) == 3 * (1 + 4)
    conv1, _ = hand_maps(net, x)
    panels = panel_values(fig, 3, 5)
    for i in range(3):
        shown = x[i, 0].numpy()
        np.testing.assert_allclose(panels[i][0], (shown - shown.min()) / np.ptp(shown),
                                   atol=1e-6)
        for k in range(4):
            np.testing.assert_allclose(panels[i][1 + k], conv1[i, k], atol=1e-5)


def test_all_maps_when_fewer_than_max_maps_and_the_pooled_layer():
    net, x = conv_net(), torch.randn(2, 1, 8, 8)
    fig = feature_maps(net, x, "pool1")  # 2 images (fewer than n_images=4), 5 maps (< 16)
    assert len(fig.axes) == 2 * (1 + 5)
    _, pool1 = hand_maps(net, x)
    panels = panel_values(fig, 2, 6)
    assert panels[1][5].shape == (4, 4)
    np.testing.assert_allclose(panels[1][5], pool1[1, 4], atol=1e-5)


def test_layer_output_matches_the_hand_computation_and_restores_modes():
    net, x = conv_net(), torch.randn(4, 1, 8, 8)
    net.train()
    np.testing.assert_allclose(layer_output(net, x, "conv1"), hand_maps(net, x)[0], atol=1e-5)
    np.testing.assert_allclose(layer_output(net, x, net.layers[1]), hand_maps(net, x)[1],
                               atol=1e-5)
    assert all(m.training for m in net.modules())
    assert layer_output(net, x[0].numpy(), "head").shape == (1, 2)  # one image: a batch of 1


def test_works_on_a_plain_torch_module_by_path():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 2))
    x = torch.randn(2, 1, 8, 8)
    fig = feature_maps(net, x, "1", max_maps=2)
    expected = torch.relu(net[0](x)).detach().numpy()
    np.testing.assert_allclose(panel_values(fig, 2, 3)[1][2], expected[1, 1], atol=1e-5)


def test_plot_feature_maps_without_images_and_saved_png(tmp_path):
    maps = np.random.default_rng(0).random((3, 20, 5, 5))
    fig = plot_feature_maps(maps, max_maps=16, title="t")
    assert len(fig.axes) == 3 * 16
    np.testing.assert_allclose(panel_values(fig, 3, 16)[2][15], maps[2, 15], atol=1e-6)
    path = tmp_path / "maps.png"
    feature_maps(conv_net(), torch.randn(1, 1, 8, 8), "conv1", path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_in_house_style():
    net, x = conv_net(), torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"layer 'head'.*Received: an output of shape \(2, 2\)"):
        feature_maps(net, x, "head")
    with pytest.raises(ValueError, match="no layer named 'conv9'.*'conv1'"):
        feature_maps(net, x, "conv9")
    with pytest.raises(ValueError, match="`n_images`.*Received: n_images=0"):
        feature_maps(net, x, "conv1", n_images=0)
    with pytest.raises(ValueError, match="one image per row"):
        plot_feature_maps(np.zeros((2, 3, 4, 4)), np.zeros((3, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        plot_feature_maps(np.zeros((2, 3)))
