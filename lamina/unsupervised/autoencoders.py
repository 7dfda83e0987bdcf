"""Autoencoders of deck 001, as lamina models: plain, denoising, sparse, contractive,
variational ("stochastic"), convolutional and deep stacked (greedy layer-wise).

Every autoencoder learns ``x^ = g(W' f(W x + b) + c)`` to minimize ``sum_k ||x^_k - x_k||^2``
(deck 001), plus its variant's term. They are lamina ``Model``s: ``compile(optimizer)``
(the loss defaults to the model's reconstruction loss), ``fit(x, epochs=...,
batch_size=...)`` (the targets default to ``x``), and ``encode``, ``decode`` and
``reconstruct``, which return numpy for numpy input. The variant's term (sparsity,
contraction, KL divergence) is computed in ``forward`` as ``activity_loss``, which ``fit``
adds to the loss and logs as ``reg_loss``; ``weight_decay`` adds deck 001's
``lambda sum W^2`` the same way.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lamina import activations, initializers, regularizers
from lamina.errors import NotBuiltError, message
from lamina.layers.conv import Conv2D, Conv2DTranspose
from lamina.layers.core import Dense
from lamina.models.model import Model
from lamina.optimizers._constraints import Flag, Number, check_constraints
from lamina.training.tensors import to_tensor
from lamina.unsupervised import penalties as P
from lamina.unsupervised._base import Options, Sizes, check_real, like_input

__all__ = ["Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "ContractiveAutoencoder",
           "VariationalAutoencoder", "ConvAutoencoder", "StackedAutoencoder"]

_CHUNK = 4096


class _AutoencoderModel(Model, metaclass=abc.ABCMeta):
    """Shared surface: default loss, ``fit(x)``, ``encode/decode/reconstruct``, penalties.

    Subclasses define ``build_layers(input_shape)``, ``_encode(x)`` (tensor codes) and
    ``_decode_logits(z)`` (the output before ``output_activation``, shaped like the
    input); optionally ``corrupt(x)`` (training inputs) and ``penalty(x, z)``.
    """

    #: the loss ``compile`` uses when none is given
    default_loss = "mse"
    #: non-None when the model adds a penalty; lamina's ``fit`` then adds ``activity_loss``
    _penalty_name: str | None = None
    _constraints: dict = {}

    def __init__(self, *, output_activation="sigmoid", weight_decay: float = 0.0,
                 name: str | None = None):
        super().__init__(name=name)
        self.output_activation = activations.serialize(activations.get(output_activation))
        self._output_fn = activations.get(output_activation)
        self.weight_decay = weight_decay
        self.activity_loss: Tensor | None = None

    def _check(self, **values) -> None:
        check_constraints({"weight_decay": Number("weight decay"), **self._constraints},
                          type(self).__name__, values)

    @property
    def activity_regularizer(self) -> str | None:
        """The name of the model's extra term, or None: how ``fit`` finds ``activity_loss``."""
        return self._penalty_name

    # -- building -------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        self._record_build(input_shape)
        self.build_layers(tuple(self.input_shape))
        self.output_shape = tuple(self.input_shape)

    @abc.abstractmethod
    def build_layers(self, input_shape: tuple) -> None:
        """Create the variant's layers for per-sample ``input_shape``."""

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def _weights(self) -> list[Tensor]:
        """The weight matrices that ``weight_decay`` penalizes."""
        return []

    def regularization_penalties(self):
        """``(L2(weight_decay), W)`` pairs: deck 001's ``lambda sum W^2``, added by ``fit``."""
        if not self.weight_decay:
            return []
        return [(regularizers.L2(self.weight_decay), w) for w in self._weights()]

    # -- the maths ------------------------------------------------------------------------
    def corrupt(self, x: Tensor) -> Tensor:
        """The input seen in training (denoising autoencoders corrupt it)."""
        return x

    def penalty(self, x: Tensor, z: Tensor) -> Tensor | None:
        """The variant's extra term for inputs ``x`` and codes ``z`` (None for none)."""
        return None

    @abc.abstractmethod
    def _encode(self, x: Tensor) -> Tensor:
        """The codes ``z`` of a batch ``x``."""

    @abc.abstractmethod
    def _decode_logits(self, z: Tensor) -> Tensor:
        """The reconstruction's pre-activation for codes ``z``."""

    def _decode(self, z: Tensor) -> Tensor:
        return self._output_fn(self._decode_logits(z))

    def forward_logits(self, x: Tensor) -> Tensor:
        """The reconstruction before ``output_activation`` (the penalty is computed here)."""
        if self.training:
            x = self.corrupt(x)
        z = self._encode(x)
        if self.training and self._penalty_name is not None:
            self.activity_loss = self.penalty(x, z)
        return self._decode_logits(z)

    def forward(self, x: Tensor) -> Tensor:
        return self._output_fn(self.forward_logits(x))

    def output_activation_name(self) -> str | None:
        return self.output_activation if self.output_activation in ("sigmoid",
                                                                    "softmax") else None

    # -- the Keras surface -----------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs) -> None:
        """As ``Model.compile``; ``loss`` defaults to the model's reconstruction loss."""
        super().compile(optimizer, self.default_loss if loss is None else loss, metrics,
                        **kwargs)

    def fit(self, x, y=None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
            **kwargs):
        """As ``Model.fit``, with ``y`` (and ``validation_data``'s targets) defaulting to ``x``."""
        if validation_data is not None and not isinstance(validation_data, (tuple, list)):
            validation_data = (validation_data, validation_data)
        return super().fit(x, x if y is None else y, batch_size=batch_size, epochs=epochs,
                           verbose=verbose, validation_split=validation_split,
                           validation_data=validation_data, shuffle=shuffle, **kwargs)

    def evaluate(self, x, y=None, batch_size: int = 256, verbose: int = 0) -> dict[str, float]:
        """As ``Model.evaluate``, with ``y`` defaulting to ``x`` (no penalty in eval mode)."""
        return super().evaluate(x, x if y is None else y, batch_size=batch_size,
                                verbose=verbose)

    def _run(self, fn, x, owner: str, *, build: bool = True, name: str = "x"):
        where = f"{type(self).__name__}.{owner}"
        t = to_tensor(check_real(x, name, where), name, where)
        if t.dim() < 2:
            raise ValueError(message(f"Argument `{name}` of {where} must be a batch of "
                                     f"samples, (N, ...).", received=f"{name} of shape "
                                     f"{tuple(t.shape)}", fix=f"Add the batch axis: "
                                     f"`{name}[None]` for one sample."))
        if not self.built:
            if not build:
                raise NotBuiltError(f"{type(self).__name__} '{self.name}' is not built, so "
                                    f"`{owner}` cannot run. Fit it or call `build(input_shape)`.")
            self.build(tuple(t.shape[1:]))
        if build and tuple(t.shape[1:]) != tuple(self.input_shape):
            raise ValueError(message(
                f"Argument `{name}` of {where} must have shape (N, "
                f"{', '.join(map(str, self.input_shape))}), the shape the model was built for.",
                received=f"{name} of shape {tuple(t.shape)}"))
        param = next(self.parameters())
        t = t.to(device=param.device, dtype=param.dtype)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = torch.cat([fn(chunk) for chunk in t.split(_CHUNK)]) if len(t) else fn(t)
        except (RuntimeError, IndexError) as err:
            if build:
                raise
            raise ValueError(self._code_shape_error(t, where, name, err)) from None
        finally:
            self.train(was_training)
        return like_input(out, x)

    def _code_shape_error(self, z: Tensor, where: str, name: str, err: Exception) -> str:
        """The message for codes ``decode`` could not take (computed only on that error)."""
        with torch.no_grad():
            probe = torch.zeros(1, *self.input_shape, dtype=z.dtype, device=z.device)
            code = tuple(self._encode(probe).shape[1:])
        return message(f"Argument `{name}` of {where} must hold codes of shape (N, "
                       f"{', '.join(map(str, code))}), as `encode` gives.",
                       received=f"{name} of shape {tuple(z.shape)} ({err})")

    def encode(self, x):
        """The codes of ``x`` (numpy for numpy input, else a tensor)."""
        return self._run(self._encode, x, "encode")

    def decode(self, z):
        """The reconstructions for codes ``z`` (numpy for numpy input, else a tensor)."""
        return self._run(self._decode, z, "decode", build=False, name="z")

    def reconstruct(self, x):
        """``decode(encode(x))``, without corruption or sampling."""
        return self._run(self, x, "reconstruct")

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "output_activation": self.output_activation,
                "weight_decay": self.weight_decay,
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        shape = config.pop("input_shape", None)
        model = cls(**config)
        if shape is not None:
            model.build(tuple(shape))
        return model


_HIDDEN = Number("number of hidden units", low=1, integer=True)


class Autoencoder(_AutoencoderModel):
    """One-hidden-layer autoencoder: ``h = f(W x + b)``, ``x^ = g(W' h + c)`` (deck 001).

    Minimizes ``sum_k ||x^_k - x_k||^2`` (``"mse"``, the default loss). Inputs of any
    per-sample shape are flattened, and reconstructions take the input's shape again.

    Args:
        hidden: code size ``H``.
        activation: encoder activation ``f``. Defaults to ``"sigmoid"``.
        output_activation: decoder activation ``g``. Defaults to ``"sigmoid"`` (data in
            [0, 1]); use ``"linear"`` for real-valued data.
        tied: use ``W' = W^T`` (one weight matrix). Defaults to False.
        weight_decay: ``lambda`` of the penalty ``lambda sum W^2``. Defaults to 0.
        name: model name.

    Attributes:
        weight: ``W``, shape ``(H, D)``; ``bias``: ``b``.
        decoder_weight: ``W'``, shape ``(D, H)`` (None when tied); ``decoder_bias``: ``c``.

    Example:
        >>> import numpy as np
        >>> ae = Autoencoder(2, tied=True)
        >>> ae.compile("adam")
        >>> history = ae.fit(np.eye(4, dtype=np.float32), epochs=2, batch_size=4, verbose=0)
        >>> ae.encode(np.eye(4, dtype=np.float32)).shape, ae.decoder_weight is None
        ((4, 2), True)
    """

    _constraints = {"hidden": _HIDDEN, "tied": Flag("tied-weights flag")}

    def __init__(self, hidden: int, *, activation="sigmoid", output_activation="sigmoid",
                 tied: bool = False, weight_decay: float = 0.0, name: str | None = None):
        super().__init__(output_activation=output_activation, weight_decay=weight_decay,
                         name=name)
        self._check(hidden=hidden, tied=tied, weight_decay=weight_decay)
        self.hidden = int(hidden)
        self.activation = activations.serialize(activations.get(activation))
        self._activation_fn = activations.get(activation)
        self.tied = tied
        for name_ in ("weight", "bias", "decoder_weight", "decoder_bias"):
            self.register_parameter(name_, None)

    def build_layers(self, input_shape: tuple) -> None:
        d = math.prod(input_shape)
        self.weight = nn.Parameter(torch.empty(self.hidden, d))
        self.bias = nn.Parameter(torch.empty(self.hidden))
        if not self.tied:
            self.decoder_weight = nn.Parameter(torch.empty(d, self.hidden))
        self.decoder_bias = nn.Parameter(torch.empty(d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights, zero biases."""
        if self.weight is None:
            return
        init = initializers.get("glorot_uniform")
        init(self.weight)
        if self.decoder_weight is not None:
            init(self.decoder_weight)
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.decoder_bias)

    def _weights(self) -> list[Tensor]:
        return [w for w in (self.weight, self.decoder_weight) if w is not None]

    @property
    def decoder_matrix(self) -> Tensor:
        """``W'``: ``decoder_weight``, or ``W^T`` when tied."""
        return self.weight.T if self.tied else self.decoder_weight

    def _encode(self, x: Tensor) -> Tensor:
        return self._activation_fn(F.linear(x.flatten(1), self.weight, self.bias))

    def _decode_logits(self, z: Tensor) -> Tensor:
        out = F.linear(z, self.decoder_matrix, self.decoder_bias)
        return out.reshape(len(z), *self.input_shape)

    def get_config(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "activation": self.activation, "tied": self.tied,
                **super().get_config()}

    def extra_repr(self) -> str:
        d = "?" if self.weight is None else self.weight.shape[1]
        return f"{d} -> {self.hidden} -> {d}" + (", tied=True" if self.tied else "")


class DenoisingAutoencoder(Autoencoder):
    """Reconstruct ``x`` from a corrupted copy ``x~`` (Vincent et al. 2008; deck 001).

    In training, ``forward`` corrupts its input (:func:`lamina.unsupervised.penalties.corrupt`)
    while the target stays the clean ``x``; ``encode``/``reconstruct`` see clean inputs.

    Args:
        hidden: code size.
        noise: ``"gaussian"`` (``x + level N(0, 1)``), ``"masking"`` (zero each value with
            probability ``level``) or ``"salt_and_pepper"`` (set each value to 0 or 1 with
            probability ``level``). Defaults to ``"masking"``.
        level: noise standard deviation or corruption probability. Defaults to 0.3.
        activation, output_activation, tied, weight_decay, name: as for :class:`Autoencoder`.

    Example:
        >>> import torch
        >>> dae = DenoisingAutoencoder(3, noise="masking", level=0.5)
        >>> dae(torch.ones(2, 6)).shape
        torch.Size([2, 6])
    """

    _constraints = {**Autoencoder._constraints, "noise": Options("noise type", P.NOISES),
                    "level": Number("noise level")}

    def __init__(self, hidden: int, *, noise: str = "masking", level: float = 0.3,
                 activation="sigmoid", output_activation="sigmoid", tied: bool = False,
                 weight_decay: float = 0.0, name: str | None = None):
        super().__init__(hidden, activation=activation, output_activation=output_activation,
                         tied=tied, weight_decay=weight_decay, name=name)
        self._check(noise=noise, level=level)
        if noise != "gaussian" and level > 1:
            raise ValueError(message(f"Argument `level` of DenoisingAutoencoder is a probability "
                                     f"for noise={noise!r}: it must be in [0, 1].",
                                     received=f"level={level!r}"))
        self.noise, self.level = noise, float(level)

    def corrupt(self, x: Tensor) -> Tensor:
        return P.corrupt(x, self.noise, self.level)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "noise": self.noise, "level": self.level}


class SparseAutoencoder(Autoencoder):
    """An autoencoder whose hidden units are mostly inactive (deck 001's "sparse").

    Adds ``beta * sum_j KL(rho || rho_hat_j)`` (``penalty="kl"``; ``rho_hat_j`` is unit
    ``j``'s mean activation over the batch, so the encoder must be a sigmoid) or
    ``beta * mean_n sum_j |h_nj|`` (``penalty="l1"``) to the reconstruction loss.

    Args:
        hidden: code size (often larger than the input).
        rho: target mean activation (KL only). Defaults to 0.05.
        beta: weight of the sparsity term. Defaults to 1.0 (KL) or 1e-3 is typical for L1.
        penalty: ``"kl"`` or ``"l1"``. Defaults to ``"kl"``.
        activation, output_activation, tied, weight_decay, name: as for :class:`Autoencoder`.

    Example:
        >>> import numpy as np
        >>> sae = SparseAutoencoder(8, rho=0.1, beta=0.5)
        >>> sae.compile("adam")
        >>> "reg_loss" in sae.fit(np.eye(4, dtype=np.float32), batch_size=4, verbose=0).history
        True
    """

    _constraints = {**Autoencoder._constraints, "rho": Number("sparsity target", 0, 1,
                                                              low_open=True, high_open=True),
                    "beta": Number("penalty weight"),
                    "penalty": Options("sparsity penalty", ("kl", "l1"))}

    def __init__(self, hidden: int, *, rho: float = 0.05, beta: float = 1.0,
                 penalty: str = "kl", activation="sigmoid", output_activation="sigmoid",
                 tied: bool = False, weight_decay: float = 0.0, name: str | None = None):
        super().__init__(hidden, activation=activation, output_activation=output_activation,
                         tied=tied, weight_decay=weight_decay, name=name)
        self._check(rho=rho, beta=beta, penalty=penalty)
        if penalty == "kl" and self.activation != "sigmoid":
            raise ValueError(message(
                "SparseAutoencoder's KL penalty needs activations in (0, 1).",
                received=f"activation={self.activation!r}",
                fix="Use activation='sigmoid', or penalty='l1'."))
        self.rho, self.beta, self.sparsity = float(rho), float(beta), penalty
        self._penalty_name = f"{penalty}_sparsity"

    def penalty(self, x: Tensor, z: Tensor) -> Tensor:
        if self.sparsity == "kl":
            return self.beta * P.kl_sparsity(z, self.rho)
        return self.beta * P.l1_activity(z)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "beta": self.beta,
                "penalty": self.sparsity}


class ContractiveAutoencoder(Autoencoder):
    """Penalize the encoder's sensitivity: ``+ beta ||J_f(x)||_F^2`` (Rifai et al. 2011).

    For the sigmoid encoder ``h = sigmoid(W x + b)`` the Jacobian's squared Frobenius norm
    has the closed form ``sum_j (h_j (1 - h_j))^2 sum_i W_ji^2``
    (:func:`lamina.unsupervised.penalties.contractive_penalty`).

    Args:
        hidden: code size.
        beta: weight of the contraction term. Defaults to 0.1.
        output_activation, tied, weight_decay, name: as for :class:`Autoencoder` (the
            encoder is a sigmoid).

    Example:
        >>> import torch
        >>> cae = ContractiveAutoencoder(3)
        >>> _ = cae.train()(torch.rand(4, 5)); cae.activity_loss.shape
        torch.Size([])
    """

    _constraints = {**Autoencoder._constraints, "beta": Number("penalty weight")}
    _penalty_name = "contraction"

    def __init__(self, hidden: int, *, beta: float = 0.1, output_activation="sigmoid",
                 tied: bool = False, weight_decay: float = 0.0, name: str | None = None):
        super().__init__(hidden, activation="sigmoid", output_activation=output_activation,
                         tied=tied, weight_decay=weight_decay, name=name)
        self._check(beta=beta)
        self.beta = float(beta)

    def penalty(self, x: Tensor, z: Tensor) -> Tensor:
        return self.beta * P.contractive_penalty(z, self.weight)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "beta": self.beta}
        config.pop("activation")
        return config


class VariationalAutoencoder(_AutoencoderModel):
    """Variational ("stochastic") autoencoder (Kingma & Welling 2014; deck 001, deck 002).

    The encoder gives ``q(z | x) = N(mu(x), diag(sigma^2(x)))``; training samples
    ``z = mu + sigma * eps`` (the reparameterization) and the decoder gives Bernoulli means
    ``p(x | z)``. The default loss is the binary cross-entropy averaged over the ``D``
    pixels, and the KL term is added divided by ``D``, so the minimized loss is
    ``-ELBO / D`` with ``ELBO = E_q[log p(x | z)] - KL(q(z | x) || N(0, I))``.

    Args:
        latent: code size. Defaults to 2.
        hidden: sizes of the hidden layers of the encoder (mirrored in the decoder).
            Defaults to (256,).
        activation: hidden activation. Defaults to ``"relu"``.
        output_activation, name: as for :class:`Autoencoder`.

    Example:
        >>> import numpy as np
        >>> vae = VariationalAutoencoder(2, hidden=(8,))
        >>> vae.compile("adam")
        >>> _ = vae.fit(np.random.rand(16, 6).astype(np.float32), batch_size=8, verbose=0)
        >>> vae.sample(3).shape, vae.elbo(np.ones((2, 6), np.float32)).shape
        ((3, 6), (2,))
    """

    default_loss = "binary_crossentropy"
    _penalty_name = "kl_divergence"
    _constraints = {"latent": Number("latent size", low=1, integer=True),
                    "hidden": Sizes("hidden sizes", min_length=0)}

    def __init__(self, latent: int = 2, hidden=(256,), *, activation="relu",
                 output_activation="sigmoid", name: str | None = None):
        super().__init__(output_activation=output_activation, name=name)
        self._check(latent=latent, hidden=hidden)
        self.latent, self.hidden = int(latent), [int(h) for h in hidden]
        self.activation = activations.serialize(activations.get(activation))
        self.encoder = nn.ModuleList([Dense(h, activation=self.activation) for h in self.hidden])
        self.moments = Dense(2 * self.latent)
        self.decoder = nn.ModuleList([Dense(h, activation=self.activation)
                                      for h in reversed(self.hidden)])

    def build_layers(self, input_shape: tuple) -> None:
        d = math.prod(input_shape)
        shape = (d,)
        for layer in self.encoder:
            shape = layer.build_shapes(shape)
        self.moments.build_shapes(shape)
        shape = (self.latent,)
        for layer in self.decoder:
            shape = layer.build_shapes(shape)
        self.output_layer = Dense(d)
        self.output_layer.build_shapes(shape)

    def _moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.flatten(1)
        for layer in self.encoder:
            h = layer(h)
        return self.moments(h).chunk(2, dim=1)

    def _encode(self, x: Tensor) -> Tensor:
        return self._moments(x)[0]

    def _decode_logits(self, z: Tensor) -> Tensor:
        for layer in self.decoder:
            z = layer(z)
        return self.output_layer(z).reshape(len(z), *self.input_shape)

    def forward_logits(self, x: Tensor) -> Tensor:
        mu, log_var = self._moments(x)
        if not self.training:
            return self._decode_logits(mu)
        z = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        self.activity_loss = P.gaussian_kl(mu, log_var).mean() / math.prod(self.input_shape)
        return self._decode_logits(z)

    def elbo(self, x):
        """A one-sample estimate of each sample's ELBO in nats, ``(N,)``:
        ``sum_i log p(x_i | z) - KL(q(z | x) || N(0, I))`` with ``z ~ q(z | x)``."""

        def per_sample(t: Tensor) -> Tensor:
            mu, log_var = self._moments(t)
            z = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
            logits = self._decode_logits(z).flatten(1)
            log_px = -F.binary_cross_entropy_with_logits(logits, t.flatten(1),
                                                         reduction="none").sum(1)
            return log_px - P.gaussian_kl(mu, log_var)
        return self._run(per_sample, x, "elbo")

    def sample(self, n: int) -> np.ndarray:
        """``n`` new samples: decoder means for ``z ~ N(0, I)``, as numpy."""
        param = next(self.parameters(), None)
        if not self.built or param is None:
            raise NotBuiltError(f"VariationalAutoencoder '{self.name}' is not built, so "
                                f"`sample` cannot run. Fit it first.")
        z = torch.randn(n, self.latent, device=param.device)
        return self.decode(z).cpu().numpy()

    def get_config(self) -> dict[str, Any]:
        config = {"latent": self.latent, "hidden": self.hidden, "activation": self.activation,
                  **super().get_config()}
        config.pop("weight_decay")
        return config


class ConvAutoencoder(_AutoencoderModel):
    """Convolutional autoencoder: strided ``Conv2D`` down, ``Conv2DTranspose`` back up.

    Each encoder layer halves the height and width (``strides=2, padding="same"``); the
    decoder mirrors it with transposed convolutions, the last one mapping back to the input's
    channels. Images are ``(N, C, H, W)`` with ``H`` and ``W`` divisible by
    ``2 ** len(filters)``; the codes have shape ``(N, filters[-1], H / 2^L, W / 2^L)``.

    Args:
        filters: channels of each encoder layer. Defaults to (16, 32).
        kernel_size: kernel size of every layer. Defaults to 3.
        activation: hidden activation. Defaults to ``"relu"``.
        output_activation, weight_decay, name: as for :class:`Autoencoder`.

    Example:
        >>> import torch
        >>> cae = ConvAutoencoder((4, 8))
        >>> cae(torch.zeros(2, 1, 28, 28)).shape, tuple(cae._encode(torch.zeros(2, 1, 28, 28)).shape)
        (torch.Size([2, 1, 28, 28]), (2, 8, 7, 7))
    """

    _constraints = {"filters": Sizes("filter counts", min_length=1),
                    "kernel_size": Number("kernel size", low=1, integer=True)}

    def __init__(self, filters=(16, 32), kernel_size: int = 3, *, activation="relu",
                 output_activation="sigmoid", weight_decay: float = 0.0,
                 name: str | None = None):
        super().__init__(output_activation=output_activation, weight_decay=weight_decay,
                         name=name)
        self._check(filters=filters, kernel_size=kernel_size, weight_decay=weight_decay)
        self.filters, self.kernel_size = [int(f) for f in filters], int(kernel_size)
        self.activation = activations.serialize(activations.get(activation))
        self.encoder = nn.ModuleList([
            Conv2D(f, self.kernel_size, strides=2, padding="same", activation=self.activation)
            for f in self.filters])

    def build_layers(self, input_shape: tuple) -> None:
        factor = 2 ** len(self.filters)
        if len(input_shape) != 3 or input_shape[1] % factor or input_shape[2] % factor:
            raise ValueError(message(
                f"ConvAutoencoder '{self.name}' takes images (C, H, W) with H and W divisible "
                f"by {factor} (2 ** len(filters)).", received=f"input shape {input_shape}",
                fix="Pad or crop the images, or use fewer `filters`."))
        ups = [*reversed(self.filters[:-1]), input_shape[0]]
        acts = [self.activation] * (len(ups) - 1) + [None]
        self.decoder = nn.ModuleList([
            Conv2DTranspose(f, self.kernel_size, strides=2, padding="same", activation=a)
            for f, a in zip(ups, acts)])
        shape = tuple(input_shape)
        for layer in [*self.encoder, *self.decoder]:
            shape = layer.build_shapes(shape)

    def _weights(self) -> list[Tensor]:
        return [layer.weight for layer in [*self.encoder, *self.decoder]]

    def _encode(self, x: Tensor) -> Tensor:
        for layer in self.encoder:
            x = layer(x)
        return x

    def _decode_logits(self, z: Tensor) -> Tensor:
        for layer in self.decoder:
            z = layer(z)
        return z

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "activation": self.activation, **super().get_config()}


class StackedAutoencoder(_AutoencoderModel):
    """Deep stacked autoencoder ``sizes[0]-...-sizes[-1]-...-sizes[0]`` (Bengio et al. 2007).

    The encoder is ``Dense(sizes[1]), ..., Dense(sizes[-1])``, the decoder mirrors it.
    :meth:`pretrain` is deck 001's greedy layer-wise training: for each layer ``k``, a
    one-hidden-layer autoencoder ``A_k`` is trained by back-propagation on the previous
    layer's codes ``h^(k)`` to minimize ``||A_k(h^(k)) - h^(k)||^2 + lambda sum W^2``
    (plus a sparsity term with a ``SparseAutoencoder`` builder); its encoder and decoder
    weights become layer ``k`` of the stack and its mirror. Then ``compile``/``fit``
    fine-tune the whole stack end to end.

    Args:
        sizes: layer sizes, input first (``[784, 1000, 500, 250, 30]``).
        activation: hidden activation. Defaults to ``"sigmoid"``.
        code_activation: activation of the code layer. Defaults to ``activation``
            (Hinton & Salakhutdinov use ``"linear"``).
        output_activation: of the reconstruction. Defaults to ``"sigmoid"``.
        weight_decay: ``lambda`` of ``lambda sum W^2``, in pretraining and fine-tuning.
            Defaults to 0.
        name: model name.

    Attributes:
        encoder_layers, decoder_layers: the ``Dense`` layers (``nn.ModuleList``), in the
            order data flows through them.

    Example:
        >>> import numpy as np
        >>> x = np.random.rand(32, 12).astype(np.float32)
        >>> sae = StackedAutoencoder([12, 8, 3]).pretrain(x, epochs=1)
        >>> sae.compile("adam"); _ = sae.fit(x, epochs=1, verbose=0)
        >>> sae.encode(x).shape, sae.reconstruct(x).shape
        ((32, 3), (32, 12))
    """

    _constraints = {"sizes": Sizes("layer sizes")}

    def __init__(self, sizes, *, activation="sigmoid", code_activation=None,
                 output_activation="sigmoid", weight_decay: float = 0.0,
                 name: str | None = None):
        super().__init__(output_activation=output_activation, weight_decay=weight_decay,
                         name=name)
        self._check(sizes=sizes, weight_decay=weight_decay)
        self.sizes = [int(s) for s in sizes]
        self.activation = activations.serialize(activations.get(activation))
        self.code_activation = activations.serialize(activations.get(
            activation if code_activation is None else code_activation))
        depth = len(self.sizes) - 1
        self.encoder_layers = nn.ModuleList([
            Dense(s, activation=self.code_activation if i == depth - 1 else self.activation)
            for i, s in enumerate(self.sizes[1:])])
        self.decoder_layers = nn.ModuleList([
            Dense(s, activation=None if i == 0 else self.activation)
            for i, s in reversed(list(enumerate(self.sizes[:-1])))])

    def build_layers(self, input_shape: tuple) -> None:
        if math.prod(input_shape) != self.sizes[0]:
            raise ValueError(message(
                f"StackedAutoencoder '{self.name}' has sizes[0] = {self.sizes[0]} inputs.",
                received=f"input shape {input_shape} ({math.prod(input_shape)} values)"))
        shape = (self.sizes[0],)
        for layer in [*self.encoder_layers, *self.decoder_layers]:
            shape = layer.build_shapes(shape)

    def _weights(self) -> list[Tensor]:
        return [layer.weight for layer in [*self.encoder_layers, *self.decoder_layers]]

    def _encode(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        for layer in self.encoder_layers:
            x = layer(x)
        return x

    def _decode_logits(self, z: Tensor) -> Tensor:
        for layer in self.decoder_layers:
            z = layer(z)
        return z.reshape(len(z), *self.input_shape)

    def pretrain(self, x, epochs: int = 1, *, batch_size: int = 32, optimizer="adam",
                 loss=None, builder=None, device="auto", verbose: int = 0):
        """Greedy layer-wise pretraining (deck 001), one autoencoder per layer.

        Args:
            x: data ``(N, sizes[0])`` (or any per-sample shape with ``sizes[0]`` values).
            epochs: epochs per layer. Defaults to 1.
            batch_size: samples per step. Defaults to 32.
            optimizer: an optimizer name, or a function returning a fresh optimizer (each
                layer needs its own). Defaults to ``"adam"``.
            loss: the per-layer reconstruction loss. Defaults to the autoencoder's.
            builder: ``builder(units, activation=..., output_activation=...)`` returning an
                :class:`Autoencoder` (e.g. a ``SparseAutoencoder`` or
                ``DenoisingAutoencoder``). Defaults to a plain ``Autoencoder`` with this
                model's ``weight_decay``.
            device: where to train. Defaults to ``"auto"``.
            verbose: passed to each ``fit``. Defaults to 0.

        Returns:
            ``self``.
        """
        h = to_tensor(x, "x", "StackedAutoencoder.pretrain").float().flatten(1)
        if not self.built:
            self.build(tuple(to_tensor(x, "x", "StackedAutoencoder.pretrain").shape[1:]))
        depth = len(self.sizes) - 1
        for k in range(depth):
            kwargs = {"activation": self.code_activation if k == depth - 1 else self.activation,
                      "output_activation": self.output_activation if k == 0 else self.activation}
            ae = builder(self.sizes[k + 1], **kwargs) if builder is not None else Autoencoder(
                self.sizes[k + 1], weight_decay=self.weight_decay, **kwargs)
            if not isinstance(ae, Autoencoder):
                raise TypeError(message("Argument `builder` of StackedAutoencoder.pretrain must "
                                        "return an Autoencoder (or a subclass).",
                                        received=f"an object of type {type(ae).__name__}"))
            ae.compile(optimizer() if callable(optimizer) else optimizer, loss, device=device)
            ae.fit(h, epochs=epochs, batch_size=batch_size, verbose=verbose)
            enc, dec = self.encoder_layers[k], self.decoder_layers[depth - 1 - k]
            with torch.no_grad():
                enc.weight.copy_(ae.weight)
                enc.bias.copy_(ae.bias)
                dec.weight.copy_(ae.decoder_matrix)
                dec.bias.copy_(ae.decoder_bias)
            h = ae.encode(h)
        return self

    def get_config(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "activation": self.activation,
                "code_activation": self.code_activation, **super().get_config()}
