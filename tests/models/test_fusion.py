"""A ReLU layer followed by max pooling runs as relu(pool(z)): same values, same gradients."""

import numpy as np
import pytest
import torch

import lamina as lm
import lamina.models._fusion as fusion
from lamina import layers


def convnet(seed=0, padding="valid", activity=None, **pool_kwargs):
    lm.set_seed(seed)
    return lm.Sequential([
        layers.Conv2D(4, 3, activation="relu", activity_regularizer=activity),
        layers.MaxPool2D(2, padding=padding, **pool_kwargs),
        layers.Conv2D(3, 2, activation="relu"),
        layers.MaxPool2D(3, strides=2),  # overlapping windows commute as well
        layers.Flatten(), layers.Dense(3, activation="softmax"),
    ], input_shape=(2, 11, 11))


def train(model, steps=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 2, 11, 11)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", device="cpu", channels_last=False)
    model.fit(x, y, batch_size=8, epochs=steps // 2 + 1, shuffle=False, verbose=0)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_before_the_relu_trains_bit_identically(padding, monkeypatch):
    fused = train(convnet(padding=padding))
    monkeypatch.setattr(fusion, "pools_before_activation", lambda a, b: False)
    plain = train(convnet(padding=padding))
    for key, value in plain.items():
        assert torch.equal(value, fused[key]), key


def test_values_and_gradients_equal_the_layer_by_layer_run():
    model = convnet()
    x = torch.randn(5, 2, 11, 11)
    x[0, 0] = -1.0  # whole windows without a positive value: no gradient either way
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    fused = model(a)
    plain = b
    for layer in model.layers:
        plain = layer(plain)
    assert torch.equal(fused, plain)
    grad = torch.randn_like(fused)
    fused.backward(grad)
    plain.backward(grad)
    assert torch.equal(a.grad, b.grad)


def test_whatever_could_see_the_swap_keeps_the_layer_by_layer_run():
    model = convnet()
    conv, pool = model.layers[0], model.layers[1]
    assert fusion.pools_before_activation(conv, pool)
    seen = []
    handle = conv.register_forward_hook(lambda m, i, out: seen.append(out.min().item()))
    assert not fusion.pools_before_activation(conv, pool)
    model(torch.randn(2, 2, 11, 11))
    assert seen and seen[0] >= 0.0  # the hook saw the ReLU's output
    handle.remove()
    assert fusion.pools_before_activation(conv, pool)
    handle = pool.register_full_backward_hook(lambda m, gi, go: None)
    assert not fusion.pools_before_activation(conv, pool)
    handle.remove()
    assert not fusion.pools_before_activation(conv, layers.AvgPool2D(2))
    regularized = convnet(activity=lm.regularizers.l1(0.01))
    assert not fusion.pools_before_activation(*regularized.layers[:2])
    keeper = convnet(keep_indices=True)
    assert not fusion.pools_before_activation(*keeper.layers[:2])
    tanh = lm.Sequential([layers.Conv2D(2, 3, activation="tanh"), layers.MaxPool2D(2)],
                         input_shape=(1, 6, 6))
    assert not fusion.pools_before_activation(*tanh.layers)
