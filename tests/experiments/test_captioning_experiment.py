"""The quick captioning experiment runs, returns its keys and writes its report and figure."""

import json

from lamina import experiments
from tests.helpers import needs_fashion


def test_captioning_is_listed():
    assert "captioning" in experiments.available()


@needs_fashion
def test_captioning_quick(tmp_path):
    results = experiments.load("captioning").run(quick=True, out_dir=str(tmp_path))
    for key in ("exact_match", "exact_match_beam", "token_accuracy", "item_accuracy",
                "relation_accuracy"):
        assert 0.0 <= results[key] <= 1.0
    assert results["train_grids"] == 256 and results["test_grids"] == 64
    assert results["seconds"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and ">= 0.8" in report and "beam search" in report
    assert (tmp_path / "captions.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["train_grids"] == 256
