"""lamina.viz's pictures of unsupervised models draw the expected panels."""

import numpy as np
import pytest

import lamina as lm


def test_gibbs_chain_grid_has_one_tile_per_state():
    fig = lm.viz.plot_gibbs_chain(np.random.rand(4, 3, 16), image_shape=(4, 4), title="chains")
    assert len(fig.axes) == 12 and fig._suptitle.get_text() == "chains"


def test_reconstructions_two_rows():
    x = np.random.rand(6, 1, 5, 5)
    fig = lm.viz.plot_reconstructions(x, x * 0.5, n=4)
    assert len(fig.axes) == 8
    with pytest.raises(ValueError, match="same shape"):
        lm.viz.plot_reconstructions(x, x[:, :, :4], n=4)
    with pytest.raises(ValueError, match="image_shape"):
        lm.viz.plot_reconstructions(np.random.rand(3, 9), np.random.rand(3, 9))


def test_codes_scatter_one_series_per_class(tmp_path):
    fig = lm.viz.plot_codes_2d(np.random.rand(30, 2), np.arange(30) % 3,
                               class_names=["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b", "c"]
    fig.savefig(tmp_path / "codes.png")
    with pytest.raises(ValueError, match="PCA"):
        lm.viz.plot_codes_2d(np.random.rand(5, 3))


def test_rbm_filters_reuse_plot_filters():
    rbm = lm.unsupervised.RBM(4, epochs=1, batch_size=4, random_state=0, device="cpu")
    rbm.fit(np.random.RandomState(0).rand(8, 9).round())
    assert len(lm.viz.plot_filters(rbm.components_, image_shape=(3, 3)).axes) == 4
