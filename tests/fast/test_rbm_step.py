"""The fused contrastive-divergence step (lamina.fast.rbm) against the textbook step."""

import contextlib

import pytest
import torch

from lamina.fast.rbm import FusedContrastiveDivergence, plan_for
from lamina.unsupervised import RBM


def _data(rows=50, cols=7, gaussian=False):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(rows, cols, generator=g)
    return x if gaussian else (x > 0).float()


@pytest.mark.parametrize("options", [
    {},                                                   # CD-1
    {"k": 3},                                             # CD-3
    {"persistent": True},                                 # PCD-1 (scikit-learn's update)
    {"persistent": True, "k": 2},
    {"momentum": 0.5, "weight_decay": 1e-2},
    {"persistent": True, "momentum": 0.9, "weight_decay": 1e-3},
    {"weight_decay": 1e-2},
    {"visible": "gaussian", "lr": 0.01},
])
def test_fused_step_trains_as_the_textbook_step(options):
    """Same draws in the same order: the parameters agree to float rounding after every
    epoch, including the last, partial batch (which takes the textbook step)."""
    x = _data(gaussian=options.get("visible") == "gaussian")
    settings = {"lr": 0.1, "batch_size": 8, "epochs": 3, "random_state": 0, **options}
    fast = RBM(5, **settings).fit(x)
    slow = RBM(5, fast=False, **settings).fit(x)
    for a, b in zip(fast._params(), slow._params()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert fast.n_updates_ == slow.n_updates_ == 3 * 7
    if settings.get("persistent"):
        torch.testing.assert_close(fast._chain, slow._chain)
    # the textbook method is back on the instance once fit returns
    assert "_cd_step" not in vars(fast)


def test_fused_step_continues_the_random_stream_exactly():
    """After fit, the generator is where the textbook step leaves it: the next draws agree."""
    x = _data()
    fast = RBM(4, batch_size=10, epochs=1, random_state=1).fit(x)
    slow = RBM(4, batch_size=10, epochs=1, random_state=1, fast=False).fit(x)
    assert torch.equal(torch.rand(5, generator=fast.random_state_),
                       torch.rand(5, generator=slow.random_state_))


def test_no_full_batch_keeps_the_textbook_step():
    rbm = RBM(3, batch_size=64, random_state=0)
    rbm.reset_parameters(4)
    with plan_for(rbm, torch.ones(10, 4)):
        assert "_cd_step" not in vars(rbm)


def test_fused_update_is_one_sgd_step_by_hand():
    """A hand computation of PCD-1 with fixed uniforms: W += lr [v; v']^T (s * P(h|.))."""
    torch.manual_seed(0)
    rbm = RBM(3, persistent=True, batch_size=2, lr=0.5, random_state=0)
    rbm.reset_parameters(4)
    w0, b0, a0 = (p.clone() for p in rbm._params())
    v = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
    gen_copy = torch.Generator().set_state(rbm.random_state_.get_state())
    FusedContrastiveDivergence(rbm, 2)(v, 0.5)
    chain = torch.zeros(2, 3)
    mean = torch.sigmoid(b0 + chain @ w0.T)
    v_neg = (torch.rand(2, 4, generator=gen_copy) < mean).float()
    both = torch.cat([v, v_neg])
    p = torch.sigmoid(a0 + both @ w0)
    s = torch.tensor([[0.5], [0.5], [-0.5], [-0.5]])
    torch.testing.assert_close(rbm.weight, w0 + 0.5 * both.T @ (p * s))
    torch.testing.assert_close(rbm.visible_bias, b0 + 0.5 * (both * s).sum(0))
    torch.testing.assert_close(rbm.hidden_bias, a0 + 0.5 * (p * s).sum(0))
    h_neg = (torch.rand(2, 3, generator=gen_copy) < p[2:]).float()
    assert torch.equal(rbm._chain, h_neg)


@pytest.mark.parametrize("options", [{"persistent": True}, {"k": 2}, {"persistent": True, "k": 3}])
def test_uniforms_drawn_ahead_leave_the_stream_where_the_textbook_does(options, monkeypatch,
                                                                       capsys):
    """A block of 2 steps' uniforms (3 refills per epoch of 5 full batches and a partial
    one), 3 epochs, with the monitor drawing at each epoch's end: the parameters, the chain
    and the generator's state all match the textbook run's."""
    import lamina.fast.rbm as fast_rbm

    @contextlib.contextmanager
    def two_threads(multiply_adds, device):             # as for a large RBM
        yield 2

    takes = []
    monkeypatch.setattr(fast_rbm.threads, "for_products", two_threads)
    monkeypatch.setattr(fast_rbm.DrawAhead, "take",
                        lambda self, *a, take=fast_rbm.DrawAhead.take: takes.append(1)
                        or take(self, *a))
    x = _data(rows=45)
    k, gibbs = options.get("k", 1), 8 * (7 + 5)              # one Gibbs step: v' and h'
    per_step = k * gibbs if options.get("persistent") else 8 * 5 + k * gibbs
    monkeypatch.setattr(fast_rbm, "AHEAD_BYTES", 2 * per_step * 4)   # 2 steps of float32
    settings = {"lr": 0.1, "batch_size": 8, "epochs": 3, "random_state": 0, "verbose": 1,
                **options}
    fast = RBM(5, **settings).fit(x)
    slow = RBM(5, fast=False, **settings).fit(x)
    out = capsys.readouterr().out
    assert out.count("pseudo_likelihood") == 6                # the monitor ran in both
    assert len(takes) == 3 * 5 * (2 * options.get("k", 1) + (not options.get("persistent")))
    for a, b in zip(fast._params(), slow._params()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert torch.equal(fast.random_state_.get_state(), slow.random_state_.get_state())
    if options.get("persistent"):
        assert torch.equal(fast._chain, slow._chain)


def test_draw_ahead_gives_each_step_its_own_numbers_across_refills_and_epochs():
    from lamina.fast.rbm import DrawAhead

    g, h = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    ahead = DrawAhead(torch.empty(0), per_step=6, steps_per_epoch=3, budget=2 * 6 * 4)
    assert ahead.rows == 2
    for _ in range(2):                                        # epochs
        assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=h))  # shuffle
        for _ in range(3):
            for shape in ((2, 2), (1, 2)):
                assert torch.equal(ahead.take(shape, g), torch.rand(shape, generator=h))
            ahead.step_done()
    assert torch.equal(g.get_state(), h.get_state())


@pytest.mark.parametrize("visible, hidden", [(5, 3), (100, 200)])
def test_the_plan_gathers_batches_into_the_fused_step_and_leaves_nothing_behind(visible, hidden):
    """Uniforms are drawn ahead only where the products run on several threads (100 x 200 x
    64 = 1.28 million multiply-adds; 5 x 3 x 64 runs on one)."""
    rbm = RBM(hidden, batch_size=64, random_state=0)
    rbm.reset_parameters(visible)
    x = torch.ones(130, visible)
    with plan_for(rbm, x):
        step = rbm._cd_step
        assert rbm._batch_buffer(x).data_ptr() == step.v_pos.data_ptr()
        several = hidden == 200 and torch.get_num_threads() > 1
        assert (step.ahead is not None) == several
        if several:
            assert step.ahead.steps_per_epoch == 2
    assert not {"_cd_step", "_batch_buffer"} & set(vars(rbm))
    assert rbm._batch_buffer(x).shape == (64, visible)
