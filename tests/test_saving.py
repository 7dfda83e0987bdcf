"""save/load: one safetensors file with a JSON config; never unpickles; clear errors."""

import json

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers


def small_convnet():
    return lm.Sequential([
        layers.Conv2D(3, 3, padding="same", activation="relu", name="c1"),
        layers.BatchNorm(name="bn"),
        layers.MaxPool2D(2),
        layers.Flatten(),
        layers.Dropout(0.1),
        layers.Dense(4, activation="softmax", kernel_initializer="he_normal"),
    ], input_shape=(1, 8, 8), name="tiny")


def test_model_round_trip_predicts_identically(tmp_path):
    model = small_convnet()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.rand(16, 1, 8, 8)
    model.fit(x, np.random.randint(0, 4, 16), epochs=1, verbose=0)  # moves BN statistics
    path = tmp_path / "tiny.lamina"
    model.save(path)
    loaded = lm.load_model(path)
    assert loaded.name == "tiny" and isinstance(loaded.layers[1], layers.BatchNorm)
    # uncompiled, the loaded model keeps the default layout, while compile may pick NHWC
    # (channels_last="auto"): equal up to the convolutions' float rounding
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)
    loaded.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_file_is_plain_safetensors_with_json_config(tmp_path):
    from safetensors.torch import load_file

    path = tmp_path / "m.lamina"
    small_convnet().save(path)
    tensors = load_file(path)
    assert "layers.0.weight" in tensors
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    config = json.loads(header["__metadata__"]["config"])
    assert config["class"] == "Sequential"
    assert [c["class"] for c in config["config"]["layers"]][:2] == ["Conv2D", "BatchNorm"]


def test_weights_round_trip_and_mismatch_names_the_tensor(tmp_path):
    a = lm.Sequential([layers.Dense(3), layers.Dense(2)], input_shape=(4,))
    b = lm.Sequential([layers.Dense(3), layers.Dense(2)], input_shape=(4,))
    a.save_weights(tmp_path / "w.safetensors")
    b.load_weights(tmp_path / "w.safetensors")
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    c = lm.Sequential([layers.Dense(5), layers.Dense(2)], input_shape=(4,))
    with pytest.raises(ValueError, match=r"'layers.0.weight'.*\(3, 4\).*\(5, 4\)"):
        c.load_weights(tmp_path / "w.safetensors")


def test_truncated_or_garbage_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "m.lamina"
    small_convnet().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid lamina/safetensors file"):
        lm.load_model(path)
    path.write_bytes(b"\x80\x04garbage that looks like a pickle")
    with pytest.raises(ValueError, match="not a valid"):
        lm.load_model(path)


def test_weights_file_is_not_a_model(tmp_path):
    model = lm.Sequential([layers.Dense(2)], input_shape=(3,))
    model.save_weights(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="load_weights"):
        lm.load_model(tmp_path / "w.safetensors")


def test_plain_torch_module_cannot_be_saved_as_a_model(tmp_path):
    model = lm.Model.wrap(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="save_weights"):
        model.save(tmp_path / "x.lamina")
    model.save_weights(tmp_path / "x.safetensors")


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "m.lamina"
    small_convnet().save(path)
    small_convnet().save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lamina"]
