"""Max unpooling (deck 002): F.max_unpool2d, a numpy loop, Sequential links, relinking, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina.functional.conv import max_unpool2d
from lamina.layers import Conv2D, MaxPool2D, MaxUnpool2D
from tests.helpers import assert_matches_torch


def _numpy_pool_unpool(x: np.ndarray, k: int) -> np.ndarray:
    """Non-overlapping k x k windows: keep each window's maximum where it is, zero the rest."""
    out = np.zeros_like(x)
    n, c, h, w = x.shape
    for b in range(n):
        for ch in range(c):
            for i in range(0, h - k + 1, k):
                for j in range(0, w - k + 1, k):
                    window = x[b, ch, i:i + k, j:j + k]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    out[b, ch, i + r, j + q] = window[r, q]
    return out


@pytest.mark.parametrize("size, k, s", [((4, 6), 2, None), ((5, 7), 2, None), ((7, 7), 3, 2),
                                        ((6, 5), (2, 3), (2, 1))])
def test_max_unpool2d_matches_torch_values_and_grads(size, k, s):
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    pooled, indices = F.max_pool2d(x, k, s, return_indices=True)
    assert_matches_torch(lambda p, i: max_unpool2d(p, i, k, s, output_size=size),
                         lambda p, i: F.max_unpool2d(p, i, k, s, output_size=size),
                         (pooled, indices))
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (kh, kw) if s is None else ((s, s) if isinstance(s, int) else s)
    if ((pooled.shape[2] - 1) * sh + kh, (pooled.shape[3] - 1) * sw + kw) == size:
        assert_matches_torch(lambda p, i: max_unpool2d(p, i, k, s),  # the default size
                             lambda p, i: F.max_unpool2d(p, i, k, s), (pooled, indices))


@pytest.mark.parametrize("size", [(4, 4), (5, 7)])
def test_unpool_of_pool_keeps_each_window_max_in_place_and_zeros_elsewhere(size):
    x = torch.randn(2, 2, *size, dtype=torch.float64)
    pooled, indices = MaxPool2D(2, return_indices=True)(x)
    y = MaxUnpool2D(2)(pooled, indices, output_size=size)
    np.testing.assert_array_equal(y.numpy(), _numpy_pool_unpool(x.numpy(), 2))


def test_unpool_after_same_padded_pool_restores_the_input_size():
    x = torch.randn(2, 3, 5, 5)
    pool = MaxPool2D(3, 2, padding="same", keep_indices=True)
    unpool = MaxUnpool2D(pool=pool)
    y = unpool(pool(x))
    assert y.shape == x.shape and unpool.compute_output_shape((3, 3, 3)) == (3, 5, 5)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept])  # every non-zero is the input value there
    assert torch.equal(torch.sort(y.flatten(2).amax(-1)).values,
                       torch.sort(x.flatten(2).amax(-1)).values)  # the global max survives


def test_unpool_gradcheck():
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    pooled.requires_grad_()
    assert torch.autograd.gradcheck(lambda p: max_unpool2d(p, indices, 2), (pooled,))


def test_sequential_encoder_decoder_with_linked_unpooling():
    pool = MaxPool2D(2, keep_indices=True, name="enc_pool")
    model = lm.Sequential([Conv2D(4, 3, padding="same", name="enc_conv"), pool,
                           Conv2D(4, 3, padding="same", name="dec_conv"),
                           MaxUnpool2D(pool=pool, name="unpool")], input_shape=(1, 5, 7))
    assert model.output_shape == (4, 5, 7)
    assert [name for name, _ in model.named_children()] == ["layers"]
    assert "pool='enc_pool'" in repr(model) and repr(model).count("MaxPool2D") == 1
    x = torch.randn(2, 1, 5, 7)
    y = model(x)
    assert y.shape == (2, 4, 5, 7) and torch.equal(model.layers[3].pool.indices, pool.indices)
    # exactly one non-zero per 2x2 window (rows/cols 4 and 6 are beyond the windows: zero)
    windows = (y[..., :4, :6] != 0).unflatten(-1, (3, 2)).unflatten(-3, (2, 2)).sum((-3, -1))
    assert int(windows.max()) <= 1 and not y[..., 4, :].any() and not y[..., :, 6].any()


def test_linked_unpooling_relinks_after_a_config_round_trip():
    pool = MaxPool2D(2, keep_indices=True, name="relink_pool")
    model = lm.Sequential([pool, MaxUnpool2D(pool=pool)], input_shape=(2, 4, 4))
    config = model.get_config()
    assert config["layers"][1]["config"]["pool"] == "relink_pool"
    clone = lm.Sequential.from_config(config)
    assert clone.layers[1].pool is clone.layers[0] and clone.layers[0] is not pool
    x = torch.randn(3, 2, 4, 4)
    torch.testing.assert_close(clone(x), model(x))


# -- errors ------------------------------------------------------------------------------
def test_unpool_without_indices_says_how_to_pass_them():
    with pytest.raises(ValueError, match=r"Layer 'unpool_a' needs the positions of the maxima "
                                         r"\(`indices`\) .* `pooled, indices = MaxPool2D\(2, "
                                         r"return_indices=True\)\(x\)`.* `MaxUnpool2D\(pool="):
        MaxUnpool2D(name="unpool_a")(torch.randn(1, 1, 2, 2))


def test_unpool_linked_to_a_pool_that_has_not_run():
    unpool = MaxUnpool2D(pool=MaxPool2D(2, keep_indices=True, name="idle_pool"))
    with pytest.raises(ValueError, match=r"reads the indices of pool 'idle_pool', which has not "
                                         r"run yet\. Call the pool before the unpooling"):
        unpool(torch.randn(1, 1, 2, 2))


def test_unpool_link_errors():
    with pytest.raises(ValueError, match=r"`pool` of MaxUnpool2D '\w+' must be a MaxPool2D that "
                                         r"keeps its indices.*keep_indices=True"):
        MaxUnpool2D(pool=MaxPool2D(2))
    with pytest.raises(ValueError, match=r"links to pool 'no_such_pool', but no "
                                         r"MaxPool2D\(keep_indices=True\) of that name exists"):
        MaxUnpool2D(pool="no_such_pool")
    with pytest.raises(ValueError, match=r"must undo the windows of its pool 'p3'\. Expected: "
                                         r"pool_size=\(3, 3\), strides=\(3, 3\)"):
        MaxUnpool2D(2, pool=MaxPool2D(3, keep_indices=True, name="p3"))
    with pytest.raises(ValueError, match=r"Layer 'unpool_b' needs one index per input value\. "
                                         r"Expected: indices of shape \(1, 1, 2, 2\)"):
        MaxUnpool2D(name="unpool_b")(torch.randn(1, 1, 2, 2),
                                     torch.zeros(1, 1, 3, 3, dtype=torch.long))


def test_linked_unpool_rejects_an_input_that_is_not_its_pool_output():
    pool = MaxPool2D(2, keep_indices=True)
    pool.build_shapes((1, 8, 8))
    with pytest.raises(ValueError, match=r"Layer 'unpool_c' unpools the output of '\w+', "
                                         r"\(N, 1, 4, 4\), but its input is \(N, 1, 3, 3\)"):
        MaxUnpool2D(pool=pool, name="unpool_c").build_shapes((1, 3, 3))
