"""benchmarks/gpu_suite.py, the one-process GPU check of issue 24's point 5, works before a
GPU is lent: its helpers against hand computations, and its ``--smoke`` run on the CPU
(every section, tiny sizes) writing a JSON with every number and a markdown report."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from benchmarks import gpu_suite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_accuracy_counts_argmax_hits_over_batches_and_keeps_the_mode():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(50, 10, generator=gen)
    labels = torch.randint(0, 10, (50,), generator=gen)
    expected = float(np.mean(scores.numpy().argmax(1) == labels.numpy()))
    module = torch.nn.Identity()
    module.train()
    assert gpu_suite.accuracy(module, scores, labels, batch_size=7) == pytest.approx(expected)
    assert module.training


def _one_hot_data(n: int, wrong: int):
    """Rows one-hot at the label, except ``wrong`` rows one-hot at the next class."""
    labels = torch.arange(n) % 10
    hot = labels.clone()
    hot[:wrong] = (hot[:wrong] + 1) % 10
    return torch.nn.functional.one_hot(hot, 10).float(), labels


def test_clock_finds_the_epoch_both_targets_are_met_and_stops_there():
    train, test = _one_hot_data(100, 1), _one_hot_data(100, 9)   # 0.99 and 0.91 if identity
    net = torch.nn.Linear(10, 10, bias=False)
    clock = gpu_suite.Clock("t", net, (train, test), torch.device("cpu"), 1e6, every=100)
    with torch.no_grad():
        net.weight.copy_(torch.eye(10).roll(1, 0))          # predicts the class after: wrong
    assert not clock.epoch_end(0)
    with torch.no_grad():
        net.weight.copy_(torch.eye(10))
    assert clock.epoch_end(1)
    result = clock.result(cap=5)
    assert [p["train"] for p in result["curve"]] == [pytest.approx(0.0), pytest.approx(0.99)]
    assert result["curve"][1]["test"] == pytest.approx(0.91)
    assert result["reached"]["both"]["epoch"] == 2 and result["reached"]["train"]["epoch"] == 2
    assert result["stop_reason"] == "each target met" and result["epochs"] == 2


def test_clock_stops_once_each_target_was_met_at_its_own_epoch():
    """LeNet-5 overfits: 91 % test comes early, 99 % train later, rarely together."""
    train, test = _one_hot_data(100, 1), _one_hot_data(100, 9)
    net = torch.nn.Linear(10, 10, bias=False)
    clock = gpu_suite.Clock("t", net, (train, test), torch.device("cpu"), 1e6, every=100)
    with torch.no_grad():
        net.weight.copy_(torch.eye(10))
    # epoch 1: only the test set is classified well (training inputs shifted by a class);
    # epoch 2: only the training set
    clock.data = ((train[0].roll(1, 1), train[1]), test)
    assert not clock.epoch_end(0)
    clock.data = (train, (test[0].roll(1, 1), test[1]))
    assert clock.epoch_end(1)
    reached = clock.result(cap=5)["reached"]
    assert reached["test"]["epoch"] == 1 and reached["train"]["epoch"] == 2
    assert reached["both"] is None and clock.stop_reason == "each target met"


def test_clock_stops_when_no_epoch_fits_in_its_time():
    data = _one_hot_data(20, 10)
    clock = gpu_suite.Clock("t", torch.nn.Identity(), (data, data), torch.device("cpu"), 0.0, 1)
    assert clock.epoch_end(0)
    assert clock.result(cap=3)["reached"]["both"] is None
    assert clock.stop_reason.startswith("out of time")


@pytest.mark.slow
def test_smoke_run_writes_every_section(tmp_path):
    """About 30-90 s on 2 shared CPU cores (ResNet-18 on a few images dominates)."""
    out = tmp_path / "suite"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "gpu_suite.py"), "--smoke",
         "--device", "cpu", "--out", str(out), "--markdown"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "gpu_suite.json").read_text())
    sections = results["sections"]
    assert set(sections) == set(gpu_suite.SECTIONS)
    assert all(entry["status"] == "ok" for entry in sections.values()), sections
    rbm = sections["rbm"]
    assert rbm["sklearn_scaled"] and rbm["sklearn_samples"] == 512
    assert rbm["speedup_pcd1"] == pytest.approx(rbm["sklearn_seconds"]
                                                / rbm["lamina_pcd1_seconds"])
    rows = sections["fast_paths"]["rows"]
    lenet = {r["contender"] for r in rows if r["model"] == "lenet5"}
    assert lenet == {"torch", "lamina", "bf16", "bf16_nhwc", "fp16_nhwc"}
    assert {r["contender"] for r in rows if r["model"] == "resnet18"} == {"torch", "bf16_nhwc"}
    assert all(r["seconds"] > 0 for r in rows)
    assert [r["ratio"] for r in rows if r["contender"] == "torch"] == [1.0, 1.0]
    lenet_time = sections["lenet_time"]
    for who in ("lamina", "torch"):
        curve = lenet_time[who]["curve"]
        assert [p["epoch"] for p in curve] == [1, 2]
        assert all(0 <= p["train"] <= 1 and 0 <= p["test"] <= 1 for p in curve)
    resnet = sections["resnet18_aug"]
    assert resnet["epochs"] == 1 and 0 <= resnet["test_accuracy"] <= 1
    assert resnet["published"] == 0.949 and resnet["samples"] == [16, 8]
    report = (out / "gpu_suite.md").read_text()
    for name in gpu_suite.SECTIONS:
        assert f"#### {name}" in report
    assert "#### resnet18_aug" in proc.stdout
