"""The ``lamina`` command as a user runs it: a subprocess per call (``python -m lamina.cli``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lamina as lm
from lamina.experiments import available
from lamina.experiments.claims import CLAIMS, claims_for
from lamina.experiments.reproduce import Outcome, write_index
from tests.helpers import needs_fashion

ROOT = Path(__file__).resolve().parents[1]


def lamina_cli(*args: str, cwd=None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "lamina.cli", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _tiny_model():
    lm.set_seed(0)
    model = lm.Sequential([lm.layers.Dense(4, activation="relu", name="hidden"),
                           lm.layers.Dense(3, activation="softmax", name="out")],
                          input_shape=(5,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_version_and_unknown_command():
    assert lamina_cli("--version").stdout.strip() == f"lamina {lm.__version__}"
    proc = lamina_cli("frobnicate", check=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_experiments_list_names_every_experiment_with_its_claims():
    out = lamina_cli("experiments", "list").stdout
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert set(rows) == set(available())
    assert rows["pooling_table"] == str(len(claims_for("pooling_table"))) == "3"


def test_experiments_run_quick_writes_its_report(tmp_path):
    proc = lamina_cli("experiments", "run", "rbm_features", "--quick", "--out", str(tmp_path))
    results = json.loads(proc.stdout)
    assert set(results) == {"rbm_accuracy", "raw_accuracy", "sklearn_rbm_accuracy"}
    assert 0.0 <= results["rbm_accuracy"] <= 1.0
    assert "quick version" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text()) == results
    bad = lamina_cli("experiments", "run", "no_such_experiment", check=False)
    assert bad.returncode != 0 and "lamina experiments list" in bad.stderr


def test_predict_and_summary_on_a_saved_model(tmp_path):
    model = _tiny_model()
    path = str(tmp_path / "model.lamina")
    model.save(path)
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "pred.npy"
    proc = lamina_cli("predict", path, str(tmp_path / "x.npy"), "--out", str(out))
    assert "(7, 3)" in proc.stdout
    np.testing.assert_allclose(np.load(out), model.predict(x), rtol=1e-6, atol=1e-7)
    printed = lamina_cli("predict", path, str(tmp_path / "x.npy")).stdout
    assert printed.count("[") == 8   # the 7 x 3 array, printed
    summary = lamina_cli("summary", path).stdout
    assert "hidden" in summary and "out" in summary and str(model.count_params()) in summary
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused = lamina_cli("predict", path, str(tmp_path / "objects.npy"), check=False)
    assert refused.returncode != 0 and "object arrays are refused" in refused.stderr


def _index_rows(page: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", page)[1:]    # less the header


def test_reproduce_from_reports_builds_the_index_without_running(tmp_path):
    docs = tmp_path / "docs"
    (docs / "small_resnet").mkdir(parents=True)
    (docs / "small_resnet" / "results.json").write_text(json.dumps({"test_accuracy": 0.91}))
    (docs / "small_resnet" / "report.md").write_text("# r\n\nTotal time: 12.5 s\n\n![f](f.png)\n")
    (docs / "small_resnet" / "f.png").write_bytes(b"\x89PNG")
    (docs / "pooling_table").mkdir()
    (docs / "pooling_table" / "results.json").write_text("{not json")
    lamina_cli("reproduce", "--from-docs", str(docs), "small_resnet", "pooling_table", "reber")
    page = (docs / "index.html").read_text()
    rows = _index_rows(page)
    assert len(rows) == 1 + 3 + 1        # a row per claim, whatever became of the experiment
    assert '<td class="no">no</td>' in rows[0] and "0.9100" in rows[0] and "(12.5)" in rows[0]
    assert '<img src="small_resnet/f.png"' in rows[0]
    assert all('class="unknown"' in r for r in rows[1:])   # unreadable, and reber not run
    assert "results.json unreadable" in page and "results.json missing" in page
    assert "| small_resnet |" in (docs / "index.md").read_text()


def test_reproduce_resume_keeps_what_an_earlier_call_finished(tmp_path):
    done = tmp_path / "reber"
    done.mkdir()
    (done / "results.json").write_text(json.dumps({"seeds": 10, "lstm_solved": 9,
                                                   "rnn_solved": 3}))
    (done / "report.md").write_text("# reber\n\nTotal time: 85.0 s\n")
    (tmp_path / "durations.json").write_text(json.dumps({"reber": {"full": 85.4}}))
    proc = lamina_cli("reproduce", "--resume", "--out", str(tmp_path), "reber")
    assert "resuming: 1 experiment(s)" in proc.stdout and "0 experiments (full)" in proc.stdout
    assert "unknown time" not in proc.stdout          # the kept one is not "to run"
    page = (tmp_path / "index.html").read_text()
    assert "resumed: 1 of 1" in page and "(85.4)" in page and "add up to" in page
    assert '<td class="yes">yes</td>' in _index_rows(page)[0]      # judged on the kept results


def _check_quick_index(out: Path, names: list[str]) -> None:
    page = (out / "index.html").read_text()
    expected = sum(max(len(claims_for(n)), 1) for n in names)
    assert len(_index_rows(page)) == expected
    for name in names:
        if name in available():
            assert (out / name / "report.md").exists(), name
            assert f'href="{name}/report.md"' in page, name
    assert "Mode: quick" in page
    durations = json.loads((out / "durations.json").read_text())
    assert set(durations) == {n for n in names if n in available()}


@needs_fashion
def test_reproduce_quick_two_experiments(tmp_path):
    names = ["rbm_features", "pooling_table", "adversarial_absent_here"]
    proc = lamina_cli("reproduce", "--quick", "--out", str(tmp_path), *names, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "estimated" in proc.stdout and "rbm_features (~" in proc.stderr   # the plan, the bar
    _check_quick_index(tmp_path, names)
    page = (tmp_path / "index.html").read_text()
    assert "experiment not in this lamina" in page
    assert '<img src="pooling_table/test_accuracy_fashion_mnist.png"' in page


@pytest.mark.slow
@needs_fashion
def test_reproduce_quick_every_experiment(tmp_path):
    proc = lamina_cli("reproduce", "--quick", "--out", str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = list(dict.fromkeys([c.experiment for c in CLAIMS] + available()))
    _check_quick_index(tmp_path, names)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_headless_chromium_screenshot_shows_the_table_and_its_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report_dir = tmp_path / "small_resnet"
    report_dir.mkdir()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.linspace(0, 1, 100)[None, :].repeat(30, 0), cmap="viridis", aspect="auto")
    fig.savefig(report_dir / "curve.png")
    plt.close(fig)
    (report_dir / "report.md").write_text("# r\n\nTotal time: 1.0 s\n\n![curve](curve.png)\n")
    write_index([Outcome("small_resnet", "ok", {"test_accuracy": 0.94}, 1.0, str(report_dir))],
                str(tmp_path), mode="test")
    png = tmp_path / "index.png"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "screenshot_index.py"),
                           str(tmp_path / "index.html"), "--out", str(png), "--width", "1000",
                           "--height", "700"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from screenshot_index import check
    finally:
        sys.path.remove(str(ROOT / "tools"))
    found = check(str(png), 1000, 700)
    assert found["ok"] and found["cell_pixels"] > 500 and found["figure_pixels"] > 2000
    # the same page without its figure: the figure pixels vanish, so they came from the PNG
    (report_dir / "curve.png").unlink()
    subprocess.run([sys.executable, str(ROOT / "tools" / "screenshot_index.py"),
                    str(tmp_path / "index.html"), "--out", str(png), "--width", "1000",
                    "--height", "700"], capture_output=True, text=True, timeout=300)
    assert check(str(png), 1000, 700)["figure_pixels"] < 500
