"""A few real-data runs on Fashion-MNIST subsets (slow: seconds each)."""

import numpy as np
import pytest

import lamina as lm
from lamina.unsupervised import DBN, RBM, StackedAutoencoder


def load(n_train=5000, n_test=1000):
    try:
        (x, y), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    except lm.datasets.DatasetNotFoundError:
        pytest.skip("Fashion-MNIST files are not available")
    x = (x[:n_train].reshape(n_train, -1) / 255.0).astype(np.float32)
    xt = (xt[:n_test].reshape(n_test, -1) / 255.0).astype(np.float32)
    return x, y[:n_train], xt, yt[:n_test]


@pytest.mark.slow
def test_pcd_rbm_improves_pseudo_likelihood_and_ais_log_likelihood():
    x, _, xt, _ = load()
    x, xt = (x > 0.5).astype(np.float32), (xt > 0.5).astype(np.float32)
    rbm = RBM(64, persistent=True, lr=0.05, batch_size=64, random_state=0, device="cpu")
    rbm.fit(x, epochs=0)
    start_pl, start_ll = rbm.score_samples(xt).mean(), rbm.log_likelihood(xt, n_betas=200)
    rbm.fit(x, epochs=3)
    assert rbm.score_samples(xt).mean() > start_pl + 100
    ll = rbm.log_likelihood(xt, n_chains=50, n_betas=500)
    assert start_ll + 100 < ll < 0


@pytest.mark.slow
def test_dbn_classifier_fine_tunes_on_fashion():
    x, y, xt, yt = load()
    dbn = DBN([784, 128, 64], lr=0.05, momentum=0.5, epochs=2, random_state=0, device="cpu")
    model = dbn.pretrain(x).to_classifier(10)
    model.compile(lm.optimizers.SGD(lr=0.1, momentum=0.9), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    history = model.fit(x, y, batch_size=64, epochs=5, verbose=0, validation_data=(xt, yt))
    curve = history.history["val_accuracy"]
    assert curve[-1] > max(curve[0], 0.65)


@pytest.mark.slow
def test_stacked_autoencoder_beats_its_pretrained_start():
    x, _, xt, _ = load(3000, 500)
    sae = StackedAutoencoder([784, 128, 32]).pretrain(x, epochs=2, batch_size=64, device="cpu")
    sae.compile("adam", device="cpu")
    before = sae.evaluate(xt)["loss"]
    sae.fit(x, epochs=3, batch_size=64, verbose=0)
    assert sae.evaluate(xt)["loss"] < before < 0.1
