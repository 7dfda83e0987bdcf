"""The zoo's include_top / pooling / weights keywords (issue 21)."""

import pytest
import torch

import lamina as lm

# family -> (builder of a small model, expected features shape without the head, last layer)
FAMILIES = {
    "resnet18": (lambda **kw: lm.zoo.ResNet(18, input_shape=(3, 32, 32), **kw), (512, 4, 4),
                 "conv5_2"),
    "resnet20": (lambda **kw: lm.zoo.ResNet(20, **kw), (64, 8, 8), "conv4_3"),
    "vgg11": (lambda **kw: lm.zoo.VGG(11, input_shape=(3, 32, 32), **kw), (512, 1, 1), "pool5"),
    "alexnet": (lambda **kw: lm.zoo.AlexNet(input_shape=(3, 32, 32), **kw), (256, 3, 3),
                "pool5"),
    "zfnet": (lambda **kw: lm.zoo.ZFNet(input_shape=(3, 32, 32), **kw), (512, 3, 3), "pool5"),
    "nin": (lambda **kw: lm.zoo.NiN(10, input_shape=(3, 32, 32), **kw), (192, 8, 8), "pool2"),
    "nin-imagenet": (lambda **kw: lm.zoo.NiN(10, input_shape=(3, 96, 96), small_input=False,
                                             **kw), (384, 1, 1), "pool3"),
    "googlenet": (lambda **kw: lm.zoo.GoogLeNet(input_shape=(3, 32, 32), **kw), (1024, 8, 8),
                  "inception5b"),
    "densenet121": (lambda **kw: lm.zoo.DenseNet121(input_shape=(3, 32, 32), **kw),
                    (1024, 4, 4), "relu5"),
    "lenet5": (lambda **kw: lm.zoo.LeNet5(**kw), (16, 5, 5), "pool2"),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_include_top_false_ends_at_the_features_and_pooling_adds_a_vector(family):
    build, shape, last = FAMILIES[family]
    full = build()
    features = build(include_top=False)
    assert features.output_shape == shape and features.layers[-1].name == last
    assert "predictions" not in [layer.name for layer in features.layers]
    # the headless model is the full one minus its head, layer for layer
    assert [layer.name for layer in features.layers] == \
        [layer.name for layer in full.layers[:len(features.layers)]]
    for pooling, cls in (("avg", lm.layers.GlobalAvgPool2D), ("max", lm.layers.GlobalMaxPool2D)):
        pooled = build(include_top=False, pooling=pooling)
        assert pooled.output_shape == shape[:1]
        assert isinstance(pooled.layers[-1], cls) and pooled.layers[-1].name == "global_pool"
    x = torch.randn(2, *full.input_shape)
    pooled.eval()
    assert pooled(x).shape == (2, shape[0])


@pytest.mark.parametrize("family", ["resnet18", "vgg11", "densenet121"])
def test_pooling_needs_include_top_false(family):
    build = FAMILIES[family][0]
    with pytest.raises(ValueError, match=r"`pooling` of \w+ applies to the features.*"
                                         r"include_top=False, pooling='avg'"):
        build(pooling="avg")
    with pytest.raises(ValueError, match=r"`pooling` of \w+ must be one of 'avg', 'max'"):
        build(include_top=False, pooling="mean")


def test_include_top_must_be_a_bool_and_weights_a_path():
    with pytest.raises(TypeError, match="`include_top` of GoogLeNet must be True or False"):
        lm.zoo.GoogLeNet(include_top="no")
    with pytest.raises(TypeError, match=r"`weights` of DenseNet121 must be None, 'imagenet'"):
        lm.zoo.DenseNet121(weights=1)
    with pytest.raises(TypeError, match=r"`weights` of LeNet5 must be None"):
        lm.zoo.LeNet5(weights=["a"])


def test_lenet5_subsampling_keyword_and_legacy_pooling():
    avg = lm.zoo.LeNet5(subsampling="avg")
    assert isinstance(avg.layers[1], lm.layers.AvgPool2D)
    with pytest.warns(FutureWarning, match="subsampling='avg'"):
        legacy = lm.zoo.LeNet5(pooling="avg")
    assert isinstance(legacy.layers[1], lm.layers.AvgPool2D) and legacy.output_shape == (10,)
    headless = lm.zoo.LeNet5(include_top=False, pooling="avg", subsampling="avg")
    assert isinstance(headless.layers[1], lm.layers.AvgPool2D)
    assert isinstance(headless.layers[-1], lm.layers.GlobalAvgPool2D)


def test_weights_default_to_the_full_size_stem():
    # torchvision's files have the 7x7/2 stem: with weights, small inputs keep it.
    import os
    import tempfile

    from lamina.transfer.pretrained import torchvision_keys
    src = lm.zoo.ResNet(18, input_shape=(3, 32, 32), small_input=False, include_top=False)
    _, keys = torchvision_keys(src)
    path = os.path.join(tempfile.mkdtemp(), "r.pth")
    torch.save({keys[k]: v for k, v in src.state_dict().items()}, path)
    model = lm.zoo.ResNet(18, input_shape=(3, 32, 32), include_top=False, weights=path)
    assert model.layers[0].conv.kernel_size == (7, 7)
    assert lm.zoo.ResNet(18, input_shape=(3, 32, 32)).layers[0].conv.kernel_size == (3, 3)
