"""Bad input gets a clear lamina error, never a raw torch error (issue 2's list)."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.errors import NotCompiledError


def lenet_compiled():
    model = lm.zoo.LeNet5()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mlp_compiled():
    model = lm.zoo.MLP((8,), input_shape=(6,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_length_mismatch_gives_both_lengths():
    with pytest.raises(ValueError, match=r"x with 10 samples .* y with 9 samples"):
        mlp_compiled().fit(np.zeros((10, 6)), np.zeros(9, dtype=int), verbose=0)


def test_input_shape_mismatch_names_layer_and_both_shapes():
    with pytest.raises(ValueError) as info:
        lenet_compiled().fit(np.zeros((4, 784)), np.zeros(4, dtype=int), verbose=0)
    text = str(info.value)
    assert "'conv1'" in text and "(N, 1, 28, 28)" in text and "(N, 784)" in text
    assert "mat1" not in text
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        lenet_compiled().predict(np.zeros((2, 28, 28)))


def test_wrapped_module_shape_error_is_rewritten():
    model = lm.Model.wrap(torch.nn.Linear(5, 2))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"cannot take input of shape \(N, 7\)"):
        model.fit(np.zeros((3, 7)), np.zeros((3, 2)), verbose=0)


def test_dense_after_missing_flatten_is_named():
    model = lm.Sequential([layers.Dense(4, name="dense_in")], input_shape=(3,))
    with pytest.raises(ValueError, match="dense_in.*last axis of size 3.*"):
        model.layers[0].build_shapes((5,))


@pytest.mark.parametrize("bad", [-1, 10, 12])
def test_labels_out_of_range(bad):
    y = np.zeros(5, dtype=int)
    y[3] = bad
    with pytest.raises(ValueError, match=r"integers in \[0, 10\).*sample 3"):
        mlp_compiled_10().fit(np.zeros((5, 6)), y, verbose=0)


def mlp_compiled_10():
    model = lm.zoo.MLP((8,), outputs=10, input_shape=(6,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_one_hot_labels_with_sparse_loss_suggest_the_right_loss():
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        mlp_compiled_10().fit(np.zeros((5, 6)), np.eye(10)[:5], verbose=0)


def test_integer_labels_with_categorical_loss_suggest_sparse():
    model = lm.zoo.MLP((8,), outputs=3, input_shape=(6,))
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(np.zeros((5, 6)), np.zeros(5, dtype=int), verbose=0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x_or_y(value):
    x = np.zeros((6, 6))
    x[4, 2] = value
    with pytest.raises(ValueError, match=r"`x` of fit contains NaN or infinite.*sample 4"):
        mlp_compiled().fit(x, np.zeros(6, dtype=int), verbose=0)
    model = lm.Sequential([layers.Dense(1)], input_shape=(6,))
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((6, 1))
    y[1] = value
    with pytest.raises(ValueError, match="`y` of evaluate contains NaN"):
        model.evaluate(np.zeros((6, 6)), y)


def test_fit_and_evaluate_before_compile():
    model = lm.zoo.MLP((4,), input_shape=(3,))
    for call in (lambda: model.fit(np.zeros((2, 3)), np.zeros(2)),
                 lambda: model.evaluate(np.zeros((2, 3)), np.zeros(2))):
        with pytest.raises(NotCompiledError, match=r"model.compile\("):
            call()


@pytest.mark.parametrize("kind, call", [
    ("loss", lambda m: m.compile(optimizer="sgd", loss="sparse_categorical_crossentropi")),
    ("optimizer", lambda m: m.compile(optimizer="sgdd", loss="mse")),
    ("metric", lambda m: m.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])),
])
def test_unknown_names_list_the_valid_ones(kind, call):
    with pytest.raises(ValueError, match=rf"Unknown {kind} .*Did you mean.*Valid names"):
        call(lm.zoo.MLP((4,), input_shape=(3,)))


def test_unknown_activation_and_initializer_names():
    with pytest.raises(ValueError, match=r"Unknown activation 'rleu'.*'relu'"):
        layers.Dense(3, activation="rleu")
    with pytest.raises(ValueError, match=r"Unknown initializer .*'glorot_uniform'"):
        layers.Dense(3, kernel_initializer="glorot_unifrom")


def test_compile_without_loss_says_how():
    with pytest.raises(ValueError, match="needs a `loss`"):
        lm.zoo.MLP((4,), input_shape=(3,)).compile(optimizer="sgd")


def test_bad_fit_arguments():
    model = mlp_compiled()
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((4, 6)), np.zeros(4, dtype=int), batch_size=0, verbose=0)
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        model.fit({"x": 1}, np.zeros(4, dtype=int), verbose=0)
    with pytest.raises(TypeError, match="must hold numbers"):
        model.fit(np.array(["a", "b"]), np.zeros(2, dtype=int), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(np.zeros((4, 6)), np.zeros(4, dtype=int), validation_split=0.01, verbose=0)


def test_cross_entropy_on_a_model_without_softmax_warns():
    from lamina.errors import LaminaWarning

    model = lm.Sequential([layers.Dense(3)], input_shape=(2,))
    with pytest.warns(LaminaWarning, match="from_logits=True"):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")


def test_opposite_infinities_are_caught_although_they_cancel_in_a_sum():
    """The finiteness check sums first; +inf and -inf together must still be found."""
    x = np.zeros((6, 6))
    x[2, 0], x[2, 1] = np.inf, -np.inf
    with pytest.raises(ValueError, match="sample 2"):
        mlp_compiled().fit(x, np.zeros(6, dtype=int), verbose=0)
