"""Is an epoch read from a memmap as fast as one from memory? (issue 24)

One epoch of LeNet-5 over the 60,000 Fashion-MNIST training images (float32 in [0, 1],
``batch_size=128``, ``SGD(0.05, momentum=0.9)``, shuffled), in one process, from

* ``memory``: the numpy array in RAM (``fit`` makes it one tensor and slices it);
* ``memmap``: the same array written once with ``lm.datasets.ArrayFile`` and opened as a
  read-only ``numpy.memmap``: ``fit`` gathers each batch's rows from the file in a
  background thread, one batch ahead of the step (lamina.training.streaming).

The file sits in the page cache after the first epoch (as a data set read every epoch
does); the cost measured is the per-step gather, conversion and hand-over, against the
in-memory slicing. Each contender runs once untimed, then the timed runs alternate and the
median of ``--repeats`` is reported with the raw times; the target is memmap/memory <= 1.2.

    python benchmarks/memmap_epoch.py --repeats 3 --markdown
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import torch

import lamina as lm


def epoch(x, y) -> float:
    lm.set_seed(0)
    model = lm.zoo.LeNet5()
    model.compile(lm.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    (x, y), _ = lm.datasets.fashion_mnist.load_data()
    x = (x.astype(np.float32) / 255.0)[:, None]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fashion")
        lm.datasets.ArrayFile.write(path, x=x, y=y)
        xm, ym = lm.datasets.ArrayFile(path).arrays("x", "y")
        contenders = {"memory": (x, y), "memmap": (xm, ym)}
        times = {name: [] for name in contenders}
        load = os.getloadavg()[0]
        for data in contenders.values():  # warm-up (and the page cache)
            epoch(*data)
        for _ in range(args.repeats):
            for name, data in contenders.items():
                times[name].append(epoch(*data))
        load_after = os.getloadavg()[0]
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["memmap"] / median["memory"]
    machine = (f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
               f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
               f"{np.__version__}, Python {platform.python_version()}; load average "
               f"{load:.1f} -> {load_after:.1f}")
    if args.markdown:
        print(f"Machine: {machine}\n")
        print("| data | median epoch (s) | runs (s) |\n|---|---|---|")
        for name, t in times.items():
            print(f"| {name} | {median[name]:.2f} | {', '.join(f'{v:.2f}' for v in t)} |")
        print(f"\nmemmap / memory: **{ratio:.3f}** (target <= 1.2)")
    else:
        print(machine)
        for name, t in times.items():
            print(f"{name:7s} median {median[name]:.2f} s  runs {[round(v, 2) for v in t]}")
        print(f"memmap / memory = {ratio:.3f} (target <= 1.2)")


if __name__ == "__main__":
    main()
