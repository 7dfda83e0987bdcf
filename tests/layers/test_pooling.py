"""Max, average and global pooling (1-D, 2-D) against torch's pools and Keras's "same"; indices."""

import math

import pytest
import torch
import torch.nn.functional as F

from lamina.layers import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from tests.helpers import assert_matches_torch

POOLS = {"max": (MaxPool2D, F.max_pool2d), "avg": (AvgPool2D, F.avg_pool2d)}


def _pool(kind, spatial, *args, **kwargs):
    layer = POOLS[kind][0](*args, **kwargs)
    layer.build((2, *spatial))
    return layer


def _keras_same_pads(n, k, s):
    """TensorFlow's SAME padding for one axis, written out independently of lamina."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _brute_force_same_avg(x, k, s):
    """Mean over each window clipped to the input (Keras "same": padding is not counted)."""
    (kh, kw), (sh, sw) = k, s
    n, c, h, w = x.shape
    top, left = _keras_same_pads(h, kh, sh)[0], _keras_same_pads(w, kw, sw)[0]
    out = torch.empty(n, c, math.ceil(h / sh), math.ceil(w / sw), dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            r0, c0 = i * sh - top, j * sw - left
            window = x[:, :, max(r0, 0):r0 + kh, max(c0, 0):c0 + kw]
            out[:, :, i, j] = window.mean(dim=(2, 3))
    return out


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("pool_size, strides", [(2, None), (3, 2), ((2, 3), (1, 2)), (3, 1)])
def test_valid_pooling_matches_torch(kind, pool_size, strides):
    layer = _pool(kind, (7, 8), pool_size, strides)
    torch_fn = POOLS[kind][1]
    stride = pool_size if strides is None else strides
    x = torch.randn(2, 2, 7, 8, dtype=torch.float64)
    assert_matches_torch(layer, lambda t: torch_fn(t, pool_size, stride), x)
    assert layer.compute_output_shape((2, 7, 8)) == tuple(layer(x).shape[1:])


@pytest.mark.parametrize("kind", POOLS)
def test_same_pooling_output_shapes_are_ceil_n_over_s(kind):
    for n in range(3, 11):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3):
                layer = POOLS[kind][0](k, s, padding="same")
                shape = layer.build_shapes((1, n, n + 1))
                assert shape == (1, math.ceil(n / s), math.ceil((n + 1) / s)), (n, k, s)
                assert shape == tuple(layer(torch.randn(1, 1, n, n + 1)).shape[1:])


@pytest.mark.parametrize("size, k, s", [((5, 6), 2, 2), ((7, 7), 3, 2), ((6, 5), (3, 2), 1),
                                        ((5, 5), 3, 1), ((8, 9), 4, 3)])
def test_same_max_pooling_matches_manual_minus_inf_padding(size, k, s):
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (s, s) if isinstance(s, int) else s
    layer = _pool("max", size, k, s, padding="same")
    pad = (*_keras_same_pads(size[1], kw, sw), *_keras_same_pads(size[0], kh, sh))
    x = torch.randn(2, 2, *size, dtype=torch.float64)
    assert_matches_torch(layer, lambda t: F.max_pool2d(F.pad(t, pad, value=-math.inf),
                                                       (kh, kw), (sh, sw)), x)


def test_same_max_pooling_symmetric_padding_matches_torch_padding():
    layer = _pool("max", (7, 7), 3, 2, padding="same")  # pads (1, 1) on both axes
    x = torch.randn(2, 2, 7, 7, dtype=torch.float64)
    assert_matches_torch(layer, lambda t: F.max_pool2d(t, 3, 2, padding=1), x)


def test_same_max_pooling_padding_never_wins():
    layer = _pool("max", (5, 5), 2, padding="same")
    x = -torch.rand(1, 2, 5, 5) - 1.0  # all values in [-2, -1)
    y = layer(x)
    assert (y < -1 + 1e-6).all() and torch.isin(y, x).all()


@pytest.mark.parametrize("size, k, s", [((5, 5), 3, 1), ((7, 7), 3, 2), ((7, 5), (3, 5), (2, 1))])
def test_same_avg_pooling_excludes_padding_like_count_include_pad_false(size, k, s):
    """Symmetric "same" padding: exactly avg_pool2d(padding=p, count_include_pad=False)."""
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (s, s) if isinstance(s, int) else s
    (top, bottom), (left, right) = (_keras_same_pads(size[0], kh, sh),
                                    _keras_same_pads(size[1], kw, sw))
    assert top == bottom and left == right, "this oracle needs symmetric padding"
    layer = _pool("avg", size, k, s, padding="same")
    x = torch.randn(2, 2, *size, dtype=torch.float64)
    assert_matches_torch(layer, lambda t: F.avg_pool2d(t, (kh, kw), (sh, sw), padding=(top, left),
                                                       count_include_pad=False), x)


@pytest.mark.parametrize("size, k, s", [((5, 5), 2, 2), ((6, 7), 3, 2), ((4, 6), (2, 4), (1, 3))])
def test_same_avg_pooling_asymmetric_padding_matches_brute_force(size, k, s):
    k2 = (k, k) if isinstance(k, int) else k
    s2 = (s, s) if isinstance(s, int) else s
    layer = _pool("avg", size, k, s, padding="same")
    x = torch.randn(2, 2, *size, dtype=torch.float64)
    assert_matches_torch(layer, lambda t: _brute_force_same_avg(t, k2, s2), x)


def test_same_avg_pooling_of_ones_is_ones():
    layer = _pool("avg", (5, 7), 3, 2, padding="same")
    torch.testing.assert_close(layer(torch.ones(1, 2, 5, 7)), torch.ones(1, 2, 3, 4))


@pytest.mark.parametrize("kind", POOLS)
def test_same_pooling_follows_input_size_after_build(kind):
    # Regression: the "same" padding was planned once at build; a pool built for 4x4 and
    # then fed 5x5 (its input spec allows any size) gave 2x2 instead of ceil(5 / 2) = 3.
    layer = _pool(kind, (4, 4), 2, padding="same")
    for n in (5, 4, 7):
        x = torch.randn(1, 2, n, n, dtype=torch.float64)
        assert tuple(layer(x).shape[1:]) == layer.compute_output_shape((2, n, n))
    torch.testing.assert_close(_pool("avg", (4, 4), 3, 2, padding="same")(x),
                               _brute_force_same_avg(x, (3, 3), (2, 2)))


def test_pooling_defaults_and_aliases():
    layer = MaxPool2D()
    assert layer.pool_size == (2, 2) and layer.strides == (2, 2) and layer.padding == "valid"
    assert MaxPooling2D is MaxPool2D and AveragePooling2D is AvgPool2D
    assert AvgPool2D(3, 1, padding="SAME").extra_repr() == ("pool_size=(3, 3), strides=(1, 1), "
                                                            "padding='same'")
    assert MaxPool2D(2).extra_repr() == "pool_size=(2, 2)"


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pooling_bad_padding(cls):
    with pytest.raises(ValueError, match=rf"`padding` of {cls.__name__} '\w+' must be one of "
                                         r"'valid', 'same'\. Received: padding='causal'"):
        cls(2, padding="causal")


def test_pooling_rejects_bad_pool_size():
    with pytest.raises(ValueError, match=r"`pool_size` of MaxPool2D .* integer >= 1"):
        MaxPool2D(0)


def test_pool_larger_than_input_is_an_empty_output_error():
    with pytest.raises(ValueError, match=r"Layer 'pool_a' with pool_size=\(4, 4\) cannot pool "
                                         r"input of per-sample shape \(1, 3, 3\)"):
        MaxPool2D(4, name="pool_a").build_shapes((1, 3, 3))


def test_pooling_2d_per_sample_input_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Layer 'pool_b' expects input with 3 axes per sample"
                                         r".* Received: input of shape \(N, 6, 6\)"):
        AvgPool2D(2, name="pool_b")(torch.zeros(4, 6, 6))


# -- 1-D pooling -------------------------------------------------------------------------
POOLS_1D = {"max": (MaxPool1D, F.max_pool1d), "avg": (AvgPool1D, F.avg_pool1d)}


@pytest.mark.parametrize("kind", POOLS_1D)
@pytest.mark.parametrize("pool_size, strides", [(2, None), (3, 2), (3, 1)])
def test_valid_1d_pooling_matches_torch(kind, pool_size, strides):
    cls, torch_fn = POOLS_1D[kind]
    layer = cls(pool_size, strides)
    layer.build((2, 9))
    x = torch.randn(2, 2, 9, dtype=torch.float64)
    assert_matches_torch(layer, lambda t: torch_fn(t, pool_size, strides or pool_size), x)
    assert layer.compute_output_shape((2, 9)) == tuple(layer(x).shape[1:])


@pytest.mark.parametrize("n, k, s", [(5, 2, 2), (7, 3, 2), (8, 4, 3)])
def test_same_1d_pooling_is_the_2d_one_on_a_row(n, k, s):
    """A sequence is a one-row image: the 1-D "same" pools equal the (tested) 2-D ones."""
    x = torch.randn(2, 3, n, dtype=torch.float64)
    for cls1, cls2 in ((MaxPool1D, MaxPool2D), (AvgPool1D, AvgPool2D)):
        y1 = cls1(k, s, padding="same")(x)
        y2 = cls2((1, k), (1, s), padding="same")(x.unsqueeze(2)).squeeze(2)
        torch.testing.assert_close(y1, y2)
        assert y1.shape[-1] == math.ceil(n / s)


def test_1d_pooling_aliases_and_rank_error():
    assert MaxPooling1D is MaxPool1D and AveragePooling1D is AvgPool1D
    with pytest.raises(ValueError, match=r"Layer 'pool1d' expects input with 2 axes per sample"):
        MaxPool1D(2, name="pool1d")(torch.zeros(1, 2, 4, 4))


# -- global pooling ----------------------------------------------------------------------
@pytest.mark.parametrize("cls, oracle", [
    (GlobalAvgPool2D, lambda t: F.adaptive_avg_pool2d(t, 1)),
    (GlobalMaxPool2D, lambda t: F.adaptive_max_pool2d(t, 1)),
    (GlobalAvgPool1D, lambda t: F.adaptive_avg_pool1d(t, 1)),
    (GlobalMaxPool1D, lambda t: F.adaptive_max_pool1d(t, 1)),
])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_adaptive_pooling_to_one(cls, oracle, keepdims):
    spatial = (4, 5) if cls.rank == 2 else (6,)
    layer = cls(keepdims=keepdims)
    x = torch.randn(2, 3, *spatial, dtype=torch.float64)

    def expected(t):
        y = oracle(t)
        return y if keepdims else y.flatten(1)

    assert_matches_torch(layer, expected, x)
    assert layer.build_shapes((3, *spatial)) == tuple(expected(x).shape[1:])


@pytest.mark.parametrize("cls, reduce", [(GlobalAvgPool, torch.mean), (GlobalMaxPool, torch.amax)])
@pytest.mark.parametrize("spatial", [(6,), (4, 5), (3, 4, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_any_rank_global_pooling_reduces_every_spatial_axis(cls, reduce, spatial, keepdims):
    layer = cls(keepdims=keepdims)
    x = torch.randn(2, 3, *spatial, dtype=torch.float64)
    axes = tuple(range(2, x.ndim))
    assert_matches_torch(layer, lambda t: reduce(t, dim=axes, keepdim=keepdims), x)
    assert layer.build_shapes((3, *spatial)) == (3, *((1,) * len(spatial) if keepdims else ()))


def test_any_rank_global_pooling_equals_the_fixed_rank_layers_and_rejects_flat_input():
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(GlobalAvgPool()(x), GlobalAvgPool2D()(x), rtol=0, atol=0)
    torch.testing.assert_close(GlobalMaxPool()(x[..., 0]), GlobalMaxPool1D()(x[..., 0]))
    with pytest.raises(ValueError, match=r"Layer 'gap' expects.*at least 2 axes"):
        GlobalAvgPool(name="gap")(torch.zeros(4, 3))


def test_global_pooling_aliases_and_repr():
    assert GlobalAveragePooling2D is GlobalAvgPool2D and GlobalMaxPooling2D is GlobalMaxPool2D
    assert GlobalAveragePooling1D is GlobalAvgPool1D and GlobalMaxPooling1D is GlobalMaxPool1D
    assert repr(GlobalAvgPool2D()) == "GlobalAvgPool2D()"
    assert GlobalMaxPool2D(keepdims=True).extra_repr() == "keepdims=True"


# -- max pooling indices -------------------------------------------------------------------
@pytest.mark.parametrize("pool_size, strides", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_max_pool_return_indices_matches_torch(pool_size, strides):
    layer = MaxPool2D(pool_size, strides, return_indices=True)
    x = torch.randn(2, 3, 7, 8)
    y, indices = layer(x)
    y_ref, indices_ref = F.max_pool2d(x, pool_size, strides or pool_size, return_indices=True)
    assert torch.equal(y, y_ref) and torch.equal(indices, indices_ref)
    assert layer.extra_repr().endswith("return_indices=True")


@pytest.mark.parametrize("size, k, s", [((5, 5), 2, 2), ((7, 6), 3, 2), ((5, 4), 3, 1)])
def test_same_max_pool_indices_point_into_the_unpadded_input(size, k, s):
    x = torch.randn(2, 3, *size)
    y, indices = MaxPool2D(k, s, padding="same", return_indices=True)(x)
    assert torch.equal(y, MaxPool2D(k, s, padding="same")(x))
    assert 0 <= int(indices.min()) and int(indices.max()) < size[0] * size[1]
    torch.testing.assert_close(x.flatten(2).gather(2, indices.flatten(2)), y.flatten(2))


def test_max_pool_keep_indices_returns_the_tensor_and_stores_the_indices():
    layer = MaxPool2D(2, keep_indices=True)
    assert layer.indices is None
    x = torch.randn(2, 3, 5, 6)
    y = layer(x)
    _, indices_ref = F.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(y, F.max_pool2d(x, 2))
    assert torch.equal(layer.indices, indices_ref) and layer.input_size == (5, 6)
    assert layer.get_config()["keep_indices"] is True
