"""model.load_weights(path, by_name=False, skip_mismatch=False) on lamina's own files."""

import warnings

import pytest
import torch
from safetensors.torch import save_file

import lamina as lm
from lamina.errors import FileFormatError, LaminaWarning
from lamina.saving import layer_keys


def mlp(out=2, name=None):
    return lm.Sequential([lm.layers.Dense(4, name="hidden"), lm.layers.Dense(out, name="head")],
                         input_shape=(3,), name=name)


def test_layer_keys_name_tensors_by_innermost_layer_at_any_depth():
    net = lm.zoo.ResNet(18, include_top=False, input_shape=(3, 32, 32))
    keys = layer_keys(net)
    assert keys["layers.0.conv.weight"] == "conv1/conv.weight"
    assert keys["layers.1.bn1.running_mean"] == "conv2_1/bn1.running_mean"
    assert len(set(keys.values())) == len(keys)


def test_by_name_loads_matching_layers_and_leaves_the_rest(tmp_path):
    torch.manual_seed(0)
    src = mlp(2)
    path = str(tmp_path / "w.safetensors")
    src.save_weights(path)
    dst = lm.Sequential([lm.layers.Dense(4, name="hidden"), lm.layers.Dense(3, name="other")],
                        input_shape=(3,))
    before = dst.layers[1].weight.detach().clone()
    dst.load_weights(path, by_name=True)
    assert torch.equal(dst.layers[0].weight, src.layers[0].weight)
    assert torch.equal(dst.layers[1].weight, before)


def test_by_name_through_nesting_and_from_a_save_file(tmp_path):
    torch.manual_seed(0)
    src = mlp(2)
    path = str(tmp_path / "m.lamina")
    src.save(path)  # a model file: names come from its config
    wrapper = lm.Sequential([mlp(2, name="inner")], input_shape=(3,))
    wrapper.load_weights(path, by_name=True)
    inner = wrapper.layers[0]
    assert torch.equal(inner.layers[1].bias, src.layers[1].bias)


def test_by_name_shape_mismatch_raises_or_is_skipped_with_a_warning(tmp_path):
    src = mlp(2)
    path = str(tmp_path / "w.safetensors")
    src.save_weights(path)
    dst = mlp(7)
    with pytest.raises(FileFormatError, match=r"Tensor 'layers.1.weight'.*shape \(2, 4\).*"
                                              r"Expected: shape \(7, 4\).*skip_mismatch=True"):
        dst.load_weights(path, by_name=True)
    with pytest.warns(LaminaWarning, match=r"did not load 2 tensor.*layers.1.weight \(2, 4\) -> "
                                           r"\(7, 4\)"):
        dst.load_weights(path, by_name=True, skip_mismatch=True)
    assert torch.equal(dst.layers[0].weight, src.layers[0].weight)


def test_by_position_skip_mismatch_still_needs_the_same_tensors(tmp_path):
    src = mlp(2)
    path = str(tmp_path / "w.safetensors")
    src.save_weights(path)
    dst = mlp(5)
    with pytest.warns(LaminaWarning, match="did not load 2"):
        dst.load_weights(path, skip_mismatch=True)
    assert torch.equal(dst.layers[0].bias, src.layers[0].bias)
    deeper = lm.Sequential([lm.layers.Dense(4), lm.layers.Dense(4), lm.layers.Dense(2)],
                           input_shape=(3,))
    with pytest.raises(FileFormatError, match=r"missing \['layers.2.weight'.*by_name=True"):
        deeper.load_weights(path, skip_mismatch=True)
    with pytest.raises(FileFormatError, match="Tensor 'layers.1.weight'.*another architecture"):
        deeper.load_weights(path)


def test_by_name_with_no_common_name_and_foreign_files(tmp_path):
    path = str(tmp_path / "foreign.safetensors")
    save_file({"hidden.weight": torch.ones(4, 3), "hidden.bias": torch.zeros(4)}, path)
    dst = mlp(2)
    dst.load_weights(path, by_name=True)  # a foreign file's tensor names are layer names
    assert torch.equal(dst.layers[0].weight, torch.ones(4, 3))
    other = lm.Sequential([lm.layers.Dense(4, name="x")], input_shape=(3,))
    with pytest.raises(FileFormatError, match="No tensor of .* belongs to a layer"):
        other.load_weights(path, by_name=True)


def test_strict_default_is_unchanged(tmp_path):
    src = mlp(2)
    path = str(tmp_path / "w.safetensors")
    src.save_weights(path)
    dst = mlp(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dst.load_weights(path)
    assert torch.equal(dst.layers[1].weight, src.layers[1].weight)
