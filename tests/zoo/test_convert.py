"""``to_fully_convolutional``: deck 002's "FC as convolutions", checked window by window.

The oracle is the original classifier run on every crop: position ``(i, j)`` of the
converted model's output must equal the classifier's output on the crop whose corner is
``(i s, j s)``, ``s`` the product of the strides before the Flatten.
"""

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.errors import NotBuiltError

to_fcn = lm.zoo.to_fully_convolutional


def _check_windows(clf, fcn, x, size: int, stride: int) -> None:
    y = fcn(x)
    n_i, n_j = y.shape[-2:]
    assert (n_i, n_j) == ((x.shape[-2] - size) // stride + 1, (x.shape[-1] - size) // stride + 1)
    for i in range(n_i):
        for j in range(n_j):
            crop = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
            torch.testing.assert_close(y[..., i, j], clf.forward_logits(crop),
                                       rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(torch.softmax(y[..., i, j], dim=1), clf(crop),
                                       rtol=1e-5, atol=1e-5)


def test_lenet_scores_every_window_of_a_larger_image():
    clf = lm.zoo.LeNet5(input_shape=(1, 32, 32)).eval()   # no padding: exact windows
    fcn = to_fcn(clf).eval()
    assert [type(layer).__name__ for layer in fcn.layers] == [
        "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Conv2D", "Conv2D", "Conv2D"]
    assert fcn.layers[4].kernel_size == (5, 5) and fcn.layers[5].kernel_size == (1, 1)
    assert fcn.count_params() == clf.count_params()
    _check_windows(clf, fcn, torch.randn(2, 1, 36, 36), size=32, stride=4)
    _check_windows(clf, fcn, torch.randn(1, 1, 44, 40), size=32, stride=4)


def test_training_size_gives_one_position_with_the_same_scores():
    clf = lm.zoo.LeNet5(input_shape=(1, 32, 32)).eval()
    fcn = to_fcn(clf).eval()
    assert fcn.output_shape == (10, 1, 1)
    x = torch.randn(3, 1, 32, 32)
    torch.testing.assert_close(fcn(x)[..., 0, 0], clf.forward_logits(x), rtol=1e-5, atol=1e-5)


def test_strided_convs_batch_norm_dropout_and_activations_are_carried_over():
    clf = lm.Sequential([
        layers.Conv2D(4, 3, activation="relu"),
        layers.MaxPool2D(2),
        layers.Conv2D(8, 3, strides=2),
        layers.BatchNorm(),
        layers.Activation("relu"),
        layers.Flatten(),
        layers.Dense(16, activation="tanh"),
        layers.Dropout(0.5),
        layers.BatchNorm(),
        layers.Dense(5),
        layers.Activation("softmax"),
    ], input_shape=(3, 20, 20))
    with torch.no_grad():  # non-trivial running statistics
        for bn in (clf.layers[3], clf.layers[8]):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    clf.eval()
    fcn = to_fcn(clf, name="sliding").eval()
    assert fcn.name == "sliding"
    assert isinstance(fcn.layers[-1], layers.Conv2D) and fcn.layers[-1].activation_name == \
        "identity"
    assert fcn.layers[5].kernel_size == (4, 4)  # the 8x4x4 map the first Dense saw
    _check_windows(clf, fcn, torch.randn(2, 3, 28, 28), size=20, stride=4)


def test_original_model_is_left_untouched():
    clf = lm.zoo.LeNet5(input_shape=(1, 32, 32))
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    fcn = to_fcn(clf)
    with torch.no_grad():
        for p in fcn.parameters():
            p.add_(1.0)
    for key, value in clf.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_converted_model_trains_on_its_dense_maps():
    fcn = to_fcn(lm.zoo.LeNet5(input_shape=(1, 32, 32)), input_shape=(1, 36, 36))
    assert fcn.output_shape == (10, 2, 2)
    fcn.compile(optimizer="sgd", loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                device="cpu")
    x, y = torch.randn(4, 1, 36, 36), torch.randint(0, 10, (4, 2, 2))
    history = fcn.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert len(history.history["loss"]) == 1


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"must keep the 1 input channels of 'lenet5'"):
        to_fcn(lm.zoo.LeNet5(input_shape=(1, 32, 32)), input_shape=(3, 40, 40))
    with pytest.raises(TypeError, match=r"takes a `Sequential` classifier\. Received: an "
                                        r"object of type Linear"):
        to_fcn(torch.nn.Linear(2, 2))
    unbuilt = lm.Sequential([layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(2)])
    with pytest.raises(NotBuiltError, match=r"Pass `input_shape=` to the model"):
        to_fcn(unbuilt)
    no_flatten = lm.Sequential([layers.Conv2D(2, 3)], input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match=r"needs a `Flatten`.*Received: layers \['Conv2D'\]"):
        to_fcn(no_flatten)
    reshaped = lm.Sequential([layers.Conv2D(2, 3), layers.Flatten(), layers.Reshape((2, 9))],
                             input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match=r"\(Reshape\) after the Flatten has no "
                                         r"convolutional equivalent"):
        to_fcn(reshaped)
    early_softmax = lm.Sequential([layers.Flatten(), layers.Dense(3, activation="softmax"),
                                   layers.Dense(2)], input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match=r"applies a softmax before the last layer"):
        to_fcn(early_softmax)


def test_predict_accepts_larger_images_and_the_flag_survives_save_and_load(tmp_path):
    clf = lm.zoo.LeNet5(input_shape=(1, 32, 32)).eval()
    fcn = to_fcn(clf)
    fcn.compile(optimizer="sgd", loss="mse")
    x = torch.randn(2, 1, 40, 36)
    scores = fcn.predict(x)
    assert scores.shape == (2, 10, 3, 2)
    torch.testing.assert_close(torch.as_tensor(scores), fcn.eval()(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="at least 32x32"):
        fcn.predict(torch.randn(1, 1, 28, 40))
    with pytest.raises(ValueError, match="1 channel"):
        fcn.predict(torch.randn(1, 3, 40, 40))
    fcn.save(tmp_path / "fcn.lamina")
    loaded = lm.load_model(tmp_path / "fcn.lamina")
    assert loaded.fully_convolutional
    assert not clf.fully_convolutional
