"""Mixed precision for ``compile(precision=...)``: the forward pass under ``torch.autocast``.

Matrix products and convolutions run in bfloat16 or float16 while the weights, the
optimizer's state and the loss stay float32: ``y = f_low(x; W_32)``, ``L = loss_32(y)``.
float16's narrow range needs the loss scaled before the backward pass (gradients
``dL/dW = (d(sL)/dW) / s``, with ``s`` lowered whenever a gradient overflows), which
``torch.amp.GradScaler`` does; bfloat16 has float32's range and needs no scaling.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from lamina.errors import message

__all__ = ["MixedPrecision", "PRECISIONS", "resolve_precision"]

#: Accepted names (Lightning's, Keras's policy names, short forms) -> autocast dtype.
PRECISIONS = {
    "32": None, "float32": None, "32-true": None,
    "bf16-mixed": torch.bfloat16, "bf16": torch.bfloat16, "mixed_bfloat16": torch.bfloat16,
    "16-mixed": torch.float16, "fp16": torch.float16, "mixed_float16": torch.float16,
}


def resolve_precision(precision) -> torch.dtype | None:
    """The autocast dtype that ``precision`` names (None: plain float32).

    Example:
        >>> resolve_precision("bf16-mixed"), resolve_precision("32")
        (torch.bfloat16, None)
    """
    key = str(precision).lower()
    if key not in PRECISIONS:
        raise ValueError(message(
            f"Unknown precision {precision!r}.",
            expected=", ".join(repr(k) for k in PRECISIONS),
            fix="Use precision='bf16-mixed' on recent GPUs, '16-mixed' on older ones, or "
                "'32' (the default)."))
    return PRECISIONS[key]


class MixedPrecision:
    """Autocast for the forward pass, and (float16 only) loss scaling for the backward.

    Args:
        dtype: ``torch.bfloat16``, ``torch.float16`` or None (float32: every method is a
            plain pass-through).
        device_type: ``"cuda"``, ``"cpu"``, ...

    Example:
        >>> amp = MixedPrecision(torch.bfloat16, "cpu")
        >>> with amp.autocast():
        ...     y = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
        >>> y.dtype, amp.output(y).dtype
        (torch.bfloat16, torch.float32)
    """

    def __init__(self, dtype: torch.dtype | None, device_type: str):
        self.dtype, self.device_type = dtype, device_type
        self.scaler = (torch.amp.GradScaler(device_type) if dtype == torch.float16 else None)

    @property
    def enabled(self) -> bool:
        """Whether the forward pass runs in a low-precision dtype."""
        return self.dtype is not None

    def autocast(self):
        """The context the forward pass runs in."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def output(self, out):
        """The model's output (a tensor, or a tuple or list of them) as float32: losses and
        metrics are computed in float32."""
        if self.dtype is None:
            return out
        if isinstance(out, (tuple, list)):
            return type(out)(self.output(o) for o in out)
        return out.float() if isinstance(out, Tensor) and out.dtype == self.dtype else out

    def backward_and_step(self, loss: Tensor, optimizer) -> None:
        """``loss.backward()`` and ``optimizer.step()``, scaled under float16.

        The gradients are unscaled before the step, so the optimizer's clipping sees their
        true values; a step whose gradients overflowed is skipped and the scale lowered.
        """
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        self.scaler.step(optimizer)
        self.scaler.update()
