"""One training step on a 30 GB memmap, never read in full (issue 24).

Creates ``x.npy`` (float32, ``(N, 1, 28, 28)``, 30 GB) and ``y.npy`` (int64) as sparse files
(they take no disk space: nothing is written but the headers), opens them with
``np.load(mmap_mode="r")`` and runs ``LeNet5.fit`` on them for one step (a callback stops
it), printing the resident memory before and after, the file's apparent and allocated size,
and the increase (target: under 1 GB). ``fit`` reads the batch's 32 rows, plus the two
samples it checks the model with; the epoch's permutation of N indices (8 bytes each) is the
largest allocation.

    python benchmarks/sparse_memmap_step.py [--gb 30] [--dir /tmp]
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import torch

import lamina as lm
from lamina.callbacks.base import TrainingStopped


def rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


class OneStep(lm.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise TrainingStopped("one step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=30.0)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    n = int(args.gb * 1e9) // (28 * 28 * 4)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        xp, yp = os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy")
        np.lib.format.open_memmap(xp, "w+", np.float32, (n, 1, 28, 28))  # sparse files
        np.lib.format.open_memmap(yp, "w+", np.int64, (n,))
        x, y = np.load(xp, mmap_mode="r"), np.load(yp, mmap_mode="r")
        model = lm.zoo.LeNet5()
        model.compile("sgd", "sparse_categorical_crossentropy")
        before = rss()
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=32, verbose=0, callbacks=[OneStep()])
        seconds = time.perf_counter() - start
        after = rss()
        allocated = os.stat(xp).st_blocks * 512
        print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
              f"numpy {np.__version__}, Python {platform.python_version()}")
        print(f"x: {n} x 1 x 28 x 28 float32 = {os.path.getsize(xp) / 1e9:.1f} GB apparent, "
              f"{allocated / 1e6:.1f} MB on disk; stopped: {history.stop_reason}")
        print(f"resident memory {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB: increase "
              f"{(after - before) / 2**20:.0f} MiB (target < 1024 MiB); fit took {seconds:.1f} s")


if __name__ == "__main__":
    main()
