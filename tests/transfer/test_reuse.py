"""Transfer learning's building blocks: freezing, cutting a model at a layer, a model as a
layer, features by layer name, and learning rates by layer."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.errors import ResumeWarning


def convnet(seed=0):
    lm.set_seed(seed)
    return lm.Sequential([
        layers.Conv2D(4, 3, activation="relu", name="conv_a"), layers.BatchNorm(name="bn_a"),
        layers.MaxPool2D(2), layers.Conv2D(6, 3, activation="relu", name="conv_b"),
        layers.Flatten(name="flatten"), layers.Dense(8, activation="relu", name="fc"),
        layers.Dense(3, activation="softmax", name="head")], input_shape=(1, 12, 12))


def data(n=48):
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 12, 12)).astype(np.float32), rng.integers(0, 3, n)


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_frozen_weights_and_batch_norm_statistics_are_bit_identical_after_fit():
    model = convnet()
    model.freeze(until="bn_a")
    before = snapshot(model)
    model.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    model.fit(*data(), batch_size=16, epochs=2, verbose=0)
    after = model.state_dict()
    frozen = [k for k in before if k.startswith(("layers.0.", "layers.1."))]
    assert {k.split(".")[-1] for k in frozen} >= {"weight", "running_mean", "running_var"}
    for key in frozen:
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(before["layers.3.weight"], after["layers.3.weight"])
    held = {id(p) for g in model.optimizer.param_groups for p in g["params"]}
    assert not held & {id(p) for p in model.layers[0].parameters()}  # never seen
    model.train()
    assert not model.get_layer("bn_a").training and model.get_layer("fc").training


def test_unfreezing_after_compile_rebinds_lamina_optimizers_and_refuses_a_bound_one():
    model = convnet()
    model.freeze(until=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(*data(), batch_size=16, epochs=1, verbose=0)
    model.unfreeze()
    first = model.layers[0].weight.detach().clone()
    model.fit(*data(), batch_size=16, epochs=1, verbose=0)
    assert not torch.equal(first, model.layers[0].weight)  # trains now
    other = convnet()
    other.freeze(until=0)
    opt = torch.optim.SGD([p for p in other.parameters() if p.requires_grad], lr=0.1)
    other.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    other.unfreeze()
    with pytest.raises(ValueError, match=r"compile\(\.\.\.\)` again"):
        other.fit(*data(), batch_size=16, epochs=1, verbose=0)


def test_a_frozen_model_saved_and_loaded_is_still_frozen(tmp_path):
    model = convnet()
    model.freeze(until="conv_b")
    model.get_layer("head").bias.requires_grad_(False)  # frozen by hand
    model.save(tmp_path / "frozen.lamina")
    loaded = lm.load_model(tmp_path / "frozen.lamina")
    assert [layer.trainable for layer in loaded.layers] == [False] * 4 + [True] * 3
    assert not loaded.get_layer("head").bias.requires_grad
    assert loaded.get_layer("head").weight.requires_grad
    lines = []
    loaded.summary(print_fn=lines.append)
    frozen = sum(p.numel() for p in loaded.parameters() if not p.requires_grad)
    assert f"Non-trainable params: {frozen:,}" in lines[0]


def test_resume_restores_the_frozen_layers_bit_for_bit(tmp_path):
    class Stop(lm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    def run(freeze, **kwargs):
        model = convnet()
        if freeze:
            model.freeze(until="bn_a")
        model.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
        lm.set_seed(3)
        with pytest.warns(Warning) if kwargs.get("callbacks") else _nothing():
            model.fit(*data(), batch_size=16, epochs=2, verbose=0, **kwargs)
        return model

    straight = run(True)
    run(True, checkpoint=str(tmp_path), checkpoint_every=1, callbacks=[Stop()])
    with pytest.warns(ResumeWarning, match="frozen layers are restored"):
        resumed = convnet()  # not frozen by the script: the checkpoint freezes it
        resumed.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.9),
                        loss="sparse_categorical_crossentropy")
        lm.set_seed(3)
        resumed.fit(*data(), batch_size=16, epochs=2, verbose=0, checkpoint=str(tmp_path),
                    resume=True)
    assert not resumed.get_layer("conv_a").trainable
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_sequential_is_cut_at_a_layer_and_reused_as_a_layer():
    base = convnet()
    x = torch.rand(5, 1, 12, 12)
    cut = lm.Model(inputs=base.input, outputs=base.get_layer("flatten").output)
    base.eval()
    want = x
    for layer in base.layers[:5]:
        want = layer(want)
    torch.testing.assert_close(cut.predict(x.numpy()), want.detach().numpy(), rtol=0, atol=0)
    assert base.get_layer(index=-1) is base.get_layer("head")
    assert cut.get_layer("conv_a") is base.get_layer("conv_a")  # shared, not copied
    new = lm.Sequential([cut, layers.Dense(5, activation="softmax", name="new_head")],
                        input_shape=(1, 12, 12))
    new.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    new.fit(*data(), batch_size=16, epochs=1, verbose=0)
    assert new.predict(x.numpy()).shape == (5, 5)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        base.get_layer("nope")
    with pytest.raises(ValueError, match="not both or neither"):
        base.get_layer()
    with pytest.raises(ValueError, match="no symbolic input"):
        _ = lm.Sequential([layers.Dense(2)]).input


def test_feature_extractor_gives_each_named_layer_at_any_depth():
    net = lm.zoo.ResNet(20, num_classes=10, input_shape=(1, 16, 16))
    top = {id(layer) for layer in net.layers}
    inner = [m for m in net.modules() if isinstance(m, layers.Conv2D) and id(m) not in top][3]
    names = [net.layers[0].name, inner.name]
    seen = {}
    for name in names:
        module = net.get_layer(name)
        module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
    x = np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32)
    feats = lm.transfer.feature_extractor(net, names).predict(x)
    net.eval()
    with torch.no_grad():
        net(torch.from_numpy(x))
    for name in names:
        np.testing.assert_array_equal(feats[name], seen[name].numpy())
    with pytest.raises(ValueError, match="no layers named"):
        lm.transfer.feature_extractor(net, ["missing"])


def test_lr_multipliers_make_groups_that_survive_schedules_and_resume(tmp_path):
    def run(extra=(), **kwargs):
        model = convnet()
        model.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.9),
                      loss="sparse_categorical_crossentropy",
                      lr_multipliers={"conv*": 0.1, "head": 2.0})
        halve = lm.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / 2 ** epoch)
        lm.set_seed(1)
        model.fit(*data(), batch_size=16, epochs=3, verbose=0, callbacks=[halve, *extra],
                  **kwargs)
        return model

    straight = run()
    rates = sorted(round(g["lr"], 9) for g in straight.optimizer.param_groups)
    assert rates == [0.0025, 0.025, 0.05]  # 0.1 / 4 at the last epoch, x0.1, x1, x2

    class Crash(lm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        run([Crash()], checkpoint=str(tmp_path))
    with pytest.warns(ResumeWarning, match="callbacks"):
        resumed = run(checkpoint=str(tmp_path), resume=True)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    with pytest.raises(ValueError, match="match no trainable layer"):
        convnet().compile(loss="mse", lr_multipliers={"nothing*": 0.1})
    with pytest.raises(ValueError, match="lr_multipliers"):
        convnet().compile(loss="mse", lr_multipliers={"conv*": -1})
