"""What does on-device augmentation cost next to a training epoch? (target: < 10% of an epoch)

Measures, in one process and on one device (CUDA when present, else CPU):

* ``augment``: ``Compose([RandomCrop(2), RandomFlip()])`` applied to 60,000 28x28 images in
  batches of 128 (slices of one tensor already on the device), i.e. the augmentation work of
  one Fashion-MNIST epoch, nothing else;
* ``lenet5``: one epoch of ``lm.zoo.LeNet5()`` compiled with ``SGD(lr=0.05, momentum=0.9)``
  and ``sparse_categorical_crossentropy``, ``fit(x, y, batch_size=128, epochs=1, verbose=0)``;
* ``lenet5+augment``: the same epoch with ``fit(..., augment=aug)``, when ``fit`` takes it.

The data are random, with Fashion-MNIST's shapes (the cost does not depend on the pixels).
Each measurement runs once untimed to warm up, then ``--repeats`` times; the median is
reported with the raw times, and the ratio ``augment / lenet5`` is the overhead. On a shared
machine other processes inflate some runs: read the raw times.

Run it from the repository root::

    python benchmarks/augment_overhead.py            # 60,000 images, 3 repeats
    python benchmarks/augment_overhead.py --quick    # 4,096 images, 1 repeat (a smoke test)
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import time

import torch

import lamina as lm
from lamina.augment import Compose, RandomCrop, RandomFlip


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_augmentation(aug, x: torch.Tensor, batch_size: int) -> float:
    """Seconds to augment every batch of ``x`` once (the device is synchronized at the end)."""
    sync(x.device)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        aug(x[i:i + batch_size])
    sync(x.device)
    return time.perf_counter() - start


def time_epoch(x: torch.Tensor, y: torch.Tensor, batch_size: int, augment=None) -> float:
    """Seconds for one ``fit`` epoch of a fresh LeNet-5 (compile outside the timed region)."""
    lm.set_seed(0)
    model = lm.zoo.LeNet5()
    model.compile(optimizer=lm.optimizers.SGD(lr=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", device=x.device)
    kwargs = {} if augment is None else {"augment": augment}
    sync(x.device)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, **kwargs)
    sync(x.device)
    return time.perf_counter() - start


def measure(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    return [fn() for _ in range(repeats)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda', ...")
    parser.add_argument("--quick", action="store_true",
                        help="4,096 images and one repeat: checks that the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.repeats = 4096, 1
    device = lm.models.model.resolve_device(args.device)
    lm.set_seed(0)
    x = torch.rand(args.samples, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (args.samples,), device=device)
    aug = Compose([RandomCrop(2), RandomFlip()])

    rows = {"augment": measure(lambda: time_augmentation(aug, x, args.batch_size), args.repeats),
            "lenet5": measure(lambda: time_epoch(x, y, args.batch_size), args.repeats)}
    if "augment" in inspect.signature(lm.Model.fit).parameters:
        rows["lenet5+augment"] = measure(lambda: time_epoch(x, y, args.batch_size, aug),
                                         args.repeats)

    print(f"{aug!r} on {args.samples:,} images 1x28x28, batch {args.batch_size}, "
          f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'what':<16}{'median s/epoch':>16}   raw")
    medians = {}
    for name, times in rows.items():
        medians[name] = statistics.median(times)
        print(f"{name:<16}{medians[name]:>16.3f}   {', '.join(f'{t:.3f}' for t in times)}")
    ratio = medians["augment"] / medians["lenet5"]
    verdict = "meets" if ratio < 0.10 else "misses"
    print(f"augmentation / LeNet-5 epoch = {ratio:.1%} ({verdict} the < 10% target)")
    if "lenet5+augment" in medians:
        extra = medians["lenet5+augment"] / medians["lenet5"] - 1
        print(f"fit(augment=...) epoch vs plain epoch: {extra:+.1%}")


if __name__ == "__main__":
    main()
