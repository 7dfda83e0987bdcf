"""The decks' first models: Rosenblatt's perceptron (closed-form cases), logistic regression, MLP."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.errors import ConvergenceWarning
from lamina.zoo import MLP, LogisticRegression, Perceptron

W_TRUE = np.array([0.5, 1.0, -2.0])  # bias first: the hyperplane 0.5 + x1 - 2 x2 = 0


def separable_points(n=200, margin=0.3, seed=0):
    """``n`` points of [-3, 3]^2 at distance > ``margin`` from ``W_TRUE``'s line, labels {0, 1}."""
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n:
        p = rng.uniform(-3, 3, size=2)
        if abs(W_TRUE[0] + p @ W_TRUE[1:]) / np.linalg.norm(W_TRUE[1:]) > margin:
            points.append(p)
    x = np.array(points)
    return x, (W_TRUE[0] + x @ W_TRUE[1:] > 0).astype(int)


def augmented(x):
    return np.hstack([np.ones((len(x), 1)), x])


# -- Perceptron --------------------------------------------------------------------------
def test_perceptron_separates_linearly_separable_data():
    x, y = separable_points()
    assert 0 < y.sum() < len(y)
    model = Perceptron().fit(x, y, epochs=1000)
    assert model.converged_ and model.n_updates_ > 0
    np.testing.assert_array_equal(model.predict(x), y)
    w = model.weight.detach().double().numpy()
    t = np.where(y == 1, 1.0, -1.0)
    assert (t * (augmented(x) @ w) >= 0).all()


def test_perceptron_does_not_update_when_initial_weights_already_separate():
    x, y = separable_points(50)
    model = Perceptron().fit(x, y, initial_weight=W_TRUE)
    assert model.converged_ and model.n_updates_ == 0
    np.testing.assert_array_equal(model.weight.detach().numpy(), W_TRUE.astype(np.float32))
    np.testing.assert_array_equal(model.predict(x), y)


def test_perceptron_updates_only_on_the_one_misclassified_sample():
    # w0 = [0, 1, 0] (predict sign(x1)) classifies every sample but (0.5, 1) -> -1. One update
    # w = w0 + lr * t * x~ = [0, 1, 0] - 0.5 * [1, 0.5, 1] = [-0.5, 0.75, -0.5] fixes it and
    # keeps every other sample right, so the second epoch makes no mistake.
    x = np.array([[3.0, 0.0], [-2.0, 0.0], [0.5, 1.0], [2.0, 1.0], [-1.0, 1.0], [4.0, -1.0],
                  [-3.0, -1.0]])
    t = np.array([1, -1, -1, 1, -1, 1, -1])
    w0, lr = np.array([0.0, 1.0, 0.0]), 0.5
    before = np.where(augmented(x) @ w0 >= 0, 1, -1)
    assert (before != t).sum() == 1 and before[2] != t[2]
    closed_form = w0 + lr * t[2] * augmented(x)[2]
    assert (np.where(augmented(x) @ closed_form >= 0, 1, -1) == t).all()

    model = Perceptron(lr=lr).fit(x, t, initial_weight=w0)
    assert model.n_updates_ == 1 and model.converged_
    np.testing.assert_array_equal(model.weight.detach().double().numpy(), closed_form)
    np.testing.assert_array_equal(model.predict(x), t)


def test_perceptron_warns_on_xor():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    with pytest.warns(ConvergenceWarning, match="did not separate the data in 20 epochs"):
        model = Perceptron().fit(x, np.array([0, 1, 1, 0]), epochs=20)
    assert not model.converged_
    assert model.n_updates_ >= 20  # at least one mistake in every epoch


@pytest.mark.parametrize("labels", [(0, 1), (-1, 1), ("no", "yes")], ids=str)
def test_perceptron_label_encodings_give_the_same_rule(labels):
    x, y01 = separable_points(60)
    y = np.where(y01 == 1, labels[1], labels[0])
    model = Perceptron().fit(x, y)
    reference = Perceptron().fit(x, y01)
    assert model.converged_
    assert list(model.classes_) == list(labels)
    np.testing.assert_array_equal(model.predict(x), y)
    torch.testing.assert_close(model.weight, reference.weight, rtol=0, atol=0)


def test_perceptron_fit_does_not_modify_inputs():
    x, y = separable_points(40)
    x_copy, y_copy = x.copy(), y.copy()
    Perceptron().fit(x, y)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_perceptron_forward_is_the_sign_of_the_augmented_dot_product():
    model = Perceptron().fit(*separable_points(40))
    x = torch.tensor([[0.0, 0.0], [3.0, -3.0], [-3.0, 3.0]])
    w = model.weight.detach()
    expected = torch.where(x @ w[1:] + w[0] >= 0, 1.0, -1.0)
    torch.testing.assert_close(model(x), expected)


def test_perceptron_errors():
    with pytest.raises(ValueError, match=r"`lr` of Perceptron must be > 0\. Received: lr=0"):
        Perceptron(lr=0)
    with pytest.raises(ValueError, match=r"exactly two classes\. Received: 3 samples, 3 labels, "
                                         r"classes \[0, 1, 2\]"):
        Perceptron().fit(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"not fitted yet\. Call `fit\(x, y\)` first"):
        Perceptron().predict(np.zeros((1, 2)))


# -- LogisticRegression ----------------------------------------------------------------------
def test_logistic_regression_binary_is_one_sigmoid_unit():
    model = LogisticRegression(2, input_shape=(5,))
    assert model.count_params() == 5 + 1
    assert model.output_activation_name() == "sigmoid" and model.output_shape == (1,)
    y = model(torch.randn(8, 5) * 10)
    assert y.shape == (8, 1) and ((y > 0) & (y < 1)).all()


@pytest.mark.parametrize("num_classes, input_shape, expected", [
    (4, (6,), 6 * 4 + 4), (3, (1, 4, 4), 16 * 3 + 3), (2, (2, 3, 3), 18 + 1)])
def test_logistic_regression_parameter_count(num_classes, input_shape, expected):
    model = LogisticRegression(num_classes, input_shape=input_shape)
    assert model.count_params() == expected
    has_flatten = isinstance(model.layers[0], lm.layers.Flatten)
    assert has_flatten == (len(input_shape) > 1)


def test_logistic_regression_multiclass_is_a_softmax():
    model = LogisticRegression(4, input_shape=(1, 3, 3))
    assert model.output_activation_name() == "softmax"
    y = model(torch.randn(5, 1, 3, 3))
    assert y.shape == (5, 4)
    torch.testing.assert_close(y.sum(dim=1), torch.ones(5))


# -- MLP -------------------------------------------------------------------------------------
def mlp_params(sizes):
    """Closed form: sum over layers of (fan_in + 1) * fan_out."""
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


@pytest.mark.parametrize("hidden, input_shape, outputs", [
    ((256, 128), (1, 28, 28), 10), ((8,), (3,), 2), ((5, 4, 3), (2, 2), 7), ((), (6,), 3)])
def test_mlp_parameter_count(hidden, input_shape, outputs):
    model = MLP(hidden, outputs=outputs, input_shape=input_shape)
    assert model.count_params() == mlp_params([int(np.prod(input_shape)), *hidden, outputs])
    assert model.output_shape == (outputs,)


def test_mlp_235146_for_mnist_256_128():
    assert MLP((256, 128), input_shape=(1, 28, 28)).count_params() == 235_146


def test_mlp_activations_and_layer_names():
    model = MLP((8, 4), activation="tanh", outputs=3, input_shape=(1, 2, 3), dropout=0.25)
    names = [layer.name for layer in model.layers]
    assert names == ["flatten", "hidden1", "dropout1", "hidden2", "dropout2", "output"]
    assert [model.layers[i].activation_name for i in (1, 3)] == ["tanh", "tanh"]
    assert model.layers[2].rate == 0.25
    assert model.output_activation_name() == "softmax"
    model.eval()
    y = model(torch.randn(4, 1, 2, 3))
    torch.testing.assert_close(y.sum(dim=1), torch.ones(4))


def test_mlp_regression_has_a_linear_output():
    model = MLP((16,), outputs=1, output_activation="linear", input_shape=(3,))
    assert model.output_activation_name() == "identity"
    assert model.count_params() == mlp_params([3, 16, 1])
    x = torch.randn(6, 3) * 5
    torch.testing.assert_close(model(x), model.forward_logits(x))
    with torch.no_grad():
        model.layers[-1].bias.fill_(-100.0)  # an identity output can go anywhere
    assert (model(x) < -50).all()


def test_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"`hidden` of MLP must be an integer >= 1\. "
                                         r"Received: hidden=0"):
        MLP((8, 0))
    with pytest.raises(ValueError, match=r"`outputs` of MLP must be an integer >= 1"):
        MLP((8,), outputs=0)
