"""The maths of the Restricted Boltzmann Machine (deck 001), as pure tensor functions.

Notation of deck 001: visible units ``v`` of shape ``(N, D)``, hidden units ``h`` of shape
``(N, F)``, the weight ``W`` of shape ``(D, F)`` (``W_ij`` joins ``v_i`` and ``h_j``), the
visible bias ``b`` of shape ``(D,)`` and the hidden bias ``a`` of shape ``(F,)``::

    binary visible units:    E(v, h) = -v^T W h - b^T v - a^T h
    Gaussian visible units:  E(v, h) = ||v - b||^2 / 2 - v^T W h - a^T h   (unit variance)
    P(v, h) = exp(-E(v, h)) / Z,     F(v) = -log sum_h exp(-E(v, h)),     P(v) = exp(-F(v)) / Z

(The deck's conditionals name the biases the other way round, ``P(v_i = 1 | h) =
sigma(a_i + W_i: h)``; these functions follow its energy: ``b`` visible, ``a`` hidden.)

Every function works on a mini-batch at once. Random draws take an optional
``torch.Generator`` (on the tensors' device), so a caller can replay them exactly.

Example:
    >>> import torch
    >>> from lamina.functional import energy as E
    >>> W, b, a = torch.zeros(3, 2), torch.zeros(3), torch.zeros(2)
    >>> E.free_energy(torch.ones(1, 3), W, b, a)  # -2 log 2: both hidden states allowed
    tensor([-1.3863])
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from lamina.errors import message

__all__ = [
    "VISIBLE_UNITS",
    "energy",
    "free_energy",
    "hidden_probabilities",
    "visible_mean",
    "bernoulli",
    "sample_hidden",
    "sample_visible",
    "gibbs_step",
    "CDGradient",
    "contrastive_divergence",
    "pseudo_likelihood",
    "log_partition_exact",
]

#: The kinds of visible units: binary (Bernoulli) or Gaussian of unit variance.
VISIBLE_UNITS = ("binary", "gaussian")

#: Enumeration limit of :func:`log_partition_exact` (2^22 states, a few seconds on a CPU).
MAX_ENUMERATED_UNITS = 22


def _check_visible(visible: str) -> str:
    if visible not in VISIBLE_UNITS:
        raise ValueError(message("Argument `visible` must be 'binary' or 'gaussian'.",
                                 received=f"visible={visible!r}"))
    return visible


def energy(v: Tensor, h: Tensor, weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
           visible: str = "binary") -> Tensor:
    """The energy of each configuration: ``E(v, h) = -v^T W h - b^T v - a^T h``.

    For Gaussian visible units the visible term is ``||v - b||^2 / 2`` instead of ``-b^T v``.

    Args:
        v: visible states ``(N, D)``.
        h: hidden states ``(N, F)``.
        weight: ``W`` of shape ``(D, F)``.
        visible_bias: ``b`` of shape ``(D,)``.
        hidden_bias: ``a`` of shape ``(F,)``.
        visible: ``"binary"`` or ``"gaussian"``. Defaults to ``"binary"``.

    Returns:
        The energies, shape ``(N,)``.

    Example:
        >>> W = torch.tensor([[1.0]]); b = torch.tensor([0.5]); a = torch.tensor([-1.0])
        >>> energy(torch.ones(1, 1), torch.ones(1, 1), W, b, a)  # -1 - 0.5 + 1
        tensor([-0.5000])
    """
    interaction = ((v @ weight) * h).sum(1)
    if _check_visible(visible) == "gaussian":
        return 0.5 * (v - visible_bias).square().sum(1) - interaction - h @ hidden_bias
    return -interaction - v @ visible_bias - h @ hidden_bias


def free_energy(v: Tensor, weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                visible: str = "binary") -> Tensor:
    """``F(v) = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(a_j + v^T W_:j)``.

    The sum over the ``2^F`` hidden states factorizes over the hidden units. For Gaussian
    visible units ``-b^T v`` becomes ``||v - b||^2 / 2``.

    Args:
        v: visible states ``(N, D)``.
        weight, visible_bias, hidden_bias: ``W (D, F)``, ``b (D,)``, ``a (F,)``.
        visible: ``"binary"`` or ``"gaussian"``. Defaults to ``"binary"``.

    Returns:
        The free energies, shape ``(N,)``.

    Example:
        >>> W = torch.zeros(2, 1); b = torch.tensor([1.0, 0.0]); a = torch.zeros(1)
        >>> free_energy(torch.tensor([[1.0, 1.0]]), W, b, a)  # -1 - log 2
        tensor([-1.6931])
    """
    hidden_term = F.softplus(torch.addmm(hidden_bias, v, weight)).sum(1)
    if _check_visible(visible) == "gaussian":
        return 0.5 * (v - visible_bias).square().sum(1) - hidden_term
    return -(v @ visible_bias) - hidden_term


def hidden_probabilities(v: Tensor, weight: Tensor, hidden_bias: Tensor) -> Tensor:
    """``P(h_j = 1 | v) = sigmoid(a_j + v^T W_:j)``, for every sample and hidden unit.

    Example:
        >>> hidden_probabilities(torch.ones(1, 2), torch.ones(2, 1), torch.tensor([-2.0]))
        tensor([[0.5000]])
    """
    return torch.sigmoid(torch.addmm(hidden_bias, v, weight))


def visible_mean(h: Tensor, weight: Tensor, visible_bias: Tensor,
                 visible: str = "binary") -> Tensor:
    """``E[v | h]``: ``P(v_i = 1 | h) = sigmoid(b_i + W_i: h)``, or ``b + W h`` if Gaussian.

    Example:
        >>> visible_mean(torch.ones(1, 1), torch.tensor([[2.0]]), torch.tensor([-2.0]))
        tensor([[0.5000]])
    """
    pre = torch.addmm(visible_bias, h, weight.T)
    return pre if _check_visible(visible) == "gaussian" else torch.sigmoid(pre)


def bernoulli(p: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Binary samples with ``P(x = 1) = p``, as floats: ``uniform < p``.

    Example:
        >>> bernoulli(torch.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return torch.lt(u, p, out=u)                        # 0./1. written over u: one pass


def sample_hidden(v: Tensor, weight: Tensor, hidden_bias: Tensor,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(P(h = 1 | v), h)`` with ``h`` drawn from it.

    Example:
        >>> p, h = sample_hidden(torch.ones(4, 2), torch.zeros(2, 3), torch.full((3,), 50.0))
        >>> h
        tensor([[1., 1., 1.],
                [1., 1., 1.],
                [1., 1., 1.],
                [1., 1., 1.]])
    """
    p = hidden_probabilities(v, weight, hidden_bias)
    return p, bernoulli(p, generator)


def sample_visible(h: Tensor, weight: Tensor, visible_bias: Tensor, visible: str = "binary",
                   generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(E[v | h], v)`` with ``v`` drawn from ``P(v | h)`` (Bernoulli, or ``N(b + W h, I)``).

    Example:
        >>> mean, v = sample_visible(torch.zeros(1, 2), torch.zeros(3, 2), torch.full((3,), -50.0))
        >>> v
        tensor([[0., 0., 0.]])
    """
    mean = visible_mean(h, weight, visible_bias, visible)
    if visible == "gaussian":
        noise = torch.randn(mean.shape, generator=generator, device=mean.device,
                            dtype=mean.dtype)
        return mean, mean + noise
    return mean, bernoulli(mean, generator)


def gibbs_step(v: Tensor, weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
               visible: str = "binary", generator: torch.Generator | None = None
               ) -> tuple[Tensor, Tensor]:
    """One step of block Gibbs sampling, ``v -> h ~ P(h | v) -> v' ~ P(v | h)``.

    Returns:
        ``(E[v' | h], v')``.

    Example:
        >>> W, b, a = torch.zeros(3, 2), torch.full((3,), 50.0), torch.zeros(2)
        >>> gibbs_step(torch.zeros(1, 3), W, b, a)[1]
        tensor([[1., 1., 1.]])
    """
    _, h = sample_hidden(v, weight, hidden_bias, generator)
    return sample_visible(h, weight, visible_bias, visible, generator)


class CDGradient(NamedTuple):
    """The estimated log-likelihood gradient of one CD-k / PCD-k step, batch-averaged.

    Attributes:
        weight: ``<v h^T>_data - <v h^T>_model``, shape ``(D, F)``.
        visible_bias: ``<v>_data - <v>_model``, shape ``(D,)``.
        hidden_bias: ``<h>_data - <h>_model``, shape ``(F,)``.
        chain: the hidden states at the end of the negative chain (the next persistent
            chain state for PCD), shape ``(M, F)``.
        negative: the negative-phase visible states ``v'``, shape ``(M, D)``.
    """

    weight: Tensor
    visible_bias: Tensor
    hidden_bias: Tensor
    chain: Tensor
    negative: Tensor


def contrastive_divergence(v: Tensor, weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                           *, k: int = 1, chain: Tensor | None = None, visible: str = "binary",
                           generator: torch.Generator | None = None,
                           hidden_statistics: str = "probabilities") -> CDGradient:
    """One CD-k (or PCD-k, given ``chain``) estimate of the log-likelihood gradient.

    Deck 001's six steps, for a whole mini-batch at once (rows are samples)::

        1. p(h|v) = sigmoid(a + v W), sample h from it
        2. G+ = v^T h                                       (positive phase)
        3. from h sample v' ~ P(v|h), then h' ~ P(h|v')      (repeated k times)
        4. G- = v'^T h'                                     (negative phase)
        5. dW = eps (G+ - G-) / N
        6. db = eps mean(v - v'),  da = eps mean(h - h')

    This function returns ``(G+ - G-) / N`` and the bias terms; the caller multiplies by the
    learning rate ``eps`` (steps 5 and 6). With ``hidden_statistics="probabilities"`` (the
    default, as in Hinton's practical guide and scikit-learn) the statistics of steps 2, 4
    and 6 use ``P(h = 1 | .)`` in place of the binary samples: the same expectation with
    less noise; ``"samples"`` is the deck's literal version. The chain itself is always
    driven by samples.

    Persistent CD (Tieleman 2008): pass ``chain``, hidden states ``(M, F)`` left by the
    previous update; the negative phase then continues that chain instead of starting at
    the data (step 3 starts from ``chain``), and the returned ``chain`` is its new state.
    With ``k=1`` this is scikit-learn's ``BernoulliRBM`` update. Each phase is averaged
    over its own rows, so ``M`` may differ from ``N``.

    Args:
        v: a mini-batch of data ``(N, D)``.
        weight, visible_bias, hidden_bias: ``W (D, F)``, ``b (D,)``, ``a (F,)``.
        k: Gibbs steps in the negative phase. Defaults to 1.
        chain: persistent hidden states for PCD, or None for CD. Defaults to None.
        visible: ``"binary"`` or ``"gaussian"``. Defaults to ``"binary"``.
        generator: random stream for every draw. Defaults to torch's global one.
        hidden_statistics: ``"probabilities"`` or ``"samples"``. Defaults to
            ``"probabilities"``.

    Returns:
        A :class:`CDGradient`.

    Example:
        >>> torch.manual_seed(0) is not None
        True
        >>> v = torch.tensor([[1.0, 0.0, 1.0]])
        >>> grad = contrastive_divergence(v, torch.zeros(3, 2), torch.zeros(3), torch.zeros(2))
        >>> grad.weight.shape, grad.chain.shape
        (torch.Size([3, 2]), torch.Size([1, 2]))
    """
    if hidden_statistics not in ("probabilities", "samples"):
        raise ValueError(message("Argument `hidden_statistics` of contrastive_divergence must "
                                 "be 'probabilities' or 'samples'.",
                                 received=f"hidden_statistics={hidden_statistics!r}"))
    use_samples = hidden_statistics == "samples"
    n = v.shape[0]
    p_both = None
    if chain is None:
        # step 1: P(h | v) on the data, and a sample h to start the chain from
        p_pos = hidden_probabilities(v, weight, hidden_bias)
        h = h_neg = bernoulli(p_pos, generator)
        # step 3: v' ~ P(v | h), h' ~ P(h | v'), k times
        for _ in range(k):
            _, v_neg = sample_visible(h_neg, weight, visible_bias, visible, generator)
            p_neg = hidden_probabilities(v_neg, weight, hidden_bias)
            h_neg = bernoulli(p_neg, generator)
        both = torch.cat([v, v_neg])
    else:
        # PCD: step 3 continues the persistent chain, which does not depend on the data, so
        # step 1 and the chain's last P(h | v') share one product [v; v'] W
        h_neg = chain
        for _ in range(k - 1):
            _, v_neg = sample_visible(h_neg, weight, visible_bias, visible, generator)
            h_neg = bernoulli(hidden_probabilities(v_neg, weight, hidden_bias), generator)
        _, v_neg = sample_visible(h_neg, weight, visible_bias, visible, generator)
        both = torch.cat([v, v_neg])
        p_both = hidden_probabilities(both, weight, hidden_bias)
        p_pos, p_neg = p_both.split([n, v_neg.shape[0]])
        h = bernoulli(p_pos, generator) if use_samples else None
        h_neg = bernoulli(p_neg, generator)
    # steps 2 and 4: the statistics [pos; neg] of the data rows and the negative rows
    if use_samples:
        stats = torch.cat([h, h_neg])
    else:
        stats = p_both if p_both is not None else torch.cat([p_pos, p_neg])
    # steps 5-6 in one product each, the sign and the batch means in one column of weights
    # s = [1/N; -1/M]:  G+ - G- = [v; v']^T (s * stats),  <v> - <v'> = [v; v']^T s
    m = v_neg.shape[0]
    s = torch.cat([stats.new_full((n, 1), 1.0 / n), stats.new_full((m, 1), -1.0 / m)])
    scaled = stats * s
    return CDGradient(both.T @ scaled, both.T @ s.squeeze(1), scaled.sum(0), h_neg, v_neg)


def pseudo_likelihood(v: Tensor, weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                      *, index: Tensor | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
    """scikit-learn's stochastic pseudo-likelihood of binary ``v``, per sample.

    For each sample one visible unit ``i`` is chosen at random and flipped, giving
    ``v~``; then ``PL(v) = D log sigmoid(F(v~) - F(v))``, ``D`` times the log-probability
    of unit ``i`` given the others (a one-unit estimate of ``sum_i log P(v_i | v_-i)``).
    This is exactly ``BernoulliRBM.score_samples``, so the numbers are comparable.

    Args:
        v: binary visible states ``(N, D)``.
        weight, visible_bias, hidden_bias: ``W (D, F)``, ``b (D,)``, ``a (F,)``.
        index: the flipped unit of each sample, int64 ``(N,)``; drawn uniformly with
            ``generator`` when None. Defaults to None.
        generator: random stream for ``index``. Defaults to torch's global one.

    Returns:
        The pseudo-likelihoods (log scale, <= 0), shape ``(N,)``.

    Example:
        >>> W, b, a = torch.zeros(4, 2), torch.zeros(4), torch.zeros(2)
        >>> pseudo_likelihood(torch.ones(2, 4), W, b, a)  # 4 log(1/2)
        tensor([-2.7726, -2.7726])
    """
    n, d = v.shape
    if index is None:
        index = torch.randint(d, (n,), generator=generator, device=v.device)
    rows = torch.arange(n, device=v.device)
    flipped = v.clone()
    flipped[rows, index] = 1.0 - flipped[rows, index]
    gap = free_energy(flipped, weight, visible_bias, hidden_bias) - free_energy(
        v, weight, visible_bias, hidden_bias)
    return d * F.logsigmoid(gap)


def _all_states(n: int, like: Tensor) -> Tensor:
    """Every binary vector of length ``n``, as rows of a ``(2^n, n)`` tensor."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=like.dtype,
                        device=like.device).reshape(2**n, n)


def log_partition_exact(weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                        visible: str = "binary") -> Tensor:
    """``log Z`` by enumerating the smaller layer (small RBMs only).

    Binary visible units: ``log Z = logsumexp_v -F(v)`` over the ``2^D`` visible states, or
    equivalently ``logsumexp_h [a^T h + sum_i softplus(b_i + W_i: h)]`` over the ``2^F``
    hidden states; the smaller is enumerated. Gaussian visible units integrate ``v`` in
    closed form: ``log Z = logsumexp_h [a^T h + b^T W h + ||W h||^2 / 2] + (D / 2) log 2 pi``.

    Args:
        weight, visible_bias, hidden_bias: ``W (D, F)``, ``b (D,)``, ``a (F,)``.
        visible: ``"binary"`` or ``"gaussian"``. Defaults to ``"binary"``.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: if the enumerated layer has more than 22 units.

    Example:
        >>> log_partition_exact(torch.zeros(3, 2), torch.zeros(3), torch.zeros(2))  # 5 log 2
        tensor(3.4657)
    """
    d, f = weight.shape
    gaussian = _check_visible(visible) == "gaussian"
    n = f if gaussian else min(d, f)
    if n > MAX_ENUMERATED_UNITS:
        layer = "hidden" if gaussian else "smaller"
        raise ValueError(message(
            f"log_partition_exact enumerates 2^{n} states of the {layer} layer, too many.",
            expected=f"at most {MAX_ENUMERATED_UNITS} units",
            received=f"weight of shape {tuple(weight.shape)}",
            fix="Use the AIS estimate (`rbm.log_partition(method='ais')`)."))
    w64 = weight.double()
    b64, a64 = visible_bias.double(), hidden_bias.double()
    if gaussian:
        h = _all_states(f, w64)
        c = h @ w64.T
        terms = h @ a64 + c @ b64 + 0.5 * c.square().sum(1)
        return (torch.logsumexp(terms, 0) + 0.5 * d * math.log(2 * math.pi)).to(weight.dtype)
    if d <= f:
        terms = -free_energy(_all_states(d, w64), w64, b64, a64)
    else:
        h = _all_states(f, w64)
        terms = h @ a64 + F.softplus(torch.addmm(b64, h, w64.T)).sum(1)
    return torch.logsumexp(terms, 0).to(weight.dtype)
