"""Learning-rate schedules: closed forms, torch's schedulers as oracles, units, configs."""

import json
import math

import pytest
import torch

from lamina import schedules as S


def torch_lrs(make_scheduler, steps, lr):
    """The learning rates a torch scheduler gives at t = 0 .. steps-1."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: a no-op that keeps torch from warning about the order
        scheduler.step()
    return lrs


CLOSED_FORMS = [
    (S.Constant(0.3), lambda t: 0.3),
    (S.StepDecay(0.1, drop=0.5, every=3), lambda t: 0.1 * 0.5 ** (t // 3)),
    (S.ExponentialDecay(0.1, 0.9, decay_steps=2), lambda t: 0.1 * 0.9 ** (t / 2)),
    (S.InverseTimeDecay(0.1, 0.5, decay_steps=2), lambda t: 0.1 / (1 + 0.5 * t / 2)),
    (S.CosineDecay(0.1, total=8, final_lr=0.01),
     lambda t: 0.01 + 0.09 * (1 + math.cos(math.pi * min(t, 8) / 8)) / 2),
    (S.LinearWarmup(0.2, warmup=4), lambda t: 0.2 * min(t, 4) / 4),
    (S.LinearWarmup(S.ExponentialDecay(0.1, 0.5), warmup=2),
     lambda t: 0.05 * t if t < 2 else 0.1 * 0.5 ** (t - 2)),
]


@pytest.mark.parametrize("schedule, formula", CLOSED_FORMS, ids=lambda x: repr(x)[:30])
def test_closed_forms(schedule, formula):
    for t in range(20):
        assert schedule(t) == pytest.approx(formula(t), rel=1e-12, abs=1e-15)
    assert schedule.unit == "epoch"


TWINS = [
    (S.StepDecay(0.1, drop=0.3, every=4),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.3), 0.1, 30),
    (S.ExponentialDecay(0.1, 0.93),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.93), 0.1, 30),
    (S.CosineDecay(0.1, total=25, final_lr=1e-3),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25, eta_min=1e-3), 0.1, 26),
    (S.OneCycle(0.1, total=50),
     lambda o: torch.optim.lr_scheduler.OneCycleLR(
         o, max_lr=0.1, total_steps=50, anneal_strategy="cos", three_phase=False,
         cycle_momentum=False), 0.1, 50),
    (S.OneCycle(2.0, total=17, pct_start=0.5, div_factor=10, final_div_factor=100),
     lambda o: torch.optim.lr_scheduler.OneCycleLR(
         o, max_lr=2.0, total_steps=17, pct_start=0.5, div_factor=10, final_div_factor=100,
         anneal_strategy="cos", three_phase=False, cycle_momentum=False), 2.0, 17),
]


@pytest.mark.parametrize("schedule, make_scheduler, lr, steps", TWINS,
                         ids=lambda x: repr(x)[:30])
def test_equals_torch_scheduler(schedule, make_scheduler, lr, steps):
    expected = torch_lrs(make_scheduler, steps, lr)
    assert [schedule(t) for t in range(steps)] == pytest.approx(expected, rel=1e-9)


def test_after_the_end_cosine_and_one_cycle_stay_at_their_final_rate():
    assert S.CosineDecay(0.1, total=5, final_lr=0.01)(9) == pytest.approx(0.01)
    cycle = S.OneCycle(0.1, total=10)
    assert cycle(10) == cycle(100) == cycle(9) == pytest.approx(0.1 / 25 / 1e4)


def test_units_and_warmup_inheriting_them():
    assert S.StepDecay(0.1, unit="STEP").unit == "step"
    assert S.LinearWarmup(S.CosineDecay(0.1, 100, unit="step"), warmup=10).unit == "step"
    assert S.LinearWarmup(0.1, warmup=10, unit="step").unit == "step"
    with pytest.raises(ValueError, match=r"Argument `unit` of CosineDecay must be one of "
                                         r"'epoch', 'step'\. Received: unit='batch'"):
        S.CosineDecay(0.1, 10, unit="batch")
    with pytest.raises(ValueError, match="must match the wrapped schedule's unit"):
        S.LinearWarmup(S.Constant(0.1, unit="step"), warmup=3, unit="epoch")


ALL = [S.Constant(0.1, unit="step"), S.StepDecay(0.1, 0.1, 5), S.ExponentialDecay(0.1, 0.9, 3),
       S.InverseTimeDecay(0.1, 1.0), S.CosineDecay(0.1, 10, 0.001), S.OneCycle(0.1, 10, 0.25),
       S.LinearWarmup(S.CosineDecay(0.1, 10, unit="step"), warmup=5)]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = json.loads(json.dumps(schedule.get_config()))
    again = type(schedule).from_config(config)
    assert repr(again) == repr(schedule) and again.unit == schedule.unit
    assert [again(t) for t in range(12)] == [schedule(t) for t in range(12)]


@pytest.mark.parametrize("factory, match", [
    (lambda: S.StepDecay(-0.1), r"Invalid learning rate: argument `initial_lr` of StepDecay"),
    (lambda: S.StepDecay(0.1, every=0), r"`every` of StepDecay must be an integer >= 1"),
    (lambda: S.ExponentialDecay(0.1, 0.0), r"`decay_rate` of ExponentialDecay must be a number > 0"),
    (lambda: S.InverseTimeDecay(0.1, 1.0, decay_steps=0), r"`decay_steps`"),
    (lambda: S.OneCycle(0.1, 10, pct_start=1.0), r"`pct_start` of OneCycle .* \(0, 1\)"),
    (lambda: S.LinearWarmup(0.1, warmup=-1), r"`warmup` of LinearWarmup"),
])
def test_invalid_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_a_schedule_drives_an_optimizer_through_apply_lr():
    backbone, head = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [backbone], "lr": 0.01}, {"params": [head]}], lr=0.1)
    schedule = S.StepDecay(0.1, drop=0.5, every=1)
    for t in range(3):
        S.apply_lr(opt, schedule(t))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.0025, 0.025])
    assert S.get_lr(opt) == 0.025
