"""The RBM maths of lamina.functional.energy against enumeration and closed forms."""

import itertools
import math

import numpy as np
import pytest
import torch

from lamina.functional import energy as E

D, F = 4, 3


def all_states(n):
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


@pytest.fixture
def params():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(D, F, generator=g, dtype=torch.float64),
            torch.randn(D, generator=g, dtype=torch.float64),
            torch.randn(F, generator=g, dtype=torch.float64))


def joint_energies(v, W, b, a, visible="binary"):
    """E(v_n, h_m) for every visible row n and every hidden state m: (N, 2^F)."""
    hs = all_states(W.shape[1])
    vv = v.repeat_interleave(len(hs), 0)
    hh = hs.repeat(len(v), 1)
    return E.energy(vv, hh, W, b, a, visible).reshape(len(v), len(hs)), hs


@pytest.mark.parametrize("visible", ["binary", "gaussian"])
def test_free_energy_is_minus_log_sum_over_hidden_states(params, visible):
    v = all_states(D) if visible == "binary" else torch.randn(5, D, dtype=torch.float64)
    energies, _ = joint_energies(v, *params, visible)
    expected = -torch.logsumexp(-energies, 1)
    torch.testing.assert_close(E.free_energy(v, *params, visible), expected)


def test_energy_matches_the_decks_double_sum(params):
    W, b, a = params
    v, h = all_states(D)[5:6], all_states(F)[3:4]
    by_hand = -sum(W[i, j] * v[0, i] * h[0, j] for i in range(D) for j in range(F)) \
        - (b * v[0]).sum() - (a * h[0]).sum()
    torch.testing.assert_close(E.energy(v, h, W, b, a), by_hand.reshape(1))


def test_hidden_conditional_is_bayes_rule_by_enumeration(params):
    v = all_states(D)
    energies, hs = joint_energies(v, *params)
    posterior = torch.softmax(-energies, 1)            # P(h | v) for each of the 2^F states
    expected = posterior @ hs                           # P(h_j = 1 | v)
    torch.testing.assert_close(E.hidden_probabilities(v, params[0], params[2]), expected)


def test_visible_conditional_is_bayes_rule_by_enumeration(params):
    W, b, a = params
    vs, hs = all_states(D), all_states(F)
    # E(v, h) for all pairs: (2^D, 2^F); P(v | h) is a softmax over the v axis
    energies = torch.stack([E.energy(vs, h.expand(len(vs), F), W, b, a) for h in hs], 1)
    posterior = torch.softmax(-energies, 0)
    expected = posterior.T @ vs                        # P(v_i = 1 | h), (2^F, D)
    torch.testing.assert_close(E.visible_mean(hs, W, b), expected)


def test_gaussian_visible_conditional_is_the_completed_square(params):
    W, b, a = params
    h = all_states(F)
    torch.testing.assert_close(E.visible_mean(h, W, b, "gaussian"), b + h @ W.T)


def test_exact_log_partition_binary_equals_the_double_sum(params):
    vs = all_states(D)
    energies, _ = joint_energies(vs, *params)
    expected = torch.logsumexp(-energies.flatten(), 0)
    torch.testing.assert_close(E.log_partition_exact(*params), expected)
    # enumerating the hidden side (F < D) gives the same number
    W, b, a = params
    wide = (torch.cat([W, W]), torch.cat([b, b]), a)     # D = 8 > F = 3: enumerate h
    torch.testing.assert_close(E.log_partition_exact(*wide),
                               torch.logsumexp(-E.free_energy(all_states(8), *wide), 0))


def test_exact_log_partition_gaussian_by_quadrature():
    g = torch.Generator().manual_seed(3)
    W = torch.randn(2, 2, generator=g, dtype=torch.float64) * 0.7
    b, a = torch.randn(2, generator=g, dtype=torch.float64), torch.randn(2, generator=g,
                                                                           dtype=torch.float64)
    grid = torch.linspace(-14, 14, 561, dtype=torch.float64)
    vv = torch.cartesian_prod(grid, grid)
    step = float(grid[1] - grid[0])
    integral = torch.logsumexp(-E.free_energy(vv, W, b, a, "gaussian"), 0) + 2 * math.log(step)
    torch.testing.assert_close(E.log_partition_exact(W, b, a, "gaussian"), integral)


def test_exact_log_partition_refuses_large_models():
    with pytest.raises(ValueError, match="AIS"):
        E.log_partition_exact(torch.zeros(30, 30), torch.zeros(30), torch.zeros(30))


def test_cd1_equals_the_decks_six_steps_by_hand(params):
    W, b, a = (p.float() for p in params)
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    grad = E.contrastive_divergence(v, W, b, a, generator=torch.Generator().manual_seed(7),
                                    hidden_statistics="samples")
    g = torch.Generator().manual_seed(7)               # replay the three draws
    ph = torch.sigmoid(a + v @ W)                      # 1. P(h|v) and a sample h
    h = (torch.rand(ph.shape, generator=g) < ph).float()
    g_plus = v.T @ h                                   # 2. G+ = v h^T (summed over the batch)
    pv = torch.sigmoid(b + h @ W.T)                    # 3. v' ~ P(v|h), then h' ~ P(h|v')
    v1 = (torch.rand(pv.shape, generator=g) < pv).float()
    ph1 = torch.sigmoid(a + v1 @ W)
    h1 = (torch.rand(ph1.shape, generator=g) < ph1).float()
    g_minus = v1.T @ h1                                # 4. G- = v' h'^T
    torch.testing.assert_close(grad.weight, (g_plus - g_minus) / 2)       # 5. dW / eps
    torch.testing.assert_close(grad.visible_bias, (v - v1).mean(0))       # 6. db / eps
    torch.testing.assert_close(grad.hidden_bias, (h - h1).mean(0))        #    da / eps
    torch.testing.assert_close(grad.chain, h1)
    # the default statistics replace the hidden samples of steps 2, 4, 6 by probabilities
    grad_p = E.contrastive_divergence(v, W, b, a, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(grad_p.weight, (v.T @ ph - v1.T @ ph1) / 2)
    torch.testing.assert_close(grad_p.hidden_bias, (ph - ph1).mean(0))


def exact_gradient(v, W, b, a):
    """d mean log P(v) / d(W, b, a) by enumeration: <.>_data - <.>_model."""
    ph = E.hidden_probabilities(v, W, a)
    vs = all_states(D)
    p_model = torch.softmax(-E.free_energy(vs, W, b, a), 0)
    ph_model = E.hidden_probabilities(vs, W, a)
    grad_w = v.T @ ph / len(v) - (vs * p_model[:, None]).T @ ph_model
    grad_b = v.mean(0) - p_model @ vs
    grad_a = ph.mean(0) - p_model @ ph_model
    return grad_w, grad_b, grad_a


def test_long_chains_approach_the_exact_gradient(params):
    W, b, a = params
    W = 3 * W                                          # strong weights: CD-1 is visibly biased
    data = all_states(D)[[3, 5, 12, 15]]
    exact = exact_gradient(data, W, b, a)
    g = torch.Generator().manual_seed(0)
    many = data.repeat(5000, 1)                        # 20,000 chains from the data
    cd = E.contrastive_divergence(many, W, b, a, k=30, generator=g)
    cd1 = E.contrastive_divergence(many, W, b, a, k=1, generator=g)
    for got, want in zip(cd[:3], exact):
        torch.testing.assert_close(got, want, atol=0.02, rtol=0)
    assert (cd1.weight - exact[0]).abs().max() > 0.05  # CD-1's bias, which CD-30 removes
    # PCD from an equilibrated persistent chain estimates the same gradient
    chain = torch.zeros(20000, F, dtype=torch.float64)
    for _ in range(30):
        chain = E.contrastive_divergence(data, W, b, a, chain=chain, generator=g).chain
    pcd = E.contrastive_divergence(data, W, b, a, chain=chain, generator=g)
    for got, want in zip(pcd[:3], exact):
        torch.testing.assert_close(got, want, atol=0.02, rtol=0)


def test_pseudo_likelihood_equals_sklearn_with_the_same_flips(params):
    neural_network = pytest.importorskip("sklearn.neural_network")
    W, b, a = params
    x = np.random.RandomState(0).rand(20, D) > 0.5
    sk = neural_network.BernoulliRBM(n_components=F, random_state=5)
    sk.components_, sk.intercept_visible_, sk.intercept_hidden_ = (
        W.T.numpy(), b.numpy(), a.numpy())
    sk.n_features_in_ = D
    expected = sk.score_samples(x.astype(np.float64))
    index = np.random.RandomState(5).randint(0, D, len(x))  # sklearn's flips, replayed
    got = E.pseudo_likelihood(torch.as_tensor(x, dtype=torch.float64), W, b, a,
                              index=torch.as_tensor(index))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_pseudo_likelihood_draws_its_flips_from_the_generator(params):
    v = all_states(D)
    one = E.pseudo_likelihood(v, *params, generator=torch.Generator().manual_seed(2))
    two = E.pseudo_likelihood(v, *params, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(one, two)
    assert bool((one <= 0).all())


def test_unknown_visible_kind_is_refused(params):
    with pytest.raises(ValueError, match="'binary' or 'gaussian'"):
        E.free_energy(all_states(D), *params, visible="softmax")
