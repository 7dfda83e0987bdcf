"""lamina.unsupervised.DBN: greedy pretraining, generation, classifier and autoencoder."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.unsupervised import DBN, StackedAutoencoder

from .test_rbm import noisy_patterns


def small_dbn(sizes=(8, 6, 4), **kwargs):
    settings = dict(lr=0.1, batch_size=16, epochs=5, random_state=0, device="cpu")
    return DBN(list(sizes), **{**settings, **kwargs})


@pytest.fixture(scope="module")
def trained():
    x = noisy_patterns(96)
    return small_dbn().pretrain(x), x


def test_each_rbm_is_trained_on_the_previous_hidden_probabilities(trained):
    dbn, x = trained
    assert [tuple(r.weight.shape) for r in dbn.rbms] == [(8, 6), (6, 4)]
    h1 = dbn.rbms[0].transform(x)
    # an RBM records the mean of the data it was fitted to
    np.testing.assert_allclose(dbn.rbms[1].visible_mean_.numpy(), h1.mean(0), rtol=1e-5)
    np.testing.assert_allclose(dbn.transform(x), dbn.rbms[1].transform(h1), rtol=1e-5)


def test_propagating_samples_gives_binary_data_to_the_next_layer():
    x = noisy_patterns(32)
    dbn = small_dbn(propagate="samples", epochs=1).pretrain(x)
    assert not np.allclose(dbn.rbms[1].visible_mean_.numpy(),
                           dbn.rbms[0].transform(x).mean(0), atol=1e-6)


def test_same_seed_same_stack():
    x = noisy_patterns(32)
    one, two = small_dbn(epochs=2).fit(x), small_dbn(epochs=2).fit(x)
    for a, b in zip(one.rbms, two.rbms):
        torch.testing.assert_close(a.weight, b.weight)


def test_generate_runs_the_top_chain_then_a_downward_pass(trained):
    dbn, _ = trained
    samples = dbn.generate(5, steps=20)
    assert samples.shape == (5, 8) and samples.min() >= 0 and samples.max() <= 1


def test_classifier_hidden_activations_equal_the_dbn_transform(trained):
    dbn, x = trained
    model = dbn.to_classifier(3)
    assert isinstance(model, lm.Sequential) and model.output_shape == (3,)
    hidden = torch.as_tensor(x)
    with torch.no_grad():
        for layer in model.layers[:-1]:
            hidden = layer(hidden)
    np.testing.assert_allclose(hidden.numpy(), dbn.transform(x), rtol=1e-5, atol=1e-6)


def test_classifier_fine_tunes_by_backpropagation(trained):
    dbn, x = trained
    y = np.argmax(x[:, [0, 4, 2]] + x[:, [1, 5, 3]], 1)
    model = dbn.to_classifier(3)
    model.compile(lm.optimizers.Adam(lr=0.02), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8


def test_to_autoencoder_unrolls_with_transposed_weights(trained):
    dbn, x = trained
    ae = dbn.to_autoencoder()
    assert isinstance(ae, StackedAutoencoder)
    depth = len(dbn.rbms)
    for k, rbm in enumerate(dbn.rbms):
        enc, dec = ae.encoder_layers[k], ae.decoder_layers[depth - 1 - k]
        torch.testing.assert_close(dec.weight, enc.weight.T)          # tied at the start
        torch.testing.assert_close(enc.weight, rbm.weight.T)
        torch.testing.assert_close(dec.bias, rbm.visible_bias)
    np.testing.assert_allclose(ae.encode(x), dbn.transform(x), rtol=1e-5, atol=1e-6)
    ae.compile("adam", device="cpu")
    before = ae.evaluate(x)["loss"]
    ae.fit(x, epochs=5, batch_size=16, verbose=0)
    assert ae.evaluate(x)["loss"] < before


def test_dbn_errors():
    x = noisy_patterns(16)
    with pytest.raises(ValueError, match="layer sizes.*at least 2"):
        DBN([8]).pretrain(x)
    with pytest.raises(ValueError, match="sizes\\[0\\] = 9"):
        small_dbn(sizes=(9, 3)).pretrain(x)
    with pytest.raises(ValueError, match="not pretrained"):
        small_dbn().transform(x)
    with pytest.raises(ValueError, match="propagation"):
        small_dbn(propagate="mean").pretrain(x)
