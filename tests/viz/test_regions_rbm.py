"""linear_regions against an exact count of the cells of a line arrangement; rbm_2d's panels
against the free-energy formula."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

import lamina as lm
from lamina import layers
from lamina.unsupervised import RBM


def cells_in_box(w, b, box):
    """Cells that lines ``w_i . x + b_i = 0`` (general position) cut the box into:
    1 + (lines crossing the box) + (crossing points inside the box). Adding a line that
    crosses the box and meets p earlier lines inside it splits p + 1 cells."""
    (x0, x1), (y0, y1) = box
    corners = np.array(list(itertools.product((x0, x1), (y0, y1))))
    crossing = [i for i in range(len(w)) if np.ptp(np.sign(corners @ w[i] + b[i])) == 2]
    points = 0
    for i, j in itertools.combinations(crossing, 2):
        p = np.linalg.solve(np.stack([w[i], w[j]]), -np.array([b[i], b[j]]))
        points += x0 < p[0] < x1 and y0 < p[1] < y1
    return 1 + len(crossing) + points


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_hidden_layer_count_equals_the_arrangement(seed):
    torch.manual_seed(seed)
    net = lm.Sequential([layers.Dense(6, activation="relu", name="hidden"), layers.Dense(1)],
                        input_shape=(2,))
    hidden = net.get_layer("hidden")
    w, b = hidden.weight.detach().double().numpy(), hidden.bias.detach().double().numpy()
    with torch.no_grad():
        hidden.bias.copy_(torch.as_tensor(np.random.default_rng(seed).uniform(-1, 1, 6)))
    b = hidden.bias.detach().double().numpy()
    box = ((-2.0, 2.0), (-2.0, 2.0))
    count, fig = lm.viz.linear_regions(net, *box, resolution=1000)
    expected = cells_in_box(w, b, box)
    assert expected > 6  # the box holds crossings
    assert count == expected
    assert fig.axes[0].images[0].get_array().shape == (1000, 1000)


def test_a_second_layer_splits_the_first_layers_regions():
    # layer 1: relu(x), relu(y) -> 4 quadrants; layer 2: relu(h1 + h2 - 1) splits the
    # quadrant x, y > 0 along x + y = 1, x > 0 > y along x = 1, y > 0 > x along y = 1,
    # and never fires in x, y < 0: 4 + 3 = 7 regions
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
        net[2].weight.fill_(1.0)
        net[2].bias.fill_(-1.0)
    count, _ = lm.viz.linear_regions(net, (-2, 2), (-2, 2), resolution=301)
    assert count == 7
    count, _ = lm.viz.linear_regions(net, (-2, -0.5), (-2, -0.5), resolution=50)
    assert count == 1


def test_linear_regions_errors(tmp_path):
    with pytest.raises(ValueError, match="ReLU units; model 'Sequential' calls none"):
        lm.viz.linear_regions(nn.Sequential(nn.Linear(2, 3), nn.Tanh()))
    with pytest.raises(ValueError, match=r"`xlim`.*low < high.*xlim=\(1, 0\)"):
        lm.viz.linear_regions(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), (1, 0))
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    lm.viz.linear_regions(net, resolution=20, path=tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_rbm_2d_panels_follow_the_free_energy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-1.5, 0.3, (200, 2)),
                        rng.normal(1.5, 0.3, (200, 2))]).astype(np.float32)
    rbm = RBM(6, visible="gaussian", lr=0.05, batch_size=20, epochs=60, random_state=0,
              device="cpu").fit(x)
    fig = lm.viz.rbm_2d(rbm, x, (-3, 3), (-3, 3), resolution=61, n_arrows=40, n_samples=20,
                        gibbs_steps=5)
    W, b, a = (t.detach().double().numpy() for t in (rbm.weight, rbm.visible_bias,
                                                       rbm.hidden_bias))
    g = np.linspace(-3, 3, 61)
    v = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    energy = 0.5 * ((v - b) ** 2).sum(1) - np.logaddexp(0, a + v @ W).sum(1)
    density = np.exp(-energy) / (np.exp(-energy).sum() * 0.1 ** 2)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    np.testing.assert_allclose(images[0], density.reshape(61, 61), rtol=1e-4)
    np.testing.assert_allclose(images[1], energy.reshape(61, 61), rtol=1e-4, atol=1e-4)
    # the learned density: two modes, on the clusters (-1.5, -1.5) and (1.5, 1.5)
    low, high, between, beyond = (density.reshape(61, 61)[r, c] for r, c in
                                  ((15, 15), (45, 45), (30, 30), (0, 60)))
    assert min(low, high) > 2 * between and between > 100 * beyond
    # reconstruction arrows: E[v | h] = b + W P(h | v), h = sigmoid(a + v W)
    quiver = fig.axes[1].collections[-1]
    starts = np.asarray(quiver.get_offsets())
    recon = b + (1 / (1 + np.exp(-(a + starts @ W)))) @ W.T
    np.testing.assert_allclose(np.stack([quiver.U, quiver.V], 1), recon - starts, atol=1e-4)
    assert len(starts) == 40


def test_rbm_2d_needs_two_visible_units():
    rbm = RBM(3, epochs=1, random_state=0, device="cpu").fit(np.zeros((8, 3), np.float32))
    with pytest.raises(ValueError, match=r"2 visible units.*\(3, 3\)"):
        lm.viz.rbm_2d(rbm, np.zeros((8, 2)))
