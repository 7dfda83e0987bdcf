"""Normalization (adapt, buffers saved with the model) and Rescaling."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from tests.helpers import run_layer_test


def _data(shape=(1000, 3, 4, 5), seed=0):
    rng = np.random.default_rng(seed)
    scale = np.array([1.0, 10.0, 0.1]).reshape(1, 3, *([1] * (len(shape) - 2)))
    return (rng.normal(size=shape) * scale[:, :shape[1]] + 7.0).astype(np.float32)


def test_adapt_in_batches_equals_numpy_mean_and_variance():
    x = _data()
    norm = layers.Normalization()
    norm.adapt(x, batch_size=97)  # uneven last batch
    np.testing.assert_allclose(norm.mean.numpy().ravel(), x.mean(axis=(0, 2, 3), dtype=np.float64),
                               rtol=1e-6)
    np.testing.assert_allclose(norm.variance.numpy().ravel(),
                               x.var(axis=(0, 2, 3), dtype=np.float64), rtol=1e-5)
    assert norm.mean.shape == (3, 1, 1)


def test_adapt_on_an_iterable_of_batches_and_other_axes():
    x = _data((600, 3, 8))
    batches = [(x[i:i + 64], None) for i in range(0, 600, 64)]  # (x, y) pairs
    norm = layers.Normalization(axis=(1, -1)).adapt(batches)
    np.testing.assert_allclose(norm.mean.numpy(), x.mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(norm.variance.numpy(), x.var(axis=0, dtype=np.float64), rtol=1e-5)
    scalar = layers.Normalization(axis=None).adapt(torch.from_numpy(x))
    assert scalar.mean.shape == (1, 1)
    assert float(scalar.mean) == pytest.approx(x.mean(dtype=np.float64), rel=1e-6)


def test_forward_standardizes_like_sklearn_standard_scaler():
    scaler = pytest.importorskip("sklearn.preprocessing").StandardScaler()
    x = _data((500, 3))
    x[:, 2] = 4.0  # a constant feature: 0 after standardization, as scikit-learn's
    norm = layers.Normalization().adapt(x)
    out = norm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, scaler.fit_transform(x), atol=1e-4)


def test_adapt_then_save_and_load_standardizes_identically(tmp_path):
    x = _data((400, 3, 6, 6))
    lm.set_seed(0)
    model = lm.Sequential([layers.Normalization(), layers.Flatten(), layers.Dense(4)],
                          input_shape=(3, 6, 6))
    model.layers[0].adapt(x)
    path = str(tmp_path / "m.lamina")
    lm.save_model(model, path)
    loaded = lm.load_model(path)
    probe = torch.from_numpy(_data((8, 3, 6, 6), seed=1))
    model.eval()
    assert torch.equal(loaded(probe), model(probe))
    assert torch.equal(loaded.layers[0](probe), model.layers[0](probe))
    assert torch.equal(loaded.layers[0].variance, model.layers[0].variance)


def test_given_mean_and_variance_round_trip_the_config():
    norm = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    out = norm(torch.tensor([[3.0, 8.0]]))
    assert torch.allclose(out, torch.tensor([[1.0, 2.0]]))
    again = layers.Normalization.from_config(norm.get_config())
    assert torch.allclose(again(torch.tensor([[3.0, 8.0]])), out)


def test_layer_matrix_checks():
    run_layer_test(lambda: layers.Normalization(), (3, 4, 4), expected_params=0,
                   train_step=False)
    run_layer_test(lambda: layers.Rescaling(1 / 255, offset=-0.5), (2, 5),
                   expected_output_shape=(2, 5), expected_params=0, train_step=False)


def test_rescaling():
    out = layers.Rescaling(1 / 255)(torch.tensor([[0.0, 51.0, 255.0]]))
    assert torch.allclose(out, torch.tensor([[0.0, 0.2, 1.0]]))
    assert layers.Rescaling.from_config(layers.Rescaling(2.0, 1.0).get_config()).offset == 1.0


def test_errors():
    with pytest.raises(ValueError, match="axis"):
        layers.Normalization(axis=0)
    with pytest.raises(ValueError, match="only one of `mean` and `variance`"):
        layers.Normalization(mean=[0.0])
    with pytest.raises(ValueError, match="not a feature axis"):
        layers.Normalization(axis=3).adapt(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no data"):
        layers.Normalization().adapt([])
    with pytest.raises(ValueError, match="scale"):
        layers.Rescaling(float("nan"))
    norm = layers.Normalization().adapt(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=norm.name):
        norm.adapt(np.zeros((4, 3)))
