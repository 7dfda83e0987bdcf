"""Which kernels and which memory layout train fastest on this machine: the CPU policy.

The decisions are read from the vector instructions PyTorch's CPU kernels use here
(``torch.backends.cpu.get_cpu_capability()``: ``"AVX2"``, ``"AVX512"``, ...), measured per
instruction set and recorded in ``docs/benchmarks.md``:

* channels-last (NHWC) maps make eager training of 2-D conv nets faster on AVX2 and AVX-512
  CPUs (oneDNN's convolutions and ATen's pooling are faster on that layout);
* lamina's own CPU backward kernels (:mod:`lamina.fast.conv_grad`, :mod:`lamina.fast.pooling`)
  beat ATen's and oneDNN's in eager NCHW training on AVX2 CPUs only.

:func:`emulate` switches the policy to another instruction set, so a test can check that every
policy lamina knows gives the same numbers (the suite must pass on any x86-64 CPU).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch

__all__ = ["CpuPolicy", "KNOWN_CAPABILITIES", "current", "emulate"]

#: The instruction sets lamina's policy distinguishes (``DEFAULT``: no vector kernels).
KNOWN_CAPABILITIES = ("DEFAULT", "AVX2", "AVX512")


@dataclasses.dataclass(frozen=True)
class CpuPolicy:
    """The CPU decisions for one instruction set (``capability``).

    Example:
        >>> CpuPolicy("AVX2").lamina_kernels, CpuPolicy("AVX512").lamina_kernels
        (True, False)
        >>> CpuPolicy("AVX512").channels_last, CpuPolicy("DEFAULT").channels_last
        (True, False)
    """

    capability: str

    @property
    def lamina_kernels(self) -> bool:
        """Whether lamina's own backward kernels win in eager NCHW training (AVX2 only)."""
        return self.capability == "AVX2"

    @property
    def channels_last(self) -> bool:
        """Whether eager training of 2-D conv nets is faster NHWC (AVX2 and AVX-512)."""
        return self.capability == "AVX2" or self.capability.startswith("AVX512")


_MACHINE = CpuPolicy(torch.backends.cpu.get_cpu_capability())
_active = _MACHINE


def current() -> CpuPolicy:
    """The policy in force: this machine's, unless :func:`emulate` says otherwise.

    Example:
        >>> current().capability == torch.backends.cpu.get_cpu_capability()
        True
    """
    return _active


@contextlib.contextmanager
def emulate(capability: str) -> Iterator[CpuPolicy]:
    """Decide as on a CPU with ``capability`` inside the block (tests, benchmarks).

    Only lamina's choices change; the kernels ATen runs are this machine's (set
    ``ATEN_CPU_CAPABILITY`` before starting Python to change those too).

    Example:
        >>> with emulate("AVX2") as policy:
        ...     policy.lamina_kernels
        True
    """
    global _active
    if capability not in KNOWN_CAPABILITIES:
        raise ValueError(f"Unknown CPU capability {capability!r}. Expected one of "
                         f"{KNOWN_CAPABILITIES}.")
    previous, _active = _active, CpuPolicy(capability)
    try:
        yield _active
    finally:
        _active = previous
