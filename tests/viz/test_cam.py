"""Class activation maps: CAM against a hand computation, Grad-CAM against CAM, planted features."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lamina as lm
from lamina import layers
from lamina.viz import class_activation_map, plot_class_activation_map


class _MeanPool(nn.Module):
    """Stand-in for lamina's GlobalAvgPool2D while it is not there (matched by class name)."""

    def forward(self, x):
        return x.mean((2, 3))


_MeanPool.__name__ = "GlobalAvgPool2D"
GAP = getattr(layers, "GlobalAvgPool2D", _MeanPool)


def gap_net(channels=2, size=6, filters=4, classes=3):
    """Conv2D(relu, same) -> GlobalAvgPool2D -> Dense(classes, softmax)."""
    return lm.Sequential([layers.Conv2D(filters, 3, padding="same", activation="relu",
                                        name="conv"),
                          GAP(), layers.Dense(classes, activation="softmax", name="head")],
                         input_shape=(channels, size, size))


def hand_cam(net, x, c):
    """sum_k w_ck A_k with A = relu(conv(x)), from the layers' weights."""
    conv, head = net.layers[0], net.layers[-1]
    maps = F.relu(F.conv2d(x, conv.weight, conv.bias, padding=1))
    return torch.einsum("k,nkhw->nhw", head.weight[c], maps).detach().numpy()


def test_cam_equals_hand_computation_with_dense_weights():
    net, x = gap_net(), torch.randn(3, 2, 6, 6)
    np.testing.assert_allclose(class_activation_map(net, x, 1, method="cam", normalize=False),
                               hand_cam(net, x, 1), atol=1e-5)
    cam = hand_cam(net, x, 2)
    low, high = cam.min((1, 2), keepdims=True), cam.max((1, 2), keepdims=True)
    np.testing.assert_allclose(class_activation_map(net, x, 2), (cam - low) / (high - low),
                               atol=1e-5)


def test_gradcam_is_cam_scaled_by_one_over_hw_where_cam_is_positive():
    # for GAP + linear, d s_c / d A_k(x, y) = w_ck / (h w): Grad-CAM = relu(CAM) / (h w)
    net, x = gap_net(), torch.randn(4, 2, 6, 6)
    signs = set()
    for c in range(3):
        cam = class_activation_map(net, x, c, method="cam", normalize=False)
        grad = class_activation_map(net, x, c, method="gradcam", normalize=False)
        np.testing.assert_allclose(grad[cam > 0], cam[cam > 0] / 36, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(grad[cam <= 0], 0.0, atol=1e-7)
        signs |= set(np.sign(cam).ravel().tolist())
    assert {-1.0, 1.0} <= signs


def test_auto_uses_cam_on_gap_nets_and_gradcam_otherwise():
    net, x = gap_net(), torch.randn(2, 2, 6, 6)
    np.testing.assert_array_equal(class_activation_map(net, x, 1, normalize=False),
                                  class_activation_map(net, x, 1, "cam", normalize=False))
    flat = lm.Sequential([layers.Conv2D(3, 3, activation="relu"), layers.Flatten(),
                          layers.Dense(2, activation="softmax")], input_shape=(1, 6, 6))
    np.testing.assert_array_equal(class_activation_map(flat, x[:, :1], 1),
                                  class_activation_map(flat, x[:, :1], 1, "gradcam"))
    with pytest.raises(ValueError, match="method='gradcam'"):
        class_activation_map(flat, x[:, :1], 1, method="cam")


def test_cam_on_a_torch_module_with_separate_relu_and_adaptive_pool():
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3))
    x = torch.randn(2, 2, 5, 5)
    maps = net[1](net[0](x))
    expected = torch.einsum("k,nkhw->nhw", net[4].weight[2], maps).detach().numpy()
    np.testing.assert_allclose(class_activation_map(net, x, 2, normalize=False), expected,
                               atol=1e-5)


def test_map_has_the_input_size_and_range():
    net = lm.Sequential([layers.Conv2D(4, 3, activation="relu"), layers.MaxPool2D(2),
                         layers.Conv2D(5, 3, activation="relu"), GAP(), layers.Dense(3)],
                        input_shape=(1, 12, 12))
    x = torch.randn(3, 1, 12, 12)
    for method in ("cam", "gradcam"):
        batch = class_activation_map(net, x, 0, method)
        assert batch.shape == (3, 12, 12) and batch.dtype == np.float32
        assert batch.min() >= 0.0 and batch.max() <= 1.0
        single = class_activation_map(net, x[0].numpy(), 0, method)
        assert single.shape == (12, 12)
        np.testing.assert_allclose(single, batch[0], atol=1e-6)


def bright_pixel_detector(head, *, pool=False):
    """One 3x3 filter that copies the centre pixel (relu), then ``head``; class 0 likes it."""
    conv = layers.Conv2D(1, 3, padding="same", activation="relu", name="detector")
    body = [conv, layers.MaxPool2D(2)] if pool else [conv]
    net = lm.Sequential([*body, *head], input_shape=(1, 8, 8))
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
        conv.bias.zero_()
        dense = net.layers[-1]
        dense.weight.copy_(torch.tensor([[1.0], [-1.0]]).expand_as(dense.weight))
        dense.bias.zero_()
    return net


@pytest.mark.parametrize("r,c", [(2, 5), (6, 1), (0, 0)])
def test_planted_bright_pixel_is_where_the_map_peaks(r, c):
    x = torch.zeros(1, 8, 8)
    x[0, r, c] = 1.0
    cam_net = bright_pixel_detector([GAP(), layers.Dense(2)])
    grad_net = bright_pixel_detector([layers.Flatten(), layers.Dense(2)])
    for net, method in ((cam_net, "cam"), (grad_net, "gradcam")):
        heat = class_activation_map(net, x, 0, method)
        assert np.unravel_index(heat.argmax(), heat.shape) == (r, c)
        assert heat[r, c] == 1.0
    pooled = bright_pixel_detector([layers.Flatten(), layers.Dense(2)], pool=True)
    heat = class_activation_map(pooled, x, 0)  # 4x4 maps, upsampled
    peak = np.unravel_index(heat.argmax(), heat.shape)
    assert abs(peak[0] - r) <= 1 and abs(peak[1] - c) <= 1


def test_default_class_is_the_top_scoring_one():
    net, x = gap_net(), torch.randn(4, 2, 6, 6)
    top = net.predict(x).argmax(1)
    np.testing.assert_array_equal(class_activation_map(net, x),
                                  class_activation_map(net, x, top))


def test_model_modes_flags_and_gradients_are_restored():
    net = lm.Sequential([layers.Conv2D(4, 3, activation="relu"), layers.Dropout(0.5),
                         layers.Flatten(), layers.Dense(3)], input_shape=(1, 6, 6))
    net.train()
    net.layers[1].eval()
    net.layers[0].bias.requires_grad_(False)
    modes = {name: m.training for name, m in net.named_modules()}
    flags = {name: p.requires_grad for name, p in net.named_parameters()}
    weights = {name: p.detach().clone() for name, p in net.named_parameters()}
    x = torch.randn(2, 1, 6, 6)
    first = class_activation_map(net, x, 1, "gradcam")
    np.testing.assert_array_equal(first, class_activation_map(net, x, 1, "gradcam"))  # eval
    assert {name: m.training for name, m in net.named_modules()} == modes
    for name, p in net.named_parameters():
        assert p.requires_grad == flags[name] and p.grad is None
        assert torch.equal(p, weights[name])


def test_gradcam_works_under_no_grad():
    net = lm.Sequential([layers.Conv2D(2, 3, activation="relu"), layers.Flatten(),
                         layers.Dense(2)], input_shape=(1, 5, 5))
    x = torch.randn(1, 1, 5, 5)
    with torch.no_grad():
        inside = class_activation_map(net, x, 0)
    np.testing.assert_array_equal(inside, class_activation_map(net, x, 0))


def test_layer_chosen_by_name_or_module():
    net = lm.Sequential([layers.Conv2D(3, 3, padding="same", activation="relu", name="conv1"),
                         layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2"),
                         GAP(), layers.Dense(2)], input_shape=(1, 6, 6))
    x = torch.randn(2, 1, 6, 6)
    by_name = class_activation_map(net, x, 0, layer="conv1")
    np.testing.assert_array_equal(by_name, class_activation_map(net, x, 0, layer=net.layers[0]))
    np.testing.assert_array_equal(class_activation_map(net, x, 0, layer="layers.0"), by_name)
    np.testing.assert_array_equal(class_activation_map(net, x, 0, layer="conv2"),
                                  class_activation_map(net, x, 0, "cam"))
    with pytest.raises(ValueError, match="no layer named 'conv9'.*'conv1'"):
        class_activation_map(net, x, 0, layer="conv9")
    with pytest.raises(ValueError, match="needs feature maps"):
        class_activation_map(net, x, 0, layer=net.layers[2])  # the GAP: (N, K) output


def test_errors_in_house_style():
    mlp = lm.Sequential([layers.Flatten(), layers.Dense(3)], input_shape=(1, 4, 4), name="mlp")
    with pytest.raises(ValueError, match="found no convolution layer in model 'mlp'. CAM "
                                         "needs a ConvNet; pass layer=... to choose one."):
        class_activation_map(mlp, torch.rand(1, 4, 4), 0)
    net, x = gap_net(), torch.randn(2, 2, 6, 6)
    with pytest.raises(ValueError, match=r"`class_index`.*\[0, 3\)"):
        class_activation_map(net, x, 3)
    with pytest.raises(ValueError, match="`method`"):
        class_activation_map(net, x, 0, method="saliency")
    with pytest.raises(ValueError, match="one image"):
        class_activation_map(net, torch.rand(6, 6), 0)


def test_plot_overlay_saves_a_png(tmp_path):
    net, x = gap_net(channels=1), torch.rand(1, 6, 6)
    heat = class_activation_map(net, x, 0)
    fig = plot_class_activation_map(x, heat, alpha=0.4, title="class 0")
    path = tmp_path / "cam.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = plot_class_activation_map(np.random.rand(6, 6, 3), heat)
    assert len(rgb.axes) == 2
    with pytest.raises(ValueError, match="same height and width"):
        plot_class_activation_map(x, heat[:3])
    with pytest.raises(ValueError, match="`alpha`"):
        plot_class_activation_map(x, heat, alpha=2.0)
