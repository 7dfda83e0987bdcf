"""The execution plan: fast and textbook paths agree, on every CPU policy lamina knows, and the
plan depends on the machine and the model, never on what ran before."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.errors import LaminaWarning
from lamina.fast import policy
from lamina.fast.plan import Settings, plan_for

CPU = torch.device("cpu")


def lenet():
    return lm.zoo.LeNet5()


def resnet20():
    return lm.zoo.ResNet(20, num_classes=10, input_shape=(1, 28, 28))


def lstm():
    return lm.zoo.SequenceClassifier(3, (12, 5), units=8, cell="lstm")


MODELS = {"lenet5": (lenet, (1, 28, 28), 10), "resnet20": (resnet20, (1, 28, 28), 10),
          "lstm": (lstm, (12, 5), 3)}


def three_steps(make, shape, classes, fast, **compile_kwargs):
    """The history and weights after 3 SGD steps (one epoch of 3 batches of 8)."""
    lm.set_seed(0)
    model = make()
    rng = np.random.default_rng(0)
    x = rng.random((24, *shape)).astype(np.float32)
    y = rng.integers(0, classes, 24)
    model.compile(optimizer=lm.optimizers.SGD(lr=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu",
                  fast=fast, **compile_kwargs)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, history.history["loss"][0]


@pytest.mark.parametrize("name", MODELS)
def test_fast_and_textbook_paths_give_the_same_loss(name):
    fast_model, fast_loss = three_steps(*MODELS[name], fast=True)
    slow_model, slow_loss = three_steps(*MODELS[name], fast=False)
    assert fast_loss == pytest.approx(slow_loss, rel=1e-5)
    for (key, a), b in zip(fast_model.state_dict().items(), slow_model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=key)
    # outside fit, every layer runs its own forward: nothing of the plan is left behind
    assert not any({"forward", "preactivation"} & set(vars(m)) for m in fast_model.modules())


def test_fast_and_textbook_rbm_train_alike():
    x = (np.random.default_rng(0).random((30, 64)) > 0.5).astype(np.float32)
    fitted = []
    for fast in (True, False):
        rbm = lm.unsupervised.RBM(16, lr=0.1, momentum=0.5, weight_decay=1e-3, batch_size=10,
                                  epochs=1, random_state=0, device="cpu", fast=fast)
        fitted.append(rbm.fit(x))  # 3 steps of contrastive divergence
    torch.testing.assert_close(fitted[0].weight, fitted[1].weight, rtol=1e-5, atol=1e-6)
    assert fitted[0].reconstruction_error(x) == pytest.approx(
        fitted[1].reconstruction_error(x), rel=1e-5)


@pytest.mark.parametrize("capability", policy.KNOWN_CAPABILITIES)
def test_every_cpu_policy_trains_like_the_textbook_path(capability):
    # the decisions of an AVX2, an AVX-512 and a plain x86-64 machine, on this one's kernels
    _, textbook = three_steps(lenet, (1, 28, 28), 10, fast=False)
    with policy.emulate(capability):
        _, fast = three_steps(lenet, (1, 28, 28), 10, fast=True)
    assert fast == pytest.approx(textbook, rel=1e-5)


@pytest.mark.parametrize("capability", policy.KNOWN_CAPABILITIES)
def test_a_failed_compile_falls_back_to_the_very_kernels_of_eager_mode(capability, monkeypatch):
    def broken_compile(fn, *args, **kwargs):
        def run(*a, **k):
            raise RuntimeError("backend exploded")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    with policy.emulate(capability):
        _, eager = three_steps(lenet, (1, 28, 28), 10, fast=True)
        with pytest.warns(LaminaWarning, match="backend exploded"):
            _, fallback = three_steps(lenet, (1, 28, 28), 10, fast=True, jit=True)
    assert fallback == eager  # bit for bit: the same layout, the same kernels


def test_predict_is_bit_identical_before_and_after_compile_and_after_loading(tmp_path):
    lm.set_seed(1)
    model = lenet()
    x = np.random.default_rng(2).random((6, 1, 28, 28)).astype(np.float32)
    before = model.predict(x)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    after = model.predict(x)
    model.save(tmp_path / "lenet.lamina")
    loaded = lm.load_model(tmp_path / "lenet.lamina").predict(x)
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(before, loaded)


def test_the_plan_is_made_from_the_machine_and_the_model():
    net = lenet()
    pools = [m for m in net.modules() if isinstance(m, lm.layers.MaxPool2D)]
    with policy.emulate("AVX512"):
        train = plan_for(net, CPU, Settings(), training=True)
        infer = plan_for(net, CPU, Settings(), training=False)
        jit = plan_for(net, CPU, Settings(jit=True), training=True)
    assert train.memory_format == infer.memory_format == jit.memory_format == (
        torch.channels_last)
    tiled = {id(r.module) for r in infer.rewrites if r.function.__name__ == "_tiled_forward"}
    assert tiled == {id(p) for p in pools}  # inference: the tiled pooling, on any CPU
    with policy.emulate("DEFAULT"):
        assert plan_for(net, CPU, Settings(), training=True).memory_format == (
            torch.contiguous_format)
    textbook = plan_for(net, CPU, Settings(fast=False), training=True)
    assert textbook.rewrites == [] and textbook.step is None


_ON_OTHER_KERNELS = """
import warnings
import numpy as np, pytest, torch
import lamina as lm
from lamina.fast import policy
import tests.fast.test_plan as T
torch.set_num_threads(1)
assert policy.current().capability == {capability!r}, policy.current()
_, textbook = T.three_steps(T.lenet, (1, 28, 28), 10, fast=False)
_, fast = T.three_steps(T.lenet, (1, 28, 28), 10, fast=True)
assert fast == pytest.approx(textbook, rel=1e-5), (fast, textbook)
torch.compile = lambda fn, *a, **k: (lambda *x, **y: (_ for _ in ()).throw(RuntimeError("x")))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _, fallback = T.three_steps(T.lenet, (1, 28, 28), 10, fast=True, jit=True)
assert fallback == fast, (fallback, fast)
print("ok")
"""


@pytest.mark.parametrize("capability", ["AVX2", "DEFAULT"])
def test_fast_paths_hold_on_the_kernels_of_another_cpu(capability):
    # ATen's own kernels of an AVX2 (or a plain x86-64) CPU, and lamina's policy for it
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability.lower()}
    done = subprocess.run([sys.executable, "-c", _ON_OTHER_KERNELS.format(capability=capability)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
