"""Image captioning, one-to-many: a ConvNet encoder and an LSTM decoder (Vinyals et al. 2015).

The encoder maps an image to a code ``z``; the decoder's LSTM starts from the state
``(h_0, c_0) = (tanh(W_h z), W_c z)`` and reads the caption one token at a time, predicting
the next one: ``p(w_{t+1} | w_1..w_t, image) = softmax(W_o h_t)``, with ``w_0 = <start>``.

- Training feeds the *true* previous words (teacher forcing): ``model.fit(images, tokens)``
  with ``tokens`` rows ``<start> w_1 .. w_k <end> <pad>..``; the decoder reads
  ``tokens[:, :-1]`` and is scored on ``tokens[:, 1:]`` with :class:`TokenCrossentropy`,
  which ignores ``<pad>``.
- Generation feeds back its own choices: greedily (the most likely word at each step) or
  by beam search (the ``beam_width`` most likely prefixes kept at each step), until
  ``<end>``.

Example:
    >>> import torch
    >>> net = CaptionNet(8, input_shape=(1, 16, 16), filters=(4, 8), code_dim=16,
    ...                  embed_dim=8, hidden=16, max_len=5)
    >>> net(torch.zeros(2, 1, 16, 16), torch.ones(2, 3, dtype=torch.long)).shape
    torch.Size([2, 8, 3])
    >>> net.generate(torch.zeros(2, 1, 16, 16), beam_width=3).shape
    (2, 5)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.layers import LSTM, ConvBlock, Dense, Embedding, Flatten, MaxPool2D
from lamina.layers.input_spec import InputSpec, format_shape
from lamina.losses import Loss
from lamina.metrics import Metric
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.training.tensors import to_tensor
from lamina.training.trainer import Trainer
from lamina.zoo._base import check_image_shape

__all__ = ["CaptionNet", "TokenCrossentropy", "TokenAccuracy"]


class TokenCrossentropy(Loss):
    """Mean next-token cross-entropy from logits, ``<pad>`` targets left out.

    ``-(1/|M|) sum_{(n,t) in M} log softmax(y_pred[n, :, t])[y_true[n, t]]``, where ``M`` is
    the set of steps whose target is not ``pad_id``.

    Args:
        pad_id: the padding token. Defaults to 0.
        reduction: ``"mean"`` over the real tokens (default), ``"sum"``, or ``"none"``
            (one value per step, 0 at padding).

    Example:
        >>> loss = TokenCrossentropy(pad_id=0)
        >>> loss(torch.zeros(1, 4, 3), torch.tensor([[2, 1, 0]]))
        tensor(1.3863)
    """

    name = "token_crossentropy"

    def __init__(self, pad_id: int = 0, *, reduction: str = "mean"):
        super().__init__(from_logits=True, reduction=reduction)
        if isinstance(pad_id, bool) or not isinstance(pad_id, numbers.Integral) or pad_id < 0:
            raise ValueError(message("Argument `pad_id` of TokenCrossentropy must be an "
                                     "integer >= 0.", received=f"pad_id={pad_id!r}"))
        self.pad_id = int(pad_id)

    def call(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        if y_pred.dim() != 3 or y_true.shape != (y_pred.shape[0], y_pred.shape[2]):
            raise ValueError(message(
                "TokenCrossentropy needs logits `y_pred` (N, vocab, T) and tokens `y_true` "
                "(N, T).", received=f"y_pred {tuple(y_pred.shape)}, y_true "
                                    f"{tuple(y_true.shape)}"))
        return F.cross_entropy(y_pred, y_true.long(), ignore_index=self.pad_id,
                               reduction=self.reduction)

    def with_logits(self) -> Loss:
        return self

    def get_config(self) -> dict[str, Any]:
        return {"pad_id": self.pad_id, "reduction": self.reduction}


class TokenAccuracy(Metric):
    """Fraction of real (non-``<pad>``) steps whose most likely token is the target.

    Args:
        pad_id: the padding token. Defaults to 0.
        name: log key. Defaults to ``"token_accuracy"``.

    Example:
        >>> acc = TokenAccuracy()
        >>> logits = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]]).transpose(1, 2)
        >>> acc.update(logits, torch.tensor([[1, 1, 0]])); acc.result()
        tensor(0.5000, dtype=torch.float64)
    """

    default_name = "token_accuracy"
    direction = "max"

    def __init__(self, pad_id: int = 0, *, name: str | None = None):
        super().__init__(name=name)
        self.pad_id = int(pad_id)

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        real = y_true != self.pad_id
        self._accumulate(((y_pred.argmax(1) == y_true) & real).sum(), real.sum())


class _TeacherForcingTrainer(Trainer):
    """``fit``/``evaluate`` on ``(images, tokens)``: the model reads ``tokens[:, :-1]`` and
    is scored on ``tokens[:, 1:]``."""

    def forward_loss(self, x: Tensor, y: Tensor):
        out = self.forward(x, y[:, :-1])
        loss, reg = self.penalties.add_to(self.loss_fn(out, y[:, 1:]))
        return out, loss, reg

    def test_step(self, x: Tensor, y: Tensor) -> None:
        out = self.forward(x, y[:, :-1])
        self.track(out, y, self.loss_fn(out, y[:, 1:]), None)

    def track(self, out: Tensor, y: Tensor, loss: Tensor, reg: Tensor | None) -> None:
        super().track(out, y[:, 1:], loss, reg)

    def _prepare(self, x, y, *, owner: str, **kwargs):
        data, val = super()._prepare(x, y, owner=owner, **kwargs)
        for part, name in ((data, owner), (val, f"{owner} (validation)")):
            tokens = getattr(part, "y", None)
            if tokens is not None:
                self.model._check_tokens(tokens, name)
        return data, val


def _encoder(filters: tuple, code_dim: int) -> Sequential:
    """A 5x5 stride-2 stem, then per further filter count a 2x2 max pool and a 3x3 conv
    (batch norm, ReLU); flattened (the layout matters to a caption) into a ReLU code."""
    layers = [ConvBlock(filters[0], 5, strides=2, padding=2, name="stem")]
    for i, f in enumerate(filters[1:], start=2):
        layers += [MaxPool2D(2, name=f"pool{i}"), ConvBlock(f, 3, padding=1, name=f"conv{i}")]
    return Sequential([*layers, Flatten(name="flatten"),
                       Dense(code_dim, activation="relu", name="code")], name="encoder")


class CaptionNet(Model):
    """Image captioner: a ConvNet encoder whose code starts an LSTM language model.

    ``forward(images, tokens)`` returns the next-token logits ``(N, vocab_size, T)`` for
    tokens ``(N, T)`` (teacher forcing; without ``tokens``, those of the first word).
    ``compile`` defaults to :class:`TokenCrossentropy`, and ``fit(images, tokens)`` /
    ``evaluate(images, tokens)`` take whole token rows ``<start> .. <end> <pad>..`` (see the
    module docstring). :meth:`generate` (and ``predict``) decode greedily or by beam
    search; :meth:`caption` returns strings.

    The encoder: a 5x5 stride-2 ``ConvBlock`` (conv, batch norm, ReLU) with ``filters[0]``
    maps, then a 2x2 max pool and a 3x3 ``ConvBlock`` per further entry of ``filters``
    (each stage halves the size: 56 -> 28 -> 14 -> 7 for three), flattened into
    ``Dense(code_dim, relu)``: flattening, not global pooling, keeps *where* things are,
    which a caption such as "a bag above a coat" needs.

    Args:
        vocab_size: number of tokens, specials included.
        input_shape: ``(channels, height, width)``. Defaults to ``(1, 56, 56)``.
        filters: feature maps of the encoder's stages. Defaults to ``(32, 64)``.
        code_dim: size of the image code ``z``. Defaults to 256.
        embed_dim: size of the word vectors. Defaults to 32.
        hidden: LSTM units. Defaults to 128.
        max_len: most tokens generated, ``<end>`` included. Defaults to 16.
        pad_id, start_id, end_id: the special tokens. Default to 0, 1 and 2, the ids of
            ``lamina.datasets.captions.Vocabulary``.
        name: model name.

    Input shape:
        ``(N, C, H, W)`` images, and ``(N, T)`` integer tokens.
    Output shape:
        ``(N, vocab_size, T)`` logits (classes on axis 1, as lamina's losses expect).

    Example:
        >>> net = CaptionNet(16, input_shape=(1, 16, 16), filters=(4,), code_dim=8,
        ...                  embed_dim=4, hidden=8)
        >>> net.compile(optimizer="adam")
        >>> images, tokens = torch.rand(6, 1, 16, 16), torch.randint(3, 16, (6, 7))
        >>> tokens[:, 0], tokens[:, -1] = 1, 2
        >>> net.fit(images, tokens, epochs=1, batch_size=3, verbose=0).history["loss"][0] > 0
        True
        >>> net.predict(images).shape
        (6, 16)
    """

    def __init__(self, vocab_size: int, *, input_shape=(1, 56, 56), filters=(32, 64),
                 code_dim: int = 256, embed_dim: int = 32, hidden: int = 128,
                 max_len: int = 16, pad_id: int = 0, start_id: int = 1, end_id: int = 2,
                 name: str | None = None):
        super().__init__(name=name or "caption_net")
        owner = "CaptionNet"
        self.vocab_size = check_positive_int("vocab_size", vocab_size, owner)
        input_shape = check_image_shape(input_shape, owner)
        if isinstance(filters, numbers.Integral) or not len(filters):
            raise ValueError(message(f"Argument `filters` of {owner} must be a non-empty "
                                     f"sequence of feature-map counts.",
                                     received=f"filters={filters!r}", fix="E.g. (32, 64)."))
        self.filters = tuple(check_positive_int("filters", f, owner) for f in filters)
        self.code_dim = check_positive_int("code_dim", code_dim, owner)
        self.embed_dim = check_positive_int("embed_dim", embed_dim, owner)
        self.hidden = check_positive_int("hidden", hidden, owner)
        self.max_len = check_positive_int("max_len", max_len, owner)
        specials = {"pad_id": pad_id, "start_id": start_id, "end_id": end_id}
        for key, value in specials.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                    or not 0 <= value < self.vocab_size:
                raise ValueError(message(
                    f"Argument `{key}` of {owner} must be a token id in [0, {vocab_size}).",
                    received=f"{key}={value!r}"))
        if len(set(specials.values())) != 3:
            raise ValueError(message(f"The special tokens of {owner} must be distinct.",
                                     received=f"{specials}"))
        self.pad_id, self.start_id, self.end_id = int(pad_id), int(start_id), int(end_id)
        self.encoder = _encoder(self.filters, self.code_dim)
        self.init_state = Dense(2 * self.hidden, name="init_state")
        self.embedding = Embedding(self.vocab_size, self.embed_dim, name="embedding")
        self.lstm = LSTM(self.hidden, return_sequences=True, return_state=True, name="lstm")
        self.readout = Dense(self.vocab_size, name="logits")
        self.input_spec = InputSpec(ndim=3)
        self.build(input_shape)

    # -- building -------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Build encoder and decoder for per-sample images ``input_shape``."""
        self._record_build(input_shape)
        try:
            code = self.encoder.build_shapes(self.input_shape)
        except ValueError as err:
            raise ValueError(message(
                f"CaptionNet's encoder cannot take images of shape "
                f"{format_shape(self.input_shape)} ({err})",
                fix=f"Use larger images or fewer `filters` (each stage halves the size, so "
                    f"{len(self.filters)} stages need at least {2 ** len(self.filters)} "
                    f"pixels).")) from None
        self.init_state.build_shapes(code)
        self.embedding.build_shapes((1,))
        self.lstm.build_shapes((1, self.embed_dim))
        self.readout.build_shapes((1, self.hidden))
        self.input_spec = InputSpec(ndim=3, axes={0: self.input_shape[0]})

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (self.vocab_size, 1)

    # -- the forward pass -----------------------------------------------------------------
    def initial_state(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's first state ``(tanh(W_h z), W_c z)`` from the image code ``z``."""
        h, c = self.init_state(self.encoder(images)).chunk(2, dim=-1)
        return torch.tanh(h), c.contiguous()

    def step_logits(self, tokens: Tensor, state) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits ``(N, T, vocab)`` after reading ``tokens`` ``(N, T)`` from ``state``, and
        the state after the last token."""
        out, h, c = self.lstm(self.embedding(tokens), initial_state=state)
        return self.readout(out), (h, c)

    def forward(self, images: Tensor, tokens: Tensor | None = None) -> Tensor:
        if tokens is None:
            tokens = torch.full((images.shape[0], 1), self.start_id, dtype=torch.long,
                                device=images.device)
        if tokens.dim() != 2 or tokens.shape[0] != images.shape[0]:
            raise ValueError(message(
                f"Model '{self.name}' needs tokens (N, T) for N = {images.shape[0]} images.",
                received=f"tokens of shape {tuple(tokens.shape)}"))
        return self.step_logits(tokens, self.initial_state(images))[0].transpose(1, 2)

    def _check_tokens(self, tokens: Tensor, owner: str) -> None:
        if tokens.dim() != 2 or tokens.shape[1] < 2:
            raise ValueError(message(
                f"`y` given to {owner} of model '{self.name}' must be token rows (N, T), "
                f"T >= 2: <start>, the words, <end>, then <pad>.",
                received=f"y of shape {tuple(tokens.shape)}",
                fix="Pass e.g. `grids.tokens` from lamina.datasets.captions."))
        if len(tokens) and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(message(
                f"Tokens given to {owner} of model '{self.name}' must lie in "
                f"[0, {self.vocab_size}).",
                received=f"tokens from {int(tokens.min())} to {int(tokens.max())}",
                fix="Build the model with vocab_size=len(vocabulary)."))

    # -- training -------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, *, device="auto",
                jit: bool = False) -> None:
        """``Model.compile`` for teacher forcing; ``loss`` defaults to
        ``TokenCrossentropy(pad_id)``, ``metrics`` take ``TokenAccuracy(pad_id)``."""
        loss = TokenCrossentropy(self.pad_id) if loss is None else loss
        super().compile(optimizer, loss, metrics, device=device, jit=jit)
        base = self._trainer
        self._trainer = _TeacherForcingTrainer(self, base.optimizer, base.loss_fn,
                                               base.metrics, device=base.device,
                                               settings=base.settings)

    # -- generation -----------------------------------------------------------------------
    def _images(self, images, owner: str) -> Tensor:
        x = to_tensor(images, "images", owner)
        if tuple(x.shape[1:]) != self.input_shape or x.dim() != 4:
            raise ValueError(message(
                f"`{owner}` of model '{self.name}' expects images of shape "
                f"{format_shape(self.input_shape)}.", received=f"shape {tuple(x.shape)}",
                fix="Resize the images, or build the model with their input_shape."))
        return x

    def _next_log_probs(self, tokens: Tensor, state) -> tuple[Tensor, tuple]:
        """Log-probabilities ``(N, vocab)`` of the next token; never <pad> or <start>."""
        logits, state = self.step_logits(tokens, state)
        logits = logits[:, -1].clone()
        logits[:, [self.pad_id, self.start_id]] = float("-inf")
        return torch.log_softmax(logits, dim=-1), state

    @torch.no_grad()
    def greedy(self, images: Tensor, max_len: int) -> tuple[Tensor, Tensor]:
        """Greedy decoding of a batch: token ids ``(N, max_len)`` (``<end>``, then
        ``<pad>``) and their total log-probabilities ``(N,)``."""
        n, device = images.shape[0], images.device
        state = self.initial_state(images)
        token = torch.full((n, 1), self.start_id, dtype=torch.long, device=device)
        out = torch.full((n, max_len), self.pad_id, dtype=torch.long, device=device)
        score = torch.zeros(n, device=device)
        done = torch.zeros(n, dtype=torch.bool, device=device)
        for t in range(max_len):
            logp, state = self._next_log_probs(token, state)
            best_logp, best = logp.max(dim=-1)
            out[:, t] = torch.where(done, self.pad_id, best)
            score += torch.where(done, 0.0, best_logp)
            done |= best == self.end_id
            if bool(done.all()):
                break
            token = best[:, None]
        return out, score

    @torch.no_grad()
    def beam_search(self, images: Tensor, max_len: int,
                    beam_width: int) -> tuple[Tensor, Tensor]:
        """Beam search over a batch: the most likely of the ``beam_width`` kept hypotheses.

        Each step extends every kept prefix by every token and keeps the ``beam_width``
        highest totals ``sum_t log p(w_t | w_<t, image)`` per image (finished hypotheses
        carry on with ``<pad>`` at no cost; no length penalty). Returns the ids ``(N,
        max_len)`` and total log-probabilities ``(N,)`` of the best hypothesis.
        """
        n, k, v, device = images.shape[0], beam_width, self.vocab_size, images.device
        h, c = self.initial_state(images)
        state = (h.repeat_interleave(k, 0), c.repeat_interleave(k, 0))
        scores = torch.full((n, k), float("-inf"), device=device)
        scores[:, 0] = 0.0  # one live hypothesis to start with
        seqs = torch.empty((n, k, 0), dtype=torch.long, device=device)
        done = torch.zeros((n, k), dtype=torch.bool, device=device)
        token = torch.full((n * k, 1), self.start_id, dtype=torch.long, device=device)
        finished = torch.full((v,), float("-inf"), device=device)
        finished[self.pad_id] = 0.0
        offsets = torch.arange(n, device=device)[:, None] * k
        for _ in range(max_len):
            logp, state = self._next_log_probs(token, state)
            logp = torch.where(done[..., None], finished, logp.view(n, k, v))
            scores, index = (scores[..., None] + logp).view(n, k * v).topk(k, dim=1)
            beam, token = index // v, index % v
            seqs = torch.cat([seqs.gather(1, beam[..., None].expand(-1, -1, seqs.shape[2])),
                              token[..., None]], dim=2)
            done = done.gather(1, beam) | (token == self.end_id)
            rows = (beam + offsets).view(-1)
            state = tuple(s.index_select(0, rows) for s in state)
            token = token.view(-1, 1)
            if bool((done | torch.isinf(scores)).all()):
                break
        best = seqs[:, 0]
        out = torch.full((n, max_len), self.pad_id, dtype=torch.long, device=device)
        out[:, :best.shape[1]] = best
        return out, scores[:, 0]

    def generate(self, images, *, max_len: int | None = None, beam_width: int = 1,
                 batch_size: int = 256, return_scores: bool = False):
        """Captions of ``images`` as token ids: greedy (``beam_width=1``) or beam search.

        Args:
            images: ``(N, *input_shape)``, numpy or torch (cast to float32, not rescaled).
            max_len: most tokens per caption, ``<end>`` included. Defaults to the model's.
            beam_width: hypotheses kept per image; 1 decodes greedily. Defaults to 1.
            batch_size: images decoded at once. Defaults to 256.
            return_scores: also return each caption's total log-probability.

        Returns:
            int64 ids ``(N, max_len)``: the words, ``<end>``, then ``<pad>`` (no
            ``<start>``); with ``return_scores``, also the float32 scores ``(N,)``.

        Example:
            >>> net = CaptionNet(6, input_shape=(1, 8, 8), filters=(2,), max_len=4)
            >>> ids, scores = net.generate(torch.rand(3, 1, 8, 8), beam_width=2,
            ...                            return_scores=True)
            >>> ids.shape, scores.shape, bool((scores <= 0).all())
            ((3, 4), (3,), True)
        """
        max_len = self.max_len if max_len is None else check_positive_int(
            "max_len", max_len, "CaptionNet.generate")
        beam_width = check_positive_int("beam_width", beam_width, "CaptionNet.generate")
        batch_size = check_positive_int("batch_size", batch_size, "CaptionNet.generate")
        x = self._images(images, "generate")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        ids, scores = [], []
        try:
            for i in range(0, len(x), batch_size):
                xb = x[i:i + batch_size].to(device)
                out = (self.greedy(xb, max_len) if beam_width == 1
                       else self.beam_search(xb, max_len, beam_width))
                ids.append(out[0].cpu())
                scores.append(out[1].cpu())
        finally:
            self.train(was_training)
        ids_np = (torch.cat(ids).numpy() if ids else np.zeros((0, max_len), dtype=np.int64))
        if not return_scores:
            return ids_np
        return ids_np, (torch.cat(scores).numpy() if scores else np.zeros(0, np.float32))

    def predict(self, x, batch_size: int = 256, *, beam_width: int = 1,
                max_len: int | None = None) -> np.ndarray:
        """Generated token ids for images ``x``; see :meth:`generate`."""
        return self.generate(x, max_len=max_len, beam_width=beam_width, batch_size=batch_size)

    def caption(self, images, vocabulary, *, beam_width: int = 1, max_len: int | None = None,
                batch_size: int = 256) -> list[str]:
        """Generated captions of ``images`` as strings, decoded with ``vocabulary``
        (anything with ``decode_batch(ids)``, e.g. ``lamina.datasets.captions.Vocabulary``)."""
        return vocabulary.decode_batch(self.generate(images, max_len=max_len,
                                                     beam_width=beam_width,
                                                     batch_size=batch_size))

    # -- persistence ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "input_shape": list(self.input_shape),
                "filters": list(self.filters), "code_dim": self.code_dim,
                "embed_dim": self.embed_dim, "hidden": self.hidden, "max_len": self.max_len,
                "pad_id": self.pad_id, "start_id": self.start_id, "end_id": self.end_id,
                "name": self.name}
