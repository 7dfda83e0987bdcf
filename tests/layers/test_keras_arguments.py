"""Keras's layer-level ``input_shape=`` on a Sequential's first layer, and the warning for
``Conv2D(f, k, k)`` (Keras 1's ``Convolution2D(f, rows, cols)`` ported as is)."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.errors import LaminaWarning


def test_first_layer_input_shape_builds_the_sequential_as_the_model_argument_does():
    torch.manual_seed(0)
    by_layer = lm.Sequential([layers.Conv2D(4, 3, input_shape=(1, 8, 8)), layers.Flatten(),
                              layers.Dense(2)])
    torch.manual_seed(0)
    by_model = lm.Sequential([layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(2)],
                             input_shape=(1, 8, 8))
    assert by_layer.built and by_layer.input_shape == (1, 8, 8)
    assert by_layer.output_shape == by_model.output_shape == (2,)
    assert by_layer.count_params() == by_model.count_params()
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(by_layer(x), by_model(x))


def test_input_shape_on_the_first_added_layer_builds_at_once():
    model = lm.Sequential()
    model.add(layers.Dense(4, activation="relu", input_shape=(3,)))
    assert model.built and model.output_shape == (4,)
    model.add(layers.Dense(2))
    assert model.output_shape == (2,)
    model.summary(print_fn=lambda _: None)  # works before any data


def test_layer_input_shape_is_checked_and_recorded():
    assert layers.Dense(2, input_shape=[5]).declared_input_shape == (5,)
    assert layers.Dense(2).declared_input_shape is None
    with pytest.raises(ValueError, match=r"`input_shape` of layer 'dense_in'.*integers >= 1"):
        layers.Dense(2, input_shape=(0,), name="dense_in")
    # constructors that take input_shape themselves keep it
    assert lm.Sequential([layers.Dense(1)], input_shape=(2,)).input_shape == (2,)


def test_conv2d_with_positional_stride_equal_to_kernel_warns_about_keras1():
    with pytest.warns(LaminaWarning, match=r"Keras 1's Convolution2D\(nb_filter, nb_row, "
                                           r"nb_col\) meant a 3x3 kernel") as record:
        conv = layers.Conv2D(32, 3, 3)
    assert record[0].filename == __file__  # points at the user's line
    assert conv.strides == (3, 3)  # the behaviour itself is unchanged


@pytest.mark.parametrize("make", [
    lambda: layers.Conv2D(32, 3, strides=3),   # asked for by keyword
    lambda: layers.Conv2D(32, 3, 1),
    lambda: layers.Conv2D(32, 3),
    lambda: layers.Conv2D(32, (3, 3), (1, 1)),
    lambda: layers.Conv2D(32, 1, 1),
])
def test_conv2d_does_not_warn_otherwise(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make()


def test_conv2d_keeps_its_documented_signature_and_config():
    params = inspect.signature(layers.Conv2D).parameters
    assert list(params)[:4] == ["filters", "kernel_size", "strides", "padding"]
    conv = layers.Conv2D(8, 5, strides=2, padding="same")
    again = layers.Conv2D.from_config(conv.get_config())
    assert (again.kernel_size, again.strides, again.padding) == ((5, 5), (2, 2), "same")
