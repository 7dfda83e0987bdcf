"""Batch augmentation: each transform against an independent oracle (flip, roll, rot90, numpy)."""

import inspect

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import augment
from lamina.augment import (
    Compose,
    GaussianNoise,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    affine,
    translate,
)

ALL = [RandomCrop(2), RandomFlip(), RandomFlip("horizontal_and_vertical"),
       RandomTranslation(0.2), RandomRotation(30.0), RandomAffine(10, 0.1, (0.9, 1.1)),
       GaussianNoise(0.1), RandomErasing(), Compose([RandomCrop(1), RandomFlip()])]


def roll_with_zeros(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Oracle for a shift: torch.roll, then zero the rows and columns that wrapped round."""
    out = torch.roll(img, (dy, dx), dims=(-2, -1)).clone()
    if dy > 0:
        out[..., :dy, :] = 0
    elif dy < 0:
        out[..., dy:, :] = 0
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, dx:] = 0
    return out


# -- flips --------------------------------------------------------------------------------------
def test_flip_with_p_one_mirrors_and_p_zero_is_identity():
    x = torch.rand(5, 3, 4, 6)
    assert torch.equal(RandomFlip(p=1.0)(x), x.flip(-1))
    assert torch.equal(RandomFlip("vertical", p=1.0)(x), x.flip(-2))
    assert torch.equal(RandomFlip("horizontal_and_vertical", p=1.0)(x), x.flip(-2, -1))
    assert torch.equal(RandomFlip(p=0.0)(x), x)


def test_flip_draws_a_coin_per_sample():
    x = torch.rand(200, 1, 3, 3)
    y = RandomFlip(p=0.5)(x)
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    same = (y == x).flatten(1).all(1)
    assert bool((flipped | same).all())
    assert 60 < int(flipped.sum()) < 140


# -- crops and shifts ----------------------------------------------------------------------------
def test_crop_with_zero_padding_is_identity():
    x = torch.rand(4, 2, 5, 5)
    assert torch.equal(RandomCrop(0)(x), x)


@pytest.mark.parametrize("fill", [0.0, 0.5])
def test_crop_is_a_crop_of_the_padded_image(fill):
    pad, x = 2, torch.rand(40, 2, 5, 6)
    y = RandomCrop(pad, fill=fill)(x).numpy()
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    offsets = set()
    for n in range(len(x)):
        hits = [(i, j) for i in range(2 * pad + 1) for j in range(2 * pad + 1)
                if np.array_equal(padded[n, :, i:i + 5, j:j + 6], y[n])]
        assert len(hits) == 1, f"sample {n} is no crop of its padded image"
        offsets.add(hits[0])
    assert len(offsets) > 10  # offsets vary from sample to sample


@pytest.mark.parametrize("dy,dx", [(0, 0), (1, 2), (-2, 1), (3, -3), (-1, -4), (6, 0)])
def test_translate_equals_roll_with_zeroed_border(dy, dx):
    x = torch.rand(2, 3, 5, 6)
    assert torch.equal(translate(x, dy, dx), roll_with_zeros(x, dy, dx))


def test_translate_takes_one_shift_per_sample_and_a_fill():
    x = torch.rand(3, 1, 4, 4)
    dy, dx = torch.tensor([1, 0, -2]), torch.tensor([0, -1, 3])
    y = translate(x, dy, dx, fill=7.0)
    for n in range(3):
        expected = roll_with_zeros(x[n], int(dy[n]), int(dx[n]))
        uncovered = roll_with_zeros(torch.ones(1, 4, 4), int(dy[n]), int(dx[n])) == 0
        expected[uncovered] = 7.0
        assert torch.equal(y[n], expected)


def test_random_translation_shifts_by_whole_pixels_within_the_limit():
    x = torch.rand(30, 1, 10, 10) + 0.1   # no zeros, so the shift is identifiable
    y = RandomTranslation(0.2)(x)          # at most 2 pixels each way
    for n in range(len(x)):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                if torch.equal(y[n], roll_with_zeros(x[n], dy, dx))]
        assert len(hits) == 1


def test_random_translation_by_a_known_shift(monkeypatch):
    x = torch.rand(4, 1, 8, 8)
    aug = RandomTranslation(0.5)
    shifts = iter([torch.tensor([2, -1, 0, 3]), torch.tensor([-3, 1, 2, 0])])
    monkeypatch.setattr(aug, "randint", lambda low, high, *shape, like: next(shifts))
    y = aug(x)
    for n, (dy, dx) in enumerate([(2, -3), (-1, 1), (0, 2), (3, 0)]):
        assert torch.equal(y[n], roll_with_zeros(x[n], dy, dx))


# -- rotations -----------------------------------------------------------------------------------
def test_rotation_by_zero_degrees_is_identity():
    x = torch.rand(6, 3, 7, 9)
    assert torch.allclose(RandomRotation(0.0)(x), x, atol=1e-6)
    assert torch.allclose(affine(x, 0.0), x, atol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_rotation_by_multiples_of_90_degrees_equals_rot90(k):
    x = torch.rand(3, 2, 6, 6)
    torch.testing.assert_close(affine(x, 90.0 * k), torch.rot90(x, k, dims=(-2, -1)),
                               atol=1e-5, rtol=0)


def test_random_rotation_uses_the_drawn_angles(monkeypatch):
    x = torch.rand(4, 1, 5, 5)
    aug = RandomRotation(90.0)
    monkeypatch.setattr(aug, "uniform", lambda low, high, *shape, like: torch.full(shape, 90.0))
    torch.testing.assert_close(aug(x), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_half_turn_of_a_rectangle_and_integer_affine_shift():
    x = torch.rand(2, 1, 4, 7)
    torch.testing.assert_close(affine(x, 180.0), x.flip(-2, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(affine(x, shift=(1.0, -2.0)), translate(x, 1, -2),
                               atol=1e-6, rtol=0)


def test_rotation_fill_covers_the_corners():
    y = affine(torch.ones(1, 1, 9, 9), 45.0, fill=-1.0)
    assert y[0, 0, 0, 0] == -1.0 and y[0, 0, 4, 4] == 1.0


# -- noise and erasing ---------------------------------------------------------------------------
def test_gaussian_noise_statistics():
    x = torch.rand(256, 1, 16, 16)
    noise = GaussianNoise(0.1)(x) - x
    assert abs(noise.mean().item()) < 2e-3
    assert noise.std().item() == pytest.approx(0.1, rel=0.02)


def test_gaussian_noise_with_p_leaves_some_samples_untouched():
    x = torch.rand(200, 1, 4, 4)
    untouched = (GaussianNoise(0.1, p=0.5)(x) == x).flatten(1).all(1)
    assert 60 < int(untouched.sum()) < 140


def test_erasing_blanks_one_rectangle_of_the_right_size():
    x = torch.ones(100, 3, 32, 32)
    y = RandomErasing(p=1.0, value=0.0)(x)
    assert bool((y == y[:, :1]).all())    # the same rectangle in every channel
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(rows) == h * w          # a full rectangle, nothing else
        assert 0.02 <= h * w / (32 * 32) <= 0.2
        assert 0.3 / 1.5 <= h / w <= 3.3 * 1.5   # ratio drawn in (0.3, 3.3), then rounded


def test_erasing_with_p_zero_is_identity_and_value_is_written():
    x = torch.rand(8, 1, 16, 16)
    assert torch.equal(RandomErasing(p=0.0)(x), x)
    assert bool((RandomErasing(p=1.0, value=5.0)(x) == 5.0).flatten(1).any(1).all())


# -- common contract -----------------------------------------------------------------------------
@pytest.mark.parametrize("aug", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_kept_and_input_not_modified(aug, dtype):
    x = torch.rand(16, 3, 8, 8, dtype=dtype)
    before = x.clone()
    y = aug(x)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert torch.equal(x, before)


@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_three_axis_batches_are_images(aug):
    assert aug(torch.rand(4, 8, 8)).shape == (4, 8, 8)


def test_large_batch_of_tiny_images():
    aug = Compose([RandomCrop(2), RandomFlip("horizontal_and_vertical"), RandomRotation(15.0),
                   RandomTranslation(0.1), GaussianNoise(0.05), RandomErasing()])
    assert aug(torch.rand(4096, 1, 8, 8)).shape == (4096, 1, 8, 8)


def test_generator_makes_draws_reproducible():
    x = torch.rand(32, 1, 8, 8)

    def run(seed):
        gen = torch.Generator().manual_seed(seed)
        return Compose([RandomCrop(2, generator=gen), RandomErasing(generator=gen)])(x)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_global_seed_makes_draws_reproducible():
    x = torch.rand(32, 1, 8, 8)
    lm.set_seed(3)
    a = RandomAffine(20, 0.1)(x)
    lm.set_seed(3)
    assert torch.equal(a, RandomAffine(20, 0.1)(x))


def test_integer_images_for_index_transforms():
    x = torch.randint(0, 255, (4, 1, 6, 6), dtype=torch.uint8)
    assert torch.equal(RandomFlip(p=1.0)(x), x.flip(-1))
    assert RandomCrop(1)(x).dtype == torch.uint8


# -- config, repr, lookup and errors ---------------------------------------------------------------
@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_config_round_trip(aug):
    again = augment.get(augment.serialize(aug))
    assert type(again) is type(aug) and repr(again) == repr(aug)
    assert again.get_config() == aug.get_config()


def test_repr_shows_non_default_arguments():
    assert repr(RandomCrop()) == "RandomCrop()"
    assert repr(RandomFlip("vertical", p=0.25)) == "RandomFlip(mode='vertical', p=0.25)"
    assert repr(RandomRotation(5)) == "RandomRotation(max_degrees=5.0)"


def test_get_resolves_names_lists_and_callables():
    assert isinstance(augment.get("random_flip"), RandomFlip)
    assert isinstance(augment.get("GaussianNoise"), GaussianNoise)
    composed = augment.get(["random_crop", RandomFlip(p=1.0)])
    assert isinstance(composed, Compose) and len(composed) == 2
    fn = lambda x: x  # noqa: E731
    assert augment.get(fn) is fn and augment.get(None) is None
    with pytest.raises(ValueError, match="Did you mean 'random_flip'"):
        augment.get("random_flp")
    with pytest.raises(TypeError, match="Could not interpret"):
        augment.get(3)


@pytest.mark.parametrize("make,match", [
    (lambda: RandomFlip(mode="diagonal"), "`mode` of RandomFlip"),
    (lambda: RandomCrop(padding=-1), "`padding` of RandomCrop"),
    (lambda: RandomFlip(p=1.5), "`p` of RandomFlip"),
    (lambda: GaussianNoise(-0.1), "`std` of GaussianNoise"),
    (lambda: RandomErasing(scale=(0.5, 0.1)), "`scale` of RandomErasing"),
    (lambda: RandomTranslation(max_shift=2.0), "`max_shift` of RandomTranslation"),
    (lambda: RandomRotation(-3), "`max_degrees` of RandomRotation"),
])
def test_bad_arguments_raise_house_style(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_raise_house_style():
    with pytest.raises(ValueError, match=r"batch of images .* Received: a tensor of shape"):
        RandomFlip()(torch.rand(4, 784))
    with pytest.raises(TypeError, match="floating-point images"):
        GaussianNoise()(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch tensors"):
        RandomFlip()(np.zeros((2, 1, 4, 4)))


@pytest.mark.skipif("augment" not in inspect.signature(lm.Model.fit).parameters,
                    reason="Model.fit(augment=...) not available yet")
def test_fit_applies_augmentation_to_training_batches_only():
    seen = []

    def spy(x):
        seen.append(x.shape[0])
        return RandomFlip()(x)

    model = lm.Sequential([lm.layers.Flatten(), lm.layers.Dense(2, activation="softmax")],
                          input_shape=(1, 4, 4))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = torch.rand(20, 1, 4, 4), torch.randint(0, 2, (20,))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y), augment=spy)
    assert seen == [8, 8, 4]
