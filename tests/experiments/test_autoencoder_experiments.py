"""The deep-autoencoder and codes experiments: quick runs, and their PCA helpers against
closed forms."""

import json
import math

import numpy as np
import pytest

from lamina import experiments
from lamina.experiments.deep_autoencoder import (
    fit_pca,
    pca_reconstruct,
    reconstruction_error,
)
from tests.helpers import needs_fashion


def test_the_experiments_are_listed():
    assert {"deep_autoencoder", "codes"} <= set(experiments.available())


def test_pca_error_on_the_training_data_is_the_sum_of_discarded_eigenvalues():
    rng = np.random.RandomState(0)
    x = rng.randn(50, 6) @ rng.randn(6, 6) + rng.randn(6)
    centered = x - x.mean(0)
    # the oracle: eigenvalues of the (1/N) covariance from the singular values, not eigh
    eigenvalues = np.sort(np.linalg.svd(centered, compute_uv=False) ** 2 / len(x))[::-1]
    for k in (1, 3, 5, 6):
        error = reconstruction_error(x, pca_reconstruct(x, x, k))
        assert math.isclose(error, eigenvalues[k:].sum(), rel_tol=1e-9, abs_tol=1e-9)


def test_pca_matches_scikit_learn_on_new_data():
    decomposition = pytest.importorskip("sklearn.decomposition")
    rng = np.random.RandomState(1)
    x, test = rng.rand(80, 10), rng.rand(20, 10)
    ours = pca_reconstruct(x, test, 4)
    sk = decomposition.PCA(4, svd_solver="full").fit(x)
    np.testing.assert_allclose(ours, sk.inverse_transform(sk.transform(test)), atol=1e-10)
    mean, axes = fit_pca(x, 4)
    np.testing.assert_allclose(axes @ axes.T, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(mean, x.mean(0))


def test_pca_and_error_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"`components` of fit_pca .* \[1, 3\].*components=4"):
        fit_pca(np.zeros((5, 3)), 4)
    with pytest.raises(ValueError, match="2-D array .*Flatten"):
        fit_pca(np.zeros((5, 3, 3)), 2)
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_error(np.zeros((2, 3)), np.zeros((2, 4)))


def test_reconstruction_error_sums_pixels_and_averages_images():
    x = np.zeros((4, 784))
    assert reconstruction_error(x, x + 0.5) == pytest.approx(784 * 0.25)
    assert reconstruction_error(x, x) == 0.0


def test_hashing_autoencoder_adds_noise_only_in_training():
    import torch

    from lamina.experiments.codes import HashingAutoencoder

    torch.manual_seed(0)
    ae = HashingAutoencoder([6, 4, 3], noise=4.0)
    ae.build((6,))
    x = torch.rand(5, 6)
    ae.eval()
    assert torch.equal(ae._encode(x), ae._encode(x))
    ae.train()
    assert not torch.equal(ae._encode(x), ae._encode(x))
    clone = HashingAutoencoder.from_config(ae.get_config())
    assert clone.noise == 4.0 and clone.sizes == [6, 4, 3]


@needs_fashion
def test_deep_autoencoder_quick(tmp_path):
    results = experiments.load("deep_autoencoder").run(quick=True, out_dir=str(tmp_path))
    assert {"ae_error", "pca_error", "rbm_ae_error", "stacked_ae_error", "seconds"} <= set(results)
    for key in ("ae_error", "pca_error", "rbm_ae_error", "stacked_ae_error"):
        assert math.isfinite(results[key]) and 0 < results[key] < 784
    assert results["ae_error"] == min(results["rbm_ae_error"], results["stacked_ae_error"])
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "PCA, 8 components" in report and "13.87" in report
    assert (tmp_path / "reconstructions.png").stat().st_size > 1000
    assert (tmp_path / "test_error.png").exists()
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["pca_error"] == pytest.approx(results["pca_error"])


@needs_fashion
def test_codes_quick(tmp_path):
    results = experiments.load("codes").run(quick=True, out_dir=str(tmp_path))
    assert set(results["nmi"]) == {"raw", "pca", "codes"}
    assert set(results["precision_at_100"]) == {"codes", "lsh"}
    assert all(0.0 <= v <= 1.0 for v in results["nmi"].values())
    assert all(0.0 <= v <= 1.0 for v in results["precision_at_100"].values())
    assert results["nmi"]["raw"] > 0.2                    # k-means on pixels finds structure
    assert results["seconds"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "| raw pixels (784-d) |" in report and "LSH" in report
    assert (tmp_path / "scores.png").exists() and (tmp_path / "codes_2d.png").exists()
