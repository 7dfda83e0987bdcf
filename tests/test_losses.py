"""Losses against numpy closed forms and torch's own losses; logits fusion; errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamina import losses
from lamina.functional import losses as L

N, C = 6, 4


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(N, C, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, C, (N,), generator=g)
    soft = torch.rand(N, C, generator=g, dtype=torch.float64)
    soft = soft / soft.sum(1, keepdim=True)
    z = torch.randn(N, 3, generator=g, dtype=torch.float64) * 2
    y01 = torch.randint(0, 2, (N, 3), generator=g).double()
    return logits, labels, soft, z, y01


def reduce_np(per_sample, reduction):
    return {"none": per_sample, "sum": per_sample.sum(), "mean": per_sample.mean()}[reduction]


def sigmoid_np(z):
    return 1 / (1 + np.exp(-z))


def softmax_np(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_against_numpy_closed_forms(reduction):
    logits, labels, soft, z, y01 = data()
    lg, zz, yy, sf = logits.numpy(), z.numpy(), y01.numpy(), soft.numpy()
    p, q = sigmoid_np(zz), softmax_np(lg)
    expected = {
        L.mean_squared_error: (z, y01, ((zz - yy) ** 2).mean(1)),
        L.mean_absolute_error: (z, y01, np.abs(zz - yy).mean(1)),
        L.binary_crossentropy: (
            torch.sigmoid(z),
            y01,
            -(yy * np.log(p) + (1 - yy) * np.log(1 - p)).mean(1),
        ),
        L.categorical_crossentropy: (torch.softmax(logits, 1), soft, -(sf * np.log(q)).sum(1)),
        L.sparse_categorical_crossentropy: (
            torch.softmax(logits, 1),
            labels,
            -np.log(q[np.arange(N), labels.numpy()]),
        ),
        L.hinge: (z, 2 * y01 - 1, np.maximum(0, 1 - (2 * yy - 1) * zz).mean(1)),
    }
    for fn, (y_pred, y_true, per_sample) in expected.items():
        out = fn(y_pred, y_true, reduction=reduction)
        np.testing.assert_allclose(
            out.numpy(), reduce_np(per_sample, reduction), rtol=1e-10, err_msg=fn.__name__
        )


def test_against_torch_losses():
    logits, labels, soft, z, y01 = data(1)
    p = torch.sigmoid(z)
    torch.testing.assert_close(L.mean_squared_error(z, y01), F.mse_loss(z, y01))
    torch.testing.assert_close(L.mean_absolute_error(z, y01), F.l1_loss(z, y01))
    torch.testing.assert_close(L.binary_crossentropy(p, y01), F.binary_cross_entropy(p, y01))
    torch.testing.assert_close(
        L.binary_crossentropy(z, y01, from_logits=True), F.binary_cross_entropy_with_logits(z, y01)
    )
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(logits, labels, from_logits=True),
        F.cross_entropy(logits, labels),
    )
    torch.testing.assert_close(
        L.categorical_crossentropy(logits, soft, from_logits=True), F.cross_entropy(logits, soft)
    )
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(torch.softmax(logits, 1), labels, reduction="none"),
        F.nll_loss(torch.log_softmax(logits, 1), labels, reduction="none"),
    )


def test_segmentation_shapes_class_axis_1():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, C, 3, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, C, (2, 3, 5), generator=g)
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(logits, labels, from_logits=True),
        F.cross_entropy(logits, labels),
    )
    per_pixel = F.cross_entropy(logits, labels, reduction="none")
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(logits, labels, from_logits=True, reduction="none"),
        per_pixel.mean((1, 2)),
    )
    # soft per-pixel targets: the mean over every pixel of -sum_c t log softmax(z)
    soft = torch.softmax(torch.randn(2, C, 3, 5, generator=g, dtype=torch.float64), 1)
    torch.testing.assert_close(
        L.categorical_crossentropy(logits, soft, from_logits=True),
        -(soft * torch.log_softmax(logits, 1)).sum(1).mean(),
    )
    one_hot = F.one_hot(labels, C).permute(0, 3, 1, 2).double()
    torch.testing.assert_close(
        L.categorical_crossentropy(torch.softmax(logits, 1), one_hot),
        F.cross_entropy(logits, labels),
    )


def test_logits_and_probabilities_agree():
    logits, labels, soft, z, y01 = data(3)
    torch.testing.assert_close(
        L.binary_crossentropy(torch.sigmoid(z), y01),
        L.binary_crossentropy(z, y01, from_logits=True),
    )
    torch.testing.assert_close(
        L.categorical_crossentropy(torch.softmax(logits, 1), soft),
        L.categorical_crossentropy(logits, soft, from_logits=True),
    )
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(torch.softmax(logits, 1), labels),
        L.sparse_categorical_crossentropy(logits, labels, from_logits=True),
    )


@pytest.mark.parametrize(
    "name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
)
def test_huge_logits_give_finite_loss_and_gradient(name):
    z = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], requires_grad=True)
    y = {
        "binary_crossentropy": torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]),
        "categorical_crossentropy": torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
        "sparse_categorical_crossentropy": torch.tensor([1, 0]),
    }[name]
    loss = getattr(L, name)(z, y, from_logits=True)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 1e3  # confidently wrong costs about 1e4
    assert torch.isfinite(z.grad).all()


def test_saturated_probabilities_are_clipped():
    p = torch.tensor([[1.0, 0.0]], requires_grad=True)
    loss = L.binary_crossentropy(p, torch.tensor([[0.0, 1.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
    # Both entries clipped: log(eps) and log(1 - float32(1 - eps)).
    eps = np.float32(L.EPSILON)
    expected = -(np.log(eps) + np.log1p(-np.float32(1 - eps))) / 2
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)
    assert torch.isfinite(L.categorical_crossentropy(p, torch.tensor([[0.0, 1.0]])))


def test_gradcheck():
    logits, labels, soft, z, y01 = data(4)
    cases = [
        (L.mean_squared_error, z, y01, {}),
        (L.mean_absolute_error, z, y01 + 0.5, {}),  # away from the kink at 0
        (L.hinge, z * 0.1 + 0.5, torch.ones_like(z), {}),  # 1 - y z stays positive
        (L.binary_crossentropy, torch.sigmoid(z), y01, {}),
        (L.binary_crossentropy, z, y01, {"from_logits": True}),
        (L.categorical_crossentropy, torch.softmax(logits, 1), soft, {}),
        (L.categorical_crossentropy, logits, soft, {"from_logits": True}),
        (L.sparse_categorical_crossentropy, torch.softmax(logits, 1), labels, {}),
        (L.sparse_categorical_crossentropy, logits, labels, {"from_logits": True}),
    ]
    for fn, y_pred, y_true, kw in cases:
        x = y_pred.detach().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda t, fn=fn, y=y_true, kw=kw: fn(t, y, **kw), (x,))


def test_hinge_accepts_zero_one_targets():
    z = torch.tensor([0.3, -2.0, 1.5, -0.1])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0])
    torch.testing.assert_close(L.hinge(z, y), L.hinge(z, 2 * y - 1))
    # All-positive batches are the same in both encodings.
    torch.testing.assert_close(L.hinge(z, torch.ones(4)), torch.relu(1 - z).mean())


def test_column_and_flat_targets_are_interchangeable():
    p = torch.tensor([[0.2], [0.9]])
    y = torch.tensor([0, 1])  # int labels, shape (N,)
    torch.testing.assert_close(
        L.binary_crossentropy(p, y), L.binary_crossentropy(p, y[:, None].float())
    )
    torch.testing.assert_close(
        L.sparse_categorical_crossentropy(torch.eye(2), y[:, None]),
        L.sparse_categorical_crossentropy(torch.eye(2), y),
    )


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"same shape.*y_pred.shape=\(4, 3\), y_true.shape=\(4,\).*"
        r"sparse_categorical_crossentropy",
    ):
        L.categorical_crossentropy(torch.rand(4, 3), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="For one-hot targets use `categorical_crossentropy`"):
        L.sparse_categorical_crossentropy(torch.rand(4, 3), torch.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(ValueError, match="classes on axis 1"):
        L.categorical_crossentropy(torch.rand(4), torch.rand(4))
    with pytest.raises(ValueError, match=r"`reduction`.*Received: reduction='avg'"):
        L.mean_squared_error(torch.rand(2), torch.rand(2), reduction="avg")
    with pytest.raises(ValueError, match="only the cross-entropies"):
        L.hinge(torch.rand(2), torch.rand(2), from_logits=True)
    with pytest.raises(ValueError, match="same shape"):
        L.mean_squared_error(torch.rand(4, 2), torch.rand(4, 3))


# ---- Loss classes -------------------------------------------------------------------------


def test_registry_names_and_fusable_activation():
    expected = {
        "mse": (losses.MeanSquaredError, None),
        "mean_squared_error": (losses.MeanSquaredError, None),
        "mae": (losses.MeanAbsoluteError, None),
        "bce": (losses.BinaryCrossentropy, "sigmoid"),
        "Binary_Crossentropy": (losses.BinaryCrossentropy, "sigmoid"),
        "categorical_crossentropy": (losses.CategoricalCrossentropy, "softmax"),
        "sparse_categorical_crossentropy": (losses.SparseCategoricalCrossentropy, "softmax"),
        "hinge": (losses.Hinge, None),
    }
    for name, (cls, act) in expected.items():
        loss = losses.get(name)
        assert type(loss) is cls and loss.fusable_activation == act
        assert loss.from_logits is False and loss.reduction == "mean"


def test_classes_call_their_functions():
    logits, labels, soft, z, y01 = data(5)
    scce = losses.SparseCategoricalCrossentropy(from_logits=True)
    torch.testing.assert_close(scce(logits, labels), F.cross_entropy(logits, labels))
    torch.testing.assert_close(losses.get("mse")(z, y01), F.mse_loss(z, y01))
    per_sample = losses.BinaryCrossentropy(reduction="none")(torch.sigmoid(z), y01)
    assert per_sample.shape == (N,)


def test_with_logits_returns_a_copy():
    loss = losses.get("categorical_crossentropy")
    fused = loss.with_logits()
    assert fused.from_logits and not loss.from_logits and type(fused) is type(loss)
    logits, _, soft, _, _ = data(6)
    torch.testing.assert_close(fused(logits, soft), loss(torch.softmax(logits, 1), soft))
    with pytest.raises(ValueError, match="no logits form"):
        losses.get("mse").with_logits()
    assert losses.get(loss, from_logits=True).from_logits


def test_config_round_trip():
    loss = losses.BinaryCrossentropy(from_logits=True, reduction="sum")
    assert loss.get_config() == {"from_logits": True, "reduction": "sum"}
    again = losses.get(losses.serialize(loss))
    assert type(again) is losses.BinaryCrossentropy and again.get_config() == loss.get_config()
    assert losses.serialize(losses.get("mse"))["name"] == "mean_squared_error"
    assert repr(loss) == "BinaryCrossentropy(from_logits=True, reduction='sum')"


def test_get_instances_classes_and_functions():
    inst = losses.Hinge()
    assert losses.get(inst) is inst
    assert type(losses.get(losses.Hinge)) is losses.Hinge
    assert losses.get(losses.BinaryCrossentropy, from_logits=True).from_logits
    wrapped = losses.get(torch.nn.L1Loss())
    assert isinstance(wrapped, losses.Loss)
    torch.testing.assert_close(wrapped(torch.tensor([1.0]), torch.tensor([3.0])), torch.tensor(2.0))
    with pytest.raises(ValueError, match="registered name"):
        losses.serialize(wrapped)
    with pytest.raises(ValueError, match="from_logits"):
        losses.get(lambda p, t: p.sum(), from_logits=True)


def test_get_errors():
    with pytest.raises(
        ValueError,
        match=r"Unknown loss 'sparse_categorical_crossentropi'.*"
        r"Did you mean 'sparse_categorical_crossentropy'",
    ):
        losses.get("sparse_categorical_crossentropi")
    with pytest.raises(ValueError, match="Valid names:.*'mse'"):
        losses.get("l2")
    with pytest.raises(TypeError, match=r"Received: loss=42 \(type int\)"):
        losses.get(42)
    with pytest.raises(ValueError, match="MeanSquaredError does not take `from_logits=True`"):
        losses.get("mse", from_logits=True)
    with pytest.raises(ValueError, match="`reduction` of Hinge"):
        losses.Hinge(reduction="max")
