"""feature_maps' activations, filters of any layer, embedding against scikit-learn."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina import layers


def shown(ax):
    return np.asarray(ax.images[0].get_array())


def test_feature_maps_returns_the_layers_real_activations():
    net = lm.zoo.LeNet5()
    x = torch.rand(6, 1, 28, 28)
    maps, fig = lm.viz.feature_maps(net, x, "pool2", n_images=2, return_maps=True)
    conv1, conv2 = net.get_layer("conv1"), net.get_layer("conv2")
    manual = F.max_pool2d(torch.relu(F.conv2d(x, conv1.weight, conv1.bias, padding=2)), 2)
    manual = F.max_pool2d(torch.relu(F.conv2d(manual, conv2.weight, conv2.bias)), 2)
    assert maps.shape == (6, 16, 5, 5)  # every image, not only the ones drawn
    np.testing.assert_allclose(maps, manual.detach().numpy(), atol=1e-5)
    assert len(fig.axes) == 2 * (1 + 16)
    np.testing.assert_allclose(shown(fig.axes[17 + 5]), maps[1, 4], atol=1e-6)
    assert isinstance(lm.viz.feature_maps(net, x, "conv1"), type(fig))  # default: the figure


def test_colour_first_layer_filters_in_colour():
    net = lm.Sequential([layers.Conv2D(5, 3, name="conv1"), layers.Conv2D(4, 3, name="conv2"),
                         layers.Flatten(), layers.Dense(2, name="head")], input_shape=(3, 9, 9))
    fig = lm.viz.filters(net)  # the first weighted layer
    w = net.get_layer("conv1").weight.detach()
    assert len(fig.axes) == 5
    tile = shown(fig.axes[3])
    assert tile.shape == (3, 3, 3)
    expected = (w[3] - w[3].min()) / (w[3].max() - w[3].min())
    np.testing.assert_allclose(tile, expected.permute(1, 2, 0).numpy(), atol=1e-6)
    # a deeper layer: one row per filter, one grey tile per input channel, shared scale
    fig = lm.viz.filters(net, "conv2", max_channels=3)
    assert len(fig.axes) == 4 * 3
    w2 = net.get_layer("conv2").weight.detach()
    np.testing.assert_allclose(shown(fig.axes[2 * 3 + 1]), w2[2, 1].numpy(), atol=1e-6)
    low, high = fig.axes[0].images[0].get_clim()
    assert low == pytest.approx(float(w2[:, :3].min())) and high == pytest.approx(
        float(w2[:, :3].max()))
    # a later dense layer reads features, not pixels: one heat map of the matrix
    fig = lm.viz.filters(net, "head")
    np.testing.assert_allclose(shown(fig.axes[0]), net.get_layer("head").weight.detach().numpy())


def test_grey_filters_and_first_dense_layer_reshaped(tmp_path):
    fig = lm.viz.filters(lm.zoo.LeNet5(), "conv1", path=tmp_path / "f.png")
    assert len(fig.axes) == 6 and shown(fig.axes[0]).shape == (5, 5)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    mlp = lm.Sequential([layers.Flatten(), layers.Dense(7, name="fc")], input_shape=(1, 6, 6))
    fig = lm.viz.filters(mlp, "fc", max_filters=4)
    assert len(fig.axes) == 4
    np.testing.assert_allclose(shown(fig.axes[2]),
                               mlp.get_layer("fc").weight[2].detach().reshape(6, 6).numpy())
    flat = lm.Sequential([layers.Dense(3)], input_shape=(16,))
    assert shown(lm.viz.filters(flat).axes[0]).shape == (4, 4)
    with pytest.raises(ValueError, match="filters needs a layer with a `weight`"):
        lm.viz.filters(mlp, mlp.layers[0])


def test_embedding_pca_is_scikit_learns_and_tsne_runs():
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (15, 2, 3)), rng.normal(4, 1, (15, 2, 3))])
    labels = np.repeat([0, 1], 15)
    fig = lm.viz.embedding(torch.as_tensor(x), labels, method="pca")
    expected = PCA(n_components=2).fit_transform(x.reshape(30, -1).astype(np.float32))
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), expected, atol=1e-4)
    fig = lm.viz.embedding(x, labels, method="tsne", perplexity=5)
    expected = TSNE(n_components=2, init="pca", random_state=0,
                    perplexity=5).fit_transform(x.reshape(30, -1).astype(np.float32))
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), expected, atol=1e-3)
    with pytest.raises(ValueError, match="'tsne' or 'pca'.*method='umap'"):
        lm.viz.embedding(x, labels, method="umap")
    with pytest.raises(ValueError, match="one label per sample"):
        lm.viz.embedding(x, labels[:3])
