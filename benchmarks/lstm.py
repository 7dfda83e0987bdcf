"""An LSTM classifier of row-by-row Fashion-MNIST: lamina ``fit`` against a hand-written
PyTorch loop and Keras 3 (torch backend), one epoch, one run each, in one process (issue 6).

Each image is a sequence of 28 rows of 28 pixels in [0, 1]; the model is LSTM(128) and a
Dense(10) read-out, trained with Adam(1e-3), batch 128, cross-entropy, accuracy tracked.

* ``lamina``: ``lm.zoo.SequenceClassifier(10, (28, 28), units=128)`` and ``fit``;
* ``torch``: ``nn.LSTM(28, 128, batch_first=True)`` + ``nn.Linear`` with lamina's initial
  weights, one ``randperm`` per epoch and tensor slices (the loop of ``fit_overhead.py``);
* ``keras``: ``keras.Sequential([Input((28, 28)), LSTM(128), Dense(10, "softmax")])``,
  ``fit(batch_size=128, verbose=0)`` (its own initial weights: Keras's LSTM layout differs).

Each contender first trains on the first 1,280 images, untimed (first-call costs: oneDNN
primitive creation, allocations), then its timed epoch(s) start.

Targets (issue 6): lamina / torch <= 1.05; lamina >= 3x faster than Keras.

    python benchmarks/lstm.py --markdown
    python benchmarks/lstm.py --repeats 3 --markdown   # alternated runs, medians
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_overhead import (  # noqa: E402
    copy_weights,
    default_threads,
    environment,
    load_average,
    load_training_set,
    run_slicing,
)

import lamina as lm  # noqa: E402

CONTENDERS = ("lamina", "torch", "keras")
UNITS, LR, BATCH = 128, 1e-3, 128
WARMUP = 1280  # images each contender trains on, untimed, before its timed epochs


class TorchLSTM(nn.Module):
    """The plain-PyTorch twin: LSTM over the rows, a linear read-out of the last output."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, UNITS, batch_first=True)
        self.out = nn.Linear(UNITS, 10)

    def forward(self, x):
        return self.out(self.lstm(x)[0][:, -1])


def time_contender(name: str, initial, x, y, epochs: int) -> tuple[float, float]:
    """Seconds for ``epochs`` epochs (model set-up excluded) and the last epoch's accuracy."""
    torch.manual_seed(0)
    if name == "lamina":
        model = lm.zoo.SequenceClassifier(10, (28, 28), units=UNITS)
        copy_weights(initial, model)
        model.compile(optimizer=lm.optimizers.Adam(lr=LR), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], device="cpu")
        model.fit(x[:WARMUP], y[:WARMUP], batch_size=BATCH, epochs=1, verbose=0)
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
        return time.perf_counter() - start, history.history["accuracy"][-1]
    if name == "torch":
        model = TorchLSTM()
        copy_weights(initial, model)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        run_slicing(model, opt, x[:WARMUP], y[:WARMUP], BATCH)
        start = time.perf_counter()
        for _ in range(epochs):
            _, accuracy = run_slicing(model, opt, x, y, BATCH)
        return time.perf_counter() - start, accuracy
    import keras

    model = keras.Sequential([keras.Input((28, 28)), keras.layers.LSTM(UNITS),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(LR), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    xn, yn = x.numpy(), y.numpy()
    model.fit(xn[:WARMUP], yn[:WARMUP], batch_size=BATCH, epochs=1, verbose=0)
    start = time.perf_counter()
    history = model.fit(xn, yn, batch_size=BATCH, epochs=epochs, verbose=0, shuffle=True)
    return time.perf_counter() - start, history.history["accuracy"][-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="default 1")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--samples", type=int, default=None, help="first N images only")
    parser.add_argument("--repeats", type=int, default=1,
                        help="alternated timed runs per contender; the median is reported")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    env = environment(torch.get_num_threads())
    if "keras" in args.contenders:
        import keras

        env.append(("keras", f"{keras.__version__} ({keras.backend.backend()} backend)"))
    for key, value in env:
        print(f"{key:>14}: {value}")
    images, labels = load_training_set(None)
    x = images.reshape(-1, 28, 28).contiguous()
    if args.samples:
        x, labels = x[:args.samples], labels[:args.samples]
    torch.manual_seed(0)
    initial = [p.detach().clone() for p in
               lm.zoo.SequenceClassifier(10, (28, 28), units=UNITS).parameters()]
    loads = [load_average()]
    runs: dict = {name: [] for name in args.contenders}
    accuracies = {}
    for repeat in range(args.repeats):  # alternated, so drift hits every contender alike
        for name in args.contenders:
            seconds, accuracies[name] = time_contender(name, initial, x, labels, args.epochs)
            runs[name].append(seconds)
            print(f"{name:7s} run {repeat + 1}: {seconds:7.2f} s  train accuracy "
                  f"{accuracies[name]:.4f}", flush=True)
    times = {name: statistics.median(seconds) for name, seconds in runs.items()}
    loads.append(load_average())
    if "lamina" in times:
        print("ratios lamina / peer: " + ", ".join(
            f"{c} {times['lamina'] / t:.3f}" for c, t in times.items() if c != "lamina"))
    print(f"load average {loads[0]} before, {loads[1]} after")
    if args.markdown:
        print(f"\nRun on {datetime.date.today().isoformat()} with `python benchmarks/lstm.py "
              f"{' '.join(sys.argv[1:])}`: LSTM(128) + Dense(10), Adam(1e-3), batch 128, "
              f"{args.epochs} epoch(s) of {len(x):,} row-by-row Fashion-MNIST images after an "
              f"untimed warm-up on {WARMUP:,} (load "
              f"average {loads[0]} before, {loads[1]} after).\n\n| | |\n|---|---|")
        print("\n".join(f"| {k} | {v} |" for k, v in env))
        print("\n| contender | median seconds | raw (s) | train accuracy | lamina / this |\n"
              "|---|---:|---|---:|---:|")
        for name, seconds in times.items():
            ratio = "" if name == "lamina" or "lamina" not in times else \
                f"{times['lamina'] / seconds:.3f}"
            raw = ", ".join(f"{t:.2f}" for t in runs[name])
            print(f"| {name} | {seconds:.2f} | {raw} | {accuracies[name]:.4f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
