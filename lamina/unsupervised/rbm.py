"""Restricted Boltzmann Machines trained by Contrastive Divergence (deck 001).

``RBM`` has binary hidden units and binary or Gaussian visible units; ``ClassificationRBM``
appends one-hot label units to the visible layer and classifies by free energy. The
maths lives in :mod:`lamina.functional.energy`; these classes hold the parameters, the
persistent chains, the momentum buffers and the random stream.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from lamina._validation import check_nonnegative_int
from lamina.callbacks.progress import ProgressBar
from lamina.config import resolve_device
from lamina.distributed.contrastive import CDParallel
from lamina.errors import message
from lamina.fast import rbm as fast_rbm
from lamina.functional import energy as E
from lamina.optimizers.sgd import sgd_update
from lamina.unsupervised._ais import ais_log_partition
from lamina.unsupervised._base import (
    Device,
    EstimatorMixin,
    Flag,
    Number,
    Options,
    RandomState,
    Rate,
    as_tensor,
    like_input,
    make_generator,
)

__all__ = ["RBM", "ClassificationRBM"]

_VISIBLE = ("binary", "bernoulli", "gaussian")

#: Rows per chunk when an inference method runs over a whole data set.
_CHUNK = 8192


class RBM(EstimatorMixin, nn.Module):
    """Restricted Boltzmann Machine: ``P(v, h) = exp(-E(v, h)) / Z`` (deck 001).

    ``E(v, h) = -v^T W h - b^T v - a^T h`` with binary hidden units ``h`` and binary visible
    units ``v`` (or Gaussian ones of unit variance, ``E = ||v - b||^2 / 2 - v^T W h - a^T h``:
    standardize such data to zero mean and unit variance first). Training follows deck
    001's Contrastive Divergence, one mini-batch at a time (see :meth:`_cd_step`)::

        grad = <v h^T>_data - <v h^T>_model          (CD-k or persistent PCD-k estimate)
        velocity = momentum * velocity + lr * (grad - weight_decay * W)
        W = W + velocity                             (biases alike, without decay)

    Estimator conventions follow scikit-learn: ``__init__`` only stores its arguments,
    ``fit`` validates them and (re)initializes ``W ~ N(0, 0.01^2)``, ``a = b = 0``;
    ``partial_fit`` continues. The parameters live on ``device`` and every method accepts
    numpy arrays (returning numpy) or tensors (returning tensors).

    Args:
        n_hidden: number of hidden units ``F``. Defaults to 256.
        visible: ``"binary"`` (alias ``"bernoulli"``) or ``"gaussian"``. Defaults to
            ``"binary"``.
        k: Gibbs steps in the negative phase (CD-k). Defaults to 1.
        persistent: keep ``batch_size`` persistent chains (PCD, Tieleman 2008) instead of
            restarting at the data. ``persistent=True, k=1`` is scikit-learn's
            ``BernoulliRBM``. Defaults to False.
        lr: learning rate ``eps``, or a schedule ``epoch -> lr`` (``lm.schedules``).
            Defaults to 0.1.
        momentum: momentum of the updates, in [0, 1). Defaults to 0.
        weight_decay: L2 penalty on ``W`` (not the biases). Defaults to 0.
        batch_size: samples per update. Defaults to 64.
        epochs: passes over the data in ``fit``. Defaults to 10.
        random_state: None, a seed or a ``torch.Generator``: the stream of every random
            draw (initialization, shuffling, sampling), kept as ``random_state_`` so that
            ``partial_fit``, ``gibbs`` and ``sample`` continue it. Defaults to None.
        verbose: 1 shows a progress bar, 2 one line per epoch, with the reconstruction
            error and pseudo-likelihood of up to 1,000 training samples. Defaults to 0.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``... Defaults to "auto".
        fast: let :mod:`lamina.fast` run ``fit`` its way (:mod:`lamina.fast.rbm`): the
            CPU threads picked for the products' size, and :meth:`_cd_step` replaced by a
            fused step with the same draws and values (preallocated buffers, the update
            as one product added in place). False runs this class's textbook step with
            the process's thread setting. Defaults to True.

    Attributes:
        weight: ``W``, shape ``(n_visible, n_hidden)`` (the deck's ``W_ij``).
        visible_bias: ``b``, shape ``(n_visible,)``.
        hidden_bias: ``a``, shape ``(n_hidden,)``.
        components_, intercept_hidden_, intercept_visible_: scikit-learn's names, as numpy
            (``components_`` is ``W^T``, shape ``(n_hidden, n_visible)``).
        n_features_in_: ``n_visible``.
        random_state_: the ``torch.Generator`` in use.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 8, dtype=np.float32)
        >>> rbm = RBM(2, lr=0.5, epochs=50, batch_size=4, random_state=0, device="cpu").fit(x)
        >>> rbm.weight.shape, rbm.transform(x).shape
        (torch.Size([4, 2]), (16, 2))
        >>> bool(rbm.reconstruction_error(x) < 0.1)
        True
    """

    _constraints = {
        "n_hidden": Number("number of hidden units", low=1, integer=True),
        "visible": Options("visible unit type", _VISIBLE),
        "k": Number("number of Gibbs steps", low=1, integer=True),
        "persistent": Flag("persistent-chain flag"),
        "lr": Rate(),
        "momentum": Number("momentum", 0, 1, high_open=True),
        "weight_decay": Number("weight decay"),
        "batch_size": Number("batch size", low=1, integer=True),
        "epochs": Number("number of epochs", low=0, integer=True),
        "random_state": RandomState(),
        "verbose": Number("verbosity", 0, 2, integer=True),
        "device": Device(),
        "fast": Flag("fast-path flag"),
    }

    def __init__(self, n_hidden: int = 256, *, visible: str = "binary", k: int = 1,
                 persistent: bool = False, lr=0.1, momentum: float = 0.0,
                 weight_decay: float = 0.0, batch_size: int = 64, epochs: int = 10,
                 random_state=None, verbose: int = 0, device: str = "auto",
                 fast: bool = True):
        super().__init__()
        self.n_hidden = n_hidden
        self.visible = visible
        self.k = k
        self.persistent = persistent
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.fast = fast
        for name in ("weight", "visible_bias", "hidden_bias"):
            self.register_parameter(name, None)

    # -- properties --------------------------------------------------------------------
    @property
    def units(self) -> str:
        """The visible unit type, normalized: ``"binary"`` or ``"gaussian"``."""
        return "gaussian" if self.visible == "gaussian" else "binary"

    @property
    def components_(self) -> np.ndarray:
        """``W^T`` as numpy, shape ``(n_hidden, n_visible)`` (scikit-learn's name)."""
        self._check_fitted("components_")
        return self.weight.detach().T.cpu().numpy()

    @property
    def intercept_hidden_(self) -> np.ndarray:
        """The hidden bias ``a`` as numpy (scikit-learn's name)."""
        self._check_fitted("intercept_hidden_")
        return self.hidden_bias.detach().cpu().numpy()

    @property
    def intercept_visible_(self) -> np.ndarray:
        """The visible bias ``b`` as numpy (scikit-learn's name)."""
        self._check_fitted("intercept_visible_")
        return self.visible_bias.detach().cpu().numpy()

    @property
    def n_features_in_(self) -> int:
        """The number of visible units."""
        self._check_fitted("n_features_in_")
        return self.weight.shape[0]

    def _params(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.weight, self.visible_bias, self.hidden_bias

    def _generator(self) -> torch.Generator:
        """``random_state_``, moved to the parameters' device if the model was moved."""
        device = self.weight.device if self.weight is not None else resolve_device(self.device)
        self.random_state_ = make_generator(getattr(self, "random_state_", self.random_state),
                                            device)
        return self.random_state_

    # -- training ----------------------------------------------------------------------
    def reset_parameters(self, n_visible: int) -> None:
        """Create ``W ~ N(0, 0.01^2)`` (Hinton's practical guide, as scikit-learn) and zero
        biases for ``n_visible`` visible units; clear the chains and momentum buffers."""
        device = resolve_device(self.device)
        gen = make_generator(getattr(self, "random_state_", self.random_state), device)
        self.random_state_ = gen
        w = torch.randn((n_visible, self.n_hidden), generator=gen, device=device) * 0.01
        self.weight = nn.Parameter(w, requires_grad=False)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, device=device),
                                         requires_grad=False)
        self.hidden_bias = nn.Parameter(torch.zeros(self.n_hidden, device=device),
                                        requires_grad=False)
        self._velocity = [torch.zeros_like(p) for p in self._params()]
        self._chain = None
        self.n_seen_ = 0
        self.n_updates_ = 0
        self.epochs_trained_ = 0
        self.visible_mean_ = torch.zeros(n_visible, device=device)

    def fit(self, x, y=None, epochs: int | None = None):
        """Initialize the parameters and train for ``epochs`` passes over ``x``.

        Args:
            x: training data ``(N, n_visible)``; values in [0, 1] for binary units.
            y: ignored (scikit-learn's signature).
            epochs: passes over ``x``. Defaults to the constructor's ``epochs``.

        Returns:
            ``self``.
        """
        self._validate_params()
        epochs = check_nonnegative_int("epochs", self.epochs if epochs is None else epochs,
                                       f"{type(self).__name__}.fit")
        self.random_state_ = make_generator(self.random_state, resolve_device(self.device))
        v = self._data(x, "fit", fitted=False)
        self.reset_parameters(v.shape[1])
        self._train(v, epochs)
        return self

    def partial_fit(self, x, y=None):
        """One pass over ``x`` in mini-batches, initializing the parameters on first use.

        A call with a single mini-batch (``len(x) <= batch_size``) makes one update, as
        scikit-learn's ``partial_fit`` does.

        Returns:
            ``self``.
        """
        self._validate_params()
        v = self._data(x, "partial_fit", fitted=self.weight is not None)
        if self.weight is None:
            self.reset_parameters(v.shape[1])
        self._train(v, 1)
        return self

    def _train(self, v: Tensor, epochs: int) -> None:
        if not self.fast:
            return self._epochs(v, epochs)
        with fast_rbm.plan_for(self, v):
            self._epochs(v, epochs)

    def _epochs(self, v: Tensor, epochs: int) -> None:
        gen = self._generator()
        # lamina.distributed: data-parallel CD when launched as several processes
        self._parallel = CDParallel.start(self, gen)
        n = v.shape[0]
        total = self.n_seen_ + n
        self.visible_mean_ = self.visible_mean_ * (self.n_seen_ / total) + v.mean(0) * (n / total)
        self.n_seen_ = total
        steps = math.ceil(n / self.batch_size)
        prints = self.verbose and (self._parallel is None or self._parallel.prints())
        bar = ProgressBar(self.verbose) if prints else None
        if bar is not None:
            bar.set_params({"epochs": epochs, "steps": steps, "verbose": self.verbose})
        start_epoch = self.epochs_trained_
        buffer = self._batch_buffer(v)
        for epoch in range(epochs):
            lr = self.lr(start_epoch + epoch) if callable(self.lr) else self.lr
            if bar is not None:
                bar.on_epoch_begin(epoch)
            order = torch.randperm(n, generator=gen, device=v.device) if n > 1 else None
            if order is not None and self._parallel is not None:
                order = self._parallel.order(order)
            for step in range(steps):
                self._cd_step(self._batch(v, order, step, buffer), lr)
                if bar is not None:
                    bar.on_train_batch_end(step)
            if bar is not None:
                bar.on_epoch_end(epoch, self._monitor(v))
        self.epochs_trained_ = start_epoch + epochs

    def _batch_buffer(self, v: Tensor) -> Tensor:
        """Where :meth:`_batch` gathers each full mini-batch: one buffer for the whole fit."""
        return v.new_empty((min(self.batch_size, len(v)), v.shape[1]))

    def _batch(self, v: Tensor, order: Tensor | None, step: int, buffer: Tensor) -> Tensor:
        """Rows ``order[step * B:(step + 1) * B]`` of ``v``, gathered into ``buffer`` (reused:
        no copy of the whole data set per epoch, no fresh allocation per step)."""
        rows = slice(step * self.batch_size, (step + 1) * self.batch_size)
        if order is None:
            return v[rows]
        index = order[rows]
        if getattr(self, "_parallel", None) is not None:  # this rank's part of the batch
            index = self._parallel.part(index)
        if len(index) != len(buffer):                  # the last, partial batch
            return v.index_select(0, index)
        return torch.index_select(v, 0, index, out=buffer)

    @torch.no_grad()
    def _cd_step(self, v: Tensor, lr: float) -> None:
        """One update on the mini-batch ``v`` (rows are samples): deck 001's six steps.

        1-4. :func:`lamina.functional.energy.contrastive_divergence` runs the positive
             phase on ``v`` and ``k`` Gibbs steps of the negative phase, from the data (CD)
             or from the persistent chains (PCD), and returns ``G+ - G-`` (batch means).
        5.   ``W += lr * (G+ - G-)`` (through momentum and weight decay, if set).
        6.   ``b += lr * mean(v - v')``, ``a += lr * mean(h - h')`` alike.
        """
        if self.persistent and self._chain is None:
            self._chain = torch.zeros((self.batch_size, self.n_hidden), device=v.device)
        grad = E.contrastive_divergence(
            v, *self._params(), k=self.k, chain=self._chain if self.persistent else None,
            visible=self.units, generator=self.random_state_)
        if self.persistent:
            self._chain = grad.chain
        if getattr(self, "_parallel", None) is not None:  # averaged over the ranks
            self._parallel.average([grad.weight, grad.visible_bias, grad.hidden_bias])
        # Gradient ascent on the log-likelihood is the deck's SGD rule at rate -lr on
        # G = G+ - G- (W <- W + lr G + mu dW), with W's decay -lr * (-weight_decay W); the
        # biases are not decayed.
        weight, *biases = self._params()
        grads = [grad.weight, grad.visible_bias, grad.hidden_bias]
        deltas = self._velocity if self.momentum else [None] * 3
        for params, g, steps, decay in (([weight], grads[:1], deltas[:1], self.weight_decay),
                                        (biases, grads[1:], deltas[1:], 0.0)):
            sgd_update(params, g, None if steps[0] is None else steps, lr=-lr,
                       momentum=self.momentum, nesterov=False, weight_decay=-decay)
        self.n_updates_ += 1

    def _monitor(self, v: Tensor) -> dict[str, float]:
        subset = v[:1000]
        logs = {"reconstruction_error": float(self._reconstruction_error(subset))}
        if self.units == "binary":
            logs["pseudo_likelihood"] = float(E.pseudo_likelihood(
                subset, *self._params(), generator=self.random_state_).mean())
        return logs

    # -- data ----------------------------------------------------------------------------
    def _data(self, x, owner: str, *, fitted: bool = True, width: int | None = None) -> Tensor:
        name = f"{type(self).__name__}.{owner}"
        if fitted:
            self._check_fitted(owner)
        device = self.weight.device if self.weight is not None else resolve_device(self.device)
        v = as_tensor(x, "x", name, device)
        if not len(v):
            raise ValueError(message(f"Argument `x` of {name} has no samples.",
                                     received=f"x of shape {tuple(v.shape)}"))
        expected = width if width is not None else (
            self.weight.shape[0] if self.weight is not None and fitted else None)
        if expected is not None and v.shape[1] != expected:
            raise ValueError(message(
                f"Argument `x` of {name} must have {expected} features (visible units).",
                received=f"x of shape {tuple(v.shape)}"))
        low, high = torch.aminmax(v) if self.units == "binary" and v.numel() else (0, 1)
        if low < 0 or high > 1:
            raise ValueError(message(
                f"Argument `x` of {name} must hold values in [0, 1] for binary visible "
                f"units.", received=f"values from {float(low):g} to {float(high):g}",
                fix="Scale the data (e.g. `x / 255`), or use visible='gaussian' for "
                    "standardized real-valued data."))
        return v

    def _map(self, fn, v: Tensor) -> Tensor:
        """``fn`` over ``v`` in chunks of rows, so a large data set fits in memory."""
        if v.shape[0] <= _CHUNK:
            return fn(v)
        return torch.cat([fn(chunk) for chunk in v.split(_CHUNK)])

    # -- the deck's equations, one small method each (maths in lamina.functional.energy) --
    def _mean_hiddens(self, v: Tensor) -> Tensor:
        """``P(h_j = 1 | v) = sigmoid(a_j + v^T W_:j)``."""
        return E.hidden_probabilities(v, self.weight, self.hidden_bias)

    def _sample_hiddens(self, v: Tensor) -> Tensor:
        """``h ~ P(h | v)``, drawn from ``random_state_``."""
        return E.bernoulli(self._mean_hiddens(v), self.random_state_)

    def _sample_visibles(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """``(E[v | h], v ~ P(v | h))``: Bernoulli, or ``N(b + W h, I)`` for Gaussian units."""
        return E.sample_visible(h, self.weight, self.visible_bias, self.units,
                                self.random_state_)

    def _free_energy(self, v: Tensor) -> Tensor:
        """``F(v) = -b^T v - sum_j softplus(a_j + v^T W_:j)`` (``||v - b||^2 / 2 - ...``)."""
        return E.free_energy(v, *self._params(), self.units)

    # -- inference ------------------------------------------------------------------------
    def forward(self, v: Tensor) -> Tensor:
        """``P(h = 1 | v)`` for a tensor (what :meth:`transform` returns)."""
        return self._mean_hiddens(v)

    @torch.no_grad()
    def transform(self, x):
        """The hidden units' activation probabilities ``P(h = 1 | v = x)``, ``(N, n_hidden)``."""
        return like_input(self._map(self.forward, self._data(x, "transform")), x)

    @torch.no_grad()
    def free_energy(self, x):
        """``F(v) = -log sum_h exp(-E(v, h))`` per sample, ``(N,)``."""
        return like_input(self._map(self._free_energy, self._data(x, "free_energy")), x)

    def _reconstruct(self, v: Tensor) -> Tensor:
        return E.visible_mean(self._mean_hiddens(v), self.weight, self.visible_bias, self.units)

    @torch.no_grad()
    def reconstruct(self, x):
        """The mean-field reconstruction ``E[v | h = P(h | x)]`` (deterministic), like ``x``."""
        return like_input(self._map(self._reconstruct, self._data(x, "reconstruct")), x)

    def _reconstruction_error(self, v: Tensor) -> Tensor:
        return (self._map(self._reconstruct, v) - v).square().mean()

    @torch.no_grad()
    def reconstruction_error(self, x) -> float:
        """Mean squared difference between ``x`` and :meth:`reconstruct` (per unit)."""
        return float(self._reconstruction_error(self._data(x, "reconstruction_error")))

    @torch.no_grad()
    def score_samples(self, x):
        """Pseudo-likelihood of each sample, computed as scikit-learn's ``BernoulliRBM``.

        ``PL(v) = D log sigmoid(F(v~) - F(v))`` where ``v~`` is ``v`` with one randomly
        chosen unit flipped (:func:`lamina.functional.energy.pseudo_likelihood`).

        Notes:
            It is stochastic: each call draws new units to flip from ``random_state_``
            (scikit-learn re-seeds from ``random_state`` instead, so an int seed repeats
            its flips). Re-scoring the same weights varies by a few units on MNIST-sized
            data; compare means over many samples.

        Raises:
            ValueError: for Gaussian visible units (use :meth:`log_likelihood`).
        """
        if self.units != "binary":
            raise ValueError(message("score_samples (pseudo-likelihood) needs binary visible "
                                     "units.", received=f"visible={self.visible!r}",
                                     fix="Use `rbm.log_likelihood(x)` instead."))
        v = self._data(x, "score_samples")
        gen = self._generator()
        return like_input(self._map(lambda c: E.pseudo_likelihood(
            c, *self._params(), generator=gen), v), x)

    # -- sampling --------------------------------------------------------------------------
    def _gibbs(self, v: Tensor, steps: int, clamp: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._generator()
        mean = v
        for _ in range(steps):
            mean, sample = self._sample_visibles(self._sample_hiddens(v))
            v = sample if clamp is None else torch.where(clamp, v, sample)
        return mean, v

    @torch.no_grad()
    def gibbs(self, x, steps: int = 1, *, mean: bool = False):
        """Run ``steps`` block-Gibbs steps ``v -> h -> v'`` from ``x``; return the last ``v'``.

        Args:
            x: starting visible states ``(N, n_visible)``.
            steps: Gibbs steps. Defaults to 1.
            mean: return ``E[v' | h]`` of the last step instead of the sample.
        """
        steps = _check_steps(steps, "gibbs")
        last_mean, v = self._gibbs(self._data(x, "gibbs"), steps)
        return like_input(last_mean if mean else v, x)

    @torch.no_grad()
    def sample(self, n: int, steps: int = 1000, *, mean: bool = False) -> np.ndarray:
        """``n`` samples from the model: Gibbs chains of ``steps`` steps from random states.

        The chains start from ``Bernoulli(1/2)`` (binary) or ``N(b, I)`` (Gaussian) visible
        states. Returns a numpy array ``(n, n_visible)``; ``mean=True`` returns the last
        step's ``E[v | h]``.
        """
        self._check_fitted("sample")
        n, steps = _check_steps(n, "sample", "n"), _check_steps(steps, "sample")
        gen = self._generator()
        shape = (n, self.weight.shape[0])
        if self.units == "gaussian":
            v = self.visible_bias + torch.randn(shape, generator=gen, device=self.weight.device)
        else:
            v = E.bernoulli(torch.full(shape, 0.5, device=self.weight.device), gen)
        last_mean, v = self._gibbs(v, steps)
        return like_input(last_mean if mean else v, None)

    @torch.no_grad()
    def complete(self, x, known_mask, steps: int = 100, *, mean: bool = True):
        """Deck 001's "input data completion": clamp the known units, Gibbs-sample the rest.

        The unknown units start from ``Bernoulli(1/2)`` (or ``N(b, I)``); each step samples
        ``h ~ P(h | v)`` then ``v' ~ P(v | h)`` and resets the known units to ``x``.

        Args:
            x: visible states ``(N, n_visible)``; values of unknown units are ignored.
            known_mask: bool ``(N, n_visible)`` or ``(n_visible,)``: True where known.
            steps: Gibbs steps. Defaults to 100.
            mean: fill the unknown units with the last step's ``E[v | h]`` (else a sample).
                Defaults to True.

        Returns:
            ``x`` with its unknown units filled in, like ``x``.
        """
        steps = _check_steps(steps, "complete")
        v = self._data(x, "complete")
        mask = _known_mask(known_mask, v, f"{type(self).__name__}.complete")
        gen = self._generator()
        if self.units == "gaussian":
            start = self.visible_bias + torch.randn(v.shape, generator=gen, device=v.device)
        else:
            start = E.bernoulli(torch.full_like(v, 0.5), gen)
        v = torch.where(mask, v, start)
        last_mean, v = self._gibbs(v, steps, clamp=mask)
        return like_input(torch.where(mask, v, last_mean) if mean else v, x)

    # -- likelihood -------------------------------------------------------------------------
    @torch.no_grad()
    def log_partition(self, method: str = "ais", *, n_chains: int = 100, n_betas: int = 1000,
                      base_rate=None) -> float:
        """``log Z``, exactly (``method="exact"``, small models) or by AIS.

        AIS is Salakhutdinov & Murray's (2008) annealed importance sampling from a base
        model with independent visible units (``base_rate``: their ``P(v_i = 1)``,
        by default the mean of the data seen in ``fit``) to this RBM.

        Args:
            method: ``"ais"`` or ``"exact"`` (enumerates ``2^min(D, F)`` states). Defaults
                to ``"ais"``.
            n_chains: AIS runs. Defaults to 100.
            n_betas: AIS inverse temperatures. Defaults to 1000.
            base_rate: ``(n_visible,)`` probabilities for the base model. Defaults to the
                training data's mean.
        """
        self._check_fitted("log_partition")
        if method == "exact":
            return float(E.log_partition_exact(*self._params(), visible=self.units))
        if method != "ais":
            raise ValueError(message("Argument `method` of log_partition must be 'ais' or "
                                     "'exact'.", received=f"method={method!r}"))
        n_chains = _check_steps(n_chains, "log_partition", "n_chains")
        n_betas = _check_steps(n_betas, "log_partition", "n_betas")
        rate = self.visible_mean_ if base_rate is None else torch.as_tensor(
            np.asarray(base_rate, dtype=np.float32) if not isinstance(base_rate, Tensor)
            else base_rate)
        return ais_log_partition(*self._params(), visible=self.units, n_chains=n_chains,
                                 n_betas=max(n_betas, 2), base_rate=rate,
                                 generator=self._generator()).log_z

    @torch.no_grad()
    def log_likelihood(self, x, *, log_z: float | None = None, **ais_kwargs) -> float:
        """Mean log-likelihood ``mean(-F(x)) - log Z`` in nats per sample.

        Args:
            x: data ``(N, n_visible)``.
            log_z: a ``log Z`` already computed (else :meth:`log_partition` runs, with
                ``ais_kwargs``).
        """
        v = self._data(x, "log_likelihood")
        if log_z is None:
            log_z = self.log_partition(**ais_kwargs)
        return float(-self._map(self._free_energy, v).double().mean()) - log_z

    def extra_repr(self) -> str:
        defaults = type(self)().get_params()
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults[k]
                 and v != defaults[k]]
        return ", ".join(shown)


def _check_steps(value, owner: str, name: str = "steps") -> int:
    if not Number(name, low=1, integer=True).accepts(value):
        raise ValueError(message(f"Argument `{name}` of {owner} must be an integer >= 1.",
                                 received=f"{name}={value!r}"))
    return int(value)


def _known_mask(known_mask, v: Tensor, owner: str) -> Tensor:
    """``known_mask`` as a bool tensor shaped like ``v``, from ``(n_visible,)`` or ``(N,
    n_visible)`` booleans (or 0/1); anything else raises lamina's message."""
    if isinstance(known_mask, Tensor):
        t, wrong_dtype = known_mask, known_mask.is_complex()
    else:
        t = np.asarray(known_mask)
        wrong_dtype = t.dtype.kind not in "biuf"
    if wrong_dtype:
        raise TypeError(message(f"Argument `known_mask` of {owner} must hold booleans.",
                                received=f"known_mask of dtype {t.dtype}"))
    shape, (n, d) = tuple(t.shape), tuple(v.shape)
    if shape not in ((d,), (n, d)):
        raise ValueError(message(
            f"Argument `known_mask` of {owner} must have shape (n_visible,) = ({d},) or "
            f"(N, n_visible) = ({n}, {d}): True where a unit is known.",
            received=f"known_mask of shape {shape}"))
    t = torch.as_tensor(t).to(v.device)
    if t.dtype != torch.bool:
        if not bool(((t == 0) | (t == 1)).all()):
            raise ValueError(message(
                f"Argument `known_mask` of {owner} must hold booleans (or 0 and 1).",
                received=f"values {t.unique()[:5].tolist()}",
                fix="Threshold it first, e.g. `known_mask > 0.5`."))
        t = t.bool()
    return t.expand_as(v)


def _class_labels(y) -> np.ndarray:
    """``y`` as a 1-D numpy array of discrete labels (ints, whole floats, bools, strings);
    continuous, NaN, complex or one-hot targets raise lamina's message."""
    owner = "ClassificationRBM.fit"
    y = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y)
    if y.dtype.kind not in "biufUS":
        raise TypeError(message(f"{owner} takes class labels (integers, booleans or strings).",
                                received=f"y of dtype {y.dtype}"))
    if y.ndim != 1:
        raise ValueError(message(f"{owner} takes `y` as a 1-D array of class labels, one per "
                                 f"sample.", received=f"y of shape {y.shape}",
                                 fix="For one-hot targets pass `y.argmax(1)`."))
    if y.dtype.kind == "f":
        fractional = ~np.isfinite(y) | (y != np.trunc(np.nan_to_num(y)))
        if fractional.any():
            raise ValueError(message(
                f"{owner} takes class labels: each distinct value of `y` becomes a class, so "
                f"continuous targets would make one class per value.",
                received=f"y with {int(fractional.sum())} non-integer values, such as "
                         f"{y[fractional][0]:g}",
                fix="Bin continuous targets first (`np.digitize(y, bins)`), or round labels "
                    "that are whole numbers stored as floats."))
    return y


class ClassificationRBM(RBM):
    """An RBM over ``[x, one_hot(y)]`` that classifies by free energy (deck 001).

    Deck 001: "classification if trained with inputs = data + label". The visible layer
    holds the data units and one binary unit per class; training is the RBM's (CD-k or
    PCD-k) on the joint vectors. A new ``x`` gets the label whose completed vector has the
    lowest free energy, ``argmin_c F([x, e_c])``, and ``P(y = c | x) = softmax_c(-F([x, e_c]))``
    exactly (the hidden units summed out, as Larochelle & Bengio 2008).

    Takes the same arguments as :class:`RBM` (binary visible units only). ``weight`` has
    ``n_features + n_classes`` rows; the other RBM methods act on joint vectors.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 8, dtype=np.float32)
        >>> y = np.array([3, 7] * 8)
        >>> clf = ClassificationRBM(4, lr=0.5, epochs=30, batch_size=4, random_state=0,
        ...                         device="cpu").fit(x, y)
        >>> clf.predict(x[:2]).tolist(), float(clf.score(x, y))
        ([3, 7], 1.0)
    """

    def fit(self, x, y=None, epochs: int | None = None):
        """Learn ``classes_`` from ``y`` and train on ``[x, one_hot(y)]``; returns ``self``."""
        if y is None:
            raise ValueError(message("ClassificationRBM.fit needs labels `y`.",
                                     fix="Call `fit(x, y)`."))
        if self.visible != "binary" and self.visible != "bernoulli":
            raise ValueError(message("ClassificationRBM needs binary visible units.",
                                     received=f"visible={self.visible!r}"))
        self.classes_, codes = np.unique(_class_labels(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(message("ClassificationRBM.fit needs at least 2 classes.",
                                     received=f"classes {self.classes_.tolist()}"))
        v = as_tensor(x, "x", "ClassificationRBM.fit", torch.device("cpu"))
        if len(codes) != len(v):
            raise ValueError(message("`x` and `y` of ClassificationRBM.fit must have as many "
                                     "rows.", received=f"{len(v)} and {len(codes)}"))
        labels = torch.nn.functional.one_hot(torch.as_tensor(codes), len(self.classes_))
        return super().fit(torch.cat([v, labels.float()], 1), epochs=epochs)

    def _label_free_energies(self, x) -> Tensor:
        self._check_fitted("predict")
        c = len(self.classes_)
        d = self.weight.shape[0] - c
        v = self._data(x, "predict", width=d)
        w_x, w_y = self.weight[:d], self.weight[d:]
        b_x, b_y = self.visible_bias[:d], self.visible_bias[d:]

        def energies(chunk: Tensor) -> Tensor:
            pre = torch.addmm(self.hidden_bias, chunk, w_x)               # (N, F)
            hidden = torch.nn.functional.softplus(pre[:, None, :] + w_y[None]).sum(2)  # (N, C)
            return -(chunk @ b_x)[:, None] - b_y[None] - hidden
        return self._map(energies, v)

    @torch.no_grad()
    def predict_proba(self, x):
        """``P(y = c | x) = softmax_c(-F([x, e_c]))``, shape ``(N, n_classes)``."""
        return like_input(torch.softmax(-self._label_free_energies(x), 1), x)

    @torch.no_grad()
    def predict(self, x) -> np.ndarray:
        """The label of lowest free energy ``argmin_c F([x, e_c])``, as numpy."""
        index = self._label_free_energies(x).argmin(1).cpu().numpy()
        return self.classes_[index]

    def score(self, x, y) -> float:
        """Accuracy of :meth:`predict` on ``(x, y)``."""
        y = np.asarray(y.cpu() if isinstance(y, Tensor) else y)
        return float((self.predict(x) == y).mean())
