"""Conv2D against F.conv2d / nn.Conv2d, Keras's "same" semantics, gradcheck and its errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lamina.layers import Conv1D, Conv2D, Conv2DTranspose
from tests.helpers import assert_matches_torch, copy_params, param_pairs


def _conv64(in_channels, spatial, *args, **kwargs):
    conv = Conv2D(*args, **kwargs)
    conv.build((in_channels, *spatial))
    return conv.double()


def _keras_same_pads(n, k, s, d=1):
    """TensorFlow's SAME padding for one axis, written out independently of lamina."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


# (lamina kwargs, nn.Conv2d kwargs): every setting nn.Conv2d can express directly.
TORCH_TWINS = {
    "valid": ({}, {}),
    "stride2": ({"strides": 2}, {"stride": 2}),
    "pad1_stride2": ({"padding": 1, "strides": 2}, {"padding": 1, "stride": 2}),
    "pad_tuple": ({"padding": (1, 2)}, {"padding": (1, 2)}),
    "rect_kernel_strides": ({"kernel_size": (3, 2), "strides": (2, 1)},
                            {"kernel_size": (3, 2), "stride": (2, 1)}),
    "same_k3": ({"padding": "same"}, {"padding": "same"}),
    "same_even_k4": ({"kernel_size": 4, "padding": "same"}, {"kernel_size": 4, "padding": "same"}),
    "dilation2": ({"dilation_rate": 2}, {"dilation": 2}),
    "same_dilation2": ({"dilation_rate": 2, "padding": "same"},
                       {"dilation": 2, "padding": "same"}),
    "groups2": ({"groups": 2}, {"groups": 2}),
    "depthwise": ({"groups": 4}, {"groups": 4}),
    "no_bias": ({"use_bias": False}, {"bias": False}),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("name", TORCH_TWINS)
def test_conv2d_matches_nn_conv2d(name):
    ours, theirs = dict(TORCH_TWINS[name][0]), TORCH_TWINS[name][1]
    kernel = ours.pop("kernel_size", 3)
    conv = _conv64(4, (7, 8), 4, kernel, **ours)
    twin = nn.Conv2d(4, 4, **{"kernel_size": kernel, **theirs}).double()
    copy_params(conv, twin)
    x = torch.randn(2, 4, 7, 8, dtype=torch.float64)
    assert_matches_torch(conv, twin, x, param_pairs(conv, twin))
    assert conv.compute_output_shape((4, 7, 8)) == tuple(twin(x).shape[1:])


def test_conv2d_matches_f_conv2d_with_activation():
    conv = _conv64(3, (6, 6), 5, 3, strides=2, padding=1, activation="relu")
    weight = conv.weight.detach().clone().requires_grad_()
    bias = conv.bias.detach().clone().requires_grad_()
    assert_matches_torch(conv, lambda x: F.relu(F.conv2d(x, weight, bias, 2, 1)),
                         torch.randn(2, 3, 6, 6, dtype=torch.float64),
                         {"weight": (conv.weight, weight), "bias": (conv.bias, bias)})


@pytest.mark.parametrize("size", [(7, 8), (8, 9)])
@pytest.mark.parametrize("kernel, strides, dilation", [
    (3, 2, 1), (4, 2, 1), ((2, 5), 2, 1), (3, 3, 1), (3, (2, 3), 1), (3, 2, 2), (1, 2, 1),
])
def test_conv2d_same_strided_is_tensorflow_same(size, kernel, strides, dilation):
    """Keras/TF "same": output ceil(H / s), padding split with the odd pixel *after*."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    conv = _conv64(2, size, 3, kernel, strides=strides, padding="same", dilation_rate=dilation)
    (top, bottom), (left, right) = (_keras_same_pads(size[0], kh, sh, dilation),
                                    _keras_same_pads(size[1], kw, sw, dilation))
    weight = conv.weight.detach().clone().requires_grad_()
    bias = conv.bias.detach().clone().requires_grad_()

    def manual(x):
        return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, (sh, sw),
                        dilation=dilation)

    x = torch.randn(2, 2, *size, dtype=torch.float64)
    assert_matches_torch(conv, manual, x, {"weight": (conv.weight, weight),
                                           "bias": (conv.bias, bias)})
    assert conv(x).shape[2:] == (math.ceil(size[0] / sh), math.ceil(size[1] / sw))


def test_conv2d_output_shapes_follow_keras_formula():
    """Keras: "same" -> ceil(n / s); "valid" -> ceil((n - (k - 1) d) / s), for many sizes."""
    for n in range(5, 13):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for d in (1, 2):
                    span = (k - 1) * d + 1
                    for padding in ("same", "valid"):
                        if padding == "valid" and span > n:
                            continue
                        expected = (math.ceil(n / s) if padding == "same"
                                    else math.ceil((n - span + 1) / s))
                        conv = Conv2D(1, k, strides=s, padding=padding, dilation_rate=d)
                        shape = conv.build_shapes((1, n, n + 1))
                        assert shape[1] == expected, (n, k, s, d, padding)
                        assert shape == tuple(conv(torch.zeros(1, 1, n, n + 1)).shape[1:])


def test_conv2d_same_padding_follows_input_size_after_build():
    # Regression: the "same" padding plan was frozen at build time, so a strided conv built
    # for 8x8 and called on 9x9 (which its input spec accepts) returned 4x4 instead of the
    # ceil(9 / 2) = 5 that compute_output_shape promised. Pooling had the same bug.
    conv = _conv64(1, (8, 8), 2, 3, strides=2, padding="same")
    for size in (9, 8, 11):
        x = torch.randn(1, 1, size, size, dtype=torch.float64)
        pads = _keras_same_pads(size, 3, 2)
        expected = F.conv2d(F.pad(x, pads * 2), conv.weight, conv.bias, 2)
        torch.testing.assert_close(conv(x), expected)
        assert tuple(conv(x).shape[1:]) == conv.compute_output_shape((1, size, size))


def test_conv2d_gradcheck():
    conv = _conv64(2, (5, 6), 4, 3, strides=2, padding="same", groups=2, activation="tanh")
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))


def test_conv2d_lazy_build_on_first_call():
    conv = Conv2D(6, 5, padding="same")
    assert conv(torch.zeros(2, 1, 28, 28)).shape == (2, 6, 28, 28)
    assert conv.weight.shape == (6, 1, 5, 5) and conv.count_params() == 156


def test_conv2d_extra_repr_shows_only_non_defaults():
    conv = Conv2D(8, 3, padding=0)
    conv.build((3, 8, 8))
    assert repr(conv) == "Conv2D(3 -> 8, kernel_size=(3, 3))"
    conv = Conv2D(8, 3, strides=2, padding="same", activation="relu", use_bias=False)
    conv.build((3, 8, 8))
    assert conv.extra_repr() == ("3 -> 8, kernel_size=(3, 3), strides=(2, 2), padding='same', "
                                 "activation=relu, use_bias=False")


# -- errors ------------------------------------------------------------------------------
def test_conv2d_bad_padding_string():
    with pytest.raises(ValueError, match=r"`padding` of Conv2D '\w+' must be one of 'valid', "
                                         r"'same'\. Received: padding='full'"):
        Conv2D(4, 3, padding="full")


@pytest.mark.parametrize("padding", [-1, (1, 2, 3), 1.5])
def test_conv2d_bad_padding_value(padding):
    with pytest.raises(ValueError, match=r"`padding` of Conv2D"):
        Conv2D(4, 3, padding=padding)


def test_conv2d_on_2d_per_sample_input_names_layer_and_shape():
    conv = Conv2D(4, 3, name="conv_a")
    pattern = (r"Layer 'conv_a' expects input with 3 axes per sample .* "
               r"Received: input of shape \(N, 28, 28\)\.")
    with pytest.raises(ValueError, match=pattern):
        conv.build_shapes((28, 28))
    with pytest.raises(ValueError, match=pattern):
        conv(torch.zeros(2, 28, 28))  # the lazy build checks the first input too
    assert not conv.built


def test_conv2d_wrong_channels_after_build():
    conv = Conv2D(4, 3, name="conv_b")
    conv.build((3, 8, 8))
    with pytest.raises(ValueError, match=r"Layer 'conv_b' expects input with axis 1 of size 3\. "
                                         r"Received: input of shape \(N, 1, 8, 8\)"):
        conv.build_shapes((1, 8, 8))


def test_conv2d_kernel_larger_than_input_is_an_empty_output_error():
    with pytest.raises(ValueError, match=r"Layer 'conv_c' with kernel_size=\(5, 5\) cannot slide "
                                         r"over input of per-sample shape \(1, 3, 3\): the "
                                         r"output would be empty\. Use padding='same'"):
        Conv2D(2, 5, name="conv_c").build_shapes((1, 3, 3))


def test_conv2d_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"`filters` of Conv2D .* divisible by `groups`"):
        Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match=r"groups=2, which must divide the input channels\. "
                                         r"Received: input with 3 channels"):
        Conv2D(4, 3, groups=2).build((3, 8, 8))


@pytest.mark.parametrize("kwargs", [{"filters": 0, "kernel_size": 3},
                                    {"filters": 2, "kernel_size": 0},
                                    {"filters": 2, "kernel_size": (3, 3, 3)},
                                    {"filters": 2, "kernel_size": 3, "strides": 0}])
def test_conv2d_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=r"of Conv2D '\w+' must be an integer >= 1"):
        Conv2D(**kwargs)


def test_1x1_conv2d_is_a_linear_combination_of_input_maps():
    """Deck 002's "1x1 convolution": out[o] = sum_c W[o, c] in[c] + b[o] at every pixel."""
    conv = _conv64(3, (4, 5), 2, 1)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    expected = torch.einsum("oc,nchw->nohw", conv.weight[:, :, 0, 0], x)
    expected = expected + conv.bias.view(1, 2, 1, 1)
    torch.testing.assert_close(conv(x), expected)


# -- Conv1D ------------------------------------------------------------------------------
def _conv1d64(in_channels, length, *args, **kwargs):
    conv = Conv1D(*args, **kwargs)
    conv.build((in_channels, length))
    return conv.double()


CONV1D_TWINS = {
    "valid": ({}, {}),
    "stride2_pad1": ({"strides": 2, "padding": 1}, {"stride": 2, "padding": 1}),
    "same": ({"padding": "same"}, {"padding": "same"}),
    "dilation2": ({"dilation_rate": 2}, {"dilation": 2}),
    "groups2_no_bias": ({"groups": 2, "use_bias": False}, {"groups": 2, "bias": False}),
}


@pytest.mark.parametrize("name", CONV1D_TWINS)
def test_conv1d_matches_nn_conv1d(name):
    ours, theirs = CONV1D_TWINS[name]
    conv = _conv1d64(4, 9, 4, 3, **ours)
    twin = nn.Conv1d(4, 4, 3, **theirs).double()
    copy_params(conv, twin)
    x = torch.randn(2, 4, 9, dtype=torch.float64)
    assert_matches_torch(conv, twin, x, param_pairs(conv, twin))
    assert conv.compute_output_shape((4, 9)) == tuple(twin(x).shape[1:])


@pytest.mark.parametrize("length, k, s", [(9, 3, 2), (8, 4, 3), (7, 2, 2)])
def test_conv1d_same_strided_is_tensorflow_same(length, k, s):
    conv = _conv1d64(2, length, 3, k, strides=s, padding="same", activation="tanh")
    weight = conv.weight.detach().clone().requires_grad_()
    bias = conv.bias.detach().clone().requires_grad_()
    pads = _keras_same_pads(length, k, s)
    x = torch.randn(2, 2, length, dtype=torch.float64)
    assert_matches_torch(conv, lambda t: torch.tanh(F.conv1d(F.pad(t, pads), weight, bias, s)),
                         x, {"weight": (conv.weight, weight), "bias": (conv.bias, bias)})
    assert conv(x).shape[-1] == math.ceil(length / s)


def test_conv1d_gradcheck_and_repr():
    conv = _conv1d64(2, 7, 2, 3, strides=2, padding="same")
    x = torch.randn(1, 2, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))
    assert conv.extra_repr() == "2 -> 2, kernel_size=(3,), strides=(2,), padding='same'"
    assert conv.count_params() == 2 * 2 * 3 + 2


def test_conv1d_on_3d_per_sample_input_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Layer 'seq_conv' expects input with 2 axes per sample"
                                         r".* Received: input of shape \(N, 1, 8, 8\)"):
        Conv1D(4, 3, name="seq_conv")(torch.zeros(2, 1, 8, 8))


# -- Conv2DTranspose ---------------------------------------------------------------------
def _deconv64(in_channels, spatial, *args, **kwargs):
    layer = Conv2DTranspose(*args, **kwargs)
    layer.build((in_channels, *spatial))
    return layer.double()


def _keras_deconv_length(n, k, s, padding, output_padding=None, d=1):
    """Keras's transposed-convolution output size, written out independently of lamina."""
    k = (k - 1) * d + 1
    if padding == "valid":
        return (n - 1) * s + k + (max(k, s) - k if output_padding is None else output_padding)
    return n * s if output_padding is None else (n - 1) * s + k % 2 + output_padding


# (lamina kwargs, nn.ConvTranspose2d kwargs): settings where torch's padding expresses the crop
DECONV_TWINS = {
    "valid_s1": ({}, {}),
    "valid_s2": ({"strides": 2}, {"stride": 2}),
    "valid_k2_s3": ({"kernel_size": 2, "strides": 3}, {"kernel_size": 2, "stride": 3,
                                                       "output_padding": 1}),
    "valid_output_padding": ({"strides": 2, "output_padding": 1},
                             {"stride": 2, "output_padding": 1}),
    "valid_dilation2": ({"dilation_rate": 2}, {"dilation": 2}),
    "same_s1": ({"padding": "same"}, {"padding": 1}),
    "same_k4_s2": ({"kernel_size": 4, "strides": 2, "padding": "same"},
                   {"kernel_size": 4, "stride": 2, "padding": 1}),
    "same_k1_s2": ({"kernel_size": 1, "strides": 2, "padding": "same"},
                   {"kernel_size": 1, "stride": 2, "output_padding": 1}),
    "rect": ({"kernel_size": (3, 2), "strides": (1, 2)}, {"kernel_size": (3, 2),
                                                          "stride": (1, 2)}),
    "no_bias": ({"use_bias": False}, {"bias": False}),
}


@pytest.mark.parametrize("name", DECONV_TWINS)
def test_conv2d_transpose_matches_nn_conv_transpose2d(name):
    ours, theirs = dict(DECONV_TWINS[name][0]), dict(DECONV_TWINS[name][1])
    kernel = ours.pop("kernel_size", 3)
    theirs.setdefault("kernel_size", kernel)
    layer = _deconv64(3, (4, 5), 2, kernel, **ours)
    twin = nn.ConvTranspose2d(3, 2, **theirs).double()
    copy_params(layer, twin)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    assert_matches_torch(layer, twin, x, param_pairs(layer, twin))
    assert layer.compute_output_shape((3, 4, 5)) == tuple(twin(x).shape[1:])


@pytest.mark.parametrize("k, s", [(3, 2), (5, 2), (2, 2), (5, 3)])
def test_conv2d_transpose_same_crops_like_tensorflow(k, s):
    """"same": the full F.conv_transpose2d output with TF's SAME padding of H*s removed."""
    layer = _deconv64(2, (3, 4), 2, k, strides=s, padding="same", activation="relu")
    weight = layer.weight.detach().clone().requires_grad_()
    bias = layer.bias.detach().clone().requires_grad_()
    (top, _), (left, _) = _keras_same_pads(3 * s, k, s), _keras_same_pads(4 * s, k, s)

    def manual(x):
        full = F.conv_transpose2d(x, weight, bias, s, output_padding=max(s - k, 0))
        return F.relu(full[..., top:top + 3 * s, left:left + 4 * s])

    x = torch.randn(2, 2, 3, 4, dtype=torch.float64)
    assert_matches_torch(layer, manual, x, {"weight": (layer.weight, weight),
                                            "bias": (layer.bias, bias)})
    assert layer(x).shape[2:] == (3 * s, 4 * s)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("k, s, d", [(3, 2, 1), (4, 2, 1), (2, 3, 1), (3, 1, 2), (1, 2, 1)])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(padding, k, s, d):
    """<Conv2D(z), y> == <z, Conv2DTranspose(y)> with one shared kernel: the transpose."""
    deconv = _deconv64(3, (4, 3), 2, k, strides=s, padding=padding, dilation_rate=d,
                       use_bias=False)
    size = deconv.compute_output_shape((3, 4, 3))[1:]
    conv = _conv64(2, size, 3, k, strides=s, padding=padding, dilation_rate=d, use_bias=False)
    with torch.no_grad():
        conv.weight.copy_(deconv.weight)  # (3, 2, k, k): out=3/in=2 for one, in=3/out=2 other
    y = torch.randn(2, 3, 4, 3, dtype=torch.float64)
    z = torch.randn(2, 2, *size, dtype=torch.float64)
    assert conv(z).shape == y.shape
    torch.testing.assert_close((conv(z) * y).sum(), (z * deconv(y)).sum())


def test_conv2d_transpose_output_shapes_follow_keras_formula():
    for n in (1, 2, 5):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3):
                for d in (1, 2):
                    for padding in ("valid", "same"):
                        for a in [None, *range(s)]:
                            layer = Conv2DTranspose(1, k, strides=s, padding=padding,
                                                    output_padding=a, dilation_rate=d)
                            if _keras_deconv_length(n, k, s, padding, a, d) < 1:
                                with pytest.raises(ValueError, match="empty output"):
                                    layer.build_shapes((1, n, n + 1))
                                continue
                            shape = layer.build_shapes((1, n, n + 1))
                            expected = (_keras_deconv_length(n, k, s, padding, a, d),
                                        _keras_deconv_length(n + 1, k, s, padding, a, d))
                            assert shape[1:] == expected, (n, k, s, d, padding, a)
                            assert shape == tuple(layer(torch.zeros(1, 1, n, n + 1)).shape[1:])


def test_conv2d_transpose_gradcheck():
    layer = _deconv64(2, (3, 3), 2, 3, strides=2, padding="same", activation="tanh")
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_conv2d_transpose_weight_layout_params_and_repr():
    layer = Conv2DTranspose(6, 3, strides=2, padding="same", output_padding=1)
    assert layer(torch.zeros(1, 4, 5, 5)).shape == (1, 6, 10, 10)
    assert layer.weight.shape == (4, 6, 3, 3) and layer.count_params() == 4 * 6 * 9 + 6
    assert layer.extra_repr() == ("4 -> 6, kernel_size=(3, 3), strides=(2, 2), padding='same', "
                                  "output_padding=(1, 1)")
    assert repr(Conv2DTranspose(2, 3)) == "Conv2DTranspose(? -> 2, kernel_size=(3, 3))"


def test_conv2d_transpose_errors():
    with pytest.raises(ValueError, match=r"`padding` of Conv2DTranspose 'up_a' must be one of "
                                         r"'valid', 'same'\. Received: padding='full'"):
        Conv2DTranspose(2, 3, padding="full", name="up_a")
    with pytest.raises(ValueError, match=r"`output_padding` of Conv2DTranspose '\w+' must be "
                                         r"smaller than `strides`"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"Layer 'up_b' expects input with 3 axes per sample"):
        Conv2DTranspose(2, 3, name="up_b")(torch.zeros(2, 3, 5))
