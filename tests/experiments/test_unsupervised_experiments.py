"""Quick versions of the unsupervised experiments run, return their keys and write reports."""

import json

import pytest

from lamina import experiments
from tests.helpers import needs_fashion

pytest.importorskip("sklearn")


def test_the_experiments_are_listed():
    assert {"rbm_vs_sklearn", "rbm_features", "dbn_finetune"} <= set(experiments.available())


@needs_fashion
def test_rbm_vs_sklearn_quick(tmp_path):
    results = experiments.load("rbm_vs_sklearn").run(quick=True, out_dir=str(tmp_path),
                                                     threads=1)
    assert {"lamina_seconds", "sklearn_seconds", "lamina_pl", "sklearn_pl"} <= set(results)
    assert results["lamina_seconds"] > 0 and results["sklearn_seconds"] > 0
    assert -784 < results["lamina_pl"] < 0 and -784 < results["sklearn_pl"] < 0
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "GFLOP/s" in report and "scikit-learn" in report
    assert (tmp_path / "lamina_filters.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["lamina_pl"] < 0


def test_rbm_features_quick(tmp_path):
    results = experiments.load("rbm_features").run(quick=True, out_dir=str(tmp_path))
    assert set(results) >= {"rbm_accuracy", "raw_accuracy"}
    assert results["rbm_accuracy"] > 0.5 and results["raw_accuracy"] > 0.5
    assert "| raw pixels + logistic |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "filters.png").exists()


@needs_fashion
def test_dbn_finetune_quick(tmp_path):
    results = experiments.load("dbn_finetune").run(quick=True, out_dir=str(tmp_path))
    for key in ("full", "labels_1000"):
        assert set(results[key]) == {"pretrained", "random"}
        assert all(0.0 <= v <= 1.0 for v in results[key].values())
        assert set(results["sgd"][key]) == {"pretrained", "random"}
    assert "1.2%" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "test_accuracy.png").exists()


def test_nudge_shifts_by_one_pixel():
    import numpy as np

    from lamina.experiments.rbm_features import nudge

    image = np.zeros((1, 9))
    image[0, 4] = 1.0                                  # the centre of a 3x3 image
    x, _ = nudge(image, np.array([0]), side=3)
    assert sorted(int(np.argmax(row)) for row in x[1:]) == [1, 3, 5, 7]
