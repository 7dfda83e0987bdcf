"""LeNet-5: the parameter count deck 001 quotes, shapes, and the 28x28 / 32x32 variants."""

import pytest
import torch

import lamina as lm

# conv1 6*(1*25+1), conv2 16*(6*25+1), fc1 400*120+120, fc2 120*84+84, output 84*10+10
LENET5_PARAMS = 156 + 2_416 + 48_120 + 10_164 + 850


def test_lenet5_has_61706_parameters():
    assert LENET5_PARAMS == 61_706
    assert lm.zoo.LeNet5().count_params() == 61_706


def test_lenet5_summary_prints_61706():
    lines = []
    lm.zoo.LeNet5().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 61,706" in text
    assert "61,706" in text


def test_lenet5_layer_shapes_for_28x28():
    model = lm.zoo.LeNet5()
    assert [layer.output_shape for layer in model.layers] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]
    assert model.layers[0].padding == (2, 2)


def test_lenet5_outputs_probabilities():
    model = lm.zoo.LeNet5()
    y = model(torch.randn(5, 1, 28, 28))
    assert y.shape == (5, 10)
    assert (y >= 0).all()
    torch.testing.assert_close(y.sum(dim=1), torch.ones(5))
    assert model.predict(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_lenet5_on_32x32_has_no_padding_and_same_parameter_count():
    model = lm.zoo.LeNet5(input_shape=(1, 32, 32))
    conv1 = model.layers[0]
    assert conv1.padding == (0, 0) and conv1.output_shape == (6, 28, 28)
    assert "padding" not in repr(conv1)
    assert model.count_params() == 61_706
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_lenet5_pooling_choice_keeps_parameter_count(pooling):
    model = lm.zoo.LeNet5(pooling=pooling, activation="tanh")
    expected = lm.layers.MaxPool2D if pooling == "max" else lm.layers.AvgPool2D
    assert isinstance(model.layers[1], expected) and isinstance(model.layers[3], expected)
    assert model.count_params() == 61_706
    assert model.layers[0].activation_name == "tanh"
    assert model.output_activation_name() == "softmax"


def test_lenet5_num_classes_changes_only_the_last_layer():
    model = lm.zoo.LeNet5(num_classes=5)
    assert model.count_params() == 61_706 - 850 + (84 * 5 + 5)
    assert model.output_shape == (5,)


def test_lenet5_rejects_unknown_pooling():
    with pytest.raises(ValueError, match=r"`pooling` of LeNet5 must be one of 'max', 'avg'\. "
                                         r"Received: pooling='min'"):
        lm.zoo.LeNet5(pooling="min")
