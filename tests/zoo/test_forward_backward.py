"""Every zoo model runs forward and backward on a small input, and saves and loads.

Inputs are 32x32 or 64x64 (small-input variants of the ImageNet models), batches of 2 so
batch normalization has statistics; anything slower than a few seconds is marked slow.
"""

import os

import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina import layers

CLASSIFIERS = {
    "alexnet_small": (lambda: lm.zoo.AlexNet(10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "zfnet_small": (lambda: lm.zoo.ZFNet(10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "vgg11_small": (lambda: lm.zoo.VGG(11, 10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "vgg16_bn_small": (lambda: lm.zoo.VGG(16, 10, input_shape=(3, 32, 32), batch_norm=True),
                       (3, 32, 32)),
    "nin_cifar": (lambda: lm.zoo.NiN(10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "nin_imagenet_stem": (lambda: lm.zoo.NiN(5, input_shape=(3, 96, 96), small_input=False),
                          (3, 96, 96)),
    "all_cnn_c": (lambda: lm.zoo.AllConvNet(), (3, 32, 32)),
    "googlenet_small": (lambda: lm.zoo.GoogLeNet(10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "googlenet_imagenet_stem": (
        lambda: lm.zoo.GoogLeNet(10, input_shape=(3, 64, 64), small_input=False), (3, 64, 64)),
    "resnet18_small": (lambda: lm.zoo.ResNet(18, 10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "resnet18_imagenet_stem": (
        lambda: lm.zoo.ResNet(18, 10, input_shape=(3, 64, 64), small_input=False), (3, 64, 64)),
    "resnet50_small": (lambda: lm.zoo.ResNet(50, 10, input_shape=(3, 32, 32)), (3, 32, 32)),
    "resnet20_cifar": (lambda: lm.zoo.ResNet(20), (3, 32, 32)),
    "resnet20_option_b": (lambda: lm.zoo.ResNet(20, projection="auto"), (3, 32, 32)),
    "densenet121_small": (lambda: lm.zoo.DenseNet121(10, input_shape=(3, 32, 32)),
                          (3, 32, 32)),
    "densenet121_imagenet_stem": (
        lambda: lm.zoo.DenseNet121(10, input_shape=(3, 64, 64), small_input=False),
        (3, 64, 64)),
}

DENSE_OUTPUTS = {
    "fcn32s_small": (lambda: lm.zoo.FCN("32s", 3, (3, 64, 64), backbone="small"),
                     (3, 64, 64), (3, 64, 64)),
    "fcn16s_small": (lambda: lm.zoo.FCN("16s", 3, (3, 64, 64), backbone="small"),
                     (3, 64, 64), (3, 64, 64)),
    "fcn8s_small": (lambda: lm.zoo.FCN("8s", 3, (3, 64, 64), backbone="small"),
                    (3, 64, 64), (3, 64, 64)),
    "unet": (lambda: lm.zoo.UNet(2), (1, 64, 64), (2, 64, 64)),
    "unet_plain": (lambda: lm.zoo.UNet(3, (3, 32, 32), base_filters=8, depth=3,
                                       batch_norm=False), (3, 32, 32), (3, 32, 32)),
    "srcnn": (lambda: lm.zoo.SRCNN(), (1, 33, 33), (1, 33, 33)),
    "srcnn_valid": (lambda: lm.zoo.SRCNN((3, 33, 33), padding="valid"), (3, 33, 33),
                    (3, 21, 21)),
    "rednet10": (lambda: lm.zoo.REDNet(10, input_shape=(1, 32, 32)), (1, 32, 32),
                 (1, 32, 32)),
    "rednet20_rgb": (lambda: lm.zoo.REDNet(20, input_shape=(3, 24, 24), filters=16),
                     (3, 24, 24), (3, 24, 24)),
}


def _forward_backward(model, shape):
    x = torch.randn(2, *shape)
    y = model(x)
    assert torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    return y


@pytest.mark.parametrize("key", list(CLASSIFIERS))
def test_classifier_forward_backward(key):
    factory, shape = CLASSIFIERS[key]
    model = factory()
    assert model.input_shape == shape
    y = _forward_backward(model, shape)
    assert y.shape == (2, *model.output_shape)
    torch.testing.assert_close(y.sum(dim=1), torch.ones(2))  # softmax probabilities
    assert model.output_activation_name() == "softmax"  # fused with the cross-entropy


@pytest.mark.parametrize("key", list(DENSE_OUTPUTS))
def test_dense_output_forward_backward(key):
    factory, shape, out_shape = DENSE_OUTPUTS[key]
    model = factory()
    assert model.output_shape == out_shape
    y = _forward_backward(model, shape)
    assert y.shape == (2, *out_shape)


@pytest.mark.slow
@pytest.mark.parametrize("factory", [
    lambda: lm.zoo.ResNet(152, 10, input_shape=(3, 32, 32)),
    lambda: lm.zoo.REDNet(30, input_shape=(1, 32, 32)),
    lambda: lm.zoo.FCN("8s", 21, (3, 64, 64)),
], ids=["resnet152_small", "rednet30", "fcn8s_vgg16"])
def test_big_models_forward_backward(factory):
    model = factory()
    y = _forward_backward(model, model.input_shape)
    assert y.shape == (2, *model.output_shape)


def test_small_input_is_chosen_from_the_input_size():
    small = lm.zoo.ResNet(18, input_shape=(3, 64, 64))
    big = lm.zoo.ResNet(18, input_shape=(3, 65, 65))
    assert small.layers[0].conv.kernel_size == (3, 3) and len(small.layers) == 11
    assert big.layers[0].conv.kernel_size == (7, 7)
    assert isinstance(big.layers[2], layers.MaxPool2D)
    assert lm.zoo.AlexNet(input_shape=(3, 64, 64), small_input=False).layers[0].strides == (4, 4)
    with pytest.raises(ValueError, match=r"Layer 'pool5' .* cannot pool input of per-sample "
                                         r"shape \(256, 1, 1\)"):
        lm.zoo.AlexNet(input_shape=(3, 32, 32), small_input=False)  # the 11x11/4 stem is too big


def test_segmentation_nets_take_sizes_that_are_not_multiples_of_their_stride():
    fcn = lm.zoo.FCN("8s", 3, (3, 64, 64), backbone="small").eval()
    unet = lm.zoo.UNet(2, (1, 32, 32), base_filters=4, depth=3).eval()
    assert fcn(torch.randn(1, 3, 50, 70)).shape == (1, 3, 50, 70)
    assert unet(torch.randn(1, 1, 30, 21)).shape == (1, 2, 30, 21)
    odd = lm.zoo.UNet(2, (1, 30, 21), base_filters=4, depth=3)
    assert odd.output_shape == (2, 30, 21)


def test_fcn_upsampling_starts_bilinear_and_skip_scorers_at_zero():
    model = lm.zoo.FCN("8s", 2, (3, 64, 64), backbone="small")
    assert not model.score_pool3.weight.any() and not model.score_pool4.weight.any()
    x = torch.randn(1, 2, 5, 5)
    up = model.upscore2(x)
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1])


def test_rednet_skips_join_mirror_layers_and_residual_adds_the_input():
    model = lm.zoo.REDNet(10, input_shape=(1, 8, 8), filters=4)
    # 5 convs, 5 deconvs; skips every 2 layers from conv4 and conv2 to deconv1 and deconv3
    assert [model._skip_source(j) for j in range(1, 5)] == [4, None, 2, None]
    with torch.no_grad():
        model.deconv5.weight.zero_()
        model.deconv5.bias.zero_()
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(model(x), x)  # a zero correction leaves the input


def test_segmentation_model_trains_with_logits_loss():
    model = lm.zoo.UNet(3, (1, 16, 16), base_filters=4, depth=2)
    model.compile(optimizer="adam",
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], device="cpu")
    x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 3, (8, 16, 16))
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(x[:2]).shape == (2, 3, 16, 16)


@pytest.mark.parametrize("factory, shape", [
    (lambda: lm.zoo.ResNet(20, input_shape=(3, 16, 16)), (3, 16, 16)),
    (lambda: lm.zoo.GoogLeNet(4, input_shape=(3, 16, 16)), (3, 16, 16)),
    (lambda: lm.zoo.DenseNet121(4, input_shape=(3, 16, 16), block_config=(2, 2)),
     (3, 16, 16)),
    (lambda: lm.zoo.UNet(2, (1, 16, 16), base_filters=4, depth=2), (1, 16, 16)),
    (lambda: lm.zoo.FCN("16s", 2, (3, 32, 32), backbone="small"), (3, 32, 32)),
    (lambda: lm.zoo.REDNet(6, input_shape=(1, 8, 8), filters=4), (1, 8, 8)),
], ids=["resnet20", "googlenet", "densenet", "unet", "fcn16s", "rednet"])
def test_save_and_load_round_trip(tmp_path, factory, shape):
    model = factory().eval()
    path = os.path.join(tmp_path, "model.lamina")
    model.save(path)
    loaded = lm.load_model(path).eval()
    assert type(loaded) is type(model) and loaded.count_params() == model.count_params()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_zoo_argument_errors_are_in_house_style():
    with pytest.raises(ValueError, match=r"`depth` of ResNet must be an ImageNet depth .* "
                                         r"Received: depth=19"):
        lm.zoo.ResNet(19)
    with pytest.raises(ValueError, match=r"`depth` of VGG must be one of 11, 13, 16, 19\. "
                                         r"Received: depth=15"):
        lm.zoo.VGG(15)
    with pytest.raises(ValueError, match=r"`input_shape` of AlexNet must be \(channels, "
                                         r"height, width\).*Received: input_shape=\(32, 32\)"):
        lm.zoo.AlexNet(input_shape=(32, 32))
    with pytest.raises(ValueError, match=r"`variant` of FCN must be one of '32s', '16s', "
                                         r"'8s'\. Received: variant='4s'"):
        lm.zoo.FCN("4s")
    with pytest.raises(ValueError, match=r"`depth` of REDNet must be an even number"):
        lm.zoo.REDNet(9)
    with pytest.raises(ValueError, match=r"`num_classes` of UNet must be an integer >= 1"):
        lm.zoo.UNet(0)
