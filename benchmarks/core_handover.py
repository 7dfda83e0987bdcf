"""What a hand-over between CPU cores costs: the probe behind the VM's "slow state".

A two-thread matrix product reads its left factor ``a`` on both cores. Rewriting ``a``
from the main thread right afterwards must take those cache lines back from the other
core; rewriting it a second time finds them at home. The script times, in samples of 100
repeats each:

* ``product``: ``a @ w`` (128 x 784 x 256) on torch's threads;
* ``rewrite after product``: the main thread's serial copy into ``a`` right after it;
* ``rewrite again``: the same copy right after itself (no other core involved).

The difference between the two rewrites is the price of moving ``a``'s lines between the
cores. On the 2-core VM of ``docs/benchmarks.md`` it switches between two levels on a
scale of seconds to minutes; the summary splits the samples by it (a sample is "slow"
when its rewrite-after-product took more than ``--slow`` times the fastest sample's).

Run it from the repository root::

    python benchmarks/core_handover.py --seconds 120
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from lamina.experiments._report import machine_description

#: Rows copied per call: 32 x 784 = 25,088 numbers, below ATen's grain size, so one thread.
_ROWS = 32


def _median_us(before, op, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        before()
        start = time.perf_counter_ns()
        op()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--slow", type=float, default=1.5)
    args = parser.parse_args()

    torch.manual_seed(0)
    a, w, out = torch.randn(128, 784), torch.randn(784, 256), torch.empty(128, 256)
    source = torch.randn(128, 784)

    def product():
        torch.mm(a, w, out=out)

    def rewrite():                                       # serial: each copy below grain size
        for row in range(0, len(a), _ROWS):
            a[row:row + _ROWS].copy_(source[row:row + _ROWS])

    def nothing():
        pass

    rows = []
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        rows.append((_median_us(nothing, product, 100), _median_us(product, rewrite, 100),
                     _median_us(rewrite, rewrite, 100)))

    print(f"machine    {platform.platform()}")
    print(f"running    {machine_description()}")
    print(f"{len(rows)} samples of 100 repeats each, us (median)")
    fastest = min(after for _, after, _ in rows)
    slow = [after > args.slow * fastest for _, after, _ in rows]
    groups = {"all": [True] * len(rows), "fast state": [not s for s in slow], "slow state": slow}
    print(f"{'':26s}" + "".join(f"{f'{g} ({sum(m)})':>18s}" for g, m in groups.items()))
    for column, name in enumerate(("product", "rewrite after product", "rewrite again")):
        cells = ""
        for mask in groups.values():
            picked = [row[column] for row, m in zip(rows, mask) if m]
            cells += f"{statistics.median(picked):18.1f}" if picked else f"{'-':>18s}"
        print(f"{name:26s}{cells}")


if __name__ == "__main__":
    main()
