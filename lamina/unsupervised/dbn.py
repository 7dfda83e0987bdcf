"""Deep Belief Networks: RBMs stacked and trained greedily, layer by layer (deck 001).

Hinton, Osindero & Teh, "A fast learning algorithm for deep belief nets", 2006; Hinton &
Salakhutdinov, "Reducing the dimensionality of data with neural networks", 2006.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_positive_int
from lamina.config import resolve_device
from lamina.errors import message
from lamina.functional import energy as E
from lamina.layers.core import Dense
from lamina.models.sequential import Sequential
from lamina.unsupervised._base import (
    Device,
    EstimatorMixin,
    Flag,
    Number,
    Options,
    RandomState,
    Rate,
    Sizes,
    as_tensor,
    like_input,
    make_generator,
)
from lamina.unsupervised.autoencoders import StackedAutoencoder
from lamina.unsupervised.rbm import RBM, _check_steps

__all__ = ["DBN"]


class DBN(EstimatorMixin, nn.Module):
    """Deep Belief Network: a stack of RBMs learned greedily (deck 001's Algorithm 1).

    ``sizes = [D, F1, F2, ..., FL]`` makes ``L`` RBMs, ``D-F1``, ``F1-F2``, ...
    :meth:`pretrain` follows Algorithm 1: fit the first RBM to the data, freeze it, and use
    its hidden activations ``Q(h1 | v) = P(h1 | v, W1)`` as the data of the second RBM, and
    so on up the stack. The deck samples ``h1`` from ``Q``; by default the probabilities
    themselves are passed up (``propagate="probabilities"``, as Hinton & Salakhutdinov
    2006 do: less noise, the same expectation); ``propagate="samples"`` is the literal
    version.

    After pretraining the DBN is a generative model (:meth:`generate`: Gibbs sampling in
    the top RBM, then one downward pass), a feature extractor (:meth:`transform`) and the
    initialization of a classifier (:meth:`to_classifier`, for supervised fine-tuning by
    back-propagation, deck 001's "DBN supervised tuning") or of a deep autoencoder
    (:meth:`to_autoencoder`).

    Args:
        sizes: layer sizes, visible first, at least two.
        visible: visible units of the first RBM, ``"binary"`` or ``"gaussian"``; the
            higher RBMs have binary visible units. Defaults to ``"binary"``.
        k, persistent, lr, momentum, weight_decay, batch_size, epochs, verbose, device: as
            for :class:`lamina.unsupervised.RBM`, shared by every layer.
        propagate: what each RBM passes up, ``"probabilities"`` or ``"samples"``.
            Defaults to ``"probabilities"``.
        random_state: None, a seed or a ``torch.Generator``: one stream for the whole
            stack, kept as ``random_state_``. Defaults to None.

    Attributes:
        rbms: the fitted :class:`RBM` of each layer, bottom first (an ``nn.ModuleList``).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 8, dtype=np.float32)
        >>> dbn = DBN([4, 3, 2], lr=0.5, epochs=20, batch_size=4, random_state=0, device="cpu")
        >>> dbn.pretrain(x).transform(x).shape
        (16, 2)
        >>> dbn.to_classifier(2).output_shape
        (2,)
    """

    _constraints = {
        "sizes": Sizes("layer sizes"),
        "visible": Options("visible unit type", ("binary", "bernoulli", "gaussian")),
        "k": Number("number of Gibbs steps", low=1, integer=True),
        "persistent": Flag("persistent-chain flag"),
        "lr": Rate(),
        "momentum": Number("momentum", 0, 1, high_open=True),
        "weight_decay": Number("weight decay"),
        "batch_size": Number("batch size", low=1, integer=True),
        "epochs": Number("number of epochs", low=0, integer=True),
        "propagate": Options("propagation", ("probabilities", "samples")),
        "random_state": RandomState(),
        "verbose": Number("verbosity", 0, 2, integer=True),
        "device": Device(),
    }

    def __init__(self, sizes, *, visible: str = "binary", k: int = 1, persistent: bool = False,
                 lr=0.1, momentum: float = 0.0, weight_decay: float = 0.0, batch_size: int = 64,
                 epochs: int = 10, propagate: str = "probabilities", random_state=None,
                 verbose: int = 0, device: str = "auto"):
        super().__init__()
        self.sizes = sizes
        self.visible = visible
        self.k = k
        self.persistent = persistent
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.propagate = propagate
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.rbms = nn.ModuleList()

    def _rbm(self, index: int) -> RBM:
        return RBM(self.sizes[index + 1], visible=self.visible if index == 0 else "binary",
                   k=self.k, persistent=self.persistent, lr=self.lr, momentum=self.momentum,
                   weight_decay=self.weight_decay, batch_size=self.batch_size,
                   epochs=self.epochs, random_state=self.random_state_, verbose=self.verbose,
                   device=self.device)

    def pretrain(self, x, epochs: int | None = None):
        """Greedy layer-wise training (Algorithm 1): each RBM on the previous one's output.

        Args:
            x: data ``(N, sizes[0])``.
            epochs: epochs per layer. Defaults to the constructor's ``epochs``.

        Returns:
            ``self``.
        """
        self._validate_params()
        device = resolve_device(self.device)
        self.random_state_ = make_generator(self.random_state, device)
        h = self._data(x, "pretrain", fitted=False)
        self.rbms = nn.ModuleList()
        for index in range(len(self.sizes) - 1):
            if self.verbose:
                print(f"DBN layer {index + 1}/{len(self.sizes) - 1}: RBM "
                      f"{self.sizes[index]}-{self.sizes[index + 1]}", flush=True)
            rbm = self._rbm(index).fit(h, epochs=epochs)
            self.rbms.append(rbm)
            if index < len(self.sizes) - 2:
                with torch.no_grad():
                    h = rbm._map(rbm.forward, h)
                    if self.propagate == "samples":
                        h = E.bernoulli(h, self.random_state_)
        return self

    def fit(self, x, y=None, epochs: int | None = None):
        """Same as :meth:`pretrain` (scikit-learn's name; ``y`` is ignored)."""
        return self.pretrain(x, epochs=epochs)

    def _data(self, x, owner: str, *, fitted: bool = True) -> Tensor:
        if fitted and not len(self.rbms):
            raise ValueError(message(f"This DBN is not pretrained yet, so `{owner}` cannot run.",
                                     fix="Call `dbn.pretrain(x)` first."))
        device = self.rbms[0].weight.device if fitted else resolve_device(self.device)
        v = as_tensor(x, "x", f"DBN.{owner}", device)
        if v.shape[1] != self.sizes[0]:
            raise ValueError(message(f"Argument `x` of DBN.{owner} must have sizes[0] = "
                                     f"{self.sizes[0]} features.",
                                     received=f"x of shape {tuple(v.shape)}"))
        return v

    def forward(self, v: Tensor) -> Tensor:
        """The top layer's activation probabilities for a tensor (what :meth:`transform` gives)."""
        for rbm in self.rbms:
            v = rbm.forward(v)
        return v

    @torch.no_grad()
    def transform(self, x):
        """The upward pass: ``P(h_L = 1 | ...)`` after ``P(h_1 = 1 | x)``, shape ``(N, sizes[-1])``."""
        v = self._data(x, "transform")
        return like_input(self.rbms[0]._map(self.forward, v), x)

    @torch.no_grad()
    def generate(self, n: int, steps: int = 1000) -> np.ndarray:
        """``n`` samples: ``steps`` Gibbs steps in the top RBM, then a downward pass.

        The top RBM's chains start at random; its visible sample is the state of layer
        ``L - 1``, which each lower RBM maps down by ``E[v | h]`` (its generative
        weights ``W^T``). Returns the data-space means ``(n, sizes[0])`` as numpy.
        """
        if not len(self.rbms):
            raise ValueError(message("This DBN is not pretrained yet, so `generate` cannot "
                                     "run.", fix="Call `dbn.pretrain(x)` first."))
        n, steps = _check_steps(n, "generate", "n"), _check_steps(steps, "generate")
        top = self.rbms[-1]
        gen = top._generator()
        start = E.bernoulli(torch.full((n, top.weight.shape[0]), 0.5,
                                       device=top.weight.device), gen)
        mean, v = top._gibbs(start, steps)
        if len(self.rbms) == 1:
            return mean.cpu().numpy()
        for rbm in reversed(self.rbms[:-1]):
            v = E.visible_mean(v, rbm.weight, rbm.visible_bias, rbm.units)
        return v.cpu().numpy()

    def to_classifier(self, num_classes: int, *, name: str | None = None) -> Sequential:
        """A ``Sequential`` of sigmoid ``Dense`` layers holding the RBMs' weights, plus softmax.

        Layer ``l`` computes ``sigmoid(W_l^T h + a_l)``, exactly the upward pass of
        :meth:`transform`; a new ``Dense(num_classes, activation="softmax")`` (Glorot
        initialized) follows. Compile it and fit it on labels to fine-tune the whole stack
        by back-propagation (deck 001's "DBN supervised tuning").

        Example:
            >>> import numpy as np
            >>> dbn = DBN([6, 4], epochs=1, random_state=0, device="cpu").pretrain(np.eye(6))
            >>> model = dbn.to_classifier(3)
            >>> model.compile("sgd", "sparse_categorical_crossentropy"); len(model.layers)
            2
        """
        num_classes = check_positive_int("num_classes", num_classes, "DBN.to_classifier")
        if not len(self.rbms):
            raise ValueError(message("This DBN is not pretrained yet, so `to_classifier` "
                                     "cannot run.", fix="Call `dbn.pretrain(x)` first."))
        layers = [Dense(rbm.weight.shape[1], activation="sigmoid") for rbm in self.rbms]
        model = Sequential([*layers, Dense(num_classes, activation="softmax")],
                           input_shape=(self.sizes[0],), name=name)
        with torch.no_grad():
            for layer, rbm in zip(layers, self.rbms):
                layer.weight.copy_(rbm.weight.T)
                layer.bias.copy_(rbm.hidden_bias)
        return model

    def to_autoencoder(self, *, name: str | None = None):
        """Unroll the stack into a deep autoencoder (Hinton & Salakhutdinov 2006).

        The encoder's layer ``l`` is ``sigmoid(W_l^T h + a_l)``; the decoder mirrors it with
        the transposed weights, ``E[v | h] = sigmoid(W_l h + b_l)`` (linear at the bottom
        for Gaussian visible units). The weights are copies, untied, ready for
        fine-tuning by back-propagation of the reconstruction error.

        Returns:
            A built :class:`lamina.unsupervised.StackedAutoencoder`.
        """
        if not len(self.rbms):
            raise ValueError(message("This DBN is not pretrained yet, so `to_autoencoder` "
                                     "cannot run.", fix="Call `dbn.pretrain(x)` first."))
        output = "linear" if self.rbms[0].units == "gaussian" else "sigmoid"
        ae = StackedAutoencoder(list(self.sizes), activation="sigmoid", code_activation="sigmoid",
                                output_activation=output, name=name)
        ae.build((self.sizes[0],))
        with torch.no_grad():
            for enc, dec, rbm in zip(ae.encoder_layers, reversed(ae.decoder_layers), self.rbms):
                enc.weight.copy_(rbm.weight.T)
                enc.bias.copy_(rbm.hidden_bias)
                dec.weight.copy_(rbm.weight)
                dec.bias.copy_(rbm.visible_bias)
        return ae
