"""Exact resume: what a training checkpoint holds and how it is put back.

A checkpoint is everything the next step depends on: weights, optimizer state, every
random stream (Python, NumPy, torch, and the shuffle generator as it was at the start of
the epoch), the epoch and the step within it, the running loss and metric sums, the
history and each callback's state. Restoring it and replaying the epoch's permutation from
the saved step continues bit-for-bit where training stopped (on CPU).

The checkpoint also records the settings the run was started with, and a resumed ``fit``
compares them with what ``compile`` and ``fit`` were given now. The rule, per setting:

============================  ==========================================================
optimizer type                refused: :class:`~lamina.errors.ResumeMismatchError`
optimizer hyper-parameters    the checkpoint's apply (they are part of the state being
(``lr``, ``momentum``, ...)   continued, schedules included), with a
                              :class:`~lamina.errors.ResumeWarning` naming each old and
                              new value; to train on with new ones, start a new run from
                              the weights (``model.load_weights``)
loss                          refused: ``ResumeMismatchError``
metrics (names and order)     refused: ``ResumeMismatchError`` (the history's columns
                              would no longer line up)
architecture (any tensor's    refused: ``ResumeMismatchError`` naming the tensor
name, shape or dtype)
``batch_size``, ``shuffle``,  the new value applies, with a ``ResumeWarning`` naming both
number of samples             (training continues, not as an uninterrupted run would)
callbacks (their classes)     the new ones run, their state not restored, with a
                              ``ResumeWarning``
frozen layers                 the checkpoint's are frozen again (the optimizer rebound to
                              them), with a ``ResumeWarning`` when they differ
``epochs``                    the new value applies, silently (resuming to train longer)
============================  ==========================================================

A checkpoint whose state does not have the structure lamina writes raises
:class:`~lamina.errors.FileFormatError`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import torch

from lamina.checkpoint import load_state, save_state
from lamina.config import rng_state, set_rng_state
from lamina.errors import FileFormatError, ResumeMismatchError, ResumeWarning, message
from lamina.layers.freezing import frozen_state, restore_frozen
from lamina.training import binding

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


# Optimizer options that choose an implementation, not the update rule.
_IMPLEMENTATION_OPTIONS = {"foreach", "fused", "capturable", "differentiable"}


def _plain(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def training_settings(trainer) -> dict:
    """What ``compile`` was given: optimizer class and hyper-parameters (its
    ``defaults``, which schedules leave alone), loss name and metric names."""
    optimizer = trainer.optimizer
    hyper = {k: list(v) if isinstance(v, tuple) else v
             for k, v in getattr(optimizer, "defaults", {}).items()
             if k not in _IMPLEMENTATION_OPTIONS and _plain(v)}
    return {"optimizer": type(optimizer).__name__, "hyper": hyper,
            "loss": getattr(trainer.loss_fn, "name", type(trainer.loss_fn).__name__),
            "metrics": list(trainer.metric_names)}


def save_training_state(directory, trainer, run: RunState, history, callbacks,
                        fit_args: dict, extra: dict | None = None) -> None:
    """Write the whole training state to ``directory/last.ckpt``, atomically (``extra``:
    more entries, e.g. every rank's part of a data-parallel run)."""
    os.makedirs(directory, exist_ok=True)
    save_state(checkpoint_path(directory), {
        "settings": training_settings(trainer),
        "fit_args": fit_args,
        "epoch": run.epoch, "step": run.step, "global_step": run.global_step,
        "generator": run.generator.get_state(),
        "epoch_generator": run.epoch_generator_state,
        "rng": rng_state(),
        "model": trainer.model.state_dict(),
        "frozen": frozen_state(trainer.model),
        "optimizer": trainer.optimizer.state_dict(),
        "accumulators": trainer._accumulator_state(),
        "grad_scaler": (trainer.amp.scaler.state_dict() if trainer.amp.scaler is not None
                        else None),
        "history": history.state_dict(),
        "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in callbacks],
        **(extra or {}),
    })


_REQUIRED = {"fit_args": dict, "epoch": int, "step": int, "global_step": int,
             "generator": torch.Tensor, "rng": dict, "model": dict, "optimizer": dict,
             "history": dict, "callbacks": list}


def _check_structure(state: dict, path: str) -> None:
    for key, kind in _REQUIRED.items():
        if not isinstance(state.get(key), kind) or (kind is int and state[key] < 0):
            raise FileFormatError(message(
                f"Checkpoint '{path}' does not hold the training state lamina writes: "
                f"entry {key!r} is missing or malformed.",
                expected=f"{key!r}: {kind.__name__}{' >= 0' if kind is int else ''}",
                received=f"{type(state.get(key)).__name__}",
                fix="Delete it to start afresh."))
    if not all(isinstance(c, dict) and isinstance(c.get("class"), str) and "state" in c
               for c in state["callbacks"]):
        raise FileFormatError(message(f"Checkpoint '{path}' has malformed callback entries.",
                                      expected="[{'class': name, 'state': {...}}, ...]"))


def _check_settings(saved: dict | None, trainer, path: str) -> None:
    """Refuse another optimizer type, loss or metrics; warn about hyper-parameters."""
    if not isinstance(saved, dict):
        return  # written before lamina recorded the settings
    now = training_settings(trainer)
    for key, what, fix in (
            ("optimizer", "optimizer type", "Compile with the checkpoint's optimizer"),
            ("loss", "loss", "Compile with the checkpoint's loss"),
            ("metrics", "metrics", "Compile with the checkpoint's metrics, in the same order")):
        if saved.get(key) != now[key]:
            raise ResumeMismatchError(message(
                f"Cannot resume from '{path}' with another {what}: the run was started with "
                f"{saved.get(key)!r}.", expected=f"{what} {saved.get(key)!r}",
                received=f"{what} {now[key]!r}",
                fix=f"{fix} to resume, or use another checkpoint directory to start a new run."))
    old = saved.get("hyper") if isinstance(saved.get("hyper"), dict) else {}
    changed = {k: (v, old[k]) for k, v in now["hyper"].items() if k in old and old[k] != v}
    if changed:
        names = ", ".join(f"{k}: compile gave {new!r}, the checkpoint's {ckpt!r} is used"
                          for k, (new, ckpt) in changed.items())
        warnings.warn(message(
            f"Resuming from '{path}' with other optimizer hyper-parameters than the run was "
            f"started with ({names}).",
            fix="A resumed run continues the checkpoint's optimizer state; to train on with "
                "new values, start a new run (another checkpoint directory) after "
                "`model.load_weights(...)`."), ResumeWarning, stacklevel=5)


def _check_architecture(saved: dict, model, path: str) -> None:
    own = model.state_dict()
    for key, value in own.items():
        stored = saved.get(key)
        if not isinstance(stored, torch.Tensor):
            raise ResumeMismatchError(message(
                f"Cannot resume from '{path}': the model has tensor '{key}', which the "
                f"checkpoint's model does not.", received=f"{len(saved)} tensors in the file",
                fix="Resume with the architecture the run was started with, or start a new "
                    "run in another checkpoint directory."))
        if tuple(stored.shape) != tuple(value.shape) or stored.dtype != value.dtype:
            raise ResumeMismatchError(message(
                f"Cannot resume from '{path}': tensor '{key}' differs from the checkpoint's, "
                f"so the architecture changed.",
                expected=f"shape {tuple(stored.shape)} {stored.dtype} (the checkpoint's)",
                received=f"shape {tuple(value.shape)} {value.dtype}",
                fix="Resume with the architecture the run was started with, or start a new "
                    "run in another checkpoint directory."))
    extra = sorted(set(saved) - set(own))
    if extra:
        raise ResumeMismatchError(message(
            f"Cannot resume from '{path}': the checkpoint's model has tensors this model "
            f"lacks, so the architecture changed.", received=f"{extra[:5]}",
            fix="Resume with the architecture the run was started with."))


def _warn_fit_args(saved: dict, fit_args: dict, path: str) -> None:
    changed = {k: (saved.get(k), v) for k, v in fit_args.items()
               if saved.get(k) != v and k != "epochs"}
    if changed:
        warnings.warn(f"Resuming from '{path}' with different fit arguments "
                      f"{ {k: f'{a} -> {b}' for k, (a, b) in changed.items()} }: training "
                      f"continues with the new ones, but not exactly as an uninterrupted run "
                      f"would.", ResumeWarning, stacklevel=5)


def _load_part(what: str, path: str, load) -> None:
    """Run ``load``; a state that does not fit becomes a clear error, not a raw one."""
    try:
        load()
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
        if isinstance(err, (ResumeMismatchError, FileFormatError)):
            raise
        raise ResumeMismatchError(message(
            f"Cannot resume from '{path}': its {what} state does not fit this run.",
            received=f"{type(err).__name__}: {str(err)[:200]}",
            fix="Resume with the settings the run was started with, or start a new run in "
                "another checkpoint directory.")) from err


def restore_training_state(directory, trainer, run: RunState, history, callbacks,
                           fit_args: dict, on_restore=None) -> bool:
    """Load ``directory/last.ckpt`` into the trainer, run state, history and callbacks.

    Settings that differ from the checkpoint's are refused or warned about by the rule in
    the module docstring; everything is checked before the model's weights are touched.

    ``on_restore(state)`` runs last (a data-parallel run puts back each rank's part).

    Returns:
        False (and changes nothing) when there is no checkpoint yet, else True.

    Raises:
        ResumeMismatchError: another optimizer type, loss, metrics or architecture.
        FileFormatError: a damaged or hostile checkpoint (both are ``ValueError``).
    """
    path = checkpoint_path(directory)
    if not os.path.exists(path):
        return False
    state = load_state(path)
    _check_structure(state, path)
    _check_settings(state.get("settings"), trainer, path)
    _check_architecture(state["model"], trainer.model, path)
    _warn_fit_args(state["fit_args"], fit_args, path)
    _load_part("model", path, lambda: trainer.model.load_state_dict(state["model"]))
    _restore_frozen(state.get("frozen"), trainer, path)
    _load_part("optimizer", path, lambda: trainer.optimizer.load_state_dict(state["optimizer"]))
    _load_part("metric", path, lambda: trainer._load_accumulator_state(state.get("accumulators")))
    if trainer.amp.scaler is not None and state.get("grad_scaler"):
        _load_part("grad scaler", path,
                   lambda: trainer.amp.scaler.load_state_dict(state["grad_scaler"]))
    _load_part("history", path, lambda: history.load_state_dict(state["history"]))
    saved = state["callbacks"]
    if [c["class"] for c in saved] != [type(cb).__name__ for cb in callbacks]:
        warnings.warn(f"The callbacks given to fit differ from those in '{path}'; their "
                      f"state is not restored.", ResumeWarning, stacklevel=4)
    else:
        for cb, entry in zip(callbacks, saved):
            _load_part(f"{type(cb).__name__} callback", path,
                       lambda cb=cb, entry=entry: cb.load_state_dict(entry["state"]))
    run.epoch, run.step, run.global_step = state["epoch"], state["step"], state["global_step"]
    _load_part("random generator", path, lambda: _restore_generators(run, state))
    if on_restore is not None:
        _load_part("process", path, lambda: on_restore(state))
    return True


def _restore_frozen(saved, trainer, path: str) -> None:
    """Freeze what the run had frozen (the optimizer rebound to match), with a warning when
    that differs from the model given to ``fit``."""
    if saved is None or saved == frozen_state(trainer.model):
        return
    try:
        restore_frozen(trainer.model, saved, f"checkpoint '{path}'")
    except ValueError as err:
        raise FileFormatError(str(err)) from None
    warnings.warn(f"The checkpoint '{path}' was trained with other layers frozen; its frozen "
                  f"layers are restored: {saved['layers'][:5] or saved['parameters'][:5]}.",
                  ResumeWarning, stacklevel=5)
    binding.bind(trainer.optimizer, trainer.model, trainer.lr_multipliers)


def _restore_generators(run: RunState, state: dict) -> None:
    run.generator.set_state(state["generator"])
    run.epoch_generator_state = state.get("epoch_generator")
    set_rng_state(state["rng"])
