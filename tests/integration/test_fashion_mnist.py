"""Real Fashion-MNIST runs: the whole stack (IDX files, fit, evaluate) on real data."""

import numpy as np
import pytest
import torch

import lamina as lm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fashion():
    try:
        (x, y), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    except lm.datasets.DatasetNotFoundError as err:  # no network and no local copy
        pytest.skip(f"Fashion-MNIST is not available here: {err}")
    return (x[:, None] / 255.0, y), (xt[:, None] / 255.0, yt)


def test_lenet5_learns_fashion_mnist(fashion):
    (x, y), (xt, yt) = fashion
    torch.manual_seed(0)
    model = lm.zoo.LeNet5()
    model.compile(optimizer=lm.optimizers.Adam(lr=2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    history = model.fit(x, y, batch_size=128, epochs=2, validation_split=0.1, verbose=0)
    scores = model.evaluate(xt, yt)
    assert history.history["val_accuracy"][-1] > 0.84
    assert scores["accuracy"] > 0.84
    probs = model.predict(xt[:100])
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_mlp_learns_fashion_mnist(fashion):
    (x, y), (xt, yt) = fashion
    torch.manual_seed(0)
    model = lm.zoo.MLP((256, 128), input_shape=(1, 28, 28))
    model.compile(optimizer=lm.optimizers.SGD(lr=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu")
    model.fit(x, y, batch_size=128, epochs=2, verbose=0)
    assert model.evaluate(xt, yt)["accuracy"] > 0.84
