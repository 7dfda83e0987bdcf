"""Data-parallel training: the same ``fit`` on several processes, on one machine or many.

Launch the unchanged script with ``torchrun --nproc_per_node=N script.py``;
``model.fit(..., strategy="auto")`` (the default) then trains with PyTorch's
``DistributedDataParallel`` across the ``N`` processes (see
:mod:`lamina.distributed.parallel`): each rank takes its share of every global batch,
gradients are averaged, the logs are reduced over all ranks, and rank 0 alone prints and
writes checkpoints.

Example:
    >>> import lamina as lm
    >>> lm.distributed.is_main_process(), lm.distributed.world_size()
    (True, 1)
"""

from lamina.distributed.env import (
    backend_for,
    init_process_group,
    is_main_process,
    launched,
    local_rank,
    rank,
    world_size,
)

__all__ = ["is_main_process", "rank", "world_size", "local_rank", "launched",
           "init_process_group", "backend_for"]
