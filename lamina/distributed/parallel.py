"""``fit`` data-parallel: PyTorch's ``DistributedDataParallel`` across a launched group.

Under ``torchrun --nproc_per_node=N`` (and ``--nnodes`` for several machines) every process
runs the same script. With ``strategy="auto"`` (``fit``'s default) or ``"ddp"`` lamina then

* joins the process group (gloo on CPUs, NCCL on GPUs; each process takes the GPU
  ``LOCAL_RANK``) and wraps the model in ``DistributedDataParallel``, which starts every
  rank from rank 0's weights;
* draws every epoch's permutation from one seed, broadcast by rank 0, and gives rank ``r``
  the ``r``-th of ``N`` near-equal contiguous parts of each **global** batch of
  ``batch_size`` samples (``batch_size`` is the global batch, as ``tf.distribute``'s; an
  epoch has as many steps as on one process);
* averages the gradients weighted by each part's size, ``g = sum_r (n_r / n) g_r``, so a
  step's gradient is the single-process gradient of the same global batch (up to float
  rounding);
* sums the loss and metric totals over the ranks at the end of each epoch and of each
  validation (each rank validates its part of the data), so every rank logs the same
  numbers and callbacks such as ``EarlyStopping`` decide alike;
* prints progress and writes checkpoints from rank 0 only; a checkpoint holds every rank's
  random streams and running sums.

Resuming with the same number of processes continues bit-for-bit; with another number, the
same global batches in the same order (each gradient equal up to float rounding: the sum
over ranks runs in another order), with a ``ResumeWarning``.

When the last batch of an epoch has fewer samples than processes, a rank without one
repeats a sample of the batch with weight 0 in the gradient and leaves it out of the logs
(DDP needs every rank in every step).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import warnings

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from lamina.config import rng_state, set_rng_state
from lamina.distributed import env
from lamina.distributed.batchnorm import sync_batch_norms
from lamina.errors import LaminaWarning, ResumeWarning, message

__all__ = ["STRATEGIES", "check_strategy", "DataParallel", "start", "for_evaluate",
           "part_sizes", "restore_ranks"]

STRATEGIES = ("auto", "ddp", None)


def check_strategy(strategy, owner: str = "fit"):
    """``strategy`` if it is ``"auto"``, ``"ddp"`` or None, else a ValueError.

    Example:
        >>> check_strategy("auto")
        'auto'
    """
    if strategy in STRATEGIES and (strategy is None or isinstance(strategy, str)):
        return strategy
    raise ValueError(message(f"Argument `strategy` of {owner} must be 'auto', 'ddp' or None.",
                             received=f"strategy={strategy!r}"))


def part_sizes(m: int, world: int) -> list[int]:
    """The sizes of the ``world`` contiguous parts of a batch of ``m``: ``m // world``
    each, one more for the first ``m % world`` ranks (``Tensor.tensor_split``'s split).

    Example:
        >>> part_sizes(10, 4)
        [3, 3, 2, 2]
    """
    return [m // world + (1 if r < m % world else 0) for r in range(world)]


def _weighted_average(state, bucket):  # (DDP checks a hook's annotations: none here)
    """DDP communication hook: the gradient bucket scaled by ``n_r / n``, then summed."""
    buffer = bucket.buffer()
    buffer.mul_(state.weight)
    work = dist.all_reduce(buffer, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


class _Forward(nn.Module):
    """The trainer's forward function (the model, or its logits) as a module DDP can wrap."""

    def __init__(self, model: nn.Module, forward):
        super().__init__()
        self.model, self.fn = model, forward

    def forward(self, x):
        return self.fn(x)


class _Dispatch:
    """``trainer.forward`` during a data-parallel fit: through DDP when gradients are
    recorded (training steps), the plain forward otherwise (validation, whose parts differ
    in size across ranks, and so may not run collectives per batch)."""

    def __init__(self, ddp: DistributedDataParallel, plain):
        self.ddp, self.plain = ddp, plain

    def __call__(self, x):
        return self.ddp(x) if torch.is_grad_enabled() else self.plain(x)


class ShardedData:
    """This rank's part of every global batch of ``data`` (in-memory or streamed).

    ``training``: a rank whose part is empty gets one sample of the batch at weight 0,
    left out of the logs.
    """

    def __init__(self, data, parallel: DataParallel, training: bool):
        self.data, self.parallel, self.training = data, parallel, training
        # (the data classes of lamina.training are told apart by what they hold: that
        # package imports this module)
        if hasattr(data, "loader"):  # a DataLoader or an iterable Dataset
            raise ValueError(message(
                "Data-parallel `fit` shards the samples itself, so it takes arrays, memmaps "
                "or a map-style Dataset, not a DataLoader or an iterable Dataset.",
                received=f"a {type(data.loader).__name__}",
                fix="Pass the DataLoader's dataset (`fit(loader.dataset, batch_size=...)`)."))
        if not hasattr(data, "take") and not isinstance(getattr(data, "x", None), Tensor):
            raise ValueError(message(
                "Data-parallel `fit` takes one input and one target array (or a Dataset) for "
                "now, without sample weights.", received=f"{type(data).__name__}",
                fix="Train on one process (strategy=None), or pass a Dataset yielding "
                    "(x, y) pairs."))
        self.sample_shape = getattr(data, "sample_shape", None)

    def __len__(self) -> int:
        return len(self.data)

    def num_batches(self, batch_size: int) -> int:
        return self.data.num_batches(batch_size)

    def part(self, index: Tensor) -> Tensor:
        """This rank's part of a global batch's indices (recording its weight)."""
        world, rank = self.parallel.world, self.parallel.rank
        local = index.tensor_split(world)[rank]
        if self.training:
            self.parallel.weight = len(local) / len(index)
            self.parallel.dummy = not len(local)
            if not len(local):
                local = index[:1]
        return local

    def batches(self, batch_size: int, shuffle: bool = False, generator=None, start: int = 0):
        if hasattr(self.data, "take"):  # streamed (lamina.training.streaming)
            yield from self.data.batches(batch_size, shuffle, generator, start, shard=self.part)
            return
        x, y = self.data.x, self.data.y
        n = len(x)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        order = order.to(x.device)
        for i in range(start * batch_size, n, batch_size):
            local = self.part(order[i:i + batch_size])
            if not len(local):
                continue  # validation: nothing to evaluate here
            yield x.index_select(0, local), None if y is None else y.index_select(0, local)


@dataclasses.dataclass
class DataParallel:
    """One data-parallel ``fit`` (or ``evaluate``) of a trainer: group, DDP and data parts."""

    trainer: object
    rank: int
    world: int
    sync_batchnorm: bool = False
    weight: float = 1.0
    dummy: bool = False
    settings: object = None  # the trainer's settings, put back when the fit ends
    ddp: DistributedDataParallel | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, data, training: bool = True):
        """``data`` as this rank's parts of its batches (None stays None)."""
        return None if data is None else ShardedData(data, self, training)

    def broadcast_generator(self, generator: torch.Generator) -> None:
        """Give every rank rank 0's shuffle generator (one permutation for all)."""
        state = [generator.get_state() if self.is_main else None]
        dist.broadcast_object_list(state, src=0)
        generator.set_state(state[0])

    @contextlib.contextmanager
    def wrapped(self):
        """For the length of the fit, inside its execution plan (DDP sees the parameters in
        the plan's memory layout): the forward through DDP (the parameters broadcast from
        rank 0, gradients averaged by part size), logs reduced over the ranks."""
        trainer = self.trainer
        plain = trainer.forward
        device = trainer.device or torch.device("cpu")
        with sync_batch_norms(trainer.model, self.sync_batchnorm, lambda: self.weight):
            module = _Forward(trainer.model, plain)
            self.ddp = DistributedDataParallel(
                module, device_ids=[device] if device.type == "cuda" else None)
            self.ddp.register_comm_hook(self, _weighted_average)
            trainer.forward, trainer.parallel = _Dispatch(self.ddp, plain), self
            track = trainer.track

            def tracked(*args):  # a weight-0 stand-in sample stays out of the logs
                if not self.dummy:
                    track(*args)

            trainer.track = tracked
            try:
                yield self
            finally:
                trainer.forward, trainer.parallel = plain, None
                if self.settings is not None:
                    trainer.settings = self.settings
                del trainer.track
                self.ddp = None

    @contextlib.contextmanager
    def reducing(self):
        """Logs reduced over the ranks (``evaluate``), without DDP."""
        self.trainer.parallel = self
        try:
            yield self
        finally:
            self.trainer.parallel = None

    # -- logs -------------------------------------------------------------------------------
    def results(self, accumulators) -> dict[str, float]:
        """The loss and metrics over all ranks' samples: every rank's sums gathered and
        added in rank order (the same numbers on every rank); the local sums are kept."""
        states = [None] * self.world
        dist.all_gather_object(states, _cpu(accumulators.state_dict()))
        total = _sum_states(states)
        saved = accumulators.state_dict()
        try:
            accumulators.load_state_dict(total)
            return accumulators.results()
        finally:
            accumulators.load_state_dict(saved)

    # -- checkpoints --------------------------------------------------------------------
    def checkpoint_entry(self) -> dict:
        """Every rank's random streams and running sums, gathered (on all ranks: a
        collective) for rank 0 to write."""
        mine = {"rng": rng_state(), "accumulators": _cpu(self.trainer._accumulator_state())}
        ranks = [None] * self.world
        dist.all_gather_object(ranks, mine)
        return {"world_size": self.world, "ranks": ranks}

    def verbose(self, verbose: int) -> int:
        """Progress is printed by rank 0 only."""
        return verbose if self.is_main else 0


def _cpu(obj):
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def _sum_states(states: list):
    """The elementwise sum of accumulator states (sums and counts; None is nothing)."""
    first = states[0]
    if isinstance(first, dict) or any(isinstance(s, dict) for s in states):
        keys = next(s for s in states if isinstance(s, dict)).keys()
        return {k: _sum_states([s[k] if isinstance(s, dict) else None for s in states])
                for k in keys}
    if any(isinstance(s, list) for s in states):
        return [_sum_states(list(parts)) for parts in zip(*states)]
    present = [s for s in states if s is not None]
    if not present:
        return None
    total = present[0].clone() if isinstance(present[0], Tensor) else present[0]
    for s in present[1:]:
        total = total + s
    return total


def restore_ranks(state: dict, trainer, parallel: DataParallel | None) -> None:
    """Put back what a data-parallel checkpoint holds for this rank (after the rest of the
    state was restored from rank 0's part).

    The same number of processes: each rank gets its own random streams and running sums
    (bit-for-bit). Another number: the running sums of all old ranks are added into rank
    0's (the epoch's logs stay exact), and rank ``r`` seeds its streams from rank 0's
    plus ``r``.
    """
    entry = state.get("distributed")
    world = parallel.world if parallel is not None else 1
    rank = parallel.rank if parallel is not None else 0
    if not isinstance(entry, dict) or not isinstance(entry.get("ranks"), list):
        return
    saved = entry["ranks"]
    if len(saved) == world:
        set_rng_state(saved[rank]["rng"])
        trainer._load_accumulator_state(saved[rank]["accumulators"])
        return
    warnings.warn(f"Resuming a run of {len(saved)} processes on {world}: the same global "
                  f"batches in the same order, not bit-for-bit (the sums over ranks run in "
                  f"another order).", ResumeWarning, stacklevel=4)
    sums = _sum_states([s["accumulators"] for s in saved])
    if rank == 0:
        trainer._load_accumulator_state(sums)
    else:
        trainer._load_accumulator_state(_zeros_like(sums))
    seed = int(torch.randint(2**62, ())) + rank
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _zeros_like(obj):
    if isinstance(obj, Tensor):
        return torch.zeros_like(obj)
    if isinstance(obj, dict):
        return {k: _zeros_like(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_zeros_like(v) for v in obj]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return type(obj)(0)
    return obj


def _resolve(strategy, owner: str) -> bool:
    """Whether this call runs data-parallel."""
    strategy = check_strategy(strategy, owner)
    if strategy is None:
        return False
    if strategy == "ddp":
        if not env.launched():
            raise RuntimeError(message(
                f"`{owner}(strategy='ddp')` needs several processes started by a launcher, "
                f"but this process was started alone (no WORLD_SIZE and RANK in its "
                f"environment).", fix="Run `torchrun --nproc_per_node=N script.py`, or pass "
                                      "strategy='auto' to train on one process when not launched."))
        return True
    return env.world_size() > 1


def _device(trainer) -> torch.device:
    """The rank's device: a CUDA trainer takes GPU ``LOCAL_RANK``."""
    device = trainer.device or torch.device("cpu")
    if device.type == "cuda" and device.index in (None, 0) and env.local_rank():
        device = torch.device("cuda", env.local_rank())
        trainer.model.to(device)
        trainer.device = device
        trainer.accumulators.device = device
    return device


def start(trainer, strategy, sync_batchnorm: bool = False) -> DataParallel | None:
    """The data-parallel state of a ``fit`` (None when it runs on one process).

    Example:
        >>> import lamina as lm
        >>> model = lm.zoo.MLP((4,), outputs=2, input_shape=(3,))
        >>> model.compile(loss="mse")
        >>> start(model._trainer, None) is None
        True
    """
    if not isinstance(sync_batchnorm, bool):
        raise ValueError(message("Argument `sync_batchnorm` of fit must be True or False.",
                                 received=f"sync_batchnorm={sync_batchnorm!r}"))
    if not _resolve(strategy, "fit"):
        return None
    env.init_process_group(_device(trainer))
    parallel = DataParallel(trainer, dist.get_rank(), dist.get_world_size(), sync_batchnorm,
                            settings=trainer.settings)
    if trainer.settings.jit:  # (the plan, made next, then compiles no step)
        warnings.warn("`jit=True` is not used in data-parallel training yet: the steps run "
                      "eagerly.", LaminaWarning, stacklevel=3)
        trainer.settings = dataclasses.replace(trainer.settings, jit=False)
    return parallel


def for_evaluate(trainer) -> DataParallel | None:
    """The parts of ``evaluate``'s data and the reduction of its logs when a group of
    several processes runs (the samples are split, not evaluated ``N`` times)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return None
    return DataParallel(trainer, dist.get_rank(), dist.get_world_size())
