"""How much does lamina's ``fit`` cost over a hand-written PyTorch loop? (issue 2)

Trains the same model, from the same initial weights, for one epoch over the 60,000
Fashion-MNIST training images with three contenders, in one process:

* ``lamina``: ``model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=True)`` on a
  ``lm.zoo`` model compiled with ``SGD(lr=0.05, momentum=0.9)``,
  ``sparse_categorical_crossentropy`` and ``metrics=["accuracy"]``;
* ``slicing``: a hand-written loop over a plain ``torch.nn`` twin of the model that draws
  one ``randperm`` per epoch and slices ``x[idx]`` (what lamina does internally);
* ``dataloader``: the idiomatic tutorial loop, ``TensorDataset`` + ``DataLoader(batch_size=128,
  shuffle=True)``;
* ``lamina_jit`` (only when named in ``--contenders``): ``lamina`` compiled with
  ``jit=True``; it compiles once, in its warm-up run, and each timed run resets the weights
  and zeroes the optimizer's momentum in place instead of compiling again.

Both torch loops use ``torch.optim.SGD(lr=0.05, momentum=0.9)`` and ``F.cross_entropy`` on
the logits, and, as lamina does, accumulate the epoch's mean loss and accuracy on the device
and read them once at the end of the epoch. The models are the MLP 784-256-128-10 and
LeNet-5 (conv 6@5x5 pad 2, max-pool 2, conv 16@5x5, max-pool 2, fc 120, 84, 10), all ReLU.

Every contender starts each run from the same initial weights and a fresh optimizer, with
the global RNG re-seeded; the epoch's loss and accuracy are printed as a check that all three
do the same work (they agree closely, not exactly: each shuffles in its own way). Each
contender runs once untimed to warm up, then the timed runs alternate (lamina, slicing,
dataloader, lamina, ...) and the median of ``--repeats`` runs is reported with the raw times
and the fastest run. Timings include everything ``fit`` does per call (input checks, the
epoch, reading the results back); model construction and ``compile`` are outside the timed
region. The load average is printed before and after: on a shared machine other processes
inflate some runs, so read the raw times, and raise ``--repeats`` when they scatter.

Run it from the repository root (a few minutes on 2 CPU cores)::

    python benchmarks/fit_overhead.py
    python benchmarks/fit_overhead.py --models lenet5 --repeats 5 --markdown

Lower ratios are better for lamina; ``lamina / slicing`` close to 1 means ``fit`` adds
little over the hand-written loop it is built like.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lamina as lm

FALLBACK_DIR = Path("/usr/share/datasets/fashion-mnist")
CONTENDERS = ("lamina", "slicing", "dataloader", "lamina_jit")
DEFAULT_CONTENDERS = ("lamina", "slicing", "dataloader")
MODELS = ("mlp", "lenet5")
LR, MOMENTUM = 0.05, 0.9


# -- data ---------------------------------------------------------------------------------
def _read_idx_gz(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load_training_set(data_dir: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST's training images as float32 ``(N, 1, 28, 28)`` in [0, 1], labels int64.

    Uses ``lamina.datasets.fashion_mnist`` when it can; otherwise reads the IDX files in
    ``data_dir`` (default ``/usr/share/datasets/fashion-mnist``) directly.
    """
    try:
        from lamina.datasets import fashion_mnist

        (images, labels), _ = fashion_mnist.load_data(data_dir, verbose=False)
    except ImportError:
        folder = Path(data_dir) if data_dir else FALLBACK_DIR
        images = _read_idx_gz(folder / "train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        labels = _read_idx_gz(folder / "train-labels-idx1-ubyte.gz", 8)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return x.contiguous(), y


# -- the models ---------------------------------------------------------------------------
def lamina_model(name: str) -> lm.Sequential:
    """The lamina model: ``lm.zoo.MLP`` (with a Flatten) or ``lm.zoo.LeNet5``."""
    if name == "mlp":
        return lm.zoo.MLP((256, 128), outputs=10, input_shape=(1, 28, 28))
    return lm.zoo.LeNet5(num_classes=10, input_shape=(1, 28, 28))


def torch_twin(name: str) -> nn.Sequential:
    """The same architecture in plain ``torch.nn``, ending in logits (no softmax)."""
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                             nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def copy_weights(values: list[torch.Tensor], target: nn.Module) -> None:
    """Copy ``values`` (a model's parameters, in registration order) into ``target``."""
    params = list(target.parameters())
    shapes = ([tuple(v.shape) for v in values], [tuple(p.shape) for p in params])
    if shapes[0] != shapes[1]:
        raise RuntimeError(f"The twins' parameters differ: {shapes[0]} vs {shapes[1]}")
    with torch.no_grad():
        for value, param in zip(values, params, strict=True):
            param.copy_(value)


# -- the contenders -----------------------------------------------------------------------
def run_lamina(model: lm.Sequential, x: torch.Tensor, y: torch.Tensor,
               batch_size: int) -> tuple[float, float]:
    """One epoch of ``model.fit``; returns (mean loss, accuracy) from the history."""
    history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
    return history.history["loss"][-1], history.history["accuracy"][-1]


def _step(model: nn.Module, opt: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
          loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
    logits = model(xb)
    loss = F.cross_entropy(logits, yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    loss_sum.add_(loss.detach() * yb.shape[0])
    correct.add_((logits.detach().argmax(1) == yb).sum())


def run_slicing(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                batch_size: int) -> tuple[float, float]:
    """One epoch over ``x[perm[i:i + batch_size]]`` slices; one host read at the end."""
    model.train()
    n = len(x)
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)   # no sync per step
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    perm = torch.randperm(n, device=x.device)
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        _step(model, opt, x[idx], y[idx], loss_sum, correct)
    return loss_sum.item() / n, correct.item() / n


def run_dataloader(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                   y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """One epoch of the tutorial loop over ``DataLoader(TensorDataset(x, y), shuffle=True)``."""
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for xb, yb in loader:
        _step(model, opt, xb, yb, loss_sum, correct)
    n = len(loader.dataset)
    return loss_sum.item() / n, correct.item() / n


def make_runner(contender: str, name: str, initial: list[torch.Tensor], x: torch.Tensor,
                y: torch.Tensor, batch_size: int,
                seed: int) -> Callable[[], tuple[float, float, float]]:
    """A function that resets the contender to the shared initial state and times one epoch.

    ``initial`` holds the lamina model's initial parameters, in order. Returns
    ``run() -> (seconds, loss, accuracy)``; the reset (weights, optimizer) is not timed.
    """
    if contender.startswith("lamina"):
        model, jit, compiled = lamina_model(name), contender == "lamina_jit", []

        def reset():
            copy_weights(initial, model)
            if jit and compiled:
                for state in model.optimizer.state.values():  # fresh momentum, in place:
                    state["delta"].zero_()                    # the compiled step is kept
            else:
                model.compile(optimizer=lm.optimizers.SGD(lr=LR, momentum=MOMENTUM),
                              loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                              device="cpu", jit=jit)
                compiled.append(True)
            return lambda: run_lamina(model, x, y, batch_size)
    else:
        twin = torch_twin(name)
        loop = run_slicing if contender == "slicing" else run_dataloader

        def reset():
            copy_weights(initial, twin)
            opt = torch.optim.SGD(twin.parameters(), lr=LR, momentum=MOMENTUM)
            return lambda: loop(twin, opt, x, y, batch_size)

    def run() -> tuple[float, float, float]:
        epoch = reset()
        torch.manual_seed(seed)
        start = time.perf_counter()
        loss, acc = epoch()
        return time.perf_counter() - start, loss, acc

    return run


# -- reporting ----------------------------------------------------------------------------
def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_threads() -> int:
    """The number of cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def environment(threads: int) -> list[tuple[str, str]]:
    """(label, value) pairs describing the machine and the library versions."""
    return [
        ("machine", f"{platform.platform()}, {platform.machine()}"),
        ("processor", f"{cpu_name()}, {os.cpu_count()} logical cores"),
        ("torch threads", str(threads)),
        ("Python", platform.python_version()),
        ("torch", torch.__version__),
        ("numpy", np.__version__),
        ("lamina", getattr(lm, "__version__", "?")),
    ]


Runs = list[tuple[float, float, float]]  # (seconds, loss, accuracy) per timed run


def _median(runs: Runs) -> float:
    return statistics.median(t for t, _, _ in runs)


def _best(runs: Runs) -> float:
    return min(t for t, _, _ in runs)


def _raw(runs: Runs) -> str:
    return ", ".join(f"{t:.2f}" for t, _, _ in runs)


def report(name: str, runs: dict[str, Runs]) -> None:
    """Print one model's times, the last run's loss and accuracy, and the ratios."""
    print(f"== {name} ==")
    for contender, rs in runs.items():
        _, loss, acc = rs[-1]
        print(f"  {contender:<11} median {_median(rs):6.2f} s  best {_best(rs):6.2f} s  "
              f"raw [{_raw(rs)}]  loss {loss:.4f}  accuracy {acc:.4f}")
    for mine in ("lamina", "lamina_jit"):
        for other in ("slicing", "dataloader"):
            if mine in runs and other in runs:
                print(f"  {mine} / {other:<10} = {_median(runs[mine]) / _median(runs[other]):.3f}"
                      f" (medians), {_best(runs[mine]) / _best(runs[other]):.3f} (best runs)")
    print(flush=True)


def markdown(args: argparse.Namespace, env: list[tuple[str, str]], n: int, loads: list[str],
             results: dict[str, dict[str, Runs]]) -> str:
    """The results as a Markdown section for docs/benchmarks.md."""
    command = " ".join(["python benchmarks/fit_overhead.py", *sys.argv[1:]])
    lines = [
        "## fit overhead (issue 2)", "",
        f"Run on {datetime.date.today().isoformat()} with `{command}`: one epoch of {n:,} "
        f"Fashion-MNIST images, batch {args.batch_size}, SGD(lr={LR}, momentum={MOMENTUM}), "
        f"{args.repeats} alternated timed runs per contender after one warm-up each "
        f"(load average {loads[0]} before, {loads[1]} after).", "",
        "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in env], "",
        "| model | contender | median (s) | best (s) | raw (s) | loss | accuracy "
        "| lamina / this, medians | lamina / this, best |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        lam = runs["lamina"]
        for contender, rs in runs.items():
            _, loss, acc = rs[-1]
            ratios = ("", "") if contender == "lamina" else (
                f"{_median(lam) / _median(rs):.3f}", f"{_best(lam) / _best(rs):.3f}")
            lines.append(f"| {name} | {contender} | {_median(rs):.2f} | {_best(rs):.2f} | "
                         f"{_raw(rs)} | {loss:.4f} | {acc:.4f} | {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time lamina's fit against hand-written PyTorch loops (one epoch of "
                    "Fashion-MNIST).")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="models to benchmark (default: both)")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS,
                        default=list(DEFAULT_CONTENDERS),
                        help="default: lamina slicing dataloader (lamina_jit on request); "
                             "lamina is always timed, as the ratios' reference")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per contender; the median is reported (default 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="default 128")
    parser.add_argument("--samples", type=int, default=None,
                        help="train on the first N images only (default: all 60,000)")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="torch.set_num_threads (default: the cores this process may use)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the Fashion-MNIST IDX files (default: lamina's search)")
    parser.add_argument("--seed", type=int, default=0, help="default 0")
    parser.add_argument("--markdown", action="store_true",
                        help="also print a Markdown section for docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    torch.set_num_threads(args.threads)
    env = environment(torch.get_num_threads())
    for key, value in env:
        print(f"{key:>14}: {value}")

    x, y = load_training_set(args.data_dir)
    if args.samples is not None:
        x, y = x[:args.samples], y[:args.samples]
    loads = [load_average()]
    print(f"{'data':>14}: Fashion-MNIST train, x {tuple(x.shape)} float32, batch "
          f"{args.batch_size}, {args.repeats} timed runs per contender")
    print(f"{'load average':>14}: {loads[0]}\n", flush=True)
    if hasattr(os, "getloadavg") and os.getloadavg()[0] >= 1:
        print(f"warning: the 1-minute load average is {os.getloadavg()[0]:.2f}, so other "
              "processes may be using the CPU; with every core in torch's thread pool a busy "
              "neighbour can slow a run many-fold. Compare the raw times, raise --repeats, or "
              "use --threads 1 for steadier ratios.\n", flush=True)

    results: dict[str, dict[str, Runs]] = {}
    for name in args.models:
        torch.manual_seed(args.seed)
        initial = [p.detach().clone() for p in lamina_model(name).parameters()]
        contenders = ["lamina", *(c for c in args.contenders if c != "lamina")]
        runners = {c: make_runner(c, name, initial, x, y, args.batch_size, args.seed)
                   for c in contenders}
        for run in runners.values():  # warm-up, untimed
            run()
        results[name] = {c: [] for c in contenders}
        for _ in range(args.repeats):
            for contender, run in runners.items():
                results[name][contender].append(run())
        report(name, results[name])
    loads.append(load_average())
    print(f"{'load average':>14}: {loads[1]} (at the end)")

    if args.markdown:
        print("\n" + markdown(args, env, len(x), loads, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
