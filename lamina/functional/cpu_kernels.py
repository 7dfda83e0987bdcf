"""Where lamina's own CPU training kernels beat ATen's: on CPUs whose vector kernels are AVX2.

Two layers carry a CPU backward of their own: ``Conv2D`` on a one-channel input with a 5x5
or larger kernel (the weight gradient as a correlation, ``conv_grad``) and ``MaxPool2D`` with
tiling windows (element-wise maxima of strided views, ``pooling``). Both were written against
oneDNN's and ATen's AVX2 kernels and beat them there: on a 2-core AMD EPYC (AVX2) LeNet-5's
first-layer weight gradient ran 1.5-2.5x faster. On an AVX-512 CPU (2-core Intel Xeon,
Sapphire Rapids) ATen's kernels are the faster ones: the correlation took 1.7x oneDNN's
time, and a LeNet-5 training step 7.3 ms with the tiled pooling against 6.8 ms with ATen's
(SGD, batch 128, 2 threads, medians of 6 alternated epochs). So eager training uses them
only on AVX2 CPUs; inference keeps the tiled max pooling everywhere (no index bookkeeping,
several times faster than ATen's), and so does ``jit`` (Inductor's own lowering of the
pooling backward is the slow one there: LeNet-5 epochs of 5.7 s against 3.1 s eager).
``benchmarks/conv_weight_grad.py`` checks the rule on a machine.

The layout follows the same split. On the AVX-512 Xeon oneDNN's convolutions and ATen's
pooling run faster on channels-last (NHWC) tensors. Eager ``fit`` epochs, NCHW against
NHWC (SGD, batch 128, 2 threads, medians of 3): LeNet-5 3.13 s against 2.93 s (60,000
images), deck 004's max-pool net 1.40 s against 0.93 s (12,800), ResNet-20 3.43 s against
2.94 s (2,560). So ``compile(channels_last="auto")`` trains conv nets NHWC there (with
``jit`` the two layouts tie: 0.63 s against 0.62 s for LeNet-5 on 12,800 images); on the
AVX2 EPYC, with lamina's kernels, NHWC measured 10 % slower on LeNet-5.
"""

from __future__ import annotations

import torch

__all__ = ["CAPABILITY", "prefers_lamina_kernels", "prefers_channels_last"]

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
    ``capability`` (this machine's by default) is an AVX-512 one, where oneDNN's and ATen's
    kernels do the work (:func:`prefers_lamina_kernels` is False).

    Example:
        >>> prefers_channels_last("AVX512"), prefers_channels_last("AVX2")
        (True, False)
    """
    return (CAPABILITY if capability is None else capability).startswith("AVX512")
