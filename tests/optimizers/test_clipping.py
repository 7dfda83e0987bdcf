"""Gradient clipping (clipnorm, clipvalue, global_clipnorm), done once in DeferredOptimizer.step."""

import copy
import pickle

import pytest
import torch

import lamina as lm

opts = lm.optimizers


def params_and_grads():
    """Two parameters: one gradient with norm 5 (clipped at 1), one with norm 0.5 (kept)."""
    w = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)),
         torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))]
    g = [torch.tensor([3.0, -4.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)]
    return w, g


def sgd_step(**clip):
    """One plain SGD step with lr 1: the weights become minus the clipped gradients."""
    w, g = params_and_grads()
    opt = opts.SGD(lr=1.0, **clip).bind(w)
    for p, gi in zip(w, g, strict=True):
        p.grad = gi.clone()
    opt.step()
    return [-p.detach() for p in w], g, w


def test_clipnorm_clips_each_parameter_by_its_own_norm():
    clipped, g, w = sgd_step(clipnorm=1.0)
    expected = [gi * 1.0 / max(gi.norm().item(), 1.0) for gi in g]  # Keras: g * c / max(|g|, c)
    for a, b in zip(clipped, expected, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(w[0].grad, expected[0])  # clipped in place, like clip_grad_norm_


def test_clipvalue_clamps_elementwise():
    clipped, g, _ = sgd_step(clipvalue=0.4)
    for a, gi in zip(clipped, g, strict=True):
        torch.testing.assert_close(a, gi.clamp(-0.4, 0.4))


def test_global_clipnorm_clips_the_norm_over_all_parameters():
    clipped, g, _ = sgd_step(global_clipnorm=1.0)
    total = torch.sqrt(sum(gi.pow(2).sum() for gi in g))
    scale = min(1.0, 1.0 / (total.item() + 1e-6))  # torch.nn.utils.clip_grad_norm_'s rule
    for a, gi in zip(clipped, g, strict=True):
        torch.testing.assert_close(a, gi * scale)


def test_clipvalue_then_clipnorm():
    clipped, g, _ = sgd_step(clipvalue=2.0, clipnorm=1.0)
    first = g[0].clamp(-2, 2)
    torch.testing.assert_close(clipped[0], first / first.norm())


@pytest.mark.parametrize("factory, torch_factory", [
    (lambda: opts.Adam(lr=0.1, clipnorm=0.5), lambda p: torch.optim.Adam(p, lr=0.1, eps=1e-7)),
    (lambda: opts.RMSprop(lr=0.1, clipnorm=0.5), lambda p: torch.optim.RMSprop(p, lr=0.1, alpha=0.9,
                                                                            eps=1e-7)),
])
def test_optimizers_delegating_to_torch_clip_too(factory, torch_factory):
    a, g = params_and_grads()
    b, _ = params_and_grads()
    ours, theirs = factory().bind(a), torch_factory(b)
    for _ in range(3):
        for pa, pb, gi in zip(a, b, g, strict=True):
            pa.grad = gi.clone()
            pb.grad = gi * 0.5 / max(gi.norm().item(), 0.5)
        ours.step()
        theirs.step()
    for pa, pb in zip(a, b, strict=True):
        torch.testing.assert_close(pa, pb)


def test_clipping_with_a_closure():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = opts.SGD(lr=1.0, clipnorm=1.0, params=[w])

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum() / 2  # grad = w, norm 5
        loss.backward()
        return loss

    assert opt.step(closure).item() == 12.5
    torch.testing.assert_close(w.detach(), torch.tensor([3.0 - 0.6, 4.0 - 0.8]))


def test_step_hooks_run_once_per_step():
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # hooks torch.optim.Adam.step itself
    w = torch.nn.Parameter(torch.zeros(2))
    opt = opts.Adam(clipnorm=1.0, params=[w])
    calls = []
    opt.register_step_pre_hook(lambda *args: calls.append("pre"))
    opt.register_step_post_hook(lambda *args: calls.append("post"))
    w.grad = torch.ones(2)
    opt.step()
    assert calls == ["pre", "post"]


def test_clip_settings_survive_copy_and_pickle():
    opt = opts.SGD(lr=0.1, clipvalue=0.5)
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert clone.clipvalue == 0.5 and not clone.is_bound
        assert clone.get_config() == opt.get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"clipnorm": 0}, r"Invalid clipping norm: argument `clipnorm` of SGD must be a number > 0 "
                      r"or None\. Received: clipnorm=0"),
    ({"clipvalue": -1.0}, r"Invalid clipping value"),
    ({"clipnorm": 1.0, "global_clipnorm": 1.0}, r"Only one of `clipnorm` and `global_clipnorm`"),
])
def test_invalid_clipping_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        opts.SGD(**kwargs)
