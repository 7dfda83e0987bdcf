"""top-k accuracy, precision, recall, F1, AUC, mean IoU and the confusion matrix against
scikit-learn's metrics, accumulated over uneven batches, with and without sample weights."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import metrics

sk = pytest.importorskip("sklearn.metrics")

SPLITS = (0, 7, 40, 41, 133, 300)  # uneven batches, one of a single sample


def _feed(metric, y_pred, y_true, weight=None):
    for a, b in zip(SPLITS[:-1], SPLITS[1:]):
        w = None if weight is None else torch.as_tensor(weight[a:b])
        metric.update(torch.as_tensor(y_pred[a:b]), torch.as_tensor(y_true[a:b]),
                      sample_weight=w)
    return metric.result()


def _scores(n=300, c=6, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, c, n)
    weight = rng.uniform(0.1, 3.0, n)
    return probs, labels, weight


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_sparse_one_hot_and_weighted(k):
    probs, labels, w = _scores()
    truth = sk.top_k_accuracy_score(labels, probs, k=k, labels=range(6))
    assert float(_feed(metrics.TopKAccuracy(k), probs, labels)) == pytest.approx(truth, abs=1e-12)
    one_hot = np.eye(6)[labels]
    assert float(_feed(metrics.TopKAccuracy(k), probs, one_hot)) == pytest.approx(truth)
    weighted = sk.top_k_accuracy_score(labels, probs, k=k, labels=range(6), sample_weight=w)
    assert float(_feed(metrics.TopKAccuracy(k), probs, labels, w)) == pytest.approx(weighted)


def test_top_k_default_and_by_name():
    top = metrics.get("top_k_accuracy")
    assert isinstance(top, metrics.TopKAccuracy) and top.k == 5 and top.direction == "max"
    probs, labels, _ = _scores(c=10)
    assert float(_feed(top, probs, labels[:, None])) == pytest.approx(
        sk.top_k_accuracy_score(labels, probs, k=5, labels=range(10)))


@pytest.mark.parametrize("name,fn", [("precision", "precision_score"),
                                     ("recall", "recall_score"), ("f1", "f1_score")])
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_precision_recall_f1(name, fn, average, weighted):
    probs, labels, w = _scores()
    probs[:, 5] -= 1.0  # class 5 never predicted: the 0/0 precision counts as 0
    w = w if weighted else None
    metric = metrics.METRICS.lookup(name)(average=average)
    truth = getattr(sk, fn)(labels, probs.argmax(1), average=average, sample_weight=w,
                            zero_division=0)
    assert float(_feed(metric, probs, labels, w)) == pytest.approx(truth, abs=1e-12)


def test_macro_skips_classes_absent_from_targets_and_predictions():
    probs, labels, _ = _scores(c=6)
    probs[:, 4] = -1.0
    labels[labels == 4] = 0  # class 4 in neither: scikit-learn leaves it out of the mean
    truth = sk.f1_score(labels, probs.argmax(1), average="macro")
    assert float(_feed(metrics.F1Score(), probs, labels)) == pytest.approx(truth)


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_from_probabilities(weighted):
    rng = np.random.default_rng(1)
    p = rng.uniform(size=(300, 1))
    y = (rng.uniform(size=300) < 0.3 + 0.4 * p[:, 0]).astype(np.float32)
    w = rng.uniform(0.5, 2.0, 300) if weighted else None
    pred = (p[:, 0] > 0.5).astype(int)
    for metric, fn in ((metrics.get("precision"), sk.precision_score),
                       (metrics.get("recall"), sk.recall_score), (metrics.get("f1"), sk.f1_score)):
        assert float(_feed(metric, p, y, w)) == pytest.approx(fn(y, pred, sample_weight=w))
    low = metrics.Precision(threshold=0.3)
    assert float(_feed(low, p, y)) == pytest.approx(sk.precision_score(y, p[:, 0] > 0.3))


def test_binary_average_needs_two_classes():
    probs, labels, _ = _scores()
    metric = metrics.Precision(average="binary")
    metric.update(torch.as_tensor(probs), torch.as_tensor(labels))
    with pytest.raises(ValueError, match="average='binary' but 6 classes"):
        metric.result()


@pytest.mark.parametrize("weighted", [False, True])
def test_confusion_matrix(weighted):
    probs, labels, w = _scores()
    w = w if weighted else None
    result = _feed(metrics.get("confusion_matrix"), probs, labels, w)
    truth = sk.confusion_matrix(labels, probs.argmax(1), labels=range(6), sample_weight=w)
    np.testing.assert_allclose(result.numpy(), truth, rtol=1e-12)


def test_mean_iou_segmentation_maps():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(300, 4, 5, 6))
    maps = rng.integers(0, 4, (300, 5, 6))
    pred = scores.argmax(1)
    truth = sk.jaccard_score(maps.ravel(), pred.ravel(), average="macro")
    assert float(_feed(metrics.get("mean_iou"), scores, maps)) == pytest.approx(truth)
    w = rng.uniform(0.1, 2.0, 300)
    weighted = sk.jaccard_score(maps.ravel(), pred.ravel(), average="macro",
                                sample_weight=np.repeat(w, 30))
    assert float(_feed(metrics.MeanIoU(), scores, maps, w)) == pytest.approx(weighted)


def test_mean_iou_class_ids_and_ignore_class():
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 3, (300, 8))
    maps = rng.integers(0, 3, (300, 8))
    maps[:, :2] = 255  # void pixels
    keep = maps != 255
    truth = sk.jaccard_score(maps[keep], pred[keep], average="macro")
    metric = metrics.MeanIoU(num_classes=3, ignore_class=255)
    assert float(_feed(metric, pred, maps)) == pytest.approx(truth)
    with pytest.raises(ValueError, match="num_classes="):
        metrics.MeanIoU().update(torch.as_tensor(pred), torch.as_tensor(maps))


def _binary_scores(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.35).astype(np.float32)
    score = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 0.4)))
    return score, y, rng.uniform(0.1, 3.0, n)


def _feed_many(metric, y_pred, y_true, weight=None, batch=333):
    for a in range(0, len(y_pred), batch):
        w = None if weight is None else torch.as_tensor(weight[a:a + batch])
        metric.update(torch.as_tensor(y_pred[a:a + batch]),
                      torch.as_tensor(y_true[a:a + batch]), sample_weight=w)
    return float(metric.result())


@pytest.mark.parametrize("weighted", [False, True])
def test_auc_roc_and_pr_within_1e3_of_sklearn(weighted):
    score, y, w = _binary_scores()
    w = w if weighted else None
    roc = _feed_many(metrics.get("auc"), score, y, w)
    assert roc == pytest.approx(sk.roc_auc_score(y, score, sample_weight=w), abs=1e-3)
    ap = _feed_many(metrics.AUC(curve="PR"), score, y, w)
    assert ap == pytest.approx(sk.average_precision_score(y, score, sample_weight=w), abs=1e-3)


def test_auc_multiclass_pools_one_vs_rest_and_logits():
    probs, labels, _ = _scores(n=3000, c=4)
    one_hot = np.eye(4)[labels]
    truth = sk.roc_auc_score(one_hot, probs, average="micro")
    assert _feed_many(metrics.AUC(), probs, labels) == pytest.approx(truth, abs=1e-3)
    score, y, _ = _binary_scores()
    logits = np.log(score / (1 - score))
    assert _feed_many(metrics.AUC(from_logits=True), logits[:, None], y) == pytest.approx(
        sk.roc_auc_score(y, score), abs=1e-3)


def test_auc_perfect_and_reversed_rankings():
    y = torch.tensor([0.0, 0.0, 1.0, 1.0])
    auc = metrics.AUC()
    auc.update(torch.tensor([0.1, 0.2, 0.8, 0.9]), y)
    assert float(auc.result()) == pytest.approx(1.0)
    auc.reset()
    auc.update(torch.tensor([0.9, 0.8, 0.2, 0.1]), y)
    assert float(auc.result()) == pytest.approx(0.0)


@pytest.mark.parametrize("make", [metrics.AUC, metrics.F1Score, lambda: metrics.TopKAccuracy(2)])
def test_state_dict_resumes_exactly(make):
    probs, labels, _ = _scores()
    if make is metrics.AUC:  # one probability per sample
        probs, labels = probs[:, :1], (labels == 0).astype(np.float32)
    x, y = torch.as_tensor(probs), torch.as_tensor(labels)
    whole, resumed = make(), make()
    whole.update(x[:100], y[:100])
    resumed.load_state_dict(whole.state_dict())
    whole.update(x[100:], y[100:])
    resumed.update(x[100:], y[100:])
    assert torch.equal(whole.result(), resumed.result())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to detect host syncs")
def test_updates_do_not_sync_with_the_host():
    found = [metrics.TopKAccuracy(2), metrics.F1Score(), metrics.MeanIoU(),
             metrics.ConfusionMatrix(), metrics.AUC()]
    y_pred = torch.rand(8, 3, device="cuda")
    labels = torch.randint(0, 3, (8,), device="cuda")
    w = torch.rand(8, device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        for metric in found:
            metric.update(y_pred, labels)
            metric.update(y_pred, labels, sample_weight=w)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_names_and_directions():
    for name, cls in [("precision", metrics.Precision), ("recall", metrics.Recall),
                      ("f1", metrics.F1Score), ("auc", metrics.AUC),
                      ("mean_iou", metrics.MeanIoU), ("confusion_matrix", metrics.ConfusionMatrix),
                      ("top_k_accuracy", metrics.TopKAccuracy)]:
        metric = metrics.get(name)
        assert type(metric) is cls and metric.name == name
    assert metrics.get("auc").direction == "max"
    assert not metrics.ConfusionMatrix.scalar_result and metrics.AUC.scalar_result


def test_errors():
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="samples")
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="DET")
    with pytest.raises(ValueError, match="sample weights"):
        metrics.Accuracy().update(torch.rand(4, 3), torch.zeros(4), sample_weight=torch.ones(3))
    with pytest.raises(ValueError, match="TopKAccuracy"):
        metrics.TopKAccuracy(k=0)


def test_weighted_accuracy_and_mse_follow_keras():
    probs, labels, w = _scores()
    assert float(_feed(metrics.Accuracy(), probs, labels, w)) == pytest.approx(
        sk.accuracy_score(labels, probs.argmax(1), sample_weight=w))
    target = np.random.default_rng(5).normal(size=probs.shape)
    assert float(_feed(metrics.MeanSquaredError(), probs, target, w)) == pytest.approx(
        sk.mean_squared_error(target, probs, sample_weight=w))


def test_compiled_model_logs_new_metrics_and_keeps_the_matrix_out():
    lm.set_seed(0)
    x = torch.randn(64, 5)
    y = (x[:, 0] > 0).long()
    cm = metrics.ConfusionMatrix()
    model = lm.Sequential([lm.layers.Dense(2, activation="softmax")], input_shape=(5,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "f1", "auc", "top_k_accuracy", cm])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert {"f1", "auc", "top_k_accuracy"} <= set(history.history)
    assert "confusion_matrix" not in history.history
    logs = model.evaluate(x, y)
    probs = model.predict(x)
    assert logs["f1"] == pytest.approx(sk.f1_score(y.numpy(), probs.argmax(1)), abs=1e-6)
    np.testing.assert_allclose(cm.result().numpy(),
                               sk.confusion_matrix(y.numpy(), probs.argmax(1), labels=[0, 1]))
