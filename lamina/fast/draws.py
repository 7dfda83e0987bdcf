"""``torch.rand``'s numbers for the CPU generator, drawn by lamina's vectorized C loop.

PyTorch draws a CPU tensor's uniforms one at a time from its Mersenne twister (about 2.8 ns a
number here). :func:`uniform_` reads the generator's state, runs the same twister and the
same float conversion in C (:mod:`lamina.fast.native`, about 0.3 ns a number) and writes the
state back: the tensor gets the very numbers ``uniform_`` would give it, and the generator
ends where ``uniform_`` would leave it. Where the kernel is missing (no C compiler) or the
tensor or generator is not a float32 CPU one, it calls ``uniform_`` itself.

The state is read and written with ``get_state``/``set_state``, so another thread drawing
from the same generator at the same moment is not excluded (``uniform_`` locks it).

Example:
    >>> g, h = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    >>> torch.equal(uniform_(torch.empty(1000), g), torch.rand(1000, generator=h))
    True
"""

from __future__ import annotations

import ctypes
import functools

import torch
from torch import Tensor

from lamina.fast import native

__all__ = ["native_kernel", "uniform_"]

# torch.Generator.get_state() on the CPU: a CPUGeneratorImplState, whose legacy part starts
# with the seed (8 bytes), `left` (int32), `seeded` (int32), `next` (uint64), then the 624
# state words as uint64. native_kernel() checks this layout against torch.rand before use.
_LEFT, _NEXT, _WORDS = 8, 16, 24
_MIN_STATE_BYTES = _WORDS + 624 * 8


def _eligible(out: Tensor, generator) -> bool:
    return (isinstance(generator, torch.Generator) and generator.device.type == "cpu"
            and out.device.type == "cpu" and out.dtype == torch.float32
            and out.is_contiguous())


def _run(kernel, out: Tensor, generator: torch.Generator) -> None:
    state = generator.get_state()                         # a copy, written back below
    base = state.data_ptr()
    kernel(base + _WORDS, base + _LEFT, base + _NEXT, out.data_ptr(), out.numel())
    generator.set_state(state)


@functools.cache
def native_kernel():
    """The C function behind :func:`uniform_`, or None (no compiler, or a generator whose state
    does not read as this module expects: it must reproduce ``torch.rand`` across a twist).

    Example:
        >>> kernel = native_kernel()
        >>> kernel is None or callable(kernel)
        True
    """
    lib = native.load()
    if lib is None:
        return None
    kernel = lib.lamina_mt19937_uniform_float
    kernel.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64]
    kernel.restype = None
    ours, theirs = torch.Generator().manual_seed(2024), torch.Generator().manual_seed(2024)
    if ours.get_state().numel() < _MIN_STATE_BYTES:
        return None
    drawn = torch.empty(1500)
    for size in (1, 700, 799):                          # a lone number, then past a twist
        _run(kernel, drawn[:size], ours)
        if not torch.equal(drawn[:size], torch.rand(size, generator=theirs)):
            return None
    return kernel if torch.equal(ours.get_state(), theirs.get_state()) else None


def uniform_(out: Tensor, generator) -> Tensor:
    """Fill ``out`` with uniforms in [0, 1) from ``generator``: ``out.uniform_(generator=...)``,
    with the same numbers and the same state afterwards, faster on the CPU.

    Example:
        >>> g = torch.Generator().manual_seed(1)
        >>> x = uniform_(torch.empty(3), g)
        >>> torch.equal(x, torch.rand(3, generator=torch.Generator().manual_seed(1)))
        True
    """
    kernel = native_kernel() if _eligible(out, generator) else None
    if kernel is None or out.numel() == 0:
        return out.uniform_(generator=generator)
    _run(kernel, out, generator)
    return out
