"""Exact resume: what a training checkpoint holds and how it is put back.

A checkpoint is everything the next step depends on: weights, optimizer state, every
random stream (Python, NumPy, torch, and the shuffle generator as it was at the start of
the epoch), the epoch and the step within it, the running loss and metric sums, the
history and each callback's state. Restoring it and replaying the epoch's permutation from
the saved step continues bit-for-bit where training stopped (on CPU).
"""

from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from lamina.checkpoint import load_state, save_state
from lamina.errors import LaminaWarning

__all__ = ["RunState", "checkpoint_path", "save_training_state", "restore_training_state"]

CHECKPOINT_NAME = "last.ckpt"


@dataclass
class RunState:
    """Where a ``fit`` is: next epoch, batches done in it, steps done in all."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    generator: torch.Generator = field(default_factory=torch.Generator)
    epoch_generator_state: torch.Tensor | None = None


def checkpoint_path(directory) -> str:
    """The file holding the latest training state in ``directory``."""
    return os.path.join(os.fspath(directory), CHECKPOINT_NAME)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(directory, trainer, run: RunState, history, callbacks,
                        fit_args: dict) -> None:
    """Write the whole training state to ``directory/last.ckpt``, atomically."""
    os.makedirs(directory, exist_ok=True)
    save_state(checkpoint_path(directory), {
        "fit_args": fit_args,
        "epoch": run.epoch, "step": run.step, "global_step": run.global_step,
        "generator": run.generator.get_state(),
        "epoch_generator": run.epoch_generator_state,
        "rng": _rng_state(),
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "accumulators": trainer._accumulator_state(),
        "grad_scaler": (trainer.amp.scaler.state_dict() if trainer.amp.scaler is not None
                        else None),
        "history": history.state_dict(),
        "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in callbacks],
    })


def restore_training_state(directory, trainer, run: RunState, history, callbacks,
                           fit_args: dict) -> bool:
    """Load ``directory/last.ckpt`` into the trainer, run state, history and callbacks.

    Returns False (and changes nothing) when there is no checkpoint yet.
    """
    path = checkpoint_path(directory)
    if not os.path.exists(path):
        return False
    state = load_state(path)
    changed = {k: (state["fit_args"].get(k), v) for k, v in fit_args.items()
               if state["fit_args"].get(k) != v and k != "epochs"}
    if changed:
        warnings.warn(f"Resuming from '{path}' with different fit arguments "
                      f"{ {k: f'{a} -> {b}' for k, (a, b) in changed.items()} }: training "
                      f"continues, but not exactly as an uninterrupted run would.",
                      LaminaWarning, stacklevel=4)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer._load_accumulator_state(state["accumulators"])
    if trainer.amp.scaler is not None and state.get("grad_scaler"):
        trainer.amp.scaler.load_state_dict(state["grad_scaler"])
    history.load_state_dict(state["history"])
    saved = state["callbacks"]
    if [c["class"] for c in saved] != [type(cb).__name__ for cb in callbacks]:
        warnings.warn(f"The callbacks given to fit differ from those in '{path}'; their "
                      f"state is not restored.", LaminaWarning, stacklevel=4)
    else:
        for cb, entry in zip(callbacks, saved):
            cb.load_state_dict(entry["state"])
    run.epoch, run.step, run.global_step = state["epoch"], state["step"], state["global_step"]
    run.generator.set_state(state["generator"])
    run.epoch_generator_state = state["epoch_generator"]
    _set_rng_state(state["rng"])
    return True
