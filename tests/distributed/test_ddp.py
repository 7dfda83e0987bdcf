"""Data-parallel fit on 2 gloo processes (torchrun) against one process.

The gradients of every step equal the single-process gradients of the same global batch
(the batches are uneven: 9 samples in batches of 4 give parts of 2+2, 2+2 and 1+0, where
the empty part trains at weight 0); a 2-process run killed mid-epoch resumes from its
checkpoint to bit-identical weights.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import lamina as lm
from lamina.distributed.batchnorm import synced_batch_norm
from lamina.distributed.parallel import DataParallel, check_strategy, part_sizes
from tests.distributed import ddp_worker as worker

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "ddp_worker.py")


def torchrun(out, mode, expect_ok=True):
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_port=0", "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0",
           WORKER, str(out), mode]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if expect_ok:
        assert done.returncode == 0, done.stderr[-3000:]
    else:
        assert done.returncode != 0
    return done


@pytest.mark.parametrize("name", ["plain", "bn"])
def test_two_processes_give_the_single_process_gradients(tmp_path_factory, name):
    out = tmp_path_factory.getbasetemp() / "ddp_grads"
    if not (out / "bn.safetensors").exists():  # one launch for both models
        out.mkdir(exist_ok=True)
        torchrun(out, "grads")
    saved = load_file(str(out / f"{name}.safetensors"))
    steps, losses = worker.grads(name == "bn", None)  # one process, the same global batches
    assert len(steps) == 6 and len(saved) == 6 * len(steps[0])
    for s, step in enumerate(steps):
        for i, g in enumerate(step):
            # (atol: with batch norm the bias before it has a gradient of 0 plus rounding)
            torch.testing.assert_close(saved[f"{s}.{i}"], g, rtol=1e-5, atol=1e-5)
    # the epoch losses are summed over both ranks (the last batch's stand-in sample, at
    # weight 0 in the gradient, stays out of them)
    np.testing.assert_allclose(np.load(out / f"{name}_loss.npy"), losses, rtol=1e-5)


def test_a_killed_two_process_run_resumes_bit_identically(tmp_path):
    full, broken = tmp_path / "full", tmp_path / "broken"
    full.mkdir(), broken.mkdir()
    torchrun(full, "full")
    torchrun(broken, "killed", expect_ok=False)
    assert os.path.exists(broken / "run" / "last.ckpt")
    torchrun(broken, "resumed")
    a = load_file(str(full / "full.safetensors"))
    b = load_file(str(broken / "resumed.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_strategy_ddp_outside_a_launcher_is_a_clear_error(monkeypatch):
    for k in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(k, raising=False)
    net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    net.compile(loss="mse")
    with pytest.raises(RuntimeError, match="torchrun --nproc_per_node"):
        net.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0, strategy="ddp")
    with pytest.raises(ValueError, match="'auto', 'ddp' or None"):
        check_strategy("dp")


def test_parts_of_a_global_batch():
    assert part_sizes(9, 2) == [5, 4] and part_sizes(1, 2) == [1, 0]
    index = torch.arange(5)
    assert [len(index.tensor_split(2)[r]) for r in range(2)] == part_sizes(5, 2)


def test_synced_batch_norm_with_one_rank_is_the_batch_norm():
    torch.manual_seed(0)
    bn = lm.layers.BatchNorm(momentum=0.3)
    bn.build((3, 4, 4))
    ref = torch.nn.BatchNorm2d(3, momentum=0.3)
    x = torch.randn(6, 3, 4, 4) * 3 + 2
    for _ in range(2):  # the second pass shifts by a non-zero running mean
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = synced_batch_norm(bn, a, reduce=lambda t: t), ref(b)
        torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
        (ya * x).sum().backward()
        (yb * x).sum().backward()
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)


def test_is_main_process_and_world_size_outside_a_launcher(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert lm.distributed.is_main_process() and lm.distributed.world_size() == 1
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not lm.distributed.is_main_process() and lm.distributed.launched()
    assert DataParallel(None, 1, 2).verbose(1) == 0


def test_only_rank_0_writes_checkpoints_and_logs(monkeypatch, tmp_path):
    monkeypatch.setenv("RANK", "1")  # what torchrun tells a second process
    net = lm.Sequential([lm.layers.Dense(2)], input_shape=(3,))
    net.compile(loss="mse")
    callbacks = [lm.callbacks.ModelCheckpoint(str(tmp_path / "m.safetensors"), monitor="loss",
                                              save_weights_only=True),
                 lm.callbacks.CSVLogger(str(tmp_path / "log.csv"))]
    net.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0, strategy=None, callbacks=callbacks)
    assert os.listdir(tmp_path) == []
    monkeypatch.setenv("RANK", "0")
    net.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0, strategy=None, callbacks=callbacks)
    assert sorted(os.listdir(tmp_path)) == ["log.csv", "m.safetensors"]


def test_a_dbn_pretrains_data_parallel_with_the_same_weights_on_every_rank(tmp_path):
    torchrun(tmp_path, "rbm")
    a = load_file(str(tmp_path / "rbm_0.safetensors"))
    b = load_file(str(tmp_path / "rbm_1.safetensors"))
    assert a.keys() == b.keys() and len(a) == 6
    for k in a:  # the averaged CD statistics give every rank the same update
        assert torch.equal(a[k], b[k]), k
    one, x = worker.rbm(1)  # one process: a different Gibbs noise, a comparable fit
    first = one.rbms[0]
    start = lm.unsupervised.RBM(6, random_state=0)
    start.reset_parameters(12)
    error = {name: float(((torch.sigmoid(torch.from_numpy(x) @ w + c) @ w.T + bv).sigmoid()
                          - torch.from_numpy(x)).pow(2).mean())
             for name, (w, bv, c) in {
                 "two": (a["0.w"], a["0.b"], a["0.c"]),
                 "one": (first.weight, first.visible_bias, first.hidden_bias),
                 "init": (start.weight, start.visible_bias, start.hidden_bias)}.items()}
    assert error["two"] < error["init"] and abs(error["two"] - error["one"]) < 0.5 * (
        error["init"] - error["one"])
