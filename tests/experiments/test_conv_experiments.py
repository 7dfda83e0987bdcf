"""The convolution experiments of issue 4: their helpers, and each quick version end to end."""

import json

import numpy as np
import pytest
import torch

from lamina import experiments
from lamina.experiments.pooling_table import VARIANTS, build, error_ratios
from lamina.experiments.segmentation import class_iou, mean_iou
from tests.helpers import needs_fashion


def test_pooling_table_nets_have_the_decks_shapes():
    # deck 004: 28x28 -> 20 maps -> 20 maps of 4x4 -> 320 features -> 50 -> 10
    for variant in VARIANTS:
        model = build(variant)
        shapes = [layer.output_shape for layer in model.layers]
        assert shapes[-4:] == [(20, 4, 4), (320,), (50,), (10,)], variant
    assert [s.output_shape for s in build("stride_2").layers[:2]] == [(20, 12, 12), (20, 4, 4)]
    with pytest.raises(ValueError, match="Available: max_pool"):
        build("avg_pool")


def test_mean_iou_against_a_hand_computation():
    mask = np.array([[0, 0, 1, 1],
                     [0, 2, 2, 1]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 2, 0, 3]])
    # class 0: inter 2 (mask 3, pred 3) -> 2/4; class 1: inter 2 (mask 3, pred 3) -> 2/4;
    # class 2: inter 1 (mask 2, pred 1) -> 1/2; class 3: inter 0, union 1 -> 0; class 4 absent
    np.testing.assert_allclose(class_iou(pred, mask, 5), [0.5, 0.5, 0.5, 0.0, np.nan])
    assert mean_iou(pred, mask, 5) == pytest.approx(1.5 / 4)
    assert mean_iou(torch.tensor(mask), torch.tensor(mask), 5) == 1.0
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        mean_iou(pred, mask, 3)
    with pytest.raises(ValueError, match="same size"):
        mean_iou(pred[:1], mask, 5)


@needs_fashion
def test_pooling_table_quick(tmp_path):
    results = experiments.load("pooling_table").run(quick=True, out_dir=str(tmp_path))
    for key in ("test_accuracy", "train_accuracy", "seconds"):
        assert set(results[key]) == set(VARIANTS)
    assert all(0.0 <= acc <= 1.0 for acc in results["test_accuracy"].values())
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "99.58 / 98.77" in report and "Machine" in report
    assert "AdamW(lr=0.002, weight_decay=0.05)" in report
    ratios = error_ratios(results["test_accuracy"])
    assert ratios["max_pool"] == 1.0
    assert f"| {ratios['stride_2']:.2f} | 1.37 |" in report   # deck: 1.69 % / 1.23 % errors
    assert (tmp_path / "test_accuracy_fashion_mnist.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["test_accuracy"]) == set(VARIANTS)


@needs_fashion
def test_pooling_table_quick_with_augmentation(tmp_path):
    results = experiments.load("pooling_table").run(quick=True, out_dir=str(tmp_path),
                                                    augment=True, weight_decay=0.0)
    assert all(0.0 <= acc <= 1.0 for acc in results["test_accuracy"].values())
    report = (tmp_path / "report.md").read_text()
    assert "RandomCrop(padding=2) + RandomFlip('horizontal')" in report
    assert "optimizer: Adam(lr=0.002)" in report


@needs_fashion
def test_segmentation_quick(tmp_path):
    results = experiments.load("segmentation").run(quick=True, out_dir=str(tmp_path))
    assert {"unet_miou", "fcn_miou"} <= set(results)
    assert all(0.0 <= results[k] <= 1.0 for k in ("unet_miou", "fcn_miou"))
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "| U-Net |" in report and "| FCN-32s |" in report
    assert (tmp_path / "segmentations.png").stat().st_size > 1000


@needs_fashion
def test_small_resnet_quick(tmp_path):
    results = experiments.load("small_resnet").run(quick=True, out_dir=str(tmp_path))
    assert {"test_accuracy", "seconds"} <= set(results)
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["seconds"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "| ResNet-20 |" in report
    assert (tmp_path / "test_accuracy.png").stat().st_size > 1000


def test_segmentation_draws_fresh_training_scenes_each_epoch():
    from lamina.experiments.segmentation import _train_scenes

    rng = np.random.default_rng(0)
    source = ((rng.random((20, 8, 8)) > 0.5) * 255).astype(np.uint8), np.arange(20) % 10
    first, again = (_train_scenes(4, 16, (1, 2), source, 0, 0, True)[0] for _ in range(2))
    second = _train_scenes(4, 16, (1, 2), source, 0, 1, True)[0]
    fixed = [_train_scenes(4, 16, (1, 2), source, 0, epoch, False)[0] for epoch in (0, 1)]
    assert np.array_equal(first, again) and not np.array_equal(first, second)
    assert np.array_equal(*fixed)
    # the item count is the caller's: two 8x8 items on a 32x32 canvas cover twice one's pixels
    one, two = (_train_scenes(3, 32, items, source, 0, 0, True)[1] for items in (1, 2))
    assert 2 * (one > 0).sum() == pytest.approx((two > 0).sum(), rel=0.25)
