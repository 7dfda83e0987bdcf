"""Exceptions, warnings and the one house style for error messages.

Every user-facing error says *what* went wrong, what was *expected*, what was
*received*, and, when there is one, the *fix*::

    Layer 'dense_2' expects input with last axis 400. Received: input of shape
    (128, 256). Check the Flatten before it.
"""

from __future__ import annotations

__all__ = [
    "LaminaError",
    "NotBuiltError",
    "NotCompiledError",
    "FileFormatError",
    "ResumeMismatchError",
    "LaminaWarning",
    "ConvergenceWarning",
    "ResumeWarning",
    "message",
]


class LaminaError(Exception):
    """Base class of lamina's own exceptions (not raised for plain bad arguments)."""


class NotBuiltError(LaminaError, ValueError):
    """A layer or model was used before its weights exist (no input shape yet)."""


class NotCompiledError(LaminaError, RuntimeError):
    """`fit`/`evaluate` was called before `compile`."""


class FileFormatError(LaminaError, ValueError):
    """A model, weights or checkpoint file is damaged, hostile or not what lamina wrote."""


class ResumeMismatchError(LaminaError, ValueError):
    """``fit(resume=True)`` was given a setting that the checkpoint cannot continue with
    (another optimizer type, loss, metrics or architecture)."""


class LaminaWarning(UserWarning):
    """A likely mistake that is not an error (e.g. `batch_size` larger than the data)."""


class ConvergenceWarning(LaminaWarning):
    """An iterative algorithm stopped before it converged."""


class ResumeWarning(LaminaWarning):
    """``fit(resume=True)`` continues, but a setting differs from the checkpoint's; the
    warning names the old and the new value and which one is used."""


def message(what: str, *, expected: str | None = None, received: str | None = None,
            fix: str | None = None) -> str:
    """Format an error message in the house style.

    Args:
        what: the sentence that says what is wrong, naming the object and argument.
        expected: what was expected (appended as "Expected: ...").
        received: what was received (appended as "Received: ...").
        fix: how to fix it, ideally as code.

    Example:
        >>> message("Argument `units` of Dense must be positive.", received="units=0")
        'Argument `units` of Dense must be positive. Received: units=0.'
    """
    parts = [what.rstrip()]
    if expected is not None:
        parts.append(f"Expected: {expected.rstrip('.')}.")
    if received is not None:
        parts.append(f"Received: {received.rstrip('.')}.")
    if fix is not None:
        parts.append(fix.rstrip())
    return " ".join(parts)
