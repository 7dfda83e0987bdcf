"""Issue 25: bad input to the RBMs, DBN and autoencoders ends in lamina's message, not a raw
torch traceback or a silently wrong result."""

import numpy as np
import pytest
import torch

from lamina.unsupervised import RBM, Autoencoder, ClassificationRBM

X = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 8, dtype=np.float32)


def _clf(**kwargs):
    return ClassificationRBM(4, lr=0.5, epochs=30, batch_size=4, random_state=0, device="cpu",
                             **kwargs)


def _rbm():
    return RBM(3, epochs=1, batch_size=4, random_state=0, device="cpu").fit(X)


# -- ClassificationRBM labels ---------------------------------------------------------------
@pytest.mark.parametrize("y", [np.linspace(0, 1, 16), np.linspace(0, 1, 16).tolist(),
                               torch.rand(16, dtype=torch.float64)],
                         ids=["numpy", "list", "tensor"])
def test_continuous_labels_are_refused_not_taken_as_classes(y):
    with pytest.raises(ValueError, match=r"ClassificationRBM.fit takes class labels.*"
                                         r"Received: y with \d+ non-integer values"):
        _clf().fit(X, y)


def test_nan_labels_are_refused():
    y = np.array([0.0, 1.0] * 8)
    y[3] = np.nan
    with pytest.raises(ValueError, match="takes class labels.*non-integer values"):
        _clf().fit(X, y)


@pytest.mark.parametrize("y", [np.array([3.0, 7.0] * 8), np.array([3, 7] * 8),
                               np.array(["a", "b"] * 8), np.array([True, False] * 8)],
                         ids=["whole-floats", "ints", "strings", "bools"])
def test_discrete_labels_are_classes(y):
    clf = _clf().fit(X, y)
    assert len(clf.classes_) == 2
    assert clf.predict(X[:2]).tolist() == y[:2].tolist()


def test_one_hot_and_complex_labels_are_refused():
    with pytest.raises(ValueError, match=r"1-D array of class labels.*Received: y of shape "
                                         r"\(16, 2\).*argmax"):
        _clf().fit(X, np.eye(2)[[0, 1] * 8])
    with pytest.raises(TypeError, match=r"class labels.*complex128"):
        _clf().fit(X, np.array([1 + 1j, 2] * 8))


# -- RBM.complete ---------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [np.ones((3, 3), bool), np.ones(16, bool),
                                  torch.ones(16, 5, dtype=torch.bool), np.ones((1, 16, 4))],
                         ids=["square", "per-row", "too-wide", "3-D"])
def test_complete_refuses_a_mask_of_the_wrong_shape(mask):
    with pytest.raises(ValueError, match=r"`known_mask` of RBM.complete must have shape "
                                         r"\(n_visible,\) = \(4,\) or \(N, n_visible\) = "
                                         r"\(16, 4\).*Received: known_mask of shape"):
        _rbm().complete(X, mask)


@pytest.mark.parametrize("mask", [np.full(4, 0.5), np.array([2, 0, 0, 1])])
def test_complete_refuses_a_mask_that_is_not_boolean(mask):
    with pytest.raises(ValueError, match=r"`known_mask` of RBM.complete must hold booleans"):
        _rbm().complete(X, mask)


@pytest.mark.parametrize("mask", [[True, True, False, False], np.array([1, 1, 0, 0]),
                                  torch.tensor([[1, 1, 0, 0]] * 16)],
                         ids=["list", "ints", "per-row"])
def test_complete_clamps_the_known_units(mask):
    filled = _rbm().complete(X, mask, steps=2)
    np.testing.assert_array_equal(filled[:, :2], X[:, :2])
    assert filled.shape == X.shape


# -- complex data ---------------------------------------------------------------------------
@pytest.mark.parametrize("x", [np.full((4, 4), 0.5 + 0.5j), torch.full((4, 4), 0.5 + 0.5j)],
                         ids=["numpy", "tensor"])
def test_complex_data_is_refused_not_cast_to_real(x):
    with pytest.raises(TypeError, match=r"`x` of RBM.fit must hold (real )?numbers"):
        RBM(2, device="cpu").fit(x)


# -- autoencoders' inference entry points ---------------------------------------------------
def _autoencoder():
    torch.manual_seed(0)
    model = Autoencoder(2)
    model.build((4,))
    return model


def test_autoencoder_decode_names_the_code_shape():
    with pytest.raises(ValueError, match=r"`z` of Autoencoder.decode must hold codes of shape "
                                         r"\(N, 2\), as `encode` gives.*Received: z of shape "
                                         r"\(3, 5\)"):
        _autoencoder().decode(np.zeros((3, 5), np.float32))
    assert _autoencoder().decode(np.zeros((3, 2), np.float32)).shape == (3, 4)


@pytest.mark.parametrize("method", ["encode", "reconstruct"])
def test_autoencoder_inference_checks_the_input_shape(method):
    model = _autoencoder()
    with pytest.raises(ValueError, match=rf"`x` of Autoencoder.{method} must have shape "
                                         r"\(N, 4\).*Received: x of shape \(3, 5\)"):
        getattr(model, method)(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=rf"`x` of Autoencoder.{method} must be a batch"):
        getattr(model, method)(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match=rf"`x` of Autoencoder.{method} must hold real"):
        getattr(model, method)(torch.zeros(3, 4, dtype=torch.complex64))
