"""Exact parameter counts of the zoo at 3x224x224 with 1000 classes, against torchvision's.

The big models are built with :func:`shapes_only`: on PyTorch's ``meta`` device, with the
weight initializers switched off. Shapes and parameter counts are exact, but no memory is
allocated and no random numbers are drawn, so each build takes milliseconds (a real VGG-16
build spends a second or more drawing 138M numbers; ``normal_`` on ``meta`` tensors would
first import torch's decompositions, several seconds).
"""

import contextlib

import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.layers._activated import ActivatedLayer


@contextlib.contextmanager
def shapes_only():
    """Build models on the ``meta`` device without running ``reset_parameters``."""
    original = ActivatedLayer.reset_parameters
    ActivatedLayer.reset_parameters = lambda self: None
    try:
        with torch.device("meta"):
            yield
    finally:
        ActivatedLayer.reset_parameters = original

# torchvision 0.2x, ``sum(p.numel() for p in model.parameters())`` with default arguments.
TORCHVISION_COUNTS = {
    "alexnet": (lambda: lm.zoo.AlexNet(), 61_100_840),
    "vgg11": (lambda: lm.zoo.VGG(11), 132_863_336),
    "vgg13": (lambda: lm.zoo.VGG(13), 133_047_848),
    "vgg16": (lambda: lm.zoo.VGG(16), 138_357_544),
    "vgg19": (lambda: lm.zoo.VGG(19), 143_667_240),
    "vgg16_bn": (lambda: lm.zoo.VGG(16, batch_norm=True), 138_365_992),
    "googlenet": (lambda: lm.zoo.GoogLeNet(), 6_624_904),  # aux_logits=False
    "resnet18": (lambda: lm.zoo.ResNet(18), 11_689_512),
    "resnet34": (lambda: lm.zoo.ResNet(34), 21_797_672),
    "resnet50": (lambda: lm.zoo.ResNet(50), 25_557_032),
    "resnet101": (lambda: lm.zoo.ResNet(101), 44_549_160),
    "resnet152": (lambda: lm.zoo.ResNet(152), 60_192_808),
    "densenet121": (lambda: lm.zoo.DenseNet121(), 7_978_856),
}


@pytest.mark.parametrize("key", list(TORCHVISION_COUNTS))
def test_parameter_count_matches_torchvision(key):
    factory, expected = TORCHVISION_COUNTS[key]
    with shapes_only():
        model = factory()
    assert model.input_shape == (3, 224, 224)
    assert model.output_shape == (1000,)
    assert model.count_params() == expected


def test_alexnet_count_by_hand_and_on_a_real_build():
    convs = [(3, 64, 11), (64, 192, 5), (192, 384, 3), (384, 256, 3), (256, 256, 3)]
    fcs = [(256 * 6 * 6, 4096), (4096, 4096), (4096, 1000)]
    by_hand = sum(i * o * k * k + o for i, o, k in convs) + sum(i * o + o for i, o in fcs)
    assert by_hand == 61_100_840
    model = lm.zoo.AlexNet()  # real tensors this time
    assert model.count_params() == by_hand
    assert model.layers[7].output_shape == (256, 6, 6)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 61,100,840" in lines[0]


def test_vgg16_feature_maps_and_first_fc_layer():
    with shapes_only():
        model = lm.zoo.VGG(16)
    pools = [layer.output_shape for layer in model.layers if isinstance(layer, layers.MaxPool2D)]
    assert pools == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    fc6 = next(layer for layer in model.layers if layer.name == "fc6")
    assert tuple(fc6.weight.shape) == (4096, 512 * 7 * 7)


def test_googlenet_inception_output_channels_follow_the_paper():
    with shapes_only():
        model = lm.zoo.GoogLeNet()
    channels = {layer.name: layer.output_shape[0] for layer in model.layers
                if isinstance(layer, layers.InceptionModule)}
    assert channels == {"inception3a": 256, "inception3b": 480, "inception4a": 512,
                        "inception4b": 512, "inception4c": 512, "inception4d": 528,
                        "inception4e": 832, "inception5a": 832, "inception5b": 1024}
    with shapes_only():
        paper = lm.zoo.GoogLeNet(c5_kernel_size=5)
    # each module's "5x5" branch grows from 3x3 to 5x5: 16 more weights per c5r x c5 pair
    extra = sum(16 * c5r * c5 for _, _, _, c5r, c5, _ in
                lm.zoo.googlenet.GOOGLENET_MODULES.values())
    assert paper.count_params() == 6_624_904 + extra


@pytest.mark.parametrize("depth, last_stage", [(18, (512, 7, 7)), (50, (2048, 7, 7)),
                                               (152, (2048, 7, 7))])
def test_resnet_stages_at_224(depth, last_stage):
    with shapes_only():
        model = lm.zoo.ResNet(depth)
    assert model.layers[0].output_shape == (64, 112, 112)
    assert model.layers[2].output_shape == (64, 56, 56)  # after the stem's max pool
    assert model.layers[-3].output_shape == last_stage
    blocks = [layer for layer in model.layers if isinstance(layer, layers.ResidualBlock)]
    assert len(blocks) == {18: 8, 50: 16, 152: 50}[depth]
    projected = [b.name for b in blocks if b.shortcut_conv is not None]
    # option B: a projection where the shape changes, i.e. the first block of each stage
    # (for bottlenecks also conv2_1, whose 64 input channels become 256)
    first = ["conv3_1", "conv4_1", "conv5_1"]
    assert projected == (first if depth == 18 else ["conv2_1", *first])


@pytest.mark.parametrize("depth, expected", [(20, 269_722), (32, 464_154), (56, 853_018)])
def test_cifar_resnets_with_option_a_shortcuts(depth, expected):
    model = lm.zoo.ResNet(depth)
    assert model.input_shape == (3, 32, 32) and model.output_shape == (10,)
    assert model.count_params() == expected
    assert all(b.shortcut_conv is None for b in model.layers
               if isinstance(b, layers.ResidualBlock))


def test_cifar_resnet20_with_option_b_adds_two_projections():
    model = lm.zoo.ResNet(20, projection="auto")
    # 1x1 convs 16->32 and 32->64, each with a BatchNorm
    assert model.count_params() == 269_722 + (16 * 32 + 64) + (32 * 64 + 128)


def test_densenet121_channels_through_blocks_and_transitions():
    with shapes_only():
        model = lm.zoo.DenseNet121()
    shapes = {layer.name: layer.output_shape for layer in model.layers}
    assert shapes["denseblock1"] == (256, 56, 56) and shapes["transition1"] == (128, 28, 28)
    assert shapes["denseblock2"] == (512, 28, 28) and shapes["transition2"] == (256, 14, 14)
    assert shapes["denseblock3"] == (1024, 14, 14) and shapes["transition3"] == (512, 7, 7)
    assert shapes["denseblock4"] == (1024, 7, 7)


@pytest.mark.parametrize("factory, expected", [
    (lambda: lm.zoo.SRCNN(), 8_032 + 97),               # Dong et al.: 8,032 weights
    (lambda: lm.zoo.AllConvNet(), 1_369_738),           # Springenberg et al.: 1.3M
    (lambda: lm.zoo.NiN(10, input_shape=(3, 32, 32)), 966_986),  # Lin et al.: ~1M
    (lambda: lm.zoo.ZFNet(), 107_627_624),
    (lambda: lm.zoo.FCN("8s"), 134_489_759),            # FCN-8s VGG-16, 21 classes
], ids=["srcnn", "all_cnn_c", "nin_cifar", "zfnet", "fcn8s"])
def test_other_zoo_counts(factory, expected):
    with shapes_only():
        model = factory()
    assert model.count_params() == expected


def test_zfnet_changes_only_what_deck_001_says():
    with shapes_only():
        zf, alex = lm.zoo.ZFNet(), lm.zoo.AlexNet()
    conv1 = zf.layers[0]
    assert conv1.kernel_size == (7, 7) and conv1.strides == (2, 2)
    assert [zf.layers[i].filters for i in (4, 5, 6)] == [512, 1024, 512]
    assert [alex.layers[i].filters for i in (4, 5, 6)] == [384, 256, 256]
    assert zf.layers[7].output_shape == (512, 6, 6)  # the classifier still sees 6x6 maps
