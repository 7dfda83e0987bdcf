"""The zoo's sequence models train on tiny tasks, save, load and sample."""

import numpy as np
import pytest
import torch

import lamina as lm
from lamina.datasets.sequences import CharCorpus
from lamina.zoo import CharLM, SequenceClassifier, SequenceTagger


def test_sequence_classifier_remembers_the_first_step():
    torch.manual_seed(0)
    x = torch.randn(256, 8, 2)
    y = (x[:, 0, 0] > 0).long()
    model = SequenceClassifier(2, (8, 2), units=12, cell="gru")
    model.compile(optimizer=lm.optimizers.Adam(lr=0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    assert model.evaluate(x, y)["accuracy"] > 0.8
    deep = SequenceClassifier(1, (5,), vocab_size=9, num_layers=2, bidirectional=True,
                              units=4, output_activation="linear")
    assert deep.output_shape == (1,) and deep(torch.randint(0, 9, (3, 5))).shape == (3, 1)


def test_sequence_tagger_tags_parity_and_round_trips(tmp_path):
    torch.manual_seed(0)
    x = torch.randint(0, 10, (128, 7))
    y = x % 2
    tagger = SequenceTagger(2, units=8, vocab_size=10, input_shape=(7,))
    tagger.compile(optimizer=lm.optimizers.Adam(lr=0.03), loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"], device="cpu")
    tagger.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert tagger.evaluate(x, y)["accuracy"] > 0.95
    assert tagger.predict(x[:3]).shape == (3, 2, 7)
    tagger.save(tmp_path / "tagger.lamina")
    again = lm.load_model(tmp_path / "tagger.lamina")
    torch.testing.assert_close(again(x[:4]), tagger.eval()(x[:4]))


def test_char_lm_learns_a_periodic_text_and_samples():
    torch.manual_seed(0)
    corpus = CharCorpus("abcd" * 200)
    x, y = corpus.sequences(16, step=4)
    model = CharLM(corpus.vocab_size, embedding_dim=8, units=16, input_shape=(16,))
    model.compile(optimizer=lm.optimizers.Adam(lr=0.03),
                  loss=lm.losses.get("sparse_categorical_crossentropy", from_logits=True),
                  device="cpu")
    before = model.bits_per_char(x, y)
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    after = model.bits_per_char(x, y)
    assert before > 1.5 and after < 0.3
    text = corpus.decode(model.generate(corpus.encode("ab"), 10, temperature=0))
    assert text == "abcdabcdabcd"
    a = model.generate([0], 20, temperature=2.0, seed=3)
    np.testing.assert_array_equal(a, model.generate([0], 20, temperature=2.0, seed=3))
    with pytest.raises(ValueError, match="temperature"):
        model.generate([0], 2, temperature=-1)


def test_char_lm_config_round_trip(tmp_path):
    model = CharLM(7, units=5, num_layers=2, cell="gru", input_shape=(4,))
    model.save(tmp_path / "lm.lamina")
    again = lm.load_model(tmp_path / "lm.lamina")
    ids = torch.randint(0, 7, (2, 4))
    torch.testing.assert_close(again(ids), model(ids))
    assert again.count_params() == model.count_params()
