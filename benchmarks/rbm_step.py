"""One contrastive-divergence step of a 784-256 RBM: textbook, fused, fused with draws ahead.

Times, interleaved in one process in blocks of ``--block`` steps for ``--seconds``:

* ``textbook``: :meth:`lamina.unsupervised.RBM._cd_step` (``fast=False``'s step);
* ``fused``: :class:`lamina.fast.rbm.FusedContrastiveDivergence` drawing each step's uniforms;
* ``fused_ahead_torch``: the same step with :class:`lamina.fast.rbm.DrawAhead`, its blocks
  drawn by torch's ``uniform_``;
* ``fused_ahead``: the same, its blocks drawn by :func:`lamina.fast.draws.uniform_` (lamina's
  C twister where a C compiler is at hand: the same numbers), as ``fit`` runs it.

Each variant trains its own PCD-1 RBM on the same binarized batch. A virtual machine may
switch between a fast and a slow state while it runs (on the 2-core VM of
``docs/benchmarks.md`` the hand-over between serial work and two-thread products slows
down); the script reports the median microseconds per step over all blocks and, when the
blocks fall into two groups, per state (a round is "slow" when its blocks together
took more than ``--slow`` times the fastest round's).

Run it from the repository root::

    python benchmarks/rbm_step.py --seconds 120
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from lamina.experiments._report import machine_description
from lamina.fast import draws
from lamina.fast.rbm import DrawAhead, FusedContrastiveDivergence
from lamina.unsupervised import RBM


def _rbm(visible: int, hidden: int, batch: int) -> RBM:
    rbm = RBM(hidden, persistent=True, k=1, lr=0.05, batch_size=batch, random_state=0)
    rbm.reset_parameters(visible)
    rbm._chain = torch.zeros(batch, hidden)
    return rbm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--block", type=int, default=128, help="steps per timed block")
    parser.add_argument("--visible", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--slow", type=float, default=1.2,
                        help="a round is slow when its blocks took this x the fastest")
    args = parser.parse_args()

    torch.manual_seed(0)
    v = (torch.rand(args.batch, args.visible) > 0.6).float()
    shape = (args.visible, args.hidden, args.batch)
    textbook = _rbm(*shape)
    fused = FusedContrastiveDivergence(_rbm(*shape), args.batch)
    ahead = FusedContrastiveDivergence(_rbm(*shape), args.batch, steps_per_epoch=10**9)
    ahead_torch = FusedContrastiveDivergence(_rbm(*shape), args.batch, steps_per_epoch=10**9)
    ahead_torch.ahead = DrawAhead(ahead_torch.rbm.weight, ahead.ahead.per_step, 10**9,
                                  fill=lambda block, g: block.uniform_(generator=g))
    variants = {"textbook": lambda: textbook._cd_step(v, 0.05),
                "fused": lambda: fused(v, 0.05),
                "fused_ahead_torch": lambda: ahead_torch(v, 0.05),
                "fused_ahead": lambda: ahead(v, 0.05)}
    for step in variants.values():                       # warm-up: allocator, threads
        for _ in range(20):
            step()
    times: dict[str, list[float]] = {name: [] for name in variants}
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        for name, step in variants.items():
            start = time.perf_counter()
            for _ in range(args.block):
                step()
            times[name].append((time.perf_counter() - start) / args.block * 1e6)

    print(f"machine    {platform.platform()}")
    print(f"running    {machine_description()}")
    kernel = "lamina's C twister" if draws.native_kernel() else "torch (no C compiler)"
    print(f"draws      fused_ahead's blocks: {kernel}")
    print(f"RBM        {args.visible}-{args.hidden}, PCD-1, batches of {args.batch}; "
          f"{len(times['textbook'])} rounds of {args.block} steps each")
    totals = [sum(round_) for round_ in zip(*times.values())]
    slow = [t > args.slow * min(totals) for t in totals]
    groups = {"all": [True] * len(slow), "fast state": [not s for s in slow], "slow state": slow}
    print(f"{'us per step (median)':22s}"
          + "".join(f"{f'{g} ({sum(m)})':>18s}" for g, m in groups.items()))
    for name, series in times.items():
        row = ""
        for mask in groups.values():
            picked = [t for t, m in zip(series, mask) if m]
            row += f"{statistics.median(picked):18.0f}" if picked else f"{'-':>18s}"
        print(f"{name:22s}{row}")
    pairs = [("fused", "textbook"), ("fused_ahead", "textbook"), ("fused_ahead_torch", "fused"),
             ("fused_ahead", "fused_ahead_torch")]
    for name, base in pairs:
        ratios = [t / b for t, b in zip(times[name], times[base])]
        print(f"{name} / {base}, median of rounds: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
