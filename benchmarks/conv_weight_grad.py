"""ATen's convolution weight gradient versus the correlation of input and output gradient.

For each convolution shape below, times on the CPU, in one process, alternating:

* ``aten``: ``torch.autograd.grad(F.conv2d(x, w, b, s, p), (w, b), g)`` (what ``nn.Conv2d``
  and a hand-written loop run);
* ``correlation``: the same through ``lamina.fast.conv_grad.conv2d_correlation_grad``.

It prints the median milliseconds of ``--repeats`` runs of ``--iters`` calls each, the ratio
``correlation / aten`` and whether lamina's ``Conv2D`` takes the correlation path for that
shape (the execution plan, ``lamina.fast.plan``, on this machine's CPU policy): the rule should hold where the ratio is below 1.
The shapes are the first layers of LeNet-5 and of deck 004's pooling table (one channel,
5x5), a 3x3 one-channel layer, and wider layers of LeNet-5, a CIFAR ResNet and a U-Net.

Run it from the repository root::

    python benchmarks/conv_weight_grad.py --threads 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from lamina.fast import policy
from lamina.fast.conv_grad import conv2d_correlation_grad, correlation_grad_fits

# name: (batch, in channels, size, out channels, kernel, stride, padding)
SHAPES = {
    "LeNet-5 conv1": (128, 1, 28, 6, 5, 1, 2),
    "pooling table conv1": (128, 1, 28, 20, 5, 1, 0),
    "pooling table conv1, stride 2": (128, 1, 28, 20, 5, 2, 0),
    "1 channel, 3x3": (128, 1, 28, 32, 3, 1, 1),
    "LeNet-5 conv2": (128, 6, 14, 16, 5, 1, 0),
    "ResNet-20 stage 1": (128, 16, 32, 16, 3, 1, 1),
    "U-Net level 3": (32, 64, 16, 64, 3, 1, 1),
}


def time_grads(conv, x, w, b, g, iters: int) -> float:
    """Milliseconds per forward + weight and bias gradient."""
    start = time.perf_counter()
    for _ in range(iters):
        torch.autograd.grad(conv(x, w, b), (w, b), g)
    return (time.perf_counter() - start) / iters * 1e3


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"Python {platform.python_version()}, torch {torch.__version__}")
    print(f"{'shape':<30}{'aten ms':>9}{'corr. ms':>10}{'ratio':>7}   Conv2D uses it")
    for name, (n, c, size, o, k, s, p) in SHAPES.items():
        torch.manual_seed(0)
        x = torch.randn(n, c, size, size)
        w = torch.randn(o, c, k, k, requires_grad=True)
        b = torch.randn(o, requires_grad=True)
        g = torch.randn_like(F.conv2d(x, w, b, s, p))
        contenders = {"aten": lambda x, w, b, s=s, p=p: F.conv2d(x, w, b, s, p),
                      "correlation": lambda x, w, b, s=s, p=p:
                      conv2d_correlation_grad(x, w, b, s, p)}
        times: dict = {key: [] for key in contenders}
        for conv in contenders.values():
            time_grads(conv, x, w, b, g, 2)  # warm-up
        for _ in range(args.repeats):
            for key, conv in contenders.items():
                times[key].append(time_grads(conv, x, w, b, g, args.iters))
        aten, corr = (statistics.median(times[key]) for key in contenders)
        planned = policy.current().lamina_kernels and correlation_grad_fits(w.shape, 1, 1)
        uses = "yes (eager NCHW)" if planned else "no"
        print(f"{name:<30}{aten:>9.2f}{corr:>10.2f}{corr / aten:>7.2f}   {uses}")


if __name__ == "__main__":
    main()
