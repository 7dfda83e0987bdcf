"""SGD with momentum exactly as deck 001 writes it: W(t+1) = W(t) - lr(t) g + mu (W(t) - W(t-1))."""

import pytest
import torch

import lamina as lm
from tests.optimizers.oracle import compare, gradient, make_params, noise, trajectory


def halving_lr(t):
    return 0.1 * 0.5 ** (t // 10)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_equals_torch_sgd_at_constant_lr(weight_decay):
    ours, theirs = compare(
        lambda p: lm.optimizers.SGD(lr=0.05, momentum=0.9, weight_decay=weight_decay).bind(p),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=weight_decay),
        steps=100)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_nesterov_equals_torch_nesterov_at_constant_lr():
    ours, theirs = compare(
        lambda p: lm.optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True).bind(p),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), steps=100)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_changing_lr_follows_the_deck_formula_by_hand_and_not_torch():
    mu, steps = 0.9, 100
    params = make_params()
    ours = trajectory(lm.optimizers.SGD(lr=0.1, momentum=mu).bind(params), params, steps,
                      lr_at=halving_lr)

    # The deck's formula in a plain loop over the weights' history (no step buffer).
    start = make_params()
    expected = []
    for i, w0 in enumerate(start):
        prev, cur = w0.detach().clone(), w0.detach().clone()
        for t, noise_t in enumerate(noise(start, steps)):
            g = gradient(cur, noise_t[i])
            prev, cur = cur, cur - halving_lr(t) * g + mu * (cur - prev)
        expected.append(cur)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)

    theirs = make_params()
    theirs = trajectory(torch.optim.SGD(theirs, lr=0.1, momentum=mu), theirs, steps,
                        lr_at=halving_lr)
    gap = max((a - b).abs().max().item() for a, b in zip(ours, theirs, strict=True))
    assert gap > 1e-3, f"the deck's rule should differ from torch's when lr changes ({gap=})"


def test_nesterov_changing_lr_is_the_parameter_units_form():
    """dW <- mu dW - lr g;  W <- W + mu dW - lr g, by hand on one scalar."""
    lr_at, mu = (lambda t: [0.1, 0.1, 0.02, 0.02, 0.5][t]), 0.8
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = lm.optimizers.SGD(lr=0.1, momentum=mu, nesterov=True, params=[w])
    grads = [0.3, -1.0, 2.0, 0.5, -0.25]
    cur, delta = 1.0, 0.0
    for t, g in enumerate(grads):
        opt.param_groups[0]["lr"] = lr_at(t)
        w.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        delta = mu * delta - lr_at(t) * g
        cur = cur + mu * delta - lr_at(t) * g
        assert w.item() == pytest.approx(cur, rel=1e-12)


def test_plain_sgd_and_state_after_rebinding():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = lm.optimizers.SGD(lr=0.5).bind([w])
    w.grad = torch.tensor([1.0, -2.0])
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([0.5, 3.0]))
    assert len(opt.state) == 0  # no momentum, no buffer
    opt = lm.optimizers.SGD(lr=0.5, momentum=0.5).bind([w])
    opt.step()
    assert set(opt.state[w]) == {"delta"}
    v = torch.nn.Parameter(torch.zeros(2))
    opt.bind([v])
    assert len(opt.state) == 0 and opt.param_groups[0]["params"] == [v]


def test_params_without_grad_are_skipped_and_closure_returns_loss():
    w, frozen = torch.nn.Parameter(torch.tensor([2.0])), torch.nn.Parameter(torch.tensor([5.0]))
    opt = lm.optimizers.SGD(lr=0.25, momentum=0.5, params=[w, frozen])

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert w.item() == 1.0 and frozen.item() == 5.0 and frozen not in opt.state


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": -1}, r"Invalid learning rate: argument `lr` of SGD must be a number >= 0\. "
                 r"Received: lr=-1 \(type int\)"),
    ({"momentum": 1.0}, r"Invalid momentum: .* in \[0, 1\)\. Received: momentum=1\.0"),
    ({"momentum": -0.1}, "momentum=-0.1"),
    ({"nesterov": True}, r"Nesterov momentum of SGD needs `momentum` > 0"),
    ({"nesterov": "yes", "momentum": 0.9}, "must be True or False"),
    ({"weight_decay": float("nan")}, "Invalid weight decay"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lm.optimizers.SGD(**kwargs)


def test_fast_path_uses_foreach(monkeypatch):
    calls = []
    original = torch._foreach_add_
    monkeypatch.setattr(torch, "_foreach_add_", lambda *a, **k: calls.append(1) or original(*a, **k))
    params = make_params()
    trajectory(lm.optimizers.SGD(lr=0.1, momentum=0.9).bind(params), params, 1)
    assert len(calls) == 2  # one for the step buffers, one for the weights: not one per tensor


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_update_with_a_tensor_learning_rate_equals_the_float_one(momentum, nesterov):
    # what a compiled step (jit) passes, so that a new rate does not recompile it
    from lamina.optimizers.sgd import sgd_update

    rng = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, generator=rng), torch.randn(5, generator=rng)]
    runs = []
    for lr in (0.1, torch.tensor(0.1)):
        w = [p.clone() for p in params]
        deltas = [torch.zeros_like(p) for p in w] if momentum else None
        for step in range(3):
            grads = [torch.full_like(p, step + 1.0) * p for p in w]
            sgd_update(w, grads, deltas, lr=lr, momentum=momentum, nesterov=nesterov,
                       weight_decay=1e-2)
        runs.append(w)
    for a, b in zip(*runs):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
