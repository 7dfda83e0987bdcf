"""The minimal optimizers: deferred binding, names, and steps equal to torch's."""

import pytest
import torch

import lamina as lm


def step_both(lamina_opt_factory, torch_opt_factory, steps=3):
    torch.manual_seed(0)
    w0 = torch.randn(5, 3)
    grads = [torch.randn(5, 3) for _ in range(steps)]
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    opt_a = lamina_opt_factory().bind([a])
    opt_b = torch_opt_factory([b])
    for g in grads:
        for p, opt in ((a, opt_a), (b, opt_b)):
            p.grad = g.clone()
            opt.step()
    return a, b


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_equals_torch_sgd(nesterov):
    a, b = step_both(lambda: lm.optimizers.SGD(lr=0.1, momentum=0.9, nesterov=nesterov),
                     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=nesterov))
    torch.testing.assert_close(a, b)


def test_sgd_with_constant_lr_is_the_decks_momentum_rule():
    """W(t+1) = W(t) - lr * grad + mu * (W(t) - W(t-1)), checked by hand."""
    lr, mu = 0.1, 0.9
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = lm.optimizers.SGD(lr=lr, momentum=mu).bind([w])
    grads = [torch.tensor([0.5, 1.0]), torch.tensor([-1.0, 0.25]), torch.tensor([2.0, 0.0])]
    prev, cur = w.detach().clone(), w.detach().clone()
    for g in grads:
        w.grad = g.clone()
        opt.step()
        expected = cur - lr * g + mu * (cur - prev)
        torch.testing.assert_close(w.detach(), expected)
        prev, cur = cur, w.detach().clone()


def test_adam_equals_torch_adam():
    a, b = step_both(lambda: lm.optimizers.Adam(lr=0.01),
                     lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7))
    torch.testing.assert_close(a, b)


def test_names_defaults_and_binding():
    sgd = lm.optimizers.get("sgd")
    assert isinstance(sgd, lm.optimizers.SGD) and sgd.lr == 0.01 and not sgd.is_bound
    assert lm.optimizers.get("Adam").lr == 1e-3
    model = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    model.compile(optimizer=sgd, loss="mse")
    assert sgd.is_bound
    assert {id(p) for g in sgd.param_groups for p in g["params"]} == \
        {id(p) for p in model.parameters()}


def test_unbuilt_model_binds_at_first_fit():
    import numpy as np

    model = lm.Sequential([lm.layers.Dense(2)])
    opt = lm.optimizers.SGD(lr=0.1)
    model.compile(optimizer=opt, loss="mse")
    assert not opt.is_bound
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0, batch_size=2)
    assert opt.is_bound and model.layers[0].weight.shape == (2, 3)


def test_lr_setter_and_plain_torch_optimizer():
    opt = lm.optimizers.SGD(lr=0.1)
    opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.5
    model = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.compile(optimizer=torch_opt, loss="mse")
    assert model.optimizer is torch_opt
    with pytest.raises(TypeError, match="optimizer"):
        model.compile(optimizer=3, loss="mse")
