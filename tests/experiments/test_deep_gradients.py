"""The deep_gradients experiment's quick version: the sigmoid net's gradients vanish
towards the input, the ReLU/He net's do not."""

import json

from lamina import experiments
from tests.helpers import needs_fashion


@needs_fashion
def test_deep_gradients_quick(tmp_path):
    results = experiments.load("deep_gradients").run(quick=True, out_dir=str(tmp_path))
    sigmoid, relu = results["ratio_first_epoch"]["sigmoid"], results["ratio_first_epoch"]["relu_he"]
    assert sigmoid < 1e-2 and 0.1 < relu < 10 and results["met"]
    norms = results["grad_norms_first_epoch"]["sigmoid"]
    assert len(norms) == 10 and norms[0] < norms[5] < norms[-1]  # shrinking towards the input
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "sigmoid" in report and "met" in report
    assert (tmp_path / "gradient_norms_epoch1.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["ratio_first_epoch"]["sigmoid"] == sigmoid
