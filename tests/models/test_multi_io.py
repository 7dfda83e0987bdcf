"""Functional models with several inputs and outputs: fit, evaluate, predict, logs,
checkpoints and exact resume, save/load (issue 23, point 1)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lamina as lm
from lamina import layers
from lamina.callbacks import Callback
from lamina.checkpoint import load_state


class Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step = epoch, step

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (self.epoch, self.step):
            raise Crash


def two_by_two(seed=0):
    """Image + vector in; class (softmax, 3) + regression (1) out."""
    torch.manual_seed(seed)
    image, meta = lm.Input((1, 8, 8), name="image"), lm.Input((4,), name="meta")
    h = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    h = layers.Flatten(name="flat")(layers.MaxPool2D(2, name="pool")(h))
    v = layers.Dense(8, activation="relu", name="meta_dense")(meta)
    h = layers.Concatenate(name="join")([h, v])
    h = layers.Dropout(0.2, name="drop")(h)
    kind = layers.Dense(3, activation="softmax", name="kind")(h)
    price = layers.Dense(1, name="price")(h)
    return lm.Model(inputs=[image, meta], outputs=[kind, price], name="shop")


def compile_two(model, lr=0.01):
    model.compile(optimizer=lm.optimizers.Adam(lr=lr),
                  loss={"kind": "sparse_categorical_crossentropy", "price": "mse"},
                  loss_weights={"kind": 1.0, "price": 0.5},
                  metrics={"kind": ["accuracy"], "price": ["mae"]})
    return model


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.random((n, 1, 8, 8)).astype(np.float32)
    meta = rng.normal(size=(n, 4)).astype(np.float32)
    kind = (img.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64) + (meta[:, 0] > 0.5)
    price = (meta[:, :1] * 2 + img[:, :, :4, :4].mean(axis=(2, 3))).astype(np.float32)
    return img, meta, kind, price


def test_trains_with_per_output_losses_weights_and_metrics():
    img, meta, kind, price = data()
    model = compile_two(two_by_two())
    history = model.fit([img, meta], [kind, price], batch_size=16, epochs=8, verbose=0,
                        validation_split=0.25)
    assert list(history.history) == [
        "loss", "kind_loss", "price_loss", "kind_accuracy", "price_mae",
        "val_loss", "val_kind_loss", "val_price_loss", "val_kind_accuracy", "val_price_mae"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["price_loss"][-1] < history.history["price_loss"][0]
    assert all(0 <= a <= 1 for a in history.history["kind_accuracy"])


def test_evaluate_matches_a_hand_computation_from_predict():
    img, meta, kind, price = data(n=40)
    model = compile_two(two_by_two())
    model.fit([img, meta], [kind, price], batch_size=8, epochs=1, verbose=0)
    p_kind, p_price = model.predict([img, meta], batch_size=7)
    logs = model.evaluate([img, meta], [kind, price], batch_size=16)
    ce = F.nll_loss(torch.log(torch.from_numpy(p_kind)), torch.from_numpy(kind)).item()
    mse = float(((p_price - price) ** 2).mean())
    mae = float(np.abs(p_price - price).mean())
    acc = float((p_kind.argmax(1) == kind).mean())
    assert logs["kind_loss"] == pytest.approx(ce, rel=1e-4)
    assert logs["price_loss"] == pytest.approx(mse, rel=1e-4)
    assert logs["loss"] == pytest.approx(ce + 0.5 * mse, rel=1e-4)   # loss weights 1, 0.5
    assert logs["kind_accuracy"] == pytest.approx(acc)
    assert logs["price_mae"] == pytest.approx(mae, rel=1e-4)


def test_dicts_keyed_by_name_equal_lists_and_predict_returns_a_list():
    img, meta, kind, price = data(n=24)
    model = compile_two(two_by_two())
    by_list = model.evaluate([img, meta], [kind, price])
    by_dict = model.evaluate({"meta": meta, "image": img}, {"price": price, "kind": kind})
    assert by_list == by_dict
    out = model.predict({"image": img, "meta": meta})
    assert isinstance(out, list) and [o.shape for o in out] == [(24, 3), (24, 1)]
    assert model.output_names == ["kind", "price"] and model.input_names == ["image", "meta"]


def test_loss_and_metric_lists_by_position_and_one_loss_for_all():
    x = lm.Input((3,), name="x")
    a, b = layers.Dense(1, name="a")(x), layers.Dense(2, name="b")(x)
    model = lm.Model(inputs=x, outputs=[a, b])
    model.compile("sgd", loss="mse", metrics=[["mae"], None])
    xs = np.ones((5, 3), np.float32)
    logs = model.evaluate(xs, [np.zeros((5, 1)), np.zeros((5, 2))])
    assert list(logs) == ["loss", "a_loss", "b_loss", "a_mae"]
    assert logs["loss"] == pytest.approx(logs["a_loss"] + logs["b_loss"], rel=1e-6)


def test_several_outputs_with_several_metrics_need_them_per_output():
    model = two_by_two()
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile(loss="mse", metrics=["accuracy", "mae", "mse"])
    with pytest.raises(ValueError, match="must name every output"):
        model.compile(loss={"kind": "mse"})
    with pytest.raises(ValueError, match="does not have"):
        model.compile(loss="mse", loss_weights={"colour": 2.0})


def test_wrong_inputs_are_refused_with_the_names():
    img, meta, kind, price = data(n=8)
    model = compile_two(two_by_two())
    with pytest.raises(ValueError, match="image"):
        model.fit([meta, img], [kind, price], verbose=0)           # swapped inputs
    with pytest.raises(ValueError, match=r"keys \['image', 'meta'\]"):
        model.fit({"image": img}, [kind, price], verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit([img, meta[:5]], [kind, price], verbose=0)
    with pytest.raises(ValueError, match="one array per output"):
        model.fit([img, meta], kind, verbose=0)


def test_sample_weight_per_output():
    img, meta, kind, price = data(n=16)
    model = compile_two(two_by_two())
    w = np.linspace(0, 2, 16).astype(np.float32)
    weighted = model.evaluate([img, meta], [kind, price], sample_weight={"price": w})
    plain = model.evaluate([img, meta], [kind, price])
    assert weighted["kind_loss"] == pytest.approx(plain["kind_loss"], rel=1e-6)
    p_price = model.predict([img, meta])[1]
    hand = float((w * ((p_price - price) ** 2)[:, 0]).sum() / 16)
    assert weighted["price_loss"] == pytest.approx(hand, rel=1e-4)


def train(model, ckpt=None, crash=None, resume=False, every=None):
    img, meta, kind, price = data(n=48, seed=1)
    callbacks = [crash] if crash is not None else []
    return model.fit([img, meta], [kind, price], batch_size=8, epochs=3, verbose=0,
                     validation_split=0.25, callbacks=callbacks, checkpoint=ckpt,
                     checkpoint_every=every, resume=resume)


@pytest.mark.filterwarnings("ignore::lamina.errors.ResumeWarning")  # the crashing callback
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path):
    torch.manual_seed(5)
    straight = compile_two(two_by_two(seed=1))
    h_straight = train(straight)

    torch.manual_seed(5)
    first = compile_two(two_by_two(seed=1))
    with pytest.raises(Crash):
        train(first, ckpt=tmp_path, crash=CrashAt(epoch=1, step=2), every=1)
    state = load_state(tmp_path / "last.ckpt")
    assert (state["epoch"], state["step"]) == (1, 2)                  # in the middle of epoch 2
    assert len(state["accumulators"]["terms"]) == 2                  # each output's loss sum

    torch.manual_seed(77)
    resumed = compile_two(two_by_two(seed=9))             # other weights, other RNG state
    h_resumed = train(resumed, ckpt=tmp_path, resume=True, every=1)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert h_resumed.history == h_straight.history


def test_resume_refuses_other_loss_weights(tmp_path):
    torch.manual_seed(0)
    train(compile_two(two_by_two()), ckpt=tmp_path)
    other = two_by_two()
    other.compile(loss={"kind": "sparse_categorical_crossentropy", "price": "mse"},
                  metrics={"kind": ["accuracy"], "price": ["mae"]})       # weights 1, 1
    with pytest.raises(lm.errors.ResumeMismatchError, match="loss"):
        train(other, ckpt=tmp_path, resume=True)


def test_save_and_load_keep_the_graph_and_the_outputs(tmp_path):
    img, meta, kind, price = data(n=16)
    model = compile_two(two_by_two())
    model.fit([img, meta], [kind, price], epochs=1, verbose=0)
    path = tmp_path / "shop.lamina"
    model.save(path)
    loaded = lm.load_model(path)
    assert loaded.output_names == ["kind", "price"]
    for a, b in zip(model.predict([img, meta]), loaded.predict([img, meta])):
        np.testing.assert_array_equal(a, b)
    compile_two(loaded).fit([img, meta], [kind, price], epochs=1, verbose=0)  # trains again


def test_an_embedding_input_keeps_its_ids():
    words, num = lm.Input((5,), name="words"), lm.Input((2,), name="num")
    e = layers.Flatten()(layers.Embedding(30, 4, name="emb")(words))
    out = layers.Dense(2, activation="softmax", name="out")(layers.Concatenate()([e, num]))
    aux = layers.Dense(1, name="aux")(num)
    model = lm.Model(inputs=[words, num], outputs=[out, aux])
    model.compile(loss=["sparse_categorical_crossentropy", "mse"])
    ids = np.random.default_rng(0).integers(0, 30, size=(6, 5))
    model.fit([ids, np.zeros((6, 2))], [np.zeros(6, int), np.zeros((6, 1))], verbose=0)
    with pytest.raises(ValueError, match="vocabulary"):
        model.fit([ids + 30, np.zeros((6, 2))], [np.zeros(6, int), np.zeros((6, 1))],
                  verbose=0)
