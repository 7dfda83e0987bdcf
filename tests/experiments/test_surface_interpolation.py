"""Experiment surface_interpolation: its nets have the deck's weight counts, and the quick
version returns every key the reproduction suite reads, writes the report and figures."""

import json
import math

from lamina import experiments
from lamina.datasets import surfaces
from lamina.experiments.surface_interpolation import (
    DECK,
    DECK_WEIGHTS,
    IMAGE_KEYS,
    fit_surface,
    mlp,
    resnet,
)


def test_nets_have_the_decks_weight_counts():
    # deck 004: 1x125 and 2x20 501 weights, 3x14 477, 3x15 541, 3x19 837, 10/20/10 471,
    # 10/20/10/10 581; 2-n-1 has 4n + 1
    build = experiments.load("surface_interpolation")._build
    for label, count in DECK_WEIGHTS.items():
        assert build(label).count_params() == count, label
    assert [mlp((n,)).count_params() for n in (2, 3, 4)] == [9, 13, 17]
    assert resnet().count_params() == build("plain").count_params() == 481
    assert len(resnet().layers) == len(build("plain").layers) - 2   # two blocks of two


def test_four_tanh_nodes_fit_sin_sin_below_1e_4():
    xy, z = surfaces.sin_sin(n=15)
    four, _ = fit_surface(mlp((4,)), xy, z, steps=25)
    two, _ = fit_surface(mlp((2,)), xy, z, steps=25)
    assert four < 1e-4 < two


def test_quick_run(tmp_path):
    results = experiments.load("surface_interpolation").run(quick=True, out_dir=str(tmp_path))
    assert set(results["rosenbrock"]) == set(results["sin_sin"]) == {2, 3, 4}
    assert set(IMAGE_KEYS) <= set(results["image"])
    assert {"1x125", "2x20", "3x14", "3x15", "3x19", "10/20/10", "10/20/10/10",
            "10/20/10 relu", "residual"} <= set(results["image"])
    losses = [*results["rosenbrock"].values(), *results["sin_sin"].values(),
              *results["image"].values(), *results["image_widths"].values()]
    assert all(math.isfinite(v) and v >= 0 for v in losses)
    # a fit is far better than a constant on the (standardized) Rosenbrock surface
    assert results["rosenbrock"][4] < 1.0
    assert set(results["orderings"].values()) <= {True, False}
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "torch.optim.LBFGS" in report
    assert "mean squared error" in report
    for deck_loss in (DECK["rosenbrock"][2], DECK["sin_sin"][4], DECK["image"]["2x20"]):
        assert f"{deck_loss:.2e}" in report
    for png in ("analytic_fits.png", "image_fits.png", "image_curves.png"):
        assert (tmp_path / png).stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["image"]["2x20"] == results["image"]["2x20"]
