"""Recurrent models for deck 002's sequence shapes: many-to-one, many-to-many, generation.

- :func:`SequenceClassifier`: many-to-one (sentence encoding, sentiment, the adding problem);
- :class:`SequenceTagger`: many-to-many, one label per step (parallel input and output);
- :class:`CharLM`: a character-level language model, sampled with a temperature.

Classes are on axis 1 of every output, as lamina's losses expect: a tagger's output for
``(N, T)`` inputs is ``(N, num_tags, T)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_nonnegative_int, check_option, check_positive_int
from lamina.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from lamina.models.model import Model
from lamina.models.sequential import Sequential

__all__ = ["SequenceClassifier", "SequenceTagger", "CharLM"]

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN, "simple_rnn": SimpleRNN}


def _stack(cell: str, units: int, num_layers: int, owner: str, *, last_sequences: bool,
           bidirectional: bool = False, dropout: float = 0.0, **kwargs) -> list:
    """``num_layers`` recurrent layers, all but the last returning sequences (a deep RNN)."""
    cls = _CELLS[check_option("cell", cell, tuple(_CELLS), owner)]
    units = check_positive_int("units", units, owner)
    num_layers = check_positive_int("num_layers", num_layers, owner)
    stack = []
    for i in range(num_layers):
        sequences = last_sequences or i < num_layers - 1
        layer = cls(units, return_sequences=sequences, dropout=dropout if i else 0.0,
                    name=f"{cell}{i + 1}", **kwargs)
        stack.append(Bidirectional(layer, name=f"bi_{cell}{i + 1}") if bidirectional else layer)
    return stack


def SequenceClassifier(num_classes: int, input_shape, *, units: int = 64, cell: str = "lstm",
                       num_layers: int = 1, bidirectional: bool = False,
                       vocab_size: int | None = None, embedding_dim: int = 32,
                       mask_zero: bool = False, dropout: float = 0.0,
                       output_activation: str = "softmax",
                       name: str = "sequence_classifier") -> Sequential:
    """Many-to-one: a (deep, optionally bidirectional) recurrent encoder and a read-out.

    The last recurrent layer's final output summarizes the sequence; a ``Dense`` layer maps
    it to ``num_classes`` outputs (``output_activation="linear"`` and ``num_classes=1``
    for a regression such as the adding problem).

    Args:
        num_classes: outputs of the read-out.
        input_shape: ``(T, features)`` for vectors, or ``(T,)`` for tokens with ``vocab_size``.
        units: units per recurrent layer. Defaults to 64.
        cell: ``"lstm"`` (default), ``"gru"`` or ``"rnn"``.
        num_layers: stacked recurrent layers. Defaults to 1.
        bidirectional: wrap each in ``Bidirectional``. Defaults to False.
        vocab_size: when given, integer tokens go through an ``Embedding`` first.
        embedding_dim: size of the token vectors. Defaults to 32.
        mask_zero: token 0 is padding (needs ``vocab_size``, one recurrent layer).
        dropout: input dropout of the recurrent layers after the first. Defaults to 0.
        output_activation: ``"softmax"`` (default), ``"sigmoid"`` or ``"linear"``.
        name: model name.

    Example:
        >>> model = SequenceClassifier(3, (20, 4), units=8, cell="gru")
        >>> model.output_shape, model.count_params()
        ((3,), 363)
    """
    owner = "SequenceClassifier"
    layers: list[nn.Module] = []
    if vocab_size is not None:
        layers.append(Embedding(vocab_size, embedding_dim, mask_zero=mask_zero,
                                name="embedding"))
    layers += _stack(cell, units, num_layers, owner, last_sequences=False,
                     bidirectional=bidirectional, dropout=dropout)
    layers.append(Dense(check_positive_int("num_classes", num_classes, owner),
                        activation=output_activation, name="output"))
    return Sequential(layers, input_shape=input_shape, name=name)


class _RecurrentModel(Model):
    """Shared build/config plumbing of the zoo's custom recurrent models."""

    def _build_chain(self, input_shape, modules) -> tuple:
        self._record_build(input_shape)
        shape = self.input_shape
        for module in modules:
            shape = module.build_shapes(shape)
        return shape

    def get_config(self) -> dict[str, Any]:
        return {**self._config, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        input_shape = config.pop("input_shape", None)
        model = cls(**config)
        if input_shape is not None:
            model.build(tuple(input_shape))
        return model


class SequenceTagger(_RecurrentModel):
    """Many-to-many: one label per step from a (bidirectional) recurrent encoder.

    Each step's output goes through a shared ``Dense(num_tags)`` and a softmax over the tags.
    The output is ``(N, num_tags, T)`` (tags on axis 1), so ``fit(x, y)`` with integer tags
    ``y`` of shape ``(N, T)`` and ``loss="sparse_categorical_crossentropy"`` works directly.

    Args:
        num_tags: number of labels.
        units: units per recurrent layer (per direction). Defaults to 64.
        cell: ``"lstm"`` (default), ``"gru"`` or ``"rnn"``.
        num_layers: stacked recurrent layers. Defaults to 1.
        bidirectional: read the whole sequence in both directions. Defaults to True.
        vocab_size: when given, integer tokens go through an ``Embedding`` first.
        embedding_dim: size of the token vectors. Defaults to 32.
        input_shape: per-sample input shape (``(T, features)`` or ``(T,)``); builds now.
        name: model name.

    Example:
        >>> import torch
        >>> tagger = SequenceTagger(5, units=8, vocab_size=20, input_shape=(12,))
        >>> tagger(torch.randint(0, 20, (2, 12))).shape
        torch.Size([2, 5, 12])
    """

    def __init__(self, num_tags: int, *, units: int = 64, cell: str = "lstm",
                 num_layers: int = 1, bidirectional: bool = True, vocab_size: int | None = None,
                 embedding_dim: int = 32, input_shape=None, name: str | None = None):
        super().__init__(name=name or "sequence_tagger")
        self.num_tags = check_positive_int("num_tags", num_tags, "SequenceTagger")
        self._config = {"num_tags": num_tags, "units": units, "cell": cell,
                        "num_layers": num_layers, "bidirectional": bidirectional,
                        "vocab_size": vocab_size, "embedding_dim": embedding_dim}
        self.embedding = None if vocab_size is None else Embedding(vocab_size, embedding_dim)
        self.encoder = nn.ModuleList(_stack(cell, units, num_layers, "SequenceTagger",
                                            last_sequences=True, bidirectional=bidirectional))
        self.readout = Dense(self.num_tags)
        if input_shape is not None:
            self.build(tuple(input_shape))

    def _modules_in_order(self) -> list:
        return ([self.embedding] if self.embedding is not None else []) + [*self.encoder,
                                                                            self.readout]

    def build(self, input_shape: tuple) -> None:
        self._build_chain(input_shape, self._modules_in_order())
        self.output_shape = (self.num_tags, self.input_shape[0])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (self.num_tags, int(input_shape[0]))

    def forward(self, x: Tensor) -> Tensor:
        for module in self._modules_in_order():
            x = module(x)
        return torch.softmax(x, dim=-1).transpose(1, 2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_shape": None if self.input_shape is None
                else list(self.input_shape)}


class CharLM(_RecurrentModel):
    """Character-level language model: ``Embedding -> LSTM x num_layers -> Dense(vocab)``.

    Trained to predict character ``t+1`` from characters ``..t``; the output is the logits
    ``(N, vocab_size, T)``, so compile it with a from-logits loss:
    ``loss=lm.losses.get("sparse_categorical_crossentropy", from_logits=True)``. Its mean,
    divided by ``ln 2``, is the bits per character (:meth:`bits_per_char`).
    :meth:`generate` samples text one character at a time, feeding each sample back in.

    Args:
        vocab_size: number of distinct characters.
        embedding_dim: size of the character vectors. Defaults to 32.
        units: units per recurrent layer. Defaults to 128.
        num_layers: stacked recurrent layers (a deep RNN). Defaults to 1.
        cell: ``"lstm"`` (default), ``"gru"`` or ``"rnn"``.
        dropout: input dropout of the recurrent layers after the first. Defaults to 0.
        input_shape: ``(T,)`` to build now.
        name: model name.

    Example:
        >>> import torch
        >>> lm_ = CharLM(10, units=16, input_shape=(8,))
        >>> lm_(torch.randint(0, 10, (2, 8))).shape
        torch.Size([2, 10, 8])
        >>> lm_.generate([1, 2], length=5, temperature=0.5, seed=0).shape
        (7,)
    """

    def __init__(self, vocab_size: int, *, embedding_dim: int = 32, units: int = 128,
                 num_layers: int = 1, cell: str = "lstm", dropout: float = 0.0,
                 input_shape=None, name: str | None = None):
        super().__init__(name=name or "char_lm")
        self.vocab_size = check_positive_int("vocab_size", vocab_size, "CharLM")
        self._config = {"vocab_size": vocab_size, "embedding_dim": embedding_dim,
                        "units": units, "num_layers": num_layers, "cell": cell,
                        "dropout": dropout}
        self.embedding = Embedding(vocab_size, embedding_dim, name="embedding")
        self.rnns = nn.ModuleList(_stack(cell, units, num_layers, "CharLM", last_sequences=True,
                                         dropout=dropout, return_state=True))
        self.readout = Dense(vocab_size, name="logits")
        if input_shape is not None:
            self.build(tuple(input_shape))

    def build(self, input_shape: tuple) -> None:
        self._build_chain(input_shape, [self.embedding, *self.rnns, self.readout])
        self.output_shape = (self.vocab_size, self.input_shape[0])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (self.vocab_size, int(input_shape[0]))

    def step_logits(self, x: Tensor, states=None) -> tuple[Tensor, list]:
        """Logits ``(N, T, vocab)`` for tokens ``x`` ``(N, T)`` from ``states`` (one per
        recurrent layer, None for zeros), and the states after the last step."""
        h, new_states = self.embedding(x), []
        for layer, state in zip(self.rnns, states or [None] * len(self.rnns)):
            h, *state = layer(h, initial_state=state)
            new_states.append(tuple(state))
        return self.readout(h), new_states

    def forward(self, x: Tensor) -> Tensor:
        return self.step_logits(x)[0].transpose(1, 2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_shape": None if self.input_shape is None
                else list(self.input_shape)}

    @torch.no_grad()
    def bits_per_char(self, x, y, batch_size: int = 64) -> float:
        """Mean cross-entropy in bits of predicting ``y`` from ``x`` (token arrays ``(N, T)``)."""
        was_training = self.training
        self.eval()
        total, count = 0.0, 0
        device = next(self.parameters()).device
        x, y = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device)
        for i in range(0, len(x), batch_size):
            logits = self(x[i:i + batch_size])
            nll = nn.functional.cross_entropy(logits, y[i:i + batch_size], reduction="sum")
            total, count = total + float(nll), count + y[i:i + batch_size].numel()
        self.train(was_training)
        return total / max(count, 1) / float(np.log(2.0))

    @torch.no_grad()
    def generate(self, prefix, length: int, temperature: float = 1.0, seed=None) -> np.ndarray:
        """Tokens of ``prefix`` followed by ``length`` sampled ones.

        Each next token is drawn from ``softmax(logits / temperature)``: low temperatures
        approach the most likely character (``0`` takes it), high ones approach uniform.

        Args:
            prefix: a non-empty sequence of tokens to start from.
            length: tokens to generate.
            temperature: sampling temperature (>= 0). Defaults to 1.
            seed: int seed of the sampling generator.
        """
        length = check_nonnegative_int("length", length, "CharLM.generate")
        if not temperature >= 0:
            raise ValueError(f"Argument `temperature` of CharLM.generate must be >= 0. "
                             f"Received: temperature={temperature!r}.")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        gen = torch.Generator(device=device)
        gen.manual_seed(0 if seed is None else int(seed))
        tokens = [int(t) for t in np.asarray(prefix).reshape(-1)]
        logits, states = self.step_logits(torch.tensor([tokens], device=device))
        for _ in range(length):
            last = logits[0, -1]
            if temperature == 0:
                token = int(last.argmax())
            else:
                probs = torch.softmax(last / temperature, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=gen))
            tokens.append(token)
            logits, states = self.step_logits(torch.tensor([[token]], device=device), states)
        self.train(was_training)
        return np.array(tokens, dtype=np.int64)
