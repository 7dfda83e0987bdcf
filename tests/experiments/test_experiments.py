"""Each experiment's quick version runs, returns its key numbers and writes its report."""

import json
import subprocess
import sys

import pytest

from lamina import experiments
from tests.helpers import needs_fashion


def test_list_names_every_module():
    out = subprocess.run([sys.executable, "-m", "lamina.experiments", "--list"],
                         capture_output=True, text=True, check=True).stdout
    for name in experiments.available():
        assert name in out


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Available: .*optimizers"):
        experiments.load("optimisers")


@needs_fashion
def test_optimizers_quick(tmp_path):
    results = experiments.load("optimizers").run(quick=True, out_dir=str(tmp_path))
    assert set(results["test_accuracy"]) == {"sgd", "momentum", "adagrad", "rmsprop", "adam"}
    assert all(0.2 < acc <= 1.0 for acc in results["test_accuracy"].values())
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "| adam |" in report and "Machine" in report
    assert (tmp_path / "loss_curves.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results.json").read_text())["test_accuracy"]["adam"] > 0.2
