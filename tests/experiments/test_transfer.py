"""The transfer experiment: its nets, its data helpers, and its quick version end to end."""

import json

import numpy as np
import pytest
import torch

from lamina import experiments
from lamina.experiments.transfer import (
    CUT,
    METHODS,
    MULTIPLIERS,
    PROBE_LAYERS,
    _digits,
    _fit,
    _source_accuracy,
    _subset,
    rotated_copies,
    source_net,
    transfer_model,
)
from tests.helpers import needs_fashion


def test_source_net_layers_and_shapes():
    net = source_net()
    shapes = {name: net.get_layer(name).output_shape for name in (*PROBE_LAYERS, CUT)}
    assert shapes == {"block1_pool": (32, 14, 14), "block2_pool": (64, 7, 7),
                      "block3_pool": (128, 3, 3), "fc1": (256,), "fc2": (128,), CUT: (1152,)}
    assert net.output_shape == (5,) and source_net(10).output_shape == (10,)


def test_transfer_model_copies_the_layers_up_to_the_cut_and_freezes_them():
    source = source_net()
    net = transfer_model(source, 4)
    backbone = net.get_layer("backbone")
    assert backbone.trainable is False and net.get_layer("head").trainable is True
    assert net.output_shape == (4,)
    for name in ("block1_conv", "block2_bn", "block3_conv"):
        mine, theirs = backbone.get_layer(name), source.get_layer(name)
        assert mine is not theirs
        for (key, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            assert torch.equal(a, b), (name, key)
    assert not any(p.requires_grad for p in backbone.parameters())
    with pytest.raises(ValueError):
        backbone.get_layer("fc1")                      # cut after the convolutional blocks


def test_new_head_training_leaves_the_backbone_and_the_source_bit_identical():
    source = source_net()
    before = {k: v.clone() for k, v in source.state_dict().items()}
    net = transfer_model(source, 3)
    frozen = {k: v.clone() for k, v in net.get_layer("backbone").state_dict().items()}
    head = net.get_layer("head").weight.detach().clone()
    x, y = np.random.default_rng(0).normal(size=(12, 1, 28, 28)), np.arange(12) % 3
    _fit(net, x, y, steps=3, lr=1e-2, batch_size=4, transform=None)
    for key, value in net.get_layer("backbone").state_dict().items():  # incl. BN statistics
        assert torch.equal(value, frozen[key]), key
    assert not torch.equal(net.get_layer("head").weight, head)
    net.get_layer("backbone").trainable = True              # fine-tuning moves the backbone
    _fit(net, x, y, steps=3, lr=1e-2, batch_size=4, transform=None, lr_multipliers=MULTIPLIERS)
    assert not torch.equal(net.get_layer("backbone").get_layer("block1_conv").weight,
                           source.get_layer("block1_conv").weight)
    for key, value in source.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_rotated_copies_turn_each_image_and_label_it_with_its_rotation():
    x = np.random.default_rng(0).normal(size=(6, 1, 5, 5)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 0])
    xr, yr = rotated_copies(x, y, seed=1)
    assert xr.shape == (24, 1, 5, 5) and xr.flags["C_CONTIGUOUS"]
    assert np.array_equal(yr, np.concatenate([y * 4 + k for k in range(4)]))
    for i in range(6):
        upright = xr[i]                       # rotation 0: the image, or its mirror
        assert np.array_equal(upright, x[i]) or np.array_equal(upright, x[i][..., ::-1])
        for k in range(1, 4):                 # a quarter turn counter-clockwise per k (torch's)
            turned = torch.rot90(torch.from_numpy(upright.copy()), k, dims=(1, 2)).numpy()
            assert np.array_equal(xr[k * 6 + i], turned)
    mirrored = [not np.array_equal(xr[i], x[i]) for i in range(6)]
    assert 0 < sum(mirrored) < 6              # a random half, reproducible by seed
    assert np.array_equal(rotated_copies(x, y, seed=1)[0], xr)


class _Fixed:
    """A stand-in net whose predict returns fixed (class, rotation) probabilities."""

    def __init__(self, p):
        self.p = p

    def predict(self, x, batch_size=None):
        return self.p


def test_source_accuracy_reads_the_upright_outputs_only():
    p = np.zeros((2, 20))
    p[0, 3 * 4 + 0] = 0.6                     # upright class 3
    p[0, 1 * 4 + 2] = 0.9                     # larger, but for a half-turned class 1
    p[1, 2 * 4 + 0] = 0.5
    assert _source_accuracy(_Fixed(p), None, np.array([3, 2])) == 1.0
    assert _source_accuracy(_Fixed(p), None, np.array([1, 2])) == 0.5


def test_subset_draws_n_distinct_images_per_class_reproducibly():
    y = np.repeat(np.arange(5), 30)
    idx = _subset(y, 7, seed=3)
    assert len(set(idx.tolist())) == 35
    assert np.array_equal(np.bincount(y[idx]), [7] * 5)
    assert np.array_equal(idx, _subset(y, 7, seed=3))
    assert not np.array_equal(idx, _subset(y, 7, seed=4))


def test_digits_are_resized_and_standardized():
    x, y = _digits(0.5, 2.0)
    assert x.shape == (1797, 1, 28, 28) and x.dtype == np.float32 and set(y) == set(range(10))
    assert x.min() == pytest.approx(-0.25) and x.max() <= 0.25 + 1e-6


@needs_fashion
def test_transfer_quick(tmp_path):
    results = experiments.load("transfer").run(quick=True, out_dir=str(tmp_path))
    per_labels = results["labels_per_class"]
    assert len(per_labels) >= 1
    for per_method in per_labels.values():
        assert set(per_method) == set(METHODS)
        assert all(0.0 <= acc <= 1.0 for acc in per_method.values())
    assert set(results["depth"]) == {"pixels", *PROBE_LAYERS}
    assert all(0.0 <= acc <= 1.0 for acc in results["depth"].values())
    assert set(results["digits"]) == {"scratch", "transfer"}
    assert all(0.0 <= acc <= 1.0 for acc in results["digits"].values())
    spread = results["spread"]["labels_per_class"]
    for n, per_method in per_labels.items():
        for method, mean in per_method.items():
            assert spread[n][method]["mean"] == pytest.approx(np.mean(spread[n][method]["runs"]))
            assert mean == spread[n][method]["mean"]
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "| scratch |" in report and "| fc2 |" in report
    assert "Acceptance" in report and "Machine" in report
    for png in ("accuracy_vs_labels.png", "depth.png", "feature_maps_block1.png"):
        assert (tmp_path / png).stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["labels_per_class"]) == {str(n) for n in per_labels}
