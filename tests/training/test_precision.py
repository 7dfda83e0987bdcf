"""compile(precision=..., channels_last=..., cuda_graphs=...): the GPU fast paths.

The CPU runs autocast in bfloat16 and float16 and stores NHWC tensors too, so the logic is
tested here against float32 and default-layout twins; CUDA graphs only exist on a GPU, so
their switch is tested as what reaches torch.compile.
"""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.checkpoint import load_state
from lamina.errors import LaminaWarning
from lamina.fast import policy
from lamina.fast.plan import Settings, channels_last_for, cuda_graphs_for
from lamina.fast.steps import inductor_options
from lamina.training.precision import MixedPrecision, resolve_precision
from lamina.training.resume import checkpoint_path


def data(n=128, shape=(3, 12, 12)):
    rng = np.random.default_rng(0)
    return rng.random((n, *shape)).astype(np.float32), np.arange(n) % 3


def small_cnn(seed=0):
    lm.set_seed(seed)
    return lm.Sequential([lm.layers.Conv2D(4, 3, activation="relu"), lm.layers.MaxPool2D(2),
                          lm.layers.Flatten(), lm.layers.Dense(3, activation="softmax")],
                         input_shape=(3, 12, 12))


def fit(precision="32", channels_last=False, epochs=2, **kwargs):
    model = small_cnn()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu",
                  precision=precision, channels_last=channels_last)
    x, y = data()
    history = model.fit(x, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0, **kwargs)
    return model, history


def test_precision_names():
    assert resolve_precision("bf16-mixed") is torch.bfloat16
    assert resolve_precision("mixed_float16") is torch.float16
    assert resolve_precision("32") is None and resolve_precision(32) is None
    with pytest.raises(ValueError, match="Unknown precision 'bf8'.*'bf16-mixed'"):
        resolve_precision("bf8")


@pytest.mark.parametrize("precision, dtype", [("bf16-mixed", torch.bfloat16),
                                              ("16-mixed", torch.float16)])
def test_mixed_precision_runs_the_forward_low_and_keeps_float32_weights(precision, dtype):
    model = small_cnn()
    seen = []
    model.layers[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cpu",
                  precision=precision)
    x, y = data(64)
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert set(seen) == {dtype}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x[:4]).dtype == np.float32


@pytest.mark.parametrize("precision, tol", [("bf16-mixed", 3e-2), ("16-mixed", 5e-3)])
def test_mixed_precision_follows_the_float32_run(precision, tol):
    reference, h_ref = fit("32")
    mixed, h_mixed = fit(precision)
    np.testing.assert_allclose(h_mixed.history["loss"], h_ref.history["loss"], rtol=tol)
    for (name, ref), low in zip(reference.state_dict().items(), mixed.state_dict().values()):
        torch.testing.assert_close(low, ref, rtol=tol, atol=tol, msg=name)


def test_outputs_of_several_tensors_come_back_float32():
    amp = MixedPrecision(torch.bfloat16, "cpu")
    low = torch.ones(2, dtype=torch.bfloat16)
    out = amp.output((low, [low, torch.arange(3)]))
    assert out[0].dtype == torch.float32 and out[1][0].dtype == torch.float32
    assert out[1][1].dtype == torch.int64 and isinstance(out[1], list)


def test_float16_skips_a_step_whose_gradients_overflow_and_lowers_the_scale():
    amp = MixedPrecision(torch.float16, "cpu")
    weight = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([weight], lr=0.1)
    amp.backward_and_step((weight * float("inf")).sum(), opt)
    assert torch.equal(weight.detach(), torch.ones(3))  # skipped
    assert amp.scaler.get_scale() == 2.0**16 * 0.5  # GradScaler's default scale, backed off
    opt.zero_grad()
    amp.backward_and_step((weight * 2.0).sum(), opt)  # d/dw = 2, unscaled before the step
    torch.testing.assert_close(weight.detach(), torch.full((3,), 0.8))


def test_float16_clipping_sees_unscaled_gradients():
    amp = MixedPrecision(torch.float16, "cpu")
    weight = torch.nn.Parameter(torch.zeros(4))
    opt = lm.optimizers.SGD(lr=1.0, clipnorm=1.0)
    opt.bind([weight])
    amp.backward_and_step((weight * torch.tensor([0.1, 0.2, 0.2, 0.1])).sum(), opt)
    # ||g|| = 0.316 < 1: no clipping, the step is -g (a scaled g would have been clipped)
    torch.testing.assert_close(weight.detach(), -torch.tensor([0.1, 0.2, 0.2, 0.1]))


def compiled_cnn(seed, precision):
    model = small_cnn(seed)
    model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu",
                  precision=precision)
    return model


def test_float16_loss_scale_is_saved_and_resumed(tmp_path):
    x, y = data()
    model = compiled_cnn(0, "16-mixed")
    model._trainer.amp.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, checkpoint=str(tmp_path))
    assert load_state(checkpoint_path(str(tmp_path)))["grad_scaler"]["scale"] == 1024.0
    fresh = compiled_cnn(1, "16-mixed")
    assert fresh._trainer.amp.scaler.get_scale() == 2.0**16
    fresh.fit(x, y, batch_size=32, epochs=1, verbose=0, checkpoint=str(tmp_path),
              resume=True)  # that epoch is done: the state is restored, nothing trains
    assert fresh._trainer.amp.scaler.get_scale() == 1024.0


def test_channels_last_stores_nhwc_and_trains_like_the_default_layout(tmp_path):
    reference, h_ref = fit("32")
    nhwc, h_nhwc = fit("32", channels_last=True)
    conv = nhwc.layers[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    np.testing.assert_allclose(h_nhwc.history["loss"], h_ref.history["loss"], rtol=1e-5)
    x, _ = data(8)
    np.testing.assert_allclose(nhwc.predict(x), reference.predict(x), rtol=1e-4, atol=1e-6)
    nhwc.save(tmp_path / "nhwc.lamina")  # safetensors needs contiguous tensors
    loaded = lm.load_model(tmp_path / "nhwc.lamina")
    np.testing.assert_allclose(loaded.predict(x), nhwc.predict(x), rtol=1e-5, atol=1e-7)


def test_channels_last_batches_reach_the_convolution_nhwc():
    model = small_cnn()
    layouts = []
    model.layers[0].register_forward_pre_hook(
        lambda m, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cpu",
                  channels_last=True)
    x, y = data(32)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.evaluate(x, y)
    assert layouts and all(layouts)


def test_auto_layout_and_cuda_graphs_follow_the_device():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert channels_last_for(lm.zoo.LeNet5(), cuda, "auto")
    assert policy.CpuPolicy("AVX512").channels_last and policy.CpuPolicy("AVX2").channels_last
    assert not policy.CpuPolicy("DEFAULT").channels_last
    with policy.emulate("DEFAULT"):  # e.g. no AVX2
        assert not channels_last_for(lm.zoo.LeNet5(), cpu, "auto")
    with policy.emulate("AVX2"):
        assert channels_last_for(lm.zoo.LeNet5(), cpu, "auto")
        assert not channels_last_for(lm.zoo.LeNet5(), cpu, False)
        assert not channels_last_for(lm.zoo.MLP((8,), input_shape=(4,)), cpu, "auto")
    assert not channels_last_for(lm.zoo.MLP((8,), input_shape=(4,)), cuda, "auto")
    assert channels_last_for(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)), cuda, "auto")
    with pytest.raises(ValueError, match="channels_last='yes'"):
        lm.zoo.LeNet5().compile(loss="mse", channels_last="yes")
    assert cuda_graphs_for(cuda, True, "auto") and not cuda_graphs_for(cuda, False, "auto")
    assert not cuda_graphs_for(cpu, True, "auto")
    with pytest.warns(LaminaWarning, match="needs `jit=True` on a CUDA device"):
        assert not cuda_graphs_for(cpu, True, True)
    with pytest.warns(LaminaWarning, match="needs `jit=True` on a CUDA device"):
        lm.zoo.LeNet5().compile(loss="mse", device="cpu", jit=True, cuda_graphs=True)


def test_cuda_graphs_reach_inductor_on_a_gpu_only():
    model = lm.zoo.MLP((8,), input_shape=(4,))
    assert inductor_options(model, torch.device("cuda"), True) == {"triton.cudagraphs": True}
    assert inductor_options(model, torch.device("cuda"), False) is None
    assert inductor_options(model, torch.device("cpu"), True) is None
    assert Settings().fast


def test_channels_last_run_resumes_bit_identical_mid_epoch(tmp_path):
    class Crash(Exception):
        pass

    class CrashInEpoch2(lm.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (1, 1):
                raise Crash

    def run(seed=0, **kwargs):  # NHWC weights, gradients and momentum, shuffled batches
        model = small_cnn(seed)
        model.compile(optimizer=lm.optimizers.SGD(lr=0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy", device="cpu",
                      channels_last=True)
        lm.set_seed(5)
        history = model.fit(*data(), batch_size=32, epochs=3, verbose=0, **kwargs)
        return model, history

    straight, h_straight = run()
    with pytest.raises(Crash):
        run(checkpoint=str(tmp_path), checkpoint_every=1, callbacks=[CrashInEpoch2()])
    resumed, h_resumed = run(seed=3, checkpoint=str(tmp_path), checkpoint_every=1,
                             resume=True)
    assert resumed.layers[0].weight.is_contiguous(memory_format=torch.channels_last)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert h_resumed.history == h_straight.history
