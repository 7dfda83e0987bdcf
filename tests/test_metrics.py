"""Metrics: batch accumulation equals the whole-data value; target kinds; registry."""

import numpy as np
import pytest
import torch

from lamina import metrics

SPLITS = [7, 13, 1, 29]  # uneven batches of 50 samples


def accumulate(metric, y_pred, y_true):
    for p, t in zip(torch.split(y_pred, SPLITS), torch.split(y_true, SPLITS), strict=True):
        metric.update(p, t)
    return metric.result()


def batches():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(50, 5, generator=g), 1)
    labels = torch.randint(0, 5, (50,), generator=g)
    binary = torch.rand(50, 1, generator=g)
    y01 = torch.randint(0, 2, (50,), generator=g).float()
    reg = torch.randn(50, 3, generator=g)
    target = torch.randn(50, 3, generator=g)
    return probs, labels, binary, y01, reg, target


def test_uneven_batches_equal_whole_data():
    probs, labels, binary, y01, reg, target = batches()
    p, lab, b, y, r, t = (x.numpy() for x in (probs, labels, binary, y01, reg, target))
    cases = [
        (metrics.Accuracy(), probs, labels, (p.argmax(1) == lab).mean()),
        (metrics.Accuracy(), probs, torch.eye(5)[labels], (p.argmax(1) == lab).mean()),
        (metrics.Accuracy(), binary, y01, ((b[:, 0] > 0.5) == (y > 0.5)).mean()),
        (metrics.MeanSquaredError(), reg, target, ((r - t) ** 2).mean()),
        (metrics.MeanAbsoluteError(), reg, target, np.abs(r - t).mean()),
    ]
    for metric, y_pred, y_true, expected in cases:
        result = accumulate(metric, y_pred, y_true)
        assert result.ndim == 0
        assert result.item() == pytest.approx(float(expected), rel=1e-6), metric


def test_mean_weighted_by_batch_size_equals_data_mean():
    values = torch.randn(50)
    mean = metrics.Mean(name="loss")
    for chunk in torch.split(values, SPLITS):
        mean.update(chunk.mean(), weight=len(chunk))
    assert mean.result().item() == pytest.approx(values.mean().item(), rel=1e-6, abs=1e-7)
    assert mean.name == "loss" and mean.direction == "min"


def test_accuracy_target_kinds():
    acc = metrics.Accuracy()
    acc.update(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([[1], [1]]))  # (N, 1) labels
    assert acc.result().item() == 0.5
    acc.reset()
    acc.update(torch.tensor([0.2, 0.6, 0.7]), torch.tensor([[0.0], [1.0], [0.0]]))  # binary (N,)
    assert acc.result().item() == pytest.approx(2 / 3)
    scores = metrics.Accuracy(threshold=0.0)  # raw scores, targets in {-1, 1}
    scores.update(torch.tensor([-0.3, 2.0, 0.1]), torch.tensor([-1.0, 1.0, -1.0]))
    assert scores.result().item() == pytest.approx(2 / 3)
    seg = metrics.Accuracy()  # (N, C, H, W) against (N, H, W)
    logits = torch.randn(2, 3, 4, 4)
    labels = torch.randint(0, 3, (2, 4, 4))
    seg.update(logits, labels)
    expected = (logits.argmax(1) == labels).float().mean()
    assert seg.result().item() == pytest.approx(expected.item())


def test_state_on_device_detached_and_resettable():
    acc = metrics.Accuracy()
    assert torch.isnan(acc.result())
    y_pred = torch.rand(4, 3, requires_grad=True)
    acc.update(y_pred, torch.tensor([0, 1, 2, 0]))
    result = acc.result()
    assert result.device == y_pred.device and not result.requires_grad
    state = acc.state_dict()
    acc.reset()
    assert torch.isnan(acc.result())
    acc.load_state_dict(state)
    assert acc.result() == result
    loss = metrics.Mean()
    loss.update((y_pred**2).mean(), weight=4)
    assert not loss.result().requires_grad


def test_directions():
    assert metrics.get("accuracy").direction == "max"
    assert metrics.get("mse").direction == "min"
    assert metrics.get("mae").direction == "min"
    assert metrics.get(lambda p, t: (p == t).float().mean()).direction == "min"
    assert metrics.MeanMetricWrapper(lambda p, t: p, name="my_acc").direction == "max"


def test_get():
    a, b = metrics.get("accuracy"), metrics.get("accuracy")
    assert isinstance(a, metrics.Accuracy) and a is not b
    assert metrics.get("acc").name == "acc" and metrics.get("MSE").name == "MSE"
    assert isinstance(metrics.get("mean_absolute_error"), metrics.MeanAbsoluteError)
    assert metrics.get(a) is a
    assert isinstance(metrics.get(metrics.MeanSquaredError), metrics.MeanSquaredError)
    wrapped = metrics.get(lambda p, t: (p - t).abs().mean())
    accumulate(wrapped, torch.arange(50.0), torch.zeros(50))
    assert wrapped.result().item() == pytest.approx(24.5)


def test_errors():
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'.*Did you mean 'accuracy'"):
        metrics.get("acuracy")
    with pytest.raises(TypeError, match=r"Received: metric=None \(type NoneType\)"):
        metrics.get(None)
    with pytest.raises(ValueError, match=r"Metric 'accuracy'.*y_true.shape=\(4, 2\)"):
        metrics.Accuracy().update(torch.rand(4, 3), torch.rand(4, 2))
    with pytest.raises(ValueError, match="Metric 'mean_squared_error'"):
        metrics.MeanSquaredError().update(torch.rand(4, 3), torch.rand(4, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to detect host syncs")
def test_update_does_not_sync_with_the_host():
    acc, mse, mean = metrics.Accuracy(), metrics.MeanSquaredError(), metrics.Mean()
    y_pred = torch.rand(8, 3, device="cuda")
    labels = torch.randint(0, 3, (8,), device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            acc.update(y_pred, labels)
            mse.update(y_pred, torch.zeros_like(y_pred))
            mean.update(y_pred.mean(), weight=8)
            acc.result()
    finally:
        torch.cuda.set_sync_debug_mode("default")
