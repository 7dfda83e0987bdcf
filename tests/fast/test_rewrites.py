"""The plan's rewrites: a ReLU layer followed by max pooling runs as relu(pool(z)), max pooling
over tiling windows as strided-view maxima; same values, same gradients, removed after."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.fast import rewrites
from lamina.fast.plan import Settings, plan_for

CPU = torch.device("cpu")


def convnet(seed=0, padding="valid", activity=None, **pool_kwargs):
    lm.set_seed(seed)
    return lm.Sequential([
        layers.Conv2D(4, 3, activation="relu", activity_regularizer=activity),
        layers.MaxPool2D(2, padding=padding, **pool_kwargs),
        layers.Conv2D(3, 2, activation="relu"),
        layers.MaxPool2D(3, strides=2),  # overlapping windows commute as well
        layers.Flatten(), layers.Dense(3, activation="softmax"),
    ], input_shape=(2, 11, 11))


def train(model, fast=True, steps=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 2, 11, 11)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", device="cpu", channels_last=False,
                  fast=fast)
    model.fit(x, y, batch_size=8, epochs=steps // 2 + 1, shuffle=False, verbose=0)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_the_swap_trains_bit_identically(padding, monkeypatch):
    swapped = train(convnet(padding=padding))
    monkeypatch.setattr(rewrites, "swappable", lambda a, b: False)
    plain = train(convnet(padding=padding))
    for key, value in plain.items():
        assert torch.equal(value, swapped[key]), key


def test_values_and_gradients_equal_the_layer_by_layer_run():
    model = convnet()
    x = torch.randn(5, 2, 11, 11)
    x[0, 0] = -1.0  # whole windows without a positive value: no gradient either way
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    with plan_for(model, CPU, Settings(channels_last=False), training=True) as plan:
        assert sum(r.function is rewrites._relu_after_pool for r in plan.rewrites) == 2
        swapped = model(a)
    plain = model(b)  # the plan is gone: every layer's own forward
    assert not any("forward" in vars(m) for m in model.modules())
    assert torch.equal(swapped, plain)
    grad = torch.randn_like(swapped)
    swapped.backward(grad)
    plain.backward(grad)
    assert torch.equal(a.grad, b.grad)


def test_whatever_could_see_the_swap_keeps_the_layer_by_layer_run():
    model = convnet()
    conv, pool = model.layers[0], model.layers[1]
    assert rewrites.swappable(conv, pool)
    seen = []
    handle = conv.register_forward_hook(lambda m, i, out: seen.append(out.min().item()))
    assert not rewrites.swappable(conv, pool)
    with plan_for(model, CPU, Settings(), training=True):
        model(torch.randn(2, 2, 11, 11))
    assert seen and seen[0] >= 0.0  # the hook saw the ReLU's output
    handle.remove()
    assert rewrites.swappable(conv, pool)
    handle = pool.register_full_backward_hook(lambda m, gi, go: None)
    assert not rewrites.swappable(conv, pool)
    handle.remove()
    assert not rewrites.swappable(conv, layers.AvgPool2D(2))
    regularized = convnet(activity=lm.regularizers.l1(0.01))
    assert not rewrites.swappable(*regularized.layers[:2])
    keeper = convnet(keep_indices=True)
    assert not rewrites.swappable(*keeper.layers[:2])
    tanh = lm.Sequential([layers.Conv2D(2, 3, activation="tanh"), layers.MaxPool2D(2)],
                         input_shape=(1, 6, 6))
    assert not rewrites.swappable(*tanh.layers)


def test_textbook_plan_rewrites_nothing_and_matches_the_fast_one():
    fast, textbook = train(convnet()), train(convnet(), fast=False)
    for key, value in textbook.items():
        torch.testing.assert_close(fast[key], value, rtol=1e-5, atol=1e-6)
    assert plan_for(convnet(), CPU, Settings(fast=False), training=True).rewrites == []


def test_a_user_set_forward_is_left_alone():
    model = convnet()
    pool = model.layers[3]
    pool.forward = lambda x: x  # an instance attribute of the user's
    assert all(r.module is not pool for r in rewrites.tiled_pooling(model))
