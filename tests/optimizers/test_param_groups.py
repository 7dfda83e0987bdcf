"""Parameter groups with their own learning rates, and apply_lr / get_lr / the lr setter."""

import pytest
import torch

import lamina as lm
from lamina.schedules import apply_lr, get_lr


def backbone_and_head(opt):
    backbone, head = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    opt.bind([{"params": backbone.parameters(), "lr": 1e-4}, {"params": head.parameters()}])
    return backbone, head


def test_groups_without_lr_take_the_default_and_each_group_steps_with_its_own():
    opt = lm.optimizers.SGD(lr=0.1)
    backbone, head = backbone_and_head(opt)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 0.1]
    before = [p.detach().clone() for p in (backbone.weight, head.weight)]
    for p in (*backbone.parameters(), *head.parameters()):
        p.grad = torch.ones_like(p)
    opt.step()
    torch.testing.assert_close(backbone.weight.detach(), before[0] - 1e-4)
    torch.testing.assert_close(head.weight.detach(), before[1] - 0.1)


@pytest.mark.parametrize("cls", [lm.optimizers.SGD, lm.optimizers.Adam, lm.optimizers.AdaDelta])
def test_apply_lr_and_the_lr_setter_keep_the_groups_ratio(cls):
    opt = cls(lr=1e-3)
    backbone_and_head(opt)
    apply_lr(opt, 0.5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.5])
    assert get_lr(opt) == opt.lr == pytest.approx(0.5)
    for _ in range(5):  # no drift from applying again
        opt.lr = 0.2
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.2], rel=1e-12)
    assert opt.param_groups[1]["lr"] == 0.2 and opt.get_config()["lr"] == 0.2


def test_apply_lr_on_a_plain_torch_optimizer_and_through_state_dict():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.01}, {"params": [b]}], lr=0.1)
    apply_lr(opt, 1.0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 1.0])
    fresh = torch.optim.SGD([{"params": [a], "lr": 0.01}, {"params": [b]}], lr=0.1)
    fresh.load_state_dict(opt.state_dict())  # initial_lr travels with the checkpoint
    apply_lr(fresh, 2.0)
    assert [g["lr"] for g in fresh.param_groups] == pytest.approx([0.2, 2.0])


def test_lr_set_before_binding_is_the_bound_groups_default():
    # Regression: the setter used to change only the placeholder group, so compile's bind
    # silently went back to the constructor's lr.
    opt = lm.optimizers.SGD(lr=0.1)
    opt.lr = 0.5
    model = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    model.compile(optimizer=opt, loss="mse")
    assert opt.is_bound and [g["lr"] for g in opt.param_groups] == [0.5]
    assert opt.lr == 0.5


def test_lr_setter_validates():
    with pytest.raises(ValueError, match=r"Invalid learning rate: .* Received: lr=-1"):
        lm.optimizers.Adam().lr = -1


def test_bind_does_not_modify_the_callers_group_dicts():
    w = torch.nn.Parameter(torch.zeros(1))
    group = {"params": [w], "lr": 0.3}
    lm.optimizers.RMSprop().bind([group])
    assert group == {"params": [w], "lr": 0.3}
