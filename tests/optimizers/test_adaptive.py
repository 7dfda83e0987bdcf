"""AdaGrad, AdaDelta, RMSprop, Adam, AdamW: equal to the torch optimizers they delegate to,
one step by hand from the formulas, names, configs and argument checks."""

import json
import math

import pytest
import torch

import lamina as lm
from lamina import optimizers
from tests.optimizers.oracle import compare

opts = lm.optimizers
CASES = {
    "adagrad": (lambda: opts.AdaGrad(lr=0.05),
                lambda p: torch.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, eps=1e-7)),
    "adagrad-l2": (lambda: opts.AdaGrad(lr=0.05, weight_decay=0.01),
                   lambda p: torch.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1,
                                                 eps=1e-7, weight_decay=0.01)),
    "adadelta": (lambda: opts.AdaDelta(),
                 lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-7)),
    "rmsprop": (lambda: opts.RMSprop(),
                lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)),
    "rmsprop-centered-momentum": (
        lambda: opts.RMSprop(lr=0.01, rho=0.8, momentum=0.5, centered=True),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, eps=1e-7, momentum=0.5,
                                      centered=True)),
    "adam": (lambda: opts.Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7)),
    "adam-amsgrad": (lambda: opts.Adam(lr=0.01, beta_1=0.8, beta_2=0.99, amsgrad=True),
                     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-7,
                                                amsgrad=True)),
    "adamw": (lambda: opts.AdamW(lr=0.01),
              lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.004, eps=1e-7)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_the_torch_optimizer_over_20_steps(name):
    ours_factory, torch_factory = CASES[name]
    ours, theirs = compare(lambda p: ours_factory().bind(p), torch_factory, steps=20)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert ours_factory().defaults["foreach"] is True


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_takes_the_fused_kernel_on_the_cpu_and_foreach_elsewhere(name, monkeypatch):
    from lamina.optimizers import adam

    w = torch.nn.Parameter(torch.zeros(3))
    group = CASES[name][0]().bind([w]).param_groups[0]
    assert (group["fused"], group["foreach"]) == (True, False)
    monkeypatch.setattr(adam, "_fused_devices", lambda: ("cuda",))
    group = CASES[name][0]().bind([w]).param_groups[0]
    assert not group["fused"] and group["foreach"]


W0, G = [0.5, -1.0, 2.0], [0.2, -3.0, 0.0]


def one_step(opt_factory):
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = opt_factory([w])
    w.grad = torch.tensor(G, dtype=torch.float64)
    opt.step()
    return w.detach().tolist()


def test_adagrad_one_step_by_hand():
    lr, acc0, eps = 0.1, 0.1, 1e-7
    expected = [w - lr * g / (math.sqrt(acc0 + g * g) + eps) for w, g in zip(W0, G, strict=True)]
    assert one_step(lambda p: opts.AdaGrad(lr, acc0, eps, params=p)) == pytest.approx(expected, 1e-12)


def test_adadelta_one_step_by_hand():
    lr, rho, eps = 1.0, 0.95, 1e-7
    expected = [w - lr * math.sqrt(eps) / math.sqrt((1 - rho) * g * g + eps) * g
                for w, g in zip(W0, G, strict=True)]
    assert one_step(lambda p: opts.AdaDelta(lr, rho, eps, params=p)) == pytest.approx(expected, 1e-12)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_one_step_by_hand(centered):
    lr, rho, eps = 0.01, 0.9, 1e-7
    expected = []
    for w, g in zip(W0, G, strict=True):
        v = (1 - rho) * g * g
        if centered:
            v -= ((1 - rho) * g) ** 2
        expected.append(w - lr * g / (math.sqrt(v) + eps))
    got = one_step(lambda p: opts.RMSprop(lr, rho, epsilon=eps, centered=centered, params=p))
    assert got == pytest.approx(expected, 1e-12)


@pytest.mark.parametrize("name, cls", [("sgd", opts.SGD), ("adagrad", opts.AdaGrad),
                                       ("adadelta", opts.AdaDelta), ("RMSprop", opts.RMSprop),
                                       ("Adam", opts.Adam), ("ADAMW", opts.AdamW)])
def test_names_and_config_round_trip(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls and not opt.is_bound and cls.__name__ in optimizers.__all__
    config = opt.get_config()
    assert json.loads(json.dumps(config)) == config
    again = optimizers.get({"class_name": name, "config": config})
    assert type(again) is cls and again.get_config() == config
    assert cls.from_config(config).defaults == opt.defaults


def test_keras_defaults():
    assert opts.AdaGrad().get_config()["initial_accumulator_value"] == 0.1
    assert opts.RMSprop().defaults["alpha"] == 0.9 and opts.RMSprop().defaults["eps"] == 1e-7
    assert opts.AdaDelta().lr == 1.0 and opts.AdamW().defaults["weight_decay"] == 0.004


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Did you mean 'rmsprop'\?.*'adadelta'"):
        optimizers.get("rmsprob")


@pytest.mark.parametrize("factory, match", [
    (lambda: opts.Adam(beta_1=1.0), r"Invalid beta_1: argument `beta_1` of Adam .* \[0, 1\)"),
    (lambda: opts.AdamW(lr=-0.1), r"Invalid learning rate: .* AdamW .* Received: lr=-0\.1"),
    (lambda: opts.RMSprop(rho=1.5), r"Invalid rho: .* RMSprop"),
    (lambda: opts.RMSprop(centered=1), r"centered flag"),
    (lambda: opts.AdaGrad(initial_accumulator_value=-1), r"initial accumulator value"),
    (lambda: opts.AdaDelta(epsilon=-1e-7), r"Invalid epsilon"),
])
def test_invalid_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw"])
def test_every_name_trains_a_compiled_model(name):
    model = lm.Sequential([lm.layers.Dense(1)], input_shape=(3,))
    model.compile(optimizer=name, loss="mse")
    before = model.layers[0].weight.detach().clone()
    model.fit(torch.ones(4, 3), torch.full((4, 1), 5.0), batch_size=4, verbose=0)
    assert model.optimizer.is_bound and not torch.equal(before, model.layers[0].weight)
