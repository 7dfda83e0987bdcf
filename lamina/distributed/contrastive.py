"""Data-parallel contrastive divergence: the RBM's (and so the DBN's) ``fit`` under torchrun.

When the script was launched as several processes (``WORLD_SIZE > 1``), an RBM's ``fit``

* starts every rank from rank 0's weights, biases and momentum;
* uses rank 0's permutation of the samples each epoch (broadcast), and gives rank ``r`` the
  ``r``-th of the near-equal parts of each mini-batch of ``batch_size`` samples;
* averages the CD statistics ``G+ - G-`` (and the bias terms) over the ranks weighted by
  part size, ``G = sum_r (n_r / n) G_r``, before the update, so each rank applies the same
  update, that of the whole mini-batch;
* samples the Gibbs chains with a stream of its own (rank 0's seed plus the rank), so the
  ranks' noise is independent; persistent chains (PCD) are kept per rank.

The weights are the same on every rank after each step. The updates are a single process's
in distribution, not bit-for-bit (the Gibbs samples differ).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from lamina.distributed import env

__all__ = ["CDParallel"]


class CDParallel:
    """One data-parallel ``fit`` of an RBM: this rank's parts and the averages.

    Example:
        >>> CDParallel.start(None, None) is None   # one process
        True
    """

    def __init__(self, rank: int, world: int):
        self.rank, self.world = rank, world
        self.weight = 1.0 / world

    @classmethod
    def start(cls, rbm, generator: torch.Generator | None) -> CDParallel | None:
        """The group of a launched run (None on one process): every rank gets rank 0's
        parameters and momentum, and a sampling stream of its own."""
        if env.world_size() <= 1:
            return None
        env.init_process_group(rbm.weight.device)
        group = cls(dist.get_rank(), dist.get_world_size())
        with torch.no_grad():
            for tensor in [*rbm._params(), *rbm._velocity]:
                dist.broadcast(tensor, src=0)
        seed = torch.randint(2**62, (1,), generator=generator,
                             device=generator.device).cpu()
        dist.broadcast(seed, src=0)
        generator.manual_seed(int(seed) + group.rank)
        return group

    def order(self, order: Tensor) -> Tensor:
        """Rank 0's permutation, on every rank."""
        dist.broadcast(order, src=0)
        return order

    def part(self, index: Tensor) -> Tensor:
        """This rank's part of a mini-batch's indices (an empty part takes one sample at
        weight 0: every rank joins every average)."""
        local = index.tensor_split(self.world)[self.rank]
        self.weight = len(local) / len(index)
        return local if len(local) else index[:1]

    def average(self, statistics) -> None:
        """``sum_r (n_r / n) G_r`` in place, for each tensor of ``statistics``."""
        for t in statistics:
            t.mul_(self.weight)
            dist.all_reduce(t)

    def prints(self) -> bool:
        """Rank 0 alone shows progress."""
        return self.rank == 0
