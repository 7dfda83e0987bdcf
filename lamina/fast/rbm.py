"""The RBM's contrastive-divergence step, fused for speed: what an RBM ``fit`` runs when fast.

The textbook step (:meth:`lamina.unsupervised.RBM._cd_step`) calls
:func:`lamina.functional.energy.contrastive_divergence`, which returns the gradient
``(G+ - G-) / N`` as fresh tensors, then the SGD rule adds ``lr`` times it to the
parameters. Per mini-batch of a 784-256 RBM that is about fifteen allocations and four
passes over ``W``-sized tensors besides the products. :class:`FusedContrastiveDivergence`
computes the same update with the same random draws, in the same order, into buffers
allocated once per ``fit``:

* ``[v; v']`` is one buffer whose lower half the negative sample is written into (no
  ``cat``); the probabilities go through ``sigmoid`` in place;
* the weight update is one ``addmm_`` into ``W`` (or into the momentum buffer):
  ``W += lr [v; v']^T (s * P(h | [v; v']))`` with the column ``s = [1/N; -1/M]``, so the
  gradient is never materialized; the biases use ``addmv_``;
* the mini-batch is gathered straight into the upper half of ``[v; v']`` (no copy);
* binary units take their uniforms from :class:`DrawAhead`: the numbers of many steps in one
  call of :func:`lamina.fast.draws.uniform_` (torch's stream, drawn by a vectorized C loop
  where a C compiler is at hand), so the threads of the products wait less between them
  (the measurements are in ``docs/benchmarks.md``).

The values equal the textbook step's up to float rounding (the products sum in another
order); :func:`plan_for` installs it on the instance for the length of one ``fit`` and only
for full mini-batches (a last, smaller batch takes the textbook step).

Example:
    >>> import torch
    >>> from lamina.unsupervised import RBM
    >>> x = (torch.rand(40, 6) > 0.5).float()
    >>> fast = RBM(4, batch_size=10, epochs=2, random_state=0).fit(x)
    >>> slow = RBM(4, batch_size=10, epochs=2, random_state=0, fast=False).fit(x)
    >>> torch.allclose(fast.weight, slow.weight, atol=1e-6)
    True
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from lamina.fast import draws, threads

__all__ = ["AHEAD_BYTES", "AHEAD_STEPS", "DrawAhead", "FusedContrastiveDivergence", "plan_for"]

#: Memory for the uniforms drawn ahead (16 MiB: 63 steps of a 784-256 RBM on batches of 64).
AHEAD_BYTES = 16 * 2**20
#: At most this many steps drawn ahead (beyond it the gain is flat; each step keeps views).
AHEAD_STEPS = 64


class DrawAhead:
    """The uniforms of the coming steps of an epoch, drawn by one :func:`draws.uniform_` call.

    ``torch.rand`` fills a tensor from the generator's stream in memory order, so drawing
    the numbers of ``s`` steps as one ``(s, per_step)`` block gives each step the very
    numbers it would draw itself. Drawing ahead stops at the epoch's last full batch: what
    the epoch draws next (a partial batch's textbook step, the next shuffle, the monitor)
    reads the stream where the textbook run does. This holds for the CPU's generator (a
    Mersenne twister read in order), not for CUDA's.

    Args:
        like: a tensor of the dtype and device of the draws.
        per_step: uniforms one step takes.
        steps_per_epoch: full batches per epoch (the steps that take their numbers here).
        budget: bytes for the block. Defaults to :data:`AHEAD_BYTES`.
        fill: ``fill(block, generator)`` draws the block's uniforms in place. Defaults to
            :func:`lamina.fast.draws.uniform_`.

    Example:
        >>> g, h = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        >>> ahead = DrawAhead(torch.empty(0), per_step=6, steps_per_epoch=4)
        >>> first = ahead.take((2, 3), g); ahead.step_done()
        >>> torch.equal(first, torch.rand(2, 3, generator=h))
        True
    """

    def __init__(self, like: Tensor, per_step: int, steps_per_epoch: int,
                 budget: int | None = None,
                 fill: Callable[[Tensor, torch.Generator], Tensor] = draws.uniform_):
        budget = AHEAD_BYTES if budget is None else budget
        self.fill = fill
        self.per_step, self.steps_per_epoch = per_step, steps_per_epoch
        self.rows = max(1, min(steps_per_epoch, AHEAD_STEPS,
                               budget // (per_step * like.element_size())))
        self.block = like.new_empty(self.rows * per_step)
        self.offset = self.end = 0
        self.steps = 0                                     # full steps taken so far
        self._views: dict[tuple[int, tuple[int, ...]], Tensor] = {}

    def take(self, shape: tuple[int, ...], generator) -> Tensor:
        """The next ``shape`` uniforms of the stream (a view into the block)."""
        if self.offset == self.end:                        # a step's start: draw ahead
            left = self.steps_per_epoch - self.steps % self.steps_per_epoch
            self.end = min(self.rows, left) * self.per_step
            self.fill(self.block[:self.end], generator)
            self.offset = 0
        key = (self.offset, tuple(shape))
        out = self._views.get(key)
        if out is None:                                    # made once per place and shape
            size = math.prod(shape)
            out = self._views[key] = self.block[self.offset:self.offset + size].view(shape)
        self.offset += out.numel()
        return out

    def step_done(self) -> None:
        self.steps += 1


class FusedContrastiveDivergence:
    """One CD-k / PCD-k update of ``rbm``'s parameters, in place, with preallocated buffers.

    Args:
        rbm: a fitted-shape :class:`lamina.unsupervised.RBM` (parameters created).
        batch_size: rows of the mini-batches it takes (others go to the textbook step).
        steps_per_epoch: full mini-batches per epoch, for drawing uniforms ahead; None
            draws each step's own. Defaults to None.

    Example:
        >>> from lamina.unsupervised import RBM
        >>> rbm = RBM(3, batch_size=4, random_state=0)
        >>> rbm.reset_parameters(5)
        >>> step = FusedContrastiveDivergence(rbm, 4)
        >>> step(torch.ones(4, 5), 0.1); rbm.n_updates_
        1
    """

    def __init__(self, rbm, batch_size: int, steps_per_epoch: int | None = None):
        self.rbm = rbm
        self.params = rbm._params()                       # updated in place, never replaced
        weight = rbm.weight
        d, f = weight.shape
        n = batch_size
        self.rows = m = n                                 # the chain has batch_size rows too
        new = weight.new_empty
        self.both = new((n + m, d))                       # [v; v']
        self.p_both = new((n + m, f))                     # P(h | [v; v']), scaled in place
        self.visible_mean = new((m, d))
        self.u_visible = new((m, d))                      # uniforms (or normals) for v'
        self.u_hidden = new((n, f))                       # uniforms for h, h'
        self.chain = new((m, f))
        self.h = new((n, f))                              # CD's sample from P(h | v)
        # s = [1/N; -1/M]: signs and batch means of G+ - G- in one column
        self.s = torch.cat([weight.new_full((n, 1), 1.0 / n), weight.new_full((m, 1), -1.0 / m)])
        self.s_vector = self.s.squeeze(1)
        self.ones = weight.new_ones(n + m)
        # views made once: the halves of the buffers, the transposed [v; v']
        self.v_pos, self.v_neg = self.both[:n], self.both[n:]
        self.p_pos, self.p_neg = self.p_both[:n], self.p_both[n:]
        self.both_t = self.both.T
        # binary units draw uniforms only: those of many steps at once (gaussian visible
        # units draw normals, whose CPU kernel takes the stream in blocks: per call)
        per_step = (rbm.k * (m * d + m * f) if rbm.persistent
                    else n * f + rbm.k * (m * d + m * f))
        self.ahead = (DrawAhead(weight, per_step, steps_per_epoch)
                      if steps_per_epoch and rbm.units == "binary" else None)

    def _uniform(self, buffer: Tensor, generator) -> Tensor:
        if self.ahead is not None:
            return self.ahead.take(buffer.shape, generator)
        return buffer.uniform_(generator=generator)      # torch.rand's draws, in place

    def _sample_visible(self, h: Tensor, generator) -> Tensor:
        """``v' ~ P(v | h)`` written into the lower half of ``both``."""
        rbm = self.rbm
        weight, visible_bias, _ = self.params
        mean = torch.addmm(visible_bias, h, weight.T, out=self.visible_mean)
        if rbm.units == "gaussian":
            noise = self.u_visible.normal_(generator=generator)
            return torch.add(mean, noise, out=self.v_neg)
        u = self._uniform(self.u_visible, generator)
        return torch.lt(u, mean.sigmoid_(), out=self.v_neg)

    def _sample_hidden(self, p: Tensor, out: Tensor, generator) -> Tensor:
        return torch.lt(self._uniform(self.u_hidden, generator), p, out=out)

    @torch.no_grad()
    def __call__(self, v: Tensor, lr: float) -> None:
        rbm = self.rbm
        if len(v) != self.rows:
            return type(rbm)._cd_step(rbm, v, lr)
        weight, visible_bias, hidden_bias = self.params
        gen = rbm.random_state_
        if v.data_ptr() != self.v_pos.data_ptr():        # not gathered into place
            self.v_pos.copy_(v)
        if rbm.persistent:
            h_neg = rbm._chain if rbm._chain is not None else self.chain.zero_()
            for _ in range(rbm.k - 1):
                self._sample_visible(h_neg, gen)
                p = torch.addmm(hidden_bias, self.v_neg, weight, out=self.p_neg)
                h_neg = self._sample_hidden(p.sigmoid_(), self.chain, gen)
            self._sample_visible(h_neg, gen)
            torch.addmm(hidden_bias, self.both, weight, out=self.p_both).sigmoid_()
            self._sample_hidden(self.p_neg, self.chain, gen)
            if rbm._chain is not self.chain:               # Module.__setattr__ costs 5 us
                rbm._chain = self.chain
        else:
            p_pos = torch.addmm(hidden_bias, v, weight, out=self.p_pos).sigmoid_()
            h_neg = self._sample_hidden(p_pos, self.h, gen)
            for _ in range(rbm.k):
                self._sample_visible(h_neg, gen)
                p = torch.addmm(hidden_bias, self.v_neg, weight, out=self.p_neg)
                h_neg = self._sample_hidden(p.sigmoid_(), self.chain, gen)
        scaled = self.p_both.mul_(self.s)
        self._update(weight, visible_bias, hidden_bias, scaled, lr)
        if self.ahead is not None:
            self.ahead.step_done()
        vars(rbm)["n_updates_"] += 1                       # a plain int: no Module.__setattr__

    def _update(self, weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                scaled: Tensor, lr: float) -> None:
        """``delta = momentum delta + lr (G - decay W)``, ``W += delta`` (biases undecayed);
        with no momentum, the product is added to the parameters directly."""
        rbm, both_t = self.rbm, self.both_t
        if not rbm.momentum:
            if rbm.weight_decay:
                weight.mul_(1.0 - lr * rbm.weight_decay)
            weight.addmm_(both_t, scaled, alpha=lr)
            visible_bias.addmv_(both_t, self.s_vector, alpha=lr)
            hidden_bias.addmv_(scaled.T, self.ones, alpha=lr)     # column sums, as a product
            return
        dw, db, da = rbm._velocity
        mu = rbm.momentum
        dw.mul_(mu)
        if rbm.weight_decay:
            dw.add_(weight, alpha=-lr * rbm.weight_decay)
        dw.addmm_(both_t, scaled, alpha=lr)
        db.mul_(mu).addmv_(both_t, self.s_vector, alpha=lr)
        da.mul_(mu).addmv_(scaled.T, self.ones, alpha=lr)
        weight.add_(dw)
        visible_bias.add_(db)
        hidden_bias.add_(da)


@contextlib.contextmanager
def plan_for(rbm, v: Tensor) -> Iterator[None]:
    """Fast RBM training for one ``fit``: one CPU thread for small products, and the fused
    step installed on the instance, gathering each mini-batch into its own buffer (both
    removed afterwards, leaving the textbook methods).

    Example:
        >>> from lamina.unsupervised import RBM
        >>> rbm = RBM(3, batch_size=4, random_state=0)
        >>> rbm.reset_parameters(5)
        >>> with plan_for(rbm, torch.ones(8, 5)):
        ...     type(rbm._cd_step).__name__
        'FusedContrastiveDivergence'
        >>> "_cd_step" in vars(rbm) or "_batch_buffer" in vars(rbm)
        False
    """
    rows = min(rbm.batch_size, len(v))
    with threads.for_products(v.shape[1] * rbm.n_hidden * rows, v.device) as count:
        if rows < rbm.batch_size:                        # no full batch (PCD's chain is one)
            yield
            return
        # Drawing ahead saves hand-overs between serial work and multi-thread products; on
        # one thread it only adds bookkeeping. CUDA's generator numbers a tensor's elements
        # by launch, so there one block would not give each step its own numbers.
        ahead = v.device.type == "cpu" and count > 1
        step = FusedContrastiveDivergence(rbm, rows,
                                          steps_per_epoch=len(v) // rows if ahead else None)
        rbm._cd_step = step
        rbm._batch_buffer = lambda data: step.v_pos
        try:
            yield
        finally:
            del rbm._cd_step, rbm._batch_buffer
