"""Experiment class_weight (issue 23): class weights raise a rare class's recall."""

import json

import numpy as np
import pytest

from lamina import experiments
from lamina.experiments.class_weight import imbalanced, per_class_recall
from tests.helpers import needs_fashion


def test_imbalanced_subset_keeps_five_percent_of_the_rare_class():
    y = np.repeat(np.arange(4), 200)
    x = np.arange(800)[:, None]
    xs, ys = imbalanced(x, y, rare=0, keep=0.05, per_class=None, seed=3)
    assert np.bincount(ys).tolist() == [10, 200, 200, 200]
    assert np.array_equal(y[xs[:, 0]], ys)                    # samples keep their labels
    assert len(np.unique(xs)) == len(xs)


def test_per_class_recall_is_scikit_learns():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    np.testing.assert_allclose(per_class_recall(y, p),
                               metrics.recall_score(y, p, average=None, labels=range(10)))


@pytest.mark.slow
@needs_fashion
def test_class_weight_quick_raises_class_0_recall_by_15_points(tmp_path):
    results = experiments.load("class_weight").run(quick=True, out_dir=str(tmp_path))
    assert results["counts"] == [30] + [600] * 9
    assert results["gain"] >= 15, results
    assert results["balanced"]["rare_recall"] >= results["unweighted"]["rare_recall"] + 0.15
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "class-0 recall" in report
    assert json.loads((tmp_path / "results.json").read_text())["target_met"] is True
    assert (tmp_path / "recall_per_class.png").stat().st_size > 1000
