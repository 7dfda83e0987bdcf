"""The autoencoder family: closed-form penalties against autograd/torch.distributions, and
fit/encode/decode on tiny data."""

import os

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.errors import NotCompiledError
from lamina.unsupervised import (
    Autoencoder,
    ContractiveAutoencoder,
    ConvAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
    VariationalAutoencoder,
)
from lamina.unsupervised import penalties as P

from .test_rbm import noisy_patterns


def fitted(model, x, epochs=30, **compile_kwargs):
    model.compile(compile_kwargs.pop("optimizer", lm.optimizers.Adam(lr=0.02)), device="cpu",
                  **compile_kwargs)
    model.history_ = model.fit(x, epochs=epochs, batch_size=16, verbose=0)
    return model


# -- the penalties ---------------------------------------------------------------------------
def test_kl_sparsity_matches_the_formula():
    h = torch.rand(10, 4)
    q, rho = h.mean(0), 0.1
    expected = (rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))).sum()
    torch.testing.assert_close(P.kl_sparsity(h, rho), expected)
    assert float(P.kl_sparsity(torch.full((3, 2), rho), rho)) == pytest.approx(0.0, abs=1e-6)


def test_contractive_penalty_equals_the_autograd_jacobian_norm():
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(4, 6, generator=g, dtype=torch.float64), torch.randn(
        4, generator=g, dtype=torch.float64)
    x = torch.rand(3, 6, generator=g, dtype=torch.float64)

    def encoder(row):
        return torch.sigmoid(W @ row + b)

    norms = [torch.autograd.functional.jacobian(encoder, row).square().sum() for row in x]
    h = torch.sigmoid(x @ W.T + b)
    torch.testing.assert_close(P.contractive_penalty(h, W), torch.stack(norms).mean())


def test_gaussian_kl_matches_torch_distributions():
    mu, log_var = torch.randn(5, 3), torch.randn(5, 3)
    normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(
        normal(mu, (0.5 * log_var).exp()), normal(torch.zeros(3), torch.ones(3))).sum(1)
    torch.testing.assert_close(P.gaussian_kl(mu, log_var), expected)


@pytest.mark.parametrize("noise", P.NOISES)
def test_corruptions(noise):
    x = torch.full((200, 50), 0.5)
    y = P.corrupt(x, noise, 0.3, torch.Generator().manual_seed(0))
    changed = (y != x).float().mean()
    if noise == "gaussian":
        assert float((y - x).std()) == pytest.approx(0.3, rel=0.05)
    else:
        assert float(changed) == pytest.approx(0.3, abs=0.02)
        values = set(y[y != x].unique().tolist())
        assert values == ({0.0} if noise == "masking" else {0.0, 1.0})
    with pytest.raises(ValueError, match="salt_and_pepper"):
        P.corrupt(x, "dropout", 0.3)


# -- the models ------------------------------------------------------------------------------
def test_autoencoder_learns_and_its_api_returns_numpy():
    x = noisy_patterns(64)
    ae = fitted(Autoencoder(3), x, epochs=40)
    losses = ae.history_.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    codes = ae.encode(x)
    assert isinstance(codes, np.ndarray) and codes.shape == (64, 3)
    np.testing.assert_allclose(ae.decode(codes), ae.reconstruct(x), rtol=1e-5, atol=1e-6)
    assert isinstance(ae.reconstruct(torch.as_tensor(x)), torch.Tensor)
    assert ae.evaluate(x)["loss"] == pytest.approx(np.mean((ae.reconstruct(x) - x) ** 2),
                                                   rel=1e-4)


def test_tied_autoencoder_has_one_weight_matrix():
    ae = Autoencoder(3, tied=True)
    ae.build((8,))
    assert ae.decoder_weight is None and ae.count_params() == 3 * 8 + 3 + 8
    torch.testing.assert_close(ae.decoder_matrix, ae.weight.T)


def test_images_are_flattened_and_reshaped():
    x = noisy_patterns(32).reshape(32, 2, 4)
    ae = fitted(Autoencoder(3), x, epochs=1)
    assert ae.reconstruct(x).shape == (32, 2, 4) and ae.encode(x).shape == (32, 3)


def test_weight_decay_is_the_decks_lambda_sum_of_squares():
    x = noisy_patterns(32)
    ae = fitted(Autoencoder(3, weight_decay=0.01), x, epochs=1)
    logs = ae.evaluate(x)
    expected = 0.01 * float(ae.weight.detach().square().sum()
                           + ae.decoder_weight.detach().square().sum())
    assert logs["reg_loss"] == pytest.approx(expected, rel=1e-4)


def test_denoising_autoencoder_corrupts_only_in_training():
    dae = DenoisingAutoencoder(3, noise="salt_and_pepper", level=0.4)
    x = torch.as_tensor(noisy_patterns(16))
    dae.build((8,))
    dae.eval()
    torch.testing.assert_close(dae(x), dae(x))
    dae.train()
    assert not torch.equal(dae(x), dae(x))
    with pytest.raises(ValueError, match="probability"):
        DenoisingAutoencoder(3, noise="masking", level=1.5)
    fitted(DenoisingAutoencoder(4, noise="gaussian", level=0.1), noisy_patterns(32), epochs=2)


@pytest.mark.parametrize("penalty", ["kl", "l1"])
def test_sparse_autoencoder_adds_its_penalty_to_the_loss(penalty):
    x = noisy_patterns(32)
    sae = SparseAutoencoder(6, rho=0.1, beta=0.5, penalty=penalty)
    sae.build((8,))
    sae.train()
    sae(torch.as_tensor(x))
    h = sae._encode(torch.as_tensor(x))
    expected = 0.5 * (P.kl_sparsity(h, 0.1) if penalty == "kl" else P.l1_activity(h))
    torch.testing.assert_close(sae.activity_loss, expected)
    history = fitted(sae, x, epochs=2).history_.history
    assert history["reg_loss"][-1] > 0


def test_sparse_autoencoder_kl_sparsity_lowers_the_mean_activation():
    x = noisy_patterns(64)
    plain = fitted(Autoencoder(8), x, epochs=40)
    sparse = fitted(SparseAutoencoder(8, rho=0.05, beta=2.0), x, epochs=40)
    assert sparse.encode(x).mean() < plain.encode(x).mean()
    with pytest.raises(ValueError, match="penalty='l1'"):
        SparseAutoencoder(4, activation="tanh")


def test_contractive_autoencoder_penalty_is_the_closed_form():
    x = torch.as_tensor(noisy_patterns(16))
    cae = ContractiveAutoencoder(3, beta=0.2)
    cae.build((8,))
    cae.train()
    cae(x)
    h = cae._encode(x)
    torch.testing.assert_close(cae.activity_loss, 0.2 * P.contractive_penalty(h, cae.weight))
    fitted(cae, noisy_patterns(32), epochs=2)


def test_variational_autoencoder_elbo_kl_and_samples():
    x = noisy_patterns(64)
    vae = VariationalAutoencoder(2, hidden=(16,))
    fitted(vae, x, epochs=30)
    losses = vae.history_.history["loss"]
    assert losses[-1] < losses[0] and vae.history_.history["reg_loss"][-1] > 0
    t = torch.as_tensor(x)
    vae.train()
    vae(t)
    mu, log_var = vae._moments(t)
    torch.testing.assert_close(vae.activity_loss, P.gaussian_kl(mu, log_var).mean() / 8)
    elbo = vae.elbo(x)
    assert elbo.shape == (64,) and (elbo < 0).all()
    assert vae.sample(4).shape == (4, 8)
    assert vae.encode(x).shape == (64, 2)


def test_conv_autoencoder_shapes_and_training():
    x = np.random.RandomState(0).rand(16, 1, 8, 8).astype(np.float32)
    cae = ConvAutoencoder((4, 6), kernel_size=3)
    fitted(cae, x, epochs=2)
    assert cae.encode(x).shape == (16, 6, 2, 2) and cae.reconstruct(x).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvAutoencoder((4, 6)).build((1, 6, 6))


def test_stacked_autoencoder_pretraining_copies_each_layer_then_fine_tunes():
    x = noisy_patterns(64)
    built = []

    def builder(units, **kwargs):
        built.append(Autoencoder(units, **kwargs))
        return built[-1]

    sae = StackedAutoencoder([8, 6, 3]).pretrain(x, epochs=3, batch_size=16, builder=builder)
    assert [ae.hidden for ae in built] == [6, 3]
    for k, ae in enumerate(built):
        torch.testing.assert_close(sae.encoder_layers[k].weight, ae.weight)
        torch.testing.assert_close(sae.decoder_layers[1 - k].weight, ae.decoder_weight)
    np.testing.assert_allclose(sae.encode(x), built[1].encode(built[0].encode(x)), rtol=1e-5,
                               atol=1e-6)
    sae.compile(lm.optimizers.Adam(lr=0.02), device="cpu")
    before = sae.evaluate(x)["loss"]
    sae.fit(x, epochs=10, batch_size=16, verbose=0)
    assert sae.evaluate(x)["loss"] < before
    with pytest.raises(ValueError, match="sizes\\[0\\] = 8"):
        StackedAutoencoder([8, 3]).build((9,))


def test_autoencoder_save_and_load_round_trip(tmp_path):
    x = noisy_patterns(16)
    ae = fitted(SparseAutoencoder(3, tied=True, rho=0.2), x, epochs=1)
    path = os.path.join(tmp_path, "ae.lamina")
    ae.save(path)
    back = lm.load_model(path)
    assert isinstance(back, SparseAutoencoder) and back.tied and back.rho == 0.2
    np.testing.assert_allclose(back.reconstruct(x), ae.reconstruct(x), rtol=1e-6)


def test_autoencoder_argument_errors():
    with pytest.raises(ValueError, match="argument `hidden` of Autoencoder"):
        Autoencoder(0)
    with pytest.raises(ValueError, match="noise type"):
        DenoisingAutoencoder(3, noise="pink")
    with pytest.raises(NotCompiledError, match="compile"):
        Autoencoder(3).fit(noisy_patterns(8))
    with pytest.raises(ValueError, match="not built"):
        Autoencoder(3).decode(np.zeros((1, 3), np.float32))
