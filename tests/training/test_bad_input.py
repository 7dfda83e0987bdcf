"""Bad input to fit / evaluate / predict (issue 25): lamina's message or the right result.

Each test names what used to go wrong: a silently wrong result, a silently changed setting
or a raw Python/torch traceback instead of lamina's "what, expected, received, fix".
"""

import re

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import lamina as lm
from lamina import layers
from lamina.training.tensors import first_embedding

pytestmark = pytest.mark.filterwarnings("ignore:batch_size=.*:lamina.errors.LaminaWarning")

X = np.random.default_rng(0).random((10, 5)).astype(np.float32)
Y = np.random.default_rng(1).random((10, 3)).astype(np.float32)


def mlp(compiled=True):
    model = lm.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)],
                          input_shape=(5,))
    if compiled:
        model.compile(optimizer="sgd", loss="mse")
    return model


def token_model(vocab=10, compiled=True):
    model = lm.zoo.SequenceClassifier(3, (6,), vocab_size=vocab, cell="lstm", units=4,
                                      embedding_dim=4)
    if compiled:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def house_style(err) -> str:
    """The error's message, checked to carry lamina's 'Received:' part."""
    text = str(err.value)
    assert "Received:" in text, text
    return text


# -- 1. integer inputs: token ids stay int64 --------------------------------------------
@pytest.fixture(scope="module")
def big_vocab_model():
    """An embedding with 2**24 + 84 rows whose row i holds i % 1000 (float32 exact)."""
    vocab = 2**24 + 84
    emb = layers.Embedding(vocab, 1)
    model = lm.Sequential([lm.Sequential([emb]), layers.Flatten()], input_shape=(1,))
    with torch.no_grad():
        emb.weight[:, 0] = torch.arange(vocab) % 1000
    return model


def test_token_ids_above_2_pow_24_hit_their_own_rows_in_predict(big_vocab_model):
    # Was: x cast to float32, so 16777217 -> 16777216 and 16777219 -> 16777220 (rows 216, 220).
    ids = np.array([[16777217], [16777219]], dtype=np.int64)
    out = big_vocab_model.predict(ids)
    np.testing.assert_array_equal(out[:, 0], [217, 219])
    out = big_vocab_model.predict(torch.from_numpy(ids).int())  # int32 too
    np.testing.assert_array_equal(out[:, 0], [217, 219])


def test_token_ids_above_2_pow_24_hit_their_own_rows_in_evaluate_and_fit(big_vocab_model):
    ids = np.array([[16777217], [16777219]], dtype=np.int64)
    big_vocab_model.compile(optimizer=lm.optimizers.SGD(lr=0.0), loss="mse")
    assert big_vocab_model.evaluate(ids, np.array([[217.0], [219.0]]))["loss"] == 0.0
    seen = []
    emb = big_vocab_model.layers[0].layers[0]
    handle = emb.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        big_vocab_model.fit(ids, np.array([[217.0], [219.0]]), batch_size=2, verbose=0,
                            shuffle=False)
    finally:
        handle.remove()
    assert seen[0].dtype == torch.int64
    assert seen[0].flatten().tolist() == [16777217, 16777219]


def test_first_embedding_looks_through_nested_and_zoo_models():
    assert first_embedding(token_model(compiled=False)).input_dim == 10
    assert first_embedding(lm.zoo.CharLM(7, units=4, input_shape=(3,))).input_dim == 7
    assert first_embedding(torch.nn.Sequential(torch.nn.Embedding(5, 2))).num_embeddings == 5
    assert first_embedding(mlp(compiled=False)) is None
    assert first_embedding(lm.Sequential([layers.Dense(2), layers.Embedding(4, 2)])) is None


def test_whole_float_ids_become_int64_once_and_fractions_are_refused():
    model = token_model()
    x = np.random.default_rng(0).integers(0, 10, (4, 6))
    np.testing.assert_allclose(model.predict(x.astype(np.float64)), model.predict(x))
    with pytest.raises(ValueError, match="float ids are not truncated") as err:
        model.predict(x + 0.5)
    assert "Received: " in house_style(err) and ".5 at index (0, 0)" in str(err.value)
    with pytest.raises(ValueError, match="float ids are not truncated"):
        model.predict(np.full((2, 6), np.inf))


def test_embedding_ids_out_of_range_inside_fit_give_lamina_message():
    model = token_model(vocab=10)
    x = np.zeros((4, 6), dtype=np.int64)
    x[2, 3] = 12
    with pytest.raises(ValueError, match=r"vocabulary of Embedding 'embedding'.*\[0, 10\)") as e:
        model.fit(x, np.zeros(4, dtype=np.int64), verbose=0)
    assert "id 12 at index (2, 3)" in house_style(e)
    with pytest.raises(ValueError, match="id -1 at index"):
        model.predict(-np.ones((2, 6), dtype=np.int64))


def test_embedding_ids_out_of_range_from_a_loader_surface_the_layer_message():
    # A DataLoader's batches are checked by the Embedding itself (no whole array up front).
    model = token_model(vocab=10)
    ds = TensorDataset(torch.full((4, 6), 11), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"every id must lie in \[0, 10\)"):
        model.fit(DataLoader(ds, batch_size=2), verbose=0)


def test_bool_token_ids_are_refused():
    with pytest.raises(TypeError, match="integer token ids") as err:
        token_model().predict(np.zeros((2, 6), dtype=bool))
    house_style(err)


# -- 2. silently wrong results ----------------------------------------------------------
def test_fit_on_zero_samples_raises_instead_of_empty_history():
    with pytest.raises(ValueError, match="`fit` needs at least one sample") as err:
        mlp().fit(np.zeros((0, 5)), np.zeros((0, 3)), verbose=0)
    assert "0 samples (x of shape (0, 5))" in house_style(err)


def test_evaluate_on_zero_samples_raises_instead_of_empty_dict():
    with pytest.raises(ValueError, match="`evaluate` needs at least one sample"):
        mlp().evaluate(np.zeros((0, 5)), np.zeros((0, 3)))


def test_zero_validation_samples_raise():
    with pytest.raises(ValueError, match=r"`fit \(validation_data\)` needs at least one"):
        mlp().fit(X, Y, validation_data=(np.zeros((0, 5)), np.zeros((0, 3))), verbose=0)


def test_predict_on_zero_samples_keeps_the_output_shape():
    # Was: shape (0,) whatever the model's outputs.
    assert mlp().predict(np.zeros((0, 5))).shape == (0, 3)
    assert mlp(compiled=False).predict(np.zeros((0, 5), np.float32)).shape == (0, 3)
    assert token_model().predict(np.zeros((0, 6), dtype=np.int64)).shape == (0, 3)
    conv = lm.Sequential([layers.Conv2D(2, 3)], input_shape=(1, 5, 5))
    out = conv.predict(np.zeros((0, 1, 5, 5)))
    assert out.shape == (0, 2, 3, 3) and out.dtype == np.float32


@pytest.mark.parametrize("value", ["no", 0, 1, None])
def test_shuffle_must_be_a_bool(value):
    # Was: shuffle="no" is truthy and shuffled.
    with pytest.raises(TypeError, match="`shuffle` of fit must be True or False") as err:
        mlp().fit(X, Y, shuffle=value, verbose=0)
    assert f"shuffle={value!r}" in house_style(err)


def test_shuffle_accepts_numpy_bool():
    assert len(mlp().fit(X, Y, shuffle=np.bool_(False), verbose=0).history["loss"]) == 1


def test_negative_initial_epoch_raises_instead_of_extra_epochs():
    # Was: initial_epoch=-3 with epochs=1 trained 4 epochs.
    with pytest.raises(ValueError, match="`initial_epoch` of fit must be an integer >= 0"):
        mlp().fit(X, Y, epochs=1, initial_epoch=-3, verbose=0)


def test_initial_epoch_beyond_epochs_raises_with_the_fix():
    with pytest.raises(ValueError, match="at most `epochs`") as err:
        mlp().fit(X, Y, epochs=2, initial_epoch=3, verbose=0)
    assert "Pass epochs=5" in house_style(err)


def test_initial_epoch_counts_up_to_epochs():
    history = mlp().fit(X, Y, epochs=3, initial_epoch=1, verbose=0)
    assert len(history.history["loss"]) == 2
    assert len(mlp().fit(X, Y, epochs=2, initial_epoch=2, verbose=0).history) == 0


@pytest.mark.parametrize("value", ["yes", 3, -1, 1.0])
def test_verbose_must_be_0_1_2_or_bool(value):
    with pytest.raises(ValueError, match="`verbose` of fit must be 0") as err:
        mlp().fit(X, Y, verbose=value)
    house_style(err)
    with pytest.raises(ValueError, match="`verbose` of evaluate must be 0"):
        mlp().evaluate(X, Y, verbose=value)


def test_verbose_bool_is_accepted(capsys):
    mlp().fit(X, Y, verbose=False)
    mlp().evaluate(X, Y, verbose=True)
    assert capsys.readouterr().out.startswith("evaluate - loss")


@pytest.mark.parametrize("where", ["x", "y"])
def test_complex_tensor_is_refused_instead_of_cast_to_real(where):
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    if where == "x":
        x = x.to(torch.complex64)
    else:
        y = y.to(torch.complex64)
    with pytest.raises(TypeError, match=f"`{where}` of fit must hold real numbers") as err:
        mlp().fit(x, y, verbose=0)
    assert "complex64" in house_style(err)
    with pytest.raises(TypeError, match="real numbers"):
        mlp().predict(X.astype(np.complex128))


# -- 3. raw tracebacks -> lamina's message ----------------------------------------------
def test_fit_without_y_names_the_loss_and_the_fix():
    # Was: AttributeError: 'NoneType' object has no attribute 'shape' (in the loss).
    with pytest.raises(ValueError, match="`fit` needs `y`") as err:
        mlp().fit(X, verbose=0)
    text = house_style(err)
    assert "mean_squared_error" in text and "fit(x, y)" in text
    with pytest.raises(ValueError, match="`evaluate` needs `y`"):
        mlp().evaluate(X)
    with pytest.raises(ValueError, match=r"`fit \(validation_data\)` needs `y`"):
        mlp().fit(X, Y, validation_data=(X, None), verbose=0)


def test_autoencoder_fit_without_y_still_works():
    ae = lm.unsupervised.Autoencoder(2)
    ae.compile("adam")
    assert "loss" in ae.fit(X, epochs=1, batch_size=5, verbose=0).history


@pytest.mark.parametrize("value", [float("nan"), "0.2", 1.0, -0.1, True])
def test_validation_split_must_be_a_float_in_0_1(value):
    # Was: "cannot convert float NaN to integer" / "type str doesn't define __round__".
    with pytest.raises(ValueError, match=re.escape("`validation_split` of fit must be a "
                                                   "number in [0, 1)")) as err:
        mlp().fit(X, Y, validation_split=value, verbose=0)
    house_style(err)


def test_callbacks_must_be_callback_objects_and_the_index_is_named():
    # Was: AttributeError: 'int' object has no attribute 'order'.
    with pytest.raises(TypeError, match="`callbacks` of fit must hold Callback") as err:
        mlp().fit(X, Y, callbacks=[lm.callbacks.EarlyStopping(), 1], verbose=0)
    assert "callbacks[1]=1 (type int)" in house_style(err)
    with pytest.raises(TypeError, match="must be a list of Callback"):
        mlp().fit(X, Y, callbacks=lm.callbacks.EarlyStopping(), verbose=0)
    assert len(mlp().fit(X, Y, callbacks=None, verbose=0).history["loss"]) == 1


def test_ragged_lists_give_lamina_message():
    # Was: numpy's "setting an array element with a sequence ... inhomogeneous shape".
    with pytest.raises(ValueError, match="`x` of fit must be a rectangular array") as err:
        mlp().fit([[1, 2], [3]], Y[:2], verbose=0)
    house_style(err)
    with pytest.raises(ValueError, match="`x` of predict must be a rectangular array"):
        mlp().predict([[1, 2], [3]])


def test_meta_device_tensors_give_lamina_message():
    # Was: RuntimeError: Tensor.item() cannot be called on meta tensors.
    meta = torch.empty(10, 5, device="meta")
    with pytest.raises(ValueError, match="meta device") as err:
        mlp().fit(meta, Y, verbose=0)
    house_style(err)
    with pytest.raises(ValueError, match="`x` of predict is a tensor on the meta device"):
        mlp().predict(meta)


@pytest.mark.parametrize("shape", [(-1, 3), (0,), (3, 0), ("3",), (2.5,), 3])
def test_sequential_input_shape_must_be_positive_ints(shape):
    # Was: (-1, 3) and (0,) accepted silently, later raw torch errors.
    with pytest.raises(ValueError, match="`input_shape` of Sequential 'seq' must be a tuple "
                                         "of integers >= 1") as err:
        lm.Sequential([layers.Dense(3)], input_shape=shape, name="seq")
    assert f"input_shape={shape!r}" in house_style(err)


def test_inputs_are_not_modified():
    x, y = X.copy(), Y.copy()
    ids = np.random.default_rng(0).integers(0, 10, (4, 6))
    before = ids.copy()
    mlp().fit(x, y, verbose=0)
    token_model().fit(ids, np.zeros(4, dtype=np.int64), verbose=0)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(ids, before)


def test_sparse_labels_of_the_wrong_shape_give_lamina_message():
    # Found by test_property_fit: y of shape (1, 2) for 3 classes raised "only one element
    # tensors can be converted to Python scalars" while formatting the range error.
    model = lm.Sequential([layers.Dense(3, activation="softmax")], input_shape=(5,))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"one integer label per output position, of shape "
                                         r"\(N,\)") as err:
        model.fit(X[:1], np.array([[10, 7]]), verbose=0)
    assert "y of shape (1, 2)" in house_style(err)
    with pytest.raises(ValueError, match="looks one-hot") as err:
        model.fit(X[:2], np.eye(3)[:2], verbose=0)
    house_style(err)


def test_non_finite_data_message_says_what_was_received():
    with pytest.raises(ValueError, match=r"contains NaN or infinite values.*Received: 1 of "
                                         r"them, the first in sample 2"):
        mlp().fit(np.where(np.arange(50).reshape(10, 5) == 12, np.inf, X), Y, verbose=0)


def test_a_dataset_of_x_alone_given_to_fit_gives_lamina_message():
    # Was: AttributeError: 'NoneType' object has no attribute 'shape' (in the loss).
    with pytest.raises(ValueError, match=r"given to `fit` must yield \(x, y\) pairs") as err:
        mlp().fit(TensorDataset(torch.randn(8, 5)), verbose=0)
    house_style(err)
    with pytest.raises(ValueError, match="`evaluate` needs at least one sample"):
        mlp().evaluate(DataLoader(TensorDataset(torch.randn(0, 5), torch.randn(0, 3))))
    assert mlp().predict(TensorDataset(torch.randn(8, 5))).shape == (8, 3)
