"""Sample and class weights (issue 23, point 2), checked against hand computations.

Keras 3's convention: the loss of a batch of N is sum_i w_i l_i / N (``sum_over_batch_size``:
divided by the batch size, not by the weights' sum); ``metrics`` ignore the weights and
``weighted_metrics`` are weighted means sum_i w_i m_i / sum_i w_i.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina import layers
from lamina.training.structured import class_sample_weights


def classifier(seed=0, units=3):
    torch.manual_seed(seed)
    model = lm.Sequential([layers.Dense(units, activation="softmax")], input_shape=(4,))
    return model


def data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    w = rng.uniform(0, 3, size=n).astype(np.float32)
    return x, y, w


def test_loss_reduction_is_sum_of_weighted_losses_over_the_batch_size():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    y = torch.tensor([0, 2, 2])
    w = torch.tensor([2.0, 0.5, 0.0])
    per_sample = -torch.log(p[torch.arange(3), y])
    loss = lm.losses.get("sparse_categorical_crossentropy")
    assert torch.allclose(loss(p, y, sample_weight=w), (w * per_sample).sum() / 3)
    total = lm.losses.SparseCategoricalCrossentropy(reduction="sum")
    assert torch.allclose(total(p, y, sample_weight=w), (w * per_sample).sum())
    each = lm.losses.SparseCategoricalCrossentropy(reduction="none")
    assert torch.allclose(each(p, y, sample_weight=w), w * per_sample)
    # mse: the per-sample loss is the mean over the sample's values
    pred, true = torch.tensor([[1.0, 3.0], [0.0, 2.0]]), torch.zeros(2, 2)
    mse = lm.losses.get("mse")
    assert torch.allclose(mse(pred, true, sample_weight=torch.tensor([1.0, 3.0])),
                          torch.tensor((1 * 5.0 + 3 * 2.0) / 2))
    with pytest.raises(ValueError, match="one weight per sample"):
        mse(pred, true, sample_weight=torch.ones(3))


def test_one_weighted_sgd_step_equals_the_hand_computed_step():
    x, y, w = data()
    model = classifier()
    w0, b0 = model.layers[0].weight.detach().clone(), model.layers[0].bias.detach().clone()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.5), loss="sparse_categorical_crossentropy")
    model.fit(x, y, sample_weight=w, batch_size=10, epochs=1, shuffle=False, verbose=0)

    W, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    logits = torch.from_numpy(x) @ W.T + b
    per_sample = F.cross_entropy(logits, torch.from_numpy(y), reduction="none")
    (torch.from_numpy(w) * per_sample).sum().div(10).backward()
    torch.testing.assert_close(model.layers[0].weight.detach(), w0 - 0.5 * W.grad)
    torch.testing.assert_close(model.layers[0].bias.detach(), b0 - 0.5 * b.grad)


def test_evaluate_weighs_the_loss_and_the_weighted_metrics_only():
    x, y, w = data(n=11)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=w, batch_size=4)       # batches of 4, 4, 3
    p = model.predict(x)
    per_sample = -np.log(p[np.arange(11), y])
    correct = (p.argmax(1) == y).astype(np.float64)
    assert list(logs) == ["loss", "accuracy", "weighted_accuracy"]
    assert logs["loss"] == pytest.approx((w * per_sample).sum() / 11, rel=1e-5)
    assert logs["accuracy"] == pytest.approx(correct.mean())
    assert logs["weighted_accuracy"] == pytest.approx((w * correct).sum() / w.sum(), rel=1e-6)
    unweighted = model.evaluate(x, y, batch_size=4)
    assert unweighted["loss"] == pytest.approx(per_sample.mean(), rel=1e-5)
    assert unweighted["weighted_accuracy"] == pytest.approx(correct.mean())


def test_validation_data_with_weights_logs_the_weighted_loss():
    x, y, w = data(n=12)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
    history = model.fit(x, y, validation_data=(x, y, w), batch_size=4, epochs=1, verbose=0)
    logs = model.evaluate(x, y, sample_weight=w)
    assert history.history["val_loss"][0] == pytest.approx(logs["loss"], rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(logs["accuracy"], rel=1e-6)


def test_class_weight_is_sample_weight_of_each_label():
    x, y, _ = data(n=20)
    table = {0: 3.0, 1: 0.5}                                     # class 2 weighs 1
    first, second = classifier(seed=1), classifier(seed=1)
    for model in (first, second):
        model.compile(optimizer=lm.optimizers.SGD(lr=0.1),
                      loss="sparse_categorical_crossentropy")
    torch.manual_seed(3)
    first.fit(x, y, class_weight=table, batch_size=6, epochs=2, verbose=0)
    torch.manual_seed(3)
    second.fit(x, y, sample_weight=np.array([table.get(c, 1.0) for c in y]), batch_size=6,
               epochs=2, verbose=0)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_balanced_class_weight_is_scikit_learns():
    sklearn = pytest.importorskip("sklearn.utils.class_weight")
    y = np.array([0] * 3 + [1] * 10 + [3] * 7)
    expected = sklearn.compute_class_weight("balanced", classes=np.unique(y), y=y)
    got = class_sample_weights(torch.from_numpy(y), "balanced")
    for cls, value in zip(np.unique(y), expected):
        assert got[y == cls].numpy() == pytest.approx(value)
    onehot = class_sample_weights(torch.eye(4)[torch.from_numpy(y)], {1: 2.0})
    assert onehot.tolist() == [2.0 if c == 1 else 1.0 for c in y]


def test_weights_of_one_change_nothing():
    x, y, _ = data(n=16)
    plain, ones = classifier(seed=2), classifier(seed=2)
    for model in (plain, ones):
        model.compile(optimizer=lm.optimizers.SGD(lr=0.1),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    torch.manual_seed(0)
    h_plain = plain.fit(x, y, batch_size=5, epochs=3, verbose=0)
    torch.manual_seed(0)
    h_ones = ones.fit(x, y, sample_weight=np.ones(16), batch_size=5, epochs=3, verbose=0)
    for a, b in zip(plain.parameters(), ones.parameters()):
        torch.testing.assert_close(a, b)
    assert h_ones.history["accuracy"] == h_plain.history["accuracy"]
    np.testing.assert_allclose(h_ones.history["loss"], h_plain.history["loss"], rtol=1e-5)


def test_weights_are_checked():
    x, y, w = data(n=6)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, y, sample_weight=w, class_weight={0: 2.0}, verbose=0)
    with pytest.raises(ValueError, match=">= 0"):
        model.fit(x, y, sample_weight=-w, verbose=0)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        model.fit(x, y, sample_weight=w[:4], verbose=0)
    with pytest.raises(ValueError, match="'balanced'"):
        model.fit(x, y, class_weight="inverse", verbose=0)
    with pytest.raises(ValueError, match="one number per batch"):
        custom = classifier()
        custom.compile(loss=lambda p, t: (p[:, 0] - t).abs().mean())
        custom.fit(x, y.astype(np.float32), sample_weight=w, batch_size=2, verbose=0)
