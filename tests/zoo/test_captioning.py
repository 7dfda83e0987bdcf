"""CaptionNet: teacher forcing, greedy and beam-search decoding against brute-force oracles."""

import itertools

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.zoo import CaptionNet
from lamina.zoo.captioning import TokenAccuracy, TokenCrossentropy

PAD, START, END = 0, 1, 2


def _tiny(vocab_size=6, max_len=4, **kwargs) -> CaptionNet:
    torch.manual_seed(0)
    return CaptionNet(vocab_size, input_shape=(1, 8, 8), filters=(2,), code_dim=4, embed_dim=3,
                      hidden=5, max_len=max_len, **kwargs)


def _sharpen(model, factor=4.0):
    """Scale the read-out so next-token distributions are far from uniform."""
    with torch.no_grad():
        model.readout.weight.mul_(factor)
        model.readout.bias.normal_(0.0, 1.0)
    return model


def _teacher_forced_score(model, images, seqs):
    """Total log-probability of each generated sequence (words, <end>, then <pad>), computed
    independently of the decoders: one teacher-forced pass, <pad> and <start> excluded."""
    seqs = torch.as_tensor(seqs)
    tokens = torch.cat([torch.full((len(seqs), 1), START), seqs[:, :-1]], dim=1)
    model.eval()
    with torch.no_grad():
        logits = model(images, tokens).transpose(1, 2).clone()
    logits[..., [PAD, START]] = float("-inf")
    logp = torch.log_softmax(logits, -1).gather(2, seqs[..., None])[..., 0]
    ended = torch.cumsum(seqs == END, 1) - (seqs == END).long() > 0  # steps after <end>
    return torch.where(ended | (seqs == PAD), 0.0, logp).sum(1)


def test_teacher_forced_logits_shape():
    model = _tiny()
    images, tokens = torch.rand(3, 1, 8, 8), torch.randint(0, 6, (3, 5))
    assert model(images, tokens).shape == (3, 6, 5)
    assert model(images).shape == (3, 6, 1)  # the first word after <start>


def test_teacher_forcing_is_causal():
    model = _tiny().eval()
    images, tokens = torch.rand(2, 1, 8, 8), torch.randint(3, 6, (2, 6))
    changed = tokens.clone()
    changed[:, 3:] = (changed[:, 3:] - 2) % 3 + 3
    with torch.no_grad():
        a, b = model(images, tokens), model(images, changed)
    torch.testing.assert_close(a[..., :3], b[..., :3])
    assert not torch.allclose(a[..., 3:], b[..., 3:])


def test_one_pass_equals_token_by_token():
    model = _tiny().eval()
    images, tokens = torch.rand(2, 1, 8, 8), torch.randint(3, 6, (2, 5))
    with torch.no_grad():
        whole = model(images, tokens)
        state, steps = model.initial_state(images), []
        for t in range(tokens.shape[1]):
            logits, state = model.step_logits(tokens[:, t:t + 1], state)
            steps.append(logits[:, 0])
    torch.testing.assert_close(whole, torch.stack(steps, dim=2))


def test_greedy_equals_beam_search_of_width_one():
    model = _sharpen(_tiny(vocab_size=7, max_len=6))
    images = torch.rand(5, 1, 8, 8)
    model.eval()
    ids_g, score_g = model.greedy(images, 6)
    ids_b, score_b = model.beam_search(images, 6, 1)
    torch.testing.assert_close(ids_g, ids_b)
    torch.testing.assert_close(score_g, score_b)
    np.testing.assert_array_equal(model.generate(images), ids_g.numpy())


def test_scores_are_the_sequences_log_probabilities():
    model = _sharpen(_tiny(vocab_size=7, max_len=5))
    images = torch.rand(4, 1, 8, 8)
    for width in (1, 2, 3):
        ids, scores = model.generate(images, beam_width=width, return_scores=True)
        np.testing.assert_allclose(scores, _teacher_forced_score(model, images, ids).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_exhaustive_beam_search_finds_the_most_likely_caption():
    """With a beam wider than the number of hypotheses, beam search is exact: compare with
    enumerating every caption of at most ``max_len`` tokens over {<end>, w3, w4}."""
    max_len = 3
    model = _sharpen(_tiny(vocab_size=5, max_len=max_len), factor=3.0)
    images = torch.rand(6, 1, 8, 8)
    candidates = []
    for length in range(1, max_len + 1):
        for words in itertools.product((3, 4), repeat=length - 1):
            candidates.append(list(words) + [END] + [PAD] * (max_len - length))
    candidates += [list(w) for w in itertools.product((3, 4), repeat=max_len)]  # no <end>
    cands = torch.tensor(candidates)
    scores = torch.stack([_teacher_forced_score(model, images, cands[k].expand(6, -1))
                          for k in range(len(cands))], dim=1)
    best_score, best = scores.max(dim=1)
    ids, beam_score = model.generate(images, beam_width=len(cands) + 1, return_scores=True)
    np.testing.assert_array_equal(ids, cands[best].numpy())
    np.testing.assert_allclose(beam_score, best_score.numpy(), rtol=1e-5, atol=1e-5)
    _, greedy_score = model.generate(images, return_scores=True)
    assert (beam_score >= greedy_score - 1e-6).all()
    assert (beam_score > greedy_score + 1e-4).any()  # the sharpened model fools greedy


def _rig(model, bias):
    """A read-out that ignores the LSTM and always prefers the same tokens."""
    with torch.no_grad():
        model.readout.weight.zero_()
        model.readout.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return model


@pytest.mark.parametrize("beam_width", [1, 3])
def test_generation_stops_at_end(beam_width):
    model = _rig(_tiny(max_len=4), [9.0, 9.0, 5.0, 0.0, 0.0, 0.0])  # <pad>, <start> banned
    ids, scores = model.generate(torch.rand(2, 1, 8, 8), beam_width=beam_width,
                                 return_scores=True)
    np.testing.assert_array_equal(ids, [[END, PAD, PAD, PAD]] * 2)
    np.testing.assert_allclose(scores, np.log(np.exp(5) / (np.exp(5) + 3)), rtol=1e-5)


@pytest.mark.parametrize("beam_width", [1, 2])
def test_generation_without_end_runs_to_max_len(beam_width):
    model = _rig(_tiny(max_len=5), [0.0, 0.0, 0.0, 0.0, 8.0, 0.0])
    ids = model.generate(torch.rand(3, 1, 8, 8), beam_width=beam_width)
    np.testing.assert_array_equal(ids, np.full((3, 5), 4))


@pytest.mark.parametrize("beam_width", [1, 4])
def test_only_padding_after_end(beam_width):
    model = _sharpen(_tiny(vocab_size=6, max_len=8), factor=2.0)
    ids = model.generate(torch.rand(16, 1, 8, 8), beam_width=beam_width)
    for row in ids:
        ends = np.flatnonzero(row == END)
        body = row if not ends.size else row[:ends[0]]
        assert not np.isin(body, [PAD, START]).any()
        if ends.size:
            assert (row[ends[0] + 1:] == PAD).all()


def test_fit_teaches_two_captions():
    """Teacher forcing through compile/fit: two images, two captions, learned exactly."""
    lm.set_seed(0)
    model = CaptionNet(6, input_shape=(1, 8, 8), filters=(4,), code_dim=8, embed_dim=4,
                       hidden=16, max_len=4)
    images = torch.zeros(16, 1, 8, 8)
    images[::2, :, :4] = 1.0  # bright top half
    images[1::2, :, 4:] = 1.0  # bright bottom half
    tokens = torch.tensor([[START, 3, 4, END], [START, 4, 5, 3]] * 8)
    tokens[1::2, 3] = END
    tokens = torch.cat([tokens, torch.full((16, 1), PAD)], dim=1)  # one padded step
    model.compile(optimizer=lm.optimizers.Adam(lr=0.02), metrics=[TokenAccuracy()],
                  device="cpu")
    history = model.fit(images, tokens, batch_size=8, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.1 < history.history["loss"][0]
    assert model.evaluate(images, tokens)["token_accuracy"] == 1.0
    ids = model.predict(images[:2])
    np.testing.assert_array_equal(ids, [[3, 4, END, PAD], [4, 5, END, PAD]])


def test_fit_checks_the_tokens():
    model = _tiny()
    model.compile(device="cpu")
    images = torch.rand(4, 1, 8, 8)
    with pytest.raises(ValueError, match=r"token rows \(N, T\), T >= 2.*Received: y of shape"):
        model.fit(images, torch.ones(4, dtype=torch.long), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"must lie in \[0, 6\).*vocab_size=len"):
        model.fit(images, torch.full((4, 3), 6), batch_size=4, verbose=0)


def test_generate_checks_the_images():
    with pytest.raises(ValueError, match=r"expects images of shape \(N, 1, 8, 8\).*Received"):
        _tiny().generate(torch.rand(2, 1, 9, 9))


def test_constructor_errors():
    with pytest.raises(ValueError, match="special tokens of CaptionNet must be distinct"):
        _tiny(end_id=1)
    with pytest.raises(ValueError, match=r"`end_id` of CaptionNet must be a token id in \[0, 6\)"):
        _tiny(end_id=6)
    with pytest.raises(ValueError, match="`filters` of CaptionNet must be a non-empty"):
        CaptionNet(6, filters=())
    with pytest.raises(ValueError, match="cannot take images of shape.*fewer `filters`"):
        CaptionNet(6, input_shape=(1, 4, 4), filters=(2, 2, 2, 2))


def test_save_and_load_round_trip(tmp_path):
    model = _sharpen(_tiny()).eval()
    path = tmp_path / "captioner.lamina"
    model.save(path)
    loaded = lm.load_model(path).eval()
    images, tokens = torch.rand(2, 1, 8, 8), torch.randint(0, 6, (2, 4))
    with torch.no_grad():
        torch.testing.assert_close(loaded(images, tokens), model(images, tokens))
    np.testing.assert_array_equal(loaded.generate(images, beam_width=2),
                                  model.generate(images, beam_width=2))


def test_token_crossentropy_ignores_padding():
    logits, targets = torch.randn(3, 5, 4), torch.tensor([[3, 4, 2, 0], [1, 2, 0, 0],
                                                          [4, 4, 4, 2]])
    real = targets != 0
    logp = torch.log_softmax(logits, 1).gather(1, targets[:, None])[:, 0]
    expected = -(logp * real).sum() / real.sum()
    torch.testing.assert_close(TokenCrossentropy()(logits, targets), expected)
    acc = TokenAccuracy()
    acc.update(logits, targets)
    right = ((logits.argmax(1) == targets) & real).sum() / real.sum()
    assert float(acc.result()) == pytest.approx(float(right))
    with pytest.raises(ValueError, match=r"logits `y_pred` \(N, vocab, T\)"):
        TokenCrossentropy()(logits, targets[:, :2])
