"""lamina.unsupervised.RBM and ClassificationRBM: training, sampling, completion, AIS, API."""

import numpy as np
import pytest
import torch

from lamina.functional import energy as E
from lamina.unsupervised import RBM, ClassificationRBM

PATTERNS = np.array([[1, 1, 1, 1, 0, 0, 0, 0],
                     [0, 0, 0, 0, 1, 1, 1, 1],
                     [1, 1, 0, 0, 1, 1, 0, 0]], dtype=np.float32)


def noisy_patterns(n=96, flip=0.05, seed=0):
    rng = np.random.RandomState(seed)
    x = PATTERNS[rng.randint(0, len(PATTERNS), n)]
    return np.abs(x - (rng.rand(*x.shape) < flip)).astype(np.float32)


def small_rbm(**kwargs):
    settings = dict(lr=0.1, batch_size=16, epochs=1, random_state=0, device="cpu")
    return RBM(6, **{**settings, **kwargs})


def set_weights(rbm, W, b, a):
    rbm.fit(np.zeros((2, W.shape[0]), np.float32), epochs=0)
    with torch.no_grad():
        rbm.weight.copy_(W)
        rbm.visible_bias.copy_(b)
        rbm.hidden_bias.copy_(a)
    return rbm


@pytest.mark.parametrize("persistent", [False, True])
def test_training_reduces_reconstruction_error(persistent):
    x = noisy_patterns()
    rbm = small_rbm(persistent=persistent, lr=0.2, momentum=0.5)
    rbm.fit(x, epochs=0)
    before = rbm.reconstruction_error(x)
    rbm.fit(x, epochs=60)
    assert rbm.reconstruction_error(x) < 0.5 * before
    assert rbm.n_updates_ == 60 * 6


def test_gaussian_visible_units_learn_standardized_data():
    rng = np.random.RandomState(0)
    x = (noisy_patterns(128) * 2 - 1 + 0.1 * rng.randn(128, 8)).astype(np.float32)
    rbm = small_rbm(visible="gaussian", lr=0.01, epochs=0).fit(x)
    before = rbm.reconstruction_error(x)
    rbm.fit(x, epochs=60)
    assert rbm.reconstruction_error(x) < 0.7 * before
    with pytest.raises(ValueError, match="binary visible units"):
        rbm.score_samples(x)


def test_update_is_lr_times_the_cd_gradient():
    x = noisy_patterns(16)
    rbm = small_rbm(lr=0.3, batch_size=16)
    rbm.fit(x, epochs=0)
    before = [p.clone() for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias)]
    state = rbm.random_state_.get_state()
    v = torch.as_tensor(x)
    rbm._cd_step(v, 0.3)
    grad = E.contrastive_divergence(v, *before, generator=torch.Generator().set_state(state))
    for old, new, g in zip(before, (rbm.weight, rbm.visible_bias, rbm.hidden_bias), grad[:3]):
        torch.testing.assert_close(new - old, 0.3 * g)


def test_momentum_and_weight_decay_follow_the_documented_rule():
    x = torch.as_tensor(noisy_patterns(16))
    rbm = small_rbm(lr=0.1, momentum=0.5, weight_decay=0.01, batch_size=16)
    rbm.fit(x, epochs=0)
    w0 = rbm.weight.clone()
    state = rbm.random_state_.get_state()
    rbm._cd_step(x, 0.1)
    w1 = rbm.weight.clone()
    g1 = E.contrastive_divergence(x, w0, torch.zeros(8), torch.zeros(6),
                                  generator=torch.Generator().set_state(state)).weight
    velocity = 0.1 * (g1 - 0.01 * w0)
    torch.testing.assert_close(w1, w0 + velocity)


def test_same_seed_same_model_and_streams_continue():
    x = noisy_patterns(32)
    one, two = small_rbm().fit(x), small_rbm().fit(x)
    torch.testing.assert_close(one.weight, two.weight)
    a, b = one.gibbs(x), one.gibbs(x)
    assert not np.array_equal(a, b)                    # the stream continues
    np.testing.assert_array_equal(a, two.gibbs(x))     # ... identically for equal seeds
    gen = torch.Generator().manual_seed(0)
    rbm = small_rbm(random_state=gen).fit(x)
    assert rbm.random_state_ is gen


def test_partial_fit_initializes_then_continues():
    x = noisy_patterns(32)
    rbm = small_rbm(batch_size=32)
    rbm.partial_fit(x)
    w = rbm.weight.clone()
    assert rbm.n_updates_ == 1
    rbm.partial_fit(x)
    assert rbm.n_updates_ == 2 and not torch.equal(w, rbm.weight)


def test_learning_rate_schedule_is_called_per_epoch():
    seen = []

    def schedule(epoch):
        seen.append(epoch)
        return 0.1 / (1 + epoch)

    small_rbm(lr=schedule).fit(noisy_patterns(32), epochs=3)
    assert seen == [0, 1, 2]


def test_inference_methods_shapes_and_types():
    x = noisy_patterns(20)
    rbm = small_rbm().fit(x)
    assert rbm.transform(x).shape == (20, 6) and isinstance(rbm.transform(x), np.ndarray)
    assert isinstance(rbm.transform(torch.as_tensor(x)), torch.Tensor)
    assert rbm.free_energy(x).shape == (20,)
    assert rbm.reconstruct(x).shape == (20, 8)
    assert rbm.score_samples(x).shape == (20,) and (rbm.score_samples(x) <= 0).all()
    assert rbm.components_.shape == (6, 8)
    assert rbm.intercept_hidden_.shape == (6,) and rbm.intercept_visible_.shape == (8,)
    samples = rbm.sample(5, steps=10)
    assert samples.shape == (5, 8) and set(np.unique(samples)) <= {0.0, 1.0}
    assert rbm.sample(3, steps=2, mean=True).shape == (3, 8)


def test_inputs_are_not_modified():
    x = noisy_patterns(20)
    copy = x.copy()
    rbm = small_rbm().fit(x)
    rbm.transform(x), rbm.score_samples(x), rbm.complete(x, np.ones(8, bool), steps=2)
    np.testing.assert_array_equal(x, copy)


def test_complete_fills_in_the_missing_half_of_a_pattern():
    x = noisy_patterns(192, flip=0.0)
    rbm = RBM(8, lr=0.2, batch_size=16, epochs=100, random_state=0, device="cpu").fit(x)
    known = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    probe = np.where(known, PATTERNS[:2], 0.5)        # the unknown values are ignored
    filled = rbm.complete(probe, known, steps=50)
    np.testing.assert_array_equal(filled[:, :4], PATTERNS[:2, :4])   # clamped
    np.testing.assert_array_equal(filled[:, 4:].round(), PATTERNS[:2, 4:])


def test_ais_is_within_a_tenth_of_a_nat_of_exact_log_z():
    g = torch.Generator().manual_seed(0)
    rbm = set_weights(RBM(6, random_state=1, device="cpu"), torch.randn(10, 6, generator=g),
                      torch.randn(10, generator=g), torch.randn(6, generator=g))
    exact = rbm.log_partition("exact")
    ais = rbm.log_partition(n_chains=100, n_betas=1000)
    assert abs(ais - exact) < 0.1
    x = np.random.RandomState(0).rand(30, 10).round().astype(np.float32)
    assert abs(rbm.log_likelihood(x, log_z=exact) - rbm.log_likelihood(x, n_betas=1000)) < 0.1


def test_ais_gaussian_visible_units():
    g = torch.Generator().manual_seed(0)
    rbm = RBM(5, visible="gaussian", random_state=1, device="cpu")
    rbm = set_weights(rbm, 0.3 * torch.randn(6, 5, generator=g), torch.randn(6, generator=g),
                      torch.randn(5, generator=g))
    assert abs(rbm.log_partition() - rbm.log_partition("exact")) < 0.1


def test_classification_rbm_separates_two_classes():
    x = noisy_patterns(128, flip=0.03)[:, :8]
    y = np.where(x[:, :4].sum(1) > x[:, 4:].sum(1), "left", "right")
    clf = ClassificationRBM(8, lr=0.1, batch_size=16, epochs=30, random_state=0, device="cpu")
    clf.fit(x, y)
    assert clf.weight.shape == (8 + 2, 8)
    assert clf.score(x, y) > 0.95
    proba = clf.predict_proba(x)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert set(clf.predict(x)) <= {"left", "right"}


def test_classification_rbm_free_energy_rule_matches_the_joint_free_energy():
    x = noisy_patterns(32)
    y = np.arange(32) % 3
    clf = ClassificationRBM(4, epochs=2, batch_size=8, random_state=0, device="cpu").fit(x, y)
    joint = [clf.free_energy(np.hstack([x, np.eye(3, dtype=np.float32)[[c] * 32]]))
             for c in range(3)]
    expected = np.stack(joint, 1).argmin(1)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[expected])


def test_constraints_are_checked_in_fit_with_the_house_message():
    x = noisy_patterns(8)
    with pytest.raises(ValueError, match=r"argument `n_hidden` of RBM must be an integer >= 1\. "
                                         r"Received: n_hidden=0"):
        RBM(0).fit(x)
    with pytest.raises(ValueError, match="visible unit type.*'binary', 'bernoulli', 'gaussian'"):
        RBM(4, visible="softmax").fit(x)
    with pytest.raises(ValueError, match="momentum"):
        RBM(4, momentum=1.0).fit(x)
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*x / 255"):
        small_rbm().fit(x * 255)
    with pytest.raises(ValueError, match="2-D array"):
        small_rbm().fit(x.reshape(8, 2, 4))
    with pytest.raises(ValueError, match="must have 8 features"):
        small_rbm().fit(x).transform(x[:, :5])
    with pytest.raises(ValueError, match="not fitted"):
        small_rbm().transform(x)


def test_sklearn_parameter_protocol_and_clone():
    base = pytest.importorskip("sklearn.base")
    rbm = RBM(12, lr=0.05, persistent=True)
    twin = base.clone(rbm)
    assert twin.get_params() == rbm.get_params() and twin is not rbm
    rbm.set_params(k=3)
    assert rbm.k == 3
    with pytest.raises(ValueError, match="no parameter `hidden`"):
        rbm.set_params(hidden=3)
    assert "n_hidden=12" in repr(rbm) and "persistent=True" in repr(rbm)


def test_verbose_prints_one_line_per_epoch(capsys):
    small_rbm(verbose=2).fit(noisy_patterns(16), epochs=2)
    out = capsys.readouterr().out
    assert out.count("Epoch") == 2 and "pseudo_likelihood" in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_training_and_sampling():
    x = noisy_patterns()
    rbm = small_rbm(device="cuda", persistent=True).fit(x, epochs=20)
    assert rbm.weight.is_cuda and rbm.random_state_.device.type == "cuda"
    assert rbm.transform(x).shape == (96, 6)
    assert rbm.sample(4, steps=5).shape == (4, 8)
    assert np.isfinite(rbm.log_partition(n_betas=100))
