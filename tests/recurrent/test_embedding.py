"""Embedding: the layer-matrix checks on integer tokens, and torch.nn.Embedding as oracle."""

import pytest
import torch
from torch import nn

from lamina.layers import Embedding
from tests.helpers import run_layer_test


def _integer_randn(vocab):
    """``torch.randn`` replacement drawing valid tokens (as floats, as ``fit`` passes them)."""
    def randn(*shape, **kwargs):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        return torch.randint(0, vocab, shape).float()
    return randn


@pytest.mark.parametrize("kwargs", [{}, {"mask_zero": True, "embeddings_initializer": "he_normal"}])
def test_embedding_layer_matrix(monkeypatch, kwargs):
    monkeypatch.setattr(torch, "randn", _integer_randn(7))
    run_layer_test(lambda: Embedding(7, 3, **kwargs), (5,), expected_output_shape=(5, 3),
                   expected_params=21)


def test_embedding_equals_torch_and_takes_float_tokens():
    emb = Embedding(6, 4)
    emb.build((3,))
    oracle = nn.Embedding(6, 4)
    oracle.load_state_dict(emb.state_dict())
    ids = torch.tensor([[0, 5, 2], [1, 1, 4]])
    torch.testing.assert_close(emb(ids), oracle(ids))
    torch.testing.assert_close(emb(ids.float()), oracle(ids))
    assert float(emb.weight.detach().abs().max()) <= 0.05
    assert not hasattr(emb(ids), "_lamina_mask")
    assert repr(Embedding(6, 4, mask_zero=True)).endswith("(6, 4, mask_zero=True)")
