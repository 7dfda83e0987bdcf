"""Which CPU kernels and which layout train conv nets fastest on this machine.

Layout first. oneDNN's convolutions and ATen's max pooling run much faster on channels-last
(NHWC) tensors, so in eager training ``compile(channels_last="auto")`` stores conv nets NHWC
on x86 CPUs with AVX2 or AVX-512 vector kernels (:func:`prefers_channels_last`). Eager
``fit`` epochs, NCHW against NHWC (SGD, batch 128, 2 threads, medians of 3 alternated runs),
on a 2-core Intel Xeon (Sapphire Rapids, AVX-512): LeNet-5 3.13 s against 2.93 s (60,000
images), deck 004's max-pool net 1.40 s against 0.93 s (12,800), ResNet-20 3.43 s against
2.94 s (2,560). The same Xeon held to AVX2 (``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2``), LeNet-5 on 19,200 images: NCHW with lamina's kernels (below)
1.24 s, NCHW with ATen's 1.28 s, NHWC with ATen's 0.93 s, NHWC with lamina's 1.36 s (that
last one 9.5 % slower than the first, as the 10 % measured on a 2-core AMD EPYC, AVX2,
before this rule). With ``jit`` the layouts tie (0.62 s against 0.63 s, AVX-512), and
``"auto"`` keeps NCHW.

Kernels second. Two layers carry a CPU backward of their own for NCHW tensors: ``Conv2D`` on
a one-channel input with a 5x5 or larger kernel (the weight gradient as a correlation,
``conv_grad``) and ``MaxPool2D`` with tiling windows (element-wise maxima of strided views,
``pooling``). Written against oneDNN's and ATen's AVX2 kernels, they beat them there: on the
AMD EPYC LeNet-5's first-layer weight gradient ran 1.5-2.5x faster. On the AVX-512 Xeon
ATen's are the faster ones (the correlation took 1.7x oneDNN's time; a LeNet-5 step 7.3 ms
with the tiled pooling against 6.8 ms with ATen's). So eager NCHW training (``channels_last
=False``) uses them only on AVX2 CPUs (:func:`prefers_lamina_kernels`), and NHWC training
never (:func:`is_channels_last`). Inference keeps the tiled max pooling everywhere (no index
bookkeeping, several times faster than ATen's), and so does ``jit`` (Inductor's own
lowering of the pooling backward is the slow one there: LeNet-5 epochs of 5.7 s against
3.1 s eager). ``benchmarks/conv_weight_grad.py`` checks the kernel rule on a machine.
"""

from __future__ import annotations

import torch

__all__ = ["CAPABILITY", "prefers_lamina_kernels", "prefers_channels_last", "is_channels_last"]

#: The vector instructions PyTorch's CPU kernels use on this machine ("AVX2", "AVX512", ...).
CAPABILITY = torch.backends.cpu.get_cpu_capability()


def prefers_lamina_kernels(capability: str | None = None) -> bool:
    """Whether lamina's own CPU backward kernels are the faster ones for training: when
    ``capability`` (this machine's ``torch.backends.cpu.get_cpu_capability()`` by default)
    is ``"AVX2"``.

    Example:
        >>> prefers_lamina_kernels("AVX2"), prefers_lamina_kernels("AVX512")
        (True, False)
    """
    return (CAPABILITY if capability is None else capability) == "AVX2"


def prefers_channels_last(capability: str | None = None) -> bool:
    """Whether eager CPU training of 2-D conv nets is faster with NHWC tensors: when
    ``capability`` (this machine's by default) is AVX2 or AVX-512, where it was measured.

    Example:
        >>> prefers_channels_last("AVX512"), prefers_channels_last("AVX2")
        (True, True)
        >>> prefers_channels_last("DEFAULT")
        False
    """
    capability = CAPABILITY if capability is None else capability
    return capability == "AVX2" or capability.startswith("AVX512")


def is_channels_last(t: torch.Tensor) -> bool:
    """Whether a 4-D tensor is stored NHWC (its channels adjacent: ``stride(1) == 1``), as
    ``compile(channels_last=...)`` stores weights and maps; such tensors train with ATen's
    and oneDNN's kernels, not lamina's.

    Example:
        >>> w = torch.zeros(6, 1, 5, 5)
        >>> is_channels_last(w), is_channels_last(w.to(memory_format=torch.channels_last))
        (False, True)
    """
    return t.dim() == 4 and t.stride(1) == 1 and t.shape[-2] * t.shape[-1] > 1
