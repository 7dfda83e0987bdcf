"""The figure experiments of issue 22 (adversarial, what_convnets_learn): their attacks and
measurements against closed forms on linear models, and each quick version end to end."""

import json

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import experiments
from lamina.experiments.adversarial import EPS_SCHEDULE, fgsm, lbfgs_attack
from lamina.experiments.what_convnets_learn import projection_extent, saliency_claims
from tests.helpers import needs_fashion


def two_class_linear(seed=0):
    torch.manual_seed(seed)
    net = lm.Sequential([lm.layers.Flatten(), lm.layers.Dense(2, name="head")],
                        input_shape=(1, 4, 4))
    with torch.no_grad():  # both scores equal at x = 0.5: the margins come from the noise
        head = net.get_layer("head")
        head.bias.copy_(-0.5 * head.weight.sum(1))
    return net


def margins(net, x, y):
    """Score margin s_y - s_other and the weight difference w_y - w_other per image."""
    w = net.get_layer("head").weight.detach().double().numpy()
    b = net.get_layer("head").bias.detach().double().numpy()
    flat = x.reshape(len(x), -1).astype(np.float64)
    diff = w[y] - w[1 - y]
    return (diff * flat).sum(1) + b[y] - b[1 - y], diff


def test_fgsm_flips_at_the_closed_form_step():
    # two classes, linear scores: the sign step moves the margin by -eps ||w_y - w_o||_1, so
    # the smallest flipping eps is the first of the schedule above margin / ||w_y - w_o||_1
    net = two_class_linear()
    x = np.full((6, 1, 4, 4), 0.5, np.float32) + np.random.default_rng(0).uniform(
        -0.05, 0.05, (6, 1, 4, 4)).astype(np.float32)
    with torch.no_grad():
        y = net.forward_logits(torch.as_tensor(x)).argmax(1).numpy()
    out = fgsm(net, x, y)
    margin, diff = margins(net, x, y)
    needed = margin / np.abs(diff).sum(1)
    expected = np.array([EPS_SCHEDULE[EPS_SCHEDULE > n][0] for n in needed])
    np.testing.assert_allclose(out["eps"], expected)
    assert out["flipped"].all()
    step = out["adversarial"] - x
    np.testing.assert_allclose(np.abs(step).reshape(6, -1).max(1), expected, atol=1e-6)


def test_lbfgs_finds_a_perturbation_near_the_smallest_one():
    # the smallest L2 perturbation reaching the other class of a linear model is
    # margin / ||w_y - w_o||_2 (the box is not binding at x = 0.5)
    net = two_class_linear(1)
    x = np.full((4, 1, 4, 4), 0.5, np.float32) + np.random.default_rng(1).uniform(
        -0.05, 0.05, (4, 1, 4, 4)).astype(np.float32)
    with torch.no_grad():
        y = net.forward_logits(torch.as_tensor(x)).argmax(1).numpy()
    out = lbfgs_attack(net, x, 1 - y, rounds=10)
    assert out["flipped"].all()
    with torch.no_grad():
        assert (net(torch.as_tensor(out["adversarial"])).argmax(1).numpy() == 1 - y).all()
    margin, diff = margins(net, x, y)
    smallest = margin / np.linalg.norm(diff, axis=1)
    found = np.linalg.norm((out["adversarial"] - x).reshape(4, -1), axis=1)
    assert (found >= smallest - 1e-5).all() and (found <= 1.5 * smallest).all()
    assert out["adversarial"].min() >= 0 and out["adversarial"].max() <= 1


def test_projection_extent_and_saliency_blanking_by_hand():
    p = np.zeros((2, 1, 5, 5))
    p[0, 0, 0, 0], p[0, 0, 1, 1], p[0, 0, 2, 2] = 5.0, 4.0, 1.0   # 90% of 10: two pixels
    p[1, 0] = 1.0                                                # 90% of 25: 23 pixels
    assert projection_extent(p) == pytest.approx((2 + 23) / 2)
    # a linear score reading pixel (0, 0) with weight 3 and (1, 1) with weight 1: the most
    # salient object pixel is (0, 0); blanking it drops the score by 3 * x00
    net = lm.Sequential([lm.layers.Flatten(), lm.layers.Dense(2, name="head")],
                        input_shape=(1, 3, 3))
    with torch.no_grad():
        head = net.get_layer("head")
        head.weight.zero_()
        head.bias.zero_()
        head.weight[0, 0], head.weight[0, 4] = 3.0, 1.0
    x = np.zeros((1, 1, 3, 3), np.float32)
    x[0, 0, :2, :2] = 0.5  # four object pixels: 10% of them rounds to one pixel
    out = saliency_claims(net, x, np.array([0]))
    assert out["drop_top"] == pytest.approx(1.5)
    assert out["object_area"] == pytest.approx(4 / 9)
    assert out["mass_on_object"] == pytest.approx(1.0)  # both weights sit on object pixels


@pytest.mark.slow
@needs_fashion
def test_adversarial_quick(tmp_path):
    results = experiments.load("adversarial").run(quick=True, out_dir=str(tmp_path))
    for key in ("fgsm", "lbfgs"):
        assert set(results[key]) >= {"flipped", "mean_l2"}
        assert 0.0 <= results[key]["flipped"] <= 1.0 and results[key]["mean_l2"] > 0
    assert results["lbfgs"]["flipped"] > 0.5  # even a weak net is easy to fool
    assert 5 < results["image_mean_l2"] < 20 and results["n_images"] == 50
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "L-BFGS" in report
    assert json.loads((tmp_path / "results.json").read_text())["n_images"] == 50
    for png in ("examples.png", "norms.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@needs_fashion
def test_what_convnets_learn_quick(tmp_path):
    results = experiments.load("what_convnets_learn").run(quick=True, out_dir=str(tmp_path))
    assert set(results) == {"lenet5", "resnet20"}
    assert list(results["lenet5"]["deconv_extent"]) == ["conv1", "conv2"]
    assert results["lenet5"]["deconv_extent"]["conv1"] <= 25  # one 5x5 receptive field
    for r in results.values():
        assert 0 < r["object_area"] < 1 and 0 <= r["mass_on_object"] <= 1
    report = (tmp_path / "report.md").read_text()
    assert "quick version" in report and "(1) saliency mass" in report
    for png in ("lenet5_saliency.png", "lenet5_deconvnet_conv2.png",
                "resnet20_deconvnet_conv4_3.png", "lenet5_filters_first_layer.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
