"""Blocks against hand-written torch computations with the same weights, plus the layer harness.

Each oracle re-implements the block with ``torch.nn.functional`` from the block's own
parameters (cloned), in float64; ``assert_matches_torch`` compares outputs and the
gradients w.r.t. the input and every parameter.
"""

import pytest
import torch
import torch.nn.functional as F

from lamina import layers
from tests.helpers import assert_matches_torch, run_layer_test


def _oracle_params(block):
    """``{name: (lamina parameter, equal clone)}`` for every parameter of ``block``."""
    return {name: (p, p.detach().clone().requires_grad_(True))
            for name, p in block.named_parameters()}


def _bn(x, params, prefix, eps=1e-5):
    """Batch normalization in training mode (batch statistics)."""
    return F.batch_norm(x, None, None, params[f"{prefix}.weight"][1],
                        params[f"{prefix}.bias"][1], training=True, eps=eps)


def _conv(x, params, prefix, stride=1, padding=0):
    bias = params.get(f"{prefix}.bias")
    return F.conv2d(x, params[f"{prefix}.weight"][1], None if bias is None else bias[1],
                    stride, padding)


def _built(block, shape):
    block.build(shape)
    return block.double()


def _randomize_bn(block):
    """Non-trivial gamma/beta, so the oracle checks they are used."""
    with torch.no_grad():
        for name, p in block.named_parameters():
            if "bn" in name or "norm" in name:
                p.uniform_(0.5, 1.5)


def test_residual_block_identity_path_is_relu_of_bn_conv_plus_x():
    block = _built(layers.ResidualBlock(8), (8, 6, 6))
    _randomize_bn(block)
    assert block.shortcut_conv is None  # same shape: identity shortcut
    params = _oracle_params(block)

    def oracle(x):
        h = F.relu(_bn(_conv(x, params, "conv1", padding=1), params, "bn1"))
        h = _bn(_conv(h, params, "conv2", padding=1), params, "bn2")
        return F.relu(h + x)

    assert_matches_torch(block, oracle, torch.randn(3, 8, 6, 6, dtype=torch.float64), params)


def test_residual_block_projection_shortcut_when_shape_changes():
    block = _built(layers.ResidualBlock(8, strides=2), (4, 7, 7))
    _randomize_bn(block)
    params = _oracle_params(block)

    def oracle(x):
        h = F.relu(_bn(_conv(x, params, "conv1", stride=2, padding=1), params, "bn1"))
        h = _bn(_conv(h, params, "conv2", padding=1), params, "bn2")
        skip = _bn(_conv(x, params, "shortcut_conv", stride=2), params, "shortcut_bn")
        return F.relu(h + skip)

    x = torch.randn(3, 4, 7, 7, dtype=torch.float64)
    assert block(x).shape == (3, 8, 4, 4)
    assert block.compute_output_shape((4, 7, 7)) == (8, 4, 4)
    assert_matches_torch(block, oracle, x, params)


def test_bottleneck_block_matches_torchvision_layout():
    block = _built(layers.ResidualBlock(4, strides=2, bottleneck=True), (8, 6, 6))
    _randomize_bn(block)
    params = _oracle_params(block)
    # torchvision's Bottleneck: conv1 1x1, conv2 3x3 with the stride, conv3 1x1 x4, downsample
    assert [tuple(block.get_parameter(f"{c}.weight").shape) for c in
            ("conv1", "conv2", "conv3", "shortcut_conv")] == [
        (4, 8, 1, 1), (4, 4, 3, 3), (16, 4, 1, 1), (16, 8, 1, 1)]

    def oracle(x):
        h = F.relu(_bn(_conv(x, params, "conv1"), params, "bn1"))
        h = F.relu(_bn(_conv(h, params, "conv2", stride=2, padding=1), params, "bn2"))
        h = _bn(_conv(h, params, "conv3"), params, "bn3")
        skip = _bn(_conv(x, params, "shortcut_conv", stride=2), params, "shortcut_bn")
        return F.relu(h + skip)

    assert_matches_torch(block, oracle, torch.randn(2, 8, 6, 6, dtype=torch.float64), params)


def test_residual_block_zero_pad_shortcut_is_option_a():
    block = _built(layers.ResidualBlock(8, strides=2, projection="zero_pad"), (4, 6, 6))
    assert block.shortcut_conv is None
    assert block.count_params() == (4 * 9 * 8 + 16) + (8 * 9 * 8 + 16)
    params = _oracle_params(block)

    def oracle(x):
        h = F.relu(_bn(_conv(x, params, "conv1", stride=2, padding=1), params, "bn1"))
        h = _bn(_conv(h, params, "conv2", padding=1), params, "bn2")
        skip = torch.cat([x[:, :, ::2, ::2], torch.zeros_like(x[:, :, ::2, ::2])], dim=1)
        return F.relu(h + skip)

    assert_matches_torch(block, oracle, torch.randn(2, 4, 6, 6, dtype=torch.float64), params)


def test_residual_block_always_projects_with_option_c():
    block = layers.ResidualBlock(8, projection="always")
    block.build((8, 5, 5))
    assert block.shortcut_conv is not None and block.shortcut_conv.kernel_size == (1, 1)


def test_residual_block_eval_mode_uses_running_statistics():
    block = _built(layers.ResidualBlock(4), (4, 5, 5))
    with torch.no_grad():
        for bn in (block.bn1, block.bn2):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    block.eval()
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)

    def bn_eval(h, bn):
        return F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, False,
                            0.0, bn.epsilon)

    h = F.relu(bn_eval(F.conv2d(x, block.conv1.weight, padding=1), block.bn1))
    h = bn_eval(F.conv2d(h, block.conv2.weight, padding=1), block.bn2)
    torch.testing.assert_close(block(x), F.relu(h + x))


def test_inception_module_concatenates_four_branches():
    block = _built(layers.InceptionModule(3, 2, 4, 2, 5, 6, c5_kernel_size=3), (5, 6, 6))
    _randomize_bn(block)
    params = _oracle_params(block)

    def unit(x, prefix, padding=0):
        h = _conv(x, params, f"{prefix}.conv", padding=padding)
        return F.relu(_bn(h, params, f"{prefix}.bn", eps=1e-3))

    def oracle(x):
        return torch.cat([
            unit(x, "branch1"),
            unit(unit(x, "branch2_reduce"), "branch2", padding=1),
            unit(unit(x, "branch3_reduce"), "branch3", padding=1),
            unit(F.max_pool2d(x, 3, 1, 1), "branch4"),
        ], dim=1)

    x = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    assert block(x).shape == (2, 3 + 4 + 5 + 6, 6, 6)
    assert_matches_torch(block, oracle, x, params)


def test_inception_module_paper_variant_has_5x5_and_biases():
    block = layers.InceptionModule(64, 96, 128, 16, 32, 32, batch_norm=False)
    block.build((192, 28, 28))
    assert block.branch3.conv.kernel_size == (5, 5) and block.branch3.bn is None
    expected = (192 * 64 + 64) + (192 * 96 + 96) + (96 * 9 * 128 + 128) + \
        (192 * 16 + 16) + (16 * 25 * 32 + 32) + (192 * 32 + 32)
    assert block.count_params() == expected


def test_dense_block_concatenates_every_layer_output():
    block = _built(layers.DenseBlock(3, growth_rate=2, bn_size=2), (4, 5, 5))
    _randomize_bn(block)
    params = _oracle_params(block)

    def oracle(x):
        features = [x]
        for i in range(1, 4):
            p = f"denselayer{i}"
            h = torch.cat(features, dim=1)
            h = _conv(F.relu(_bn(h, params, f"{p}.norm1")), params, f"{p}.conv1")
            h = _conv(F.relu(_bn(h, params, f"{p}.norm2")), params, f"{p}.conv2", padding=1)
            features.append(h)
        return torch.cat(features, dim=1)

    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    assert block(x).shape == (2, 4 + 3 * 2, 5, 5)
    assert_matches_torch(block, oracle, x, params)


def test_transition_block_is_bn_relu_conv_avgpool():
    block = _built(layers.TransitionBlock(3), (6, 6, 6))
    _randomize_bn(block)
    params = _oracle_params(block)

    def oracle(x):
        return F.avg_pool2d(_conv(F.relu(_bn(x, params, "norm")), params, "conv"), 2)

    assert_matches_torch(block, oracle, torch.randn(2, 6, 6, 6, dtype=torch.float64), params)


def test_mlpconv_is_conv_then_two_1x1_convs_with_relu():
    block = _built(layers.MLPConv((5, 4, 3), 3, strides=2, padding=1), (2, 7, 7))
    params = _oracle_params(block)

    def oracle(x):
        h = F.relu(_conv(x, params, "conv", stride=2, padding=1))
        return F.relu(_conv(F.relu(_conv(h, params, "mlp1")), params, "mlp2"))

    assert_matches_torch(block, oracle, torch.randn(2, 2, 7, 7, dtype=torch.float64), params)


def test_conv_block_without_batch_norm_has_a_bias():
    block = _built(layers.ConvBlock(3, 3, batch_norm=False, activation="tanh"), (2, 5, 5))
    params = _oracle_params(block)
    assert set(params) == {"conv.weight", "conv.bias"}

    def oracle(x):
        return torch.tanh(_conv(x, params, "conv"))

    assert_matches_torch(block, oracle, torch.randn(2, 2, 5, 5, dtype=torch.float64), params)


@pytest.mark.parametrize("factory, shape, out_shape", [
    (lambda: layers.ConvBlock(4, 3, padding="same"), (3, 6, 6), (4, 6, 6)),
    (lambda: layers.ResidualBlock(4, strides=2), (3, 6, 6), (4, 3, 3)),
    (lambda: layers.ResidualBlock(2, bottleneck=True, expansion=2), (3, 5, 5), (4, 5, 5)),
    (lambda: layers.ResidualBlock(4, strides=2, projection="zero_pad"), (3, 6, 6), (4, 3, 3)),
    (lambda: layers.InceptionModule(2, 2, 3, 1, 2, 2), (3, 5, 5), (9, 5, 5)),
    (lambda: layers.DenseBlock(2, growth_rate=3), (4, 5, 5), (10, 5, 5)),
    (lambda: layers.TransitionBlock(2), (4, 6, 6), (2, 3, 3)),
    (lambda: layers.MLPConv(3, 3), (2, 6, 6), (3, 4, 4)),
], ids=["conv", "residual", "bottleneck", "zero_pad", "inception", "dense", "transition",
        "mlpconv"])
def test_blocks_pass_the_layer_harness(factory, shape, out_shape):
    run_layer_test(factory, shape, expected_output_shape=out_shape)


def test_block_builds_lazily_on_first_call():
    block = layers.ResidualBlock(6, strides=2)
    assert not block.built and block.shortcut_conv is None
    y = block(torch.randn(2, 3, 8, 8))
    assert block.built and y.shape == (2, 6, 4, 4)
    assert block.conv1.output_shape == (6, 4, 4)


def test_block_repr_reads_like_the_architecture():
    block = layers.ResidualBlock(8, strides=2, bottleneck=True)
    block.build((16, 8, 8))
    text = repr(block)
    assert text.startswith("ResidualBlock(\n  16 -> 32, strides=2, bottleneck=True")
    assert "(shortcut_conv): Conv2D(16 -> 32, kernel_size=(1, 1), strides=(2, 2)" in text


def test_block_argument_errors_are_in_house_style():
    with pytest.raises(ValueError, match=r"`projection` of ResidualBlock '.*' must be one of "
                                         r"'auto', 'always', 'zero_pad'\. Received: "
                                         r"projection='B'"):
        layers.ResidualBlock(8, projection="B")
    with pytest.raises(ValueError, match=r"`filters` of ResidualBlock .* integer >= 1"):
        layers.ResidualBlock(0)
    with pytest.raises(ValueError, match=r"`c5_kernel_size` .* must be odd"):
        layers.InceptionModule(1, 1, 1, 1, 1, 1, c5_kernel_size=4)
    with pytest.raises(ValueError, match=r"`dropout` of DenseBlock .* must be a number in \[0, 1\)"):
        layers.DenseBlock(2, 4, dropout=1.0)


def test_zero_pad_shortcut_cannot_drop_channels():
    block = layers.ResidualBlock(4, projection="zero_pad")
    with pytest.raises(ValueError, match=r"cannot shrink 8 input channels to 4\. Received: "
                                         r"input with 8 channels\. Use projection='auto'"):
        block.build((8, 5, 5))


def test_block_rejects_wrong_channels_with_its_name():
    block = layers.DenseBlock(2, 4, name="db")
    block.build((8, 5, 5))
    with pytest.raises(ValueError, match=r"Layer 'db' expects input with axis 1 of size 8"):
        block.build_shapes((7, 5, 5))
