"""Quick versions of the recurrent experiments run, return their keys and write reports."""

import json

from lamina import experiments
from tests.helpers import needs_fashion


def test_vanishing_gradients_quick(tmp_path):
    results = experiments.load("vanishing_gradients").run(quick=True, out_dir=str(tmp_path))
    assert set(results["lstm_accuracy"]) == set(results["rnn_accuracy"]) == {10, 20}
    assert all(0.0 <= a <= 1.0 for a in results["lstm_accuracy"].values())
    assert results["training_sequences"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "chrono" in report
    assert (tmp_path / "gradient_flow.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["lstm_accuracy"]) == {"10", "20"}


def test_reber_quick(tmp_path):
    results = experiments.load("reber").run(quick=True, out_dir=str(tmp_path))
    assert results["seeds"] == 2 and 0 <= results["lstm_solved"] <= 2
    assert len(results["runs"]) == 4
    assert "H&S Table 1" in (tmp_path / "report.md").read_text()


def test_char_lm_quick(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 300, encoding="utf-8")
    results = experiments.load("char_lm").run(quick=True, out_dir=str(tmp_path), path=str(text))
    assert 0 < results["bits_per_char"] < 8 and set(results["samples"]) == {"0.2", "0.7", "1.2"}
    assert all(s.startswith("the quick brown fox ") for s in results["samples"].values())
    assert "bits per char" in (tmp_path / "report.md").read_text()


@needs_fashion
def test_sequential_images_quick(tmp_path):
    results = experiments.load("sequential_images").run(quick=True, out_dir=str(tmp_path))
    assert 0.1 < results["lstm_accuracy"] <= 1 and 0.1 < results["gru_accuracy"] <= 1
    assert "GRU(16)" in (tmp_path / "report.md").read_text()
