"""Recurrent layers against torch.nn oracles, and the fused path against lamina's own cells."""

import pytest
import torch
from torch import nn

import lamina as lm
from lamina.layers.recurrent import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    GRUCell,
    LSTMCell,
    RepeatVector,
    SimpleRNN,
    SimpleRNNCell,
    TimeDistributed,
)
from lamina.layers.recurrent.rnn import resolve_mask, reverse_sequences
from tests.helpers import assert_matches_torch

KINDS = [(SimpleRNN, {}), (SimpleRNN, {"activation": "relu"}), (LSTM, {}), (GRU, {})]
KIND_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def _built(cls, kwargs, features=3, units=4, **extra):
    layer = cls(units, **kwargs, **extra)
    layer.build((5, features))
    return layer.double()


def _loop_only(layer):
    """Force the step path (lamina's cells) on ``layer``."""
    layer._fusable = lambda *args: False
    return layer


def _twin(layer):
    """A copy of ``layer`` with the same weights that always takes the step path."""
    twin = type(layer).from_config(layer.get_config())
    twin.build(layer.input_shape)
    twin.double().load_state_dict(layer.state_dict())
    return _loop_only(twin)


def _pairs(a, b):
    return {n: (p, dict(b.named_parameters())[n]) for n, p in a.named_parameters()}


@pytest.mark.parametrize(("cls", "kwargs"), KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_fused_and_step_paths_agree(cls, kwargs, return_sequences):
    layer = _built(cls, kwargs, return_sequences=return_sequences)
    twin = _twin(layer)
    assert layer._fusable(None, None)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    assert_matches_torch(twin, layer, x, _pairs(twin, layer))


@pytest.mark.parametrize(("cls", "kwargs"), KINDS, ids=KIND_IDS)
def test_fused_and_step_paths_agree_on_padded_batches(cls, kwargs):
    layer = _built(cls, kwargs, return_sequences=True)
    twin = _twin(layer)
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4, 1])
    assert_matches_torch(lambda x: twin(x, lengths=lengths), lambda x: layer(x, lengths=lengths),
                         x, _pairs(twin, layer))


TORCH_TWINS = {
    "rnn_tanh": lambda u, f: nn.RNN(f, u, batch_first=True),
    "rnn_relu": lambda u, f: nn.RNN(f, u, batch_first=True, nonlinearity="relu"),
    "lstm": lambda u, f: nn.LSTM(f, u, batch_first=True),
    "gru": lambda u, f: nn.GRU(f, u, batch_first=True),
}


@pytest.mark.parametrize(("cls", "kwargs", "kind"), [(*k, i) for k, i in zip(KINDS, KIND_IDS)],
                         ids=KIND_IDS)
@pytest.mark.parametrize("step_path", [False, True], ids=["fused", "step"])
def test_equals_torch_nn_with_copied_weights(cls, kwargs, kind, step_path):
    layer = _built(cls, kwargs, return_sequences=True, return_state=True)
    if step_path:
        _loop_only(layer)
    oracle = TORCH_TWINS[kind](4, 3).double()
    oracle.load_state_dict(layer.state_dict())  # same names, same layout
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    init = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
    torch_init = tuple(s[None] for s in init) if kind == "lstm" else h0[None]

    def ours(x):
        y, *states = layer(x, initial_state=init)
        return torch.cat([y.flatten(), *(s.flatten() for s in states)])

    def theirs(x):
        y, states = oracle(x, torch_init)
        states = states if isinstance(states, tuple) else (states,)
        return torch.cat([y.flatten(), *(s.flatten() for s in states)])

    assert_matches_torch(ours, theirs, x, _pairs(layer, oracle))


@pytest.mark.parametrize(("cell_cls", "torch_cls"),
                         [(SimpleRNNCell, nn.RNNCell), (LSTMCell, nn.LSTMCell),
                          (GRUCell, nn.GRUCell)])
def test_cells_equal_torch_cells(cell_cls, torch_cls):
    cell = cell_cls(4)
    cell.build((3,))
    cell.double()
    oracle = torch_cls(3, 4).double()
    oracle.load_state_dict(cell.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    if cell_cls is LSTMCell:
        state = (torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64))
        assert_matches_torch(lambda x: torch.cat(cell(x, state)),
                             lambda x: torch.cat(oracle(x, state)), x, _pairs(cell, oracle))
    else:
        h = torch.randn(2, 4, dtype=torch.float64)
        assert_matches_torch(lambda x: cell(x, h), lambda x: oracle(x, h), x,
                             _pairs(cell, oracle))


def test_peephole_lstm_matches_the_equations():
    layer = _built(LSTM, {}, peephole=True, return_sequences=True, return_state=True)
    assert not layer._fusable(None, None)
    w_ih, w_hh, b_ih, b_hh, p = (t.detach() for t in layer.weights())
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    outs = []
    for t in range(4):
        a = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i = torch.sigmoid(a[:, :4] + p[0] * c)
        f = torch.sigmoid(a[:, 4:8] + p[1] * c)
        c = f * c + i * torch.tanh(a[:, 8:12])
        o = torch.sigmoid(a[:, 12:] + p[2] * c)
        h = o * torch.tanh(c)
        outs.append(h)
    y, h_n, c_n = layer(x)
    torch.testing.assert_close(y, torch.stack(outs, 1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_n, c, rtol=1e-12, atol=1e-12)
    assert "weight_peephole_l0" in dict(layer.named_parameters())


def test_custom_activation_takes_the_step_path():
    layer = _built(GRU, {}, activation="relu")
    assert not layer._fusable(None, None)
    assert layer(torch.randn(2, 3, 3, dtype=torch.float64)).shape == (2, 4)


@pytest.mark.parametrize(("cls", "n_states"), [(SimpleRNN, 1), (LSTM, 2), (GRU, 1)])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_output_shapes(cls, n_states, return_sequences):
    x = torch.randn(3, 7, 2)
    y = cls(5, return_sequences=return_sequences)(x)
    assert tuple(y.shape) == ((3, 7, 5) if return_sequences else (3, 5))
    out = cls(5, return_sequences=return_sequences, return_state=True)(x)
    assert len(out) == 1 + n_states
    assert all(s.shape == (3, 5) for s in out[1:])
    layer = cls(5, return_sequences=return_sequences)
    assert layer.build_shapes((7, 2)) == ((7, 5) if return_sequences else (5,))


@pytest.mark.parametrize(("cls", "kwargs"), KINDS, ids=KIND_IDS)
def test_go_backwards_is_running_on_the_reversed_sequence(cls, kwargs):
    fwd = _built(cls, kwargs, return_sequences=True)
    bwd = type(fwd).from_config({**fwd.get_config(), "go_backwards": True})
    bwd.build(fwd.input_shape)
    bwd.double().load_state_dict(fwd.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(bwd(x), fwd(x.flip(1)))
    lengths = torch.tensor([5, 3])
    expected = fwd(reverse_sequences(x, lengths), lengths=lengths)
    torch.testing.assert_close(bwd(x, lengths=lengths), expected)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_bidirectional_equals_manual_reversal_and_torch(cls):
    bi = Bidirectional(cls(4, return_sequences=True))
    bi.build((5, 3))
    bi.double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y = bi(x)
    y_f = bi.forward_layer(x)
    y_b = bi.backward_layer.__class__.from_config(
        {**bi.backward_layer.get_config(), "go_backwards": False})
    y_b.build((5, 3))
    y_b.double().load_state_dict(bi.backward_layer.state_dict())
    manual = torch.cat([y_f, y_b(x.flip(1)).flip(1)], dim=-1)
    torch.testing.assert_close(y, manual, rtol=1e-12, atol=1e-12)
    oracle = {SimpleRNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU}[cls](
        3, 4, batch_first=True, bidirectional=True).double()
    state = {**bi.forward_layer.state_dict(),
             **{k + "_reverse": v for k, v in bi.backward_layer.state_dict().items()}}
    oracle.load_state_dict(state)
    torch.testing.assert_close(y, oracle(x)[0], rtol=1e-10, atol=1e-12)
    lengths = torch.tensor([5, 2])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
    ref, _ = nn.utils.rnn.pad_packed_sequence(oracle(packed)[0], batch_first=True,
                                              total_length=5)
    torch.testing.assert_close(bi(x, lengths=lengths), ref, rtol=1e-10, atol=1e-12)


def test_bidirectional_merge_modes_and_states():
    x = torch.randn(2, 4, 3)
    assert Bidirectional(LSTM(4), merge_mode="sum")(x).shape == (2, 4)
    y, h_f, c_f, h_b, c_b = Bidirectional(LSTM(4, return_state=True))(x)
    assert y.shape == (2, 8) and h_b.shape == (2, 4)
    torch.testing.assert_close(y, torch.cat([h_f, h_b], 1))
    pair = Bidirectional(GRU(2), merge_mode=None)(x)
    assert isinstance(pair, list) and len(pair) == 2
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(GRU(2), merge_mode="max")
    with pytest.raises(TypeError, match="recurrent layer"):
        Bidirectional(lm.layers.Dense(2))


@pytest.mark.parametrize(("cls", "kwargs"), KINDS + [(LSTM, {"peephole": True})],
                         ids=KIND_IDS + ["peephole"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masking_equals_running_each_sequence_alone(cls, kwargs, go_backwards):
    layer = _built(cls, kwargs, return_sequences=True, return_state=True,
                   go_backwards=go_backwards)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(6) < lengths[:, None]
    for kw in ({"lengths": lengths}, {"mask": mask}):
        y, h, *_ = layer(x * mask[..., None] + 7 * ~mask[..., None], **kw)
        for i, n in enumerate(lengths.tolist()):
            y_i, h_i, *_ = layer(x[i:i + 1, :n])
            torch.testing.assert_close(y[i:i + 1, :n], y_i, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(h[i:i + 1], h_i, rtol=1e-10, atol=1e-12)
            assert bool((y[i, n:] == 0).all())


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_arbitrary_masks_skip_steps(cls):
    layer = _built(cls, {}, return_sequences=True, return_state=True)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    mask = torch.tensor([[1, 0, 1, 0, 1], [0, 1, 1, 1, 0]], dtype=torch.bool)
    y, h, *_ = layer(x, mask=mask)
    for i in range(2):
        y_i, h_i, *_ = layer(x[i:i + 1, mask[i]])
        torch.testing.assert_close(y[i, mask[i]], y_i[0])
        torch.testing.assert_close(h[i], h_i[0])
    assert bool((y[~mask] == 0).all())


def test_zero_length_sequences_keep_the_initial_state():
    layer = _built(LSTM, {}, return_state=True)
    x = torch.randn(2, 3, 3, dtype=torch.float64)
    y, h, c = layer(x, lengths=[3, 0])
    assert bool((h[1] == 0).all()) and bool((c[1] == 0).all())


def test_embedding_mask_zero_reaches_the_recurrent_layer():
    torch.manual_seed(1)
    model = lm.Sequential([Embedding(10, 4, mask_zero=True), LSTM(3)])
    ids = torch.tensor([[4, 2, 7, 0, 0], [5, 0, 0, 0, 0]])
    y = model(ids)
    torch.testing.assert_close(y[0], model(ids[:1, :3])[0])
    torch.testing.assert_close(y[1], model(ids[1:, :1])[0])
    bi = lm.Sequential([Embedding(10, 4, mask_zero=True), Bidirectional(GRU(3))])
    torch.testing.assert_close(bi(ids)[1], bi(ids[1:, :1])[0])


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_stateful_carries_the_state_across_calls(cls):
    whole = _built(cls, {}, return_sequences=True)
    layer = _twin(whole)
    layer.stateful = True
    layer._fusable = type(layer)._fusable.__get__(layer)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y = torch.cat([layer(x[:, :2]), layer(x[:, 2:5]), layer(x[:, 5:])], dim=1)
    torch.testing.assert_close(y, whole(x))
    assert all(not s.requires_grad for s in layer.states)
    with pytest.raises(ValueError, match="reset_states"):
        layer(x[:1])
    layer.reset_states()
    torch.testing.assert_close(layer(x[:1]), whole(x[:1]))


def test_dropout_masks_are_shared_across_time_and_off_in_eval():
    layer = _built(LSTM, {}, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    layer.train()
    assert not layer._fusable(None, None)
    torch.manual_seed(3)
    y1 = layer(x)
    torch.manual_seed(3)
    torch.testing.assert_close(layer(x), y1)
    layer.eval()
    assert layer._fusable(None, None)
    plain = _built(LSTM, {}, return_sequences=True)
    plain.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x), plain(x))
    assert not torch.allclose(y1, plain(x))
    # one input mask per sequence: a dropped feature is dropped at every step
    only_input = _built(SimpleRNN, {}, dropout=0.5, return_sequences=True, use_bias=False)
    with torch.no_grad():
        only_input.weight_hh_l0.zero_()
        only_input.weight_ih_l0.copy_(torch.eye(4, 3, dtype=torch.float64))
    y = only_input(torch.ones(1, 5, 3, dtype=torch.float64))
    assert bool((y[0] == y[0, :1]).all())


def test_initializers_and_forget_bias():
    irnn = SimpleRNN(3, activation="relu", recurrent_initializer="identity")
    irnn.build((4, 2))
    torch.testing.assert_close(irnn.weight_hh_l0.detach(), torch.eye(3))
    assert irnn.get_config()["recurrent_initializer"] == "identity"
    assert "recurrent_initializer=identity" in repr(irnn)
    lstm = LSTM(3)
    lstm.build((4, 2))
    assert bool((lstm.bias_ih_l0[3:6] == 1).all()) and int(lstm.bias_ih_l0.ne(0).sum()) == 3
    w = lstm.weight_hh_l0.detach()
    torch.testing.assert_close(w.T @ w, torch.eye(3), atol=1e-5, rtol=0)
    assert LSTM(3, unit_forget_bias=False).build_shapes((4, 2)) == (3,)


def test_wrappers_shapes():
    td = TimeDistributed(lm.layers.Conv2D(2, 3, padding="same"))
    assert td.build_shapes((4, 1, 6, 6)) == (4, 2, 6, 6)
    assert td(torch.randn(2, 4, 1, 6, 6)).shape == (2, 4, 2, 6, 6)
    assert RepeatVector(3).build_shapes((5,)) == (3, 5)
    one_to_many = lm.Sequential([RepeatVector(6), GRU(4, return_sequences=True),
                                 TimeDistributed(lm.layers.Dense(2))], input_shape=(3,))
    assert one_to_many.output_shape == (6, 2)


def test_house_style_errors():
    layer = LSTM(4)
    layer.build((5, 3))
    with pytest.raises(ValueError, match=r"Layer 'lstm.*' expects input of shape \(N, T, 3\)"):
        layer(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expects input with 2 axes per sample"):
        LSTM(4).build_shapes((3,))
    with pytest.raises(ValueError, match="units"):
        GRU(0)
    with pytest.raises(ValueError, match="dropout"):
        SimpleRNN(2, dropout=1.5)
    with pytest.raises(ValueError, match="lengths"):
        layer(torch.randn(2, 5, 3), lengths=[6, 1])
    with pytest.raises(ValueError, match="not both"):
        layer(torch.randn(2, 5, 3), mask=torch.ones(2, 5), lengths=[5, 5])
    with pytest.raises(ValueError, match="Initial states"):
        layer(torch.randn(2, 5, 3), initial_state=(torch.zeros(2, 3), torch.zeros(2, 3)))


def test_resolve_mask():
    x = torch.zeros(2, 3, 1)
    assert resolve_mask(x) == (None, None)
    assert resolve_mask(x, mask=torch.ones(2, 3)) == (None, None)
    lengths, mask = resolve_mask(x, mask=torch.tensor([[1, 0, 1], [1, 1, 1]]))
    assert lengths is None and mask.dtype == torch.bool


def test_fit_many_to_one_and_many_to_many():
    torch.manual_seed(0)
    x = torch.randn(64, 6, 2)
    y = (x[:, :, 0].sum(1) > 0).long()
    model = lm.Sequential([LSTM(8), lm.layers.Dense(2, activation="softmax")],
                          input_shape=(6, 2))
    model.compile(optimizer=lm.optimizers.Adam(lr=0.02),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device="cpu")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    tagger = lm.Sequential([Bidirectional(GRU(4, return_sequences=True)),
                            TimeDistributed(lm.layers.Dense(1))], input_shape=(6, 2))
    tagger.compile(optimizer="adam", loss="mse", device="cpu")
    tagger.fit(x, x[:, :, :1].cumsum(1), epochs=1, verbose=0)
    assert tagger.predict(x).shape == (64, 6, 1)


def test_save_and_load_a_recurrent_model(tmp_path):
    model = lm.Sequential([Embedding(12, 4), Bidirectional(LSTM(3, peephole=True)),
                           lm.layers.Dense(2)], input_shape=(5,))
    path = tmp_path / "m.lamina"
    model.save(path)
    again = lm.load_model(path)
    ids = torch.randint(0, 12, (3, 5))
    model.eval()
    again.eval()
    torch.testing.assert_close(again(ids), model(ids))
