"""lamina's GPU fast paths against a hand-written PyTorch loop, one device, one process.

For LeNet-5 and ResNet-18 (CIFAR-style stem, 1x28x28 input) on Fashion-MNIST, one epoch
(SGD lr 0.05, momentum 0.9, batch 128) per contender, after an untimed warm-up epoch on a
slice of the data, alternated over ``--repeats`` runs (medians reported):

* ``torch``: the hand-written slicing loop of ``fit_overhead.py`` around the same lamina
  model (float32);
* ``lamina``: ``compile(precision="32", channels_last=False)``;
* ``bf16``: ``precision="bf16-mixed"``;
* ``bf16_nhwc``: ``precision="bf16-mixed", channels_last=True``;
* ``fp16_nhwc``: ``precision="16-mixed", channels_last=True`` (float16 with loss scaling);
* ``jit_graphs``: ``precision="bf16-mixed", channels_last=True, jit=True`` (CUDA graphs on
  CUDA); its compile time (the warm-up) is printed apart.

The hand-written loop draws its permutation and keeps its loss and accuracy sums on the
device (one host read per epoch, as ``fit``). The warm-up slice ends with a batch as short
as the epoch's last one, so that ``jit_graphs`` compiles for both batch shapes before the
timed runs. Every timed run ends with ``torch.cuda.synchronize()``. ``--device cpu`` runs it on the
CPU (a smoke test: autocast and NHWC are no faster there). Run from the repository root::

    python benchmarks/gpu_fast_paths.py
    python benchmarks/gpu_fast_paths.py --models lenet5 --repeats 3 --markdown
    python benchmarks/gpu_fast_paths.py --device cpu --samples 2560 --models lenet5
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_overhead import LR, MOMENTUM, _step, environment, load_training_set  # noqa: E402

import lamina as lm  # noqa: E402

MODELS = ("lenet5", "resnet18")
CONTENDERS = {
    "torch": None,
    "lamina": {"precision": "32", "channels_last": False, "cuda_graphs": False},
    "bf16": {"precision": "bf16-mixed", "channels_last": False, "cuda_graphs": False},
    "bf16_nhwc": {"precision": "bf16-mixed", "channels_last": True, "cuda_graphs": False},
    "fp16_nhwc": {"precision": "16-mixed", "channels_last": True, "cuda_graphs": False},
    "jit_graphs": {"precision": "bf16-mixed", "channels_last": True, "jit": True},
}


def build(name: str) -> lm.Model:
    if name == "lenet5":
        return lm.zoo.LeNet5(num_classes=10, input_shape=(1, 28, 28))
    return lm.zoo.ResNet(18, num_classes=10, input_shape=(1, 28, 28))


class Logits(torch.nn.Module):
    """The model without its final softmax: what ``F.cross_entropy`` takes."""

    def __init__(self, model: lm.Model):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_logits(x)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def slicing_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """One epoch of the hand-written loop over ``x[perm[i:i + batch_size]]`` slices, with the
    permutation and the running sums on ``x``'s device; returns (mean loss, accuracy)."""
    model.train()
    n = len(x)
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    perm = torch.randperm(n, device=x.device)
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        _step(model, opt, x[idx], y[idx], loss_sum, correct)
    return loss_sum.item() / n, correct.item() / n


def warm_slice(x: torch.Tensor, y: torch.Tensor, batch_size: int = 128, batches: int = 10):
    """The warm-up data: ``batches`` full batches, then a batch as short as the last of an
    epoch over ``x`` (so shape-specialized code compiles for both shapes before timing)."""
    n = min(len(x), batches * batch_size + len(x) % batch_size)
    return x[:n], y[:n]


def make_runner(contender: str, name: str, device: torch.device, x, y, warm):
    """Build the contender, run its untimed warm-up, return ``run() -> seconds`` (one epoch)
    and a note (the warm-up's seconds: the compile time of ``jit_graphs``)."""
    torch.manual_seed(0)
    model = build(name)
    settings = CONTENDERS[contender]
    if settings is None:  # the same module, trained by hand
        model.to(device)
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        net = Logits(model)

        def epoch(xs, ys):
            slicing_epoch(net, opt, xs, ys, 128)
    else:
        model.compile(optimizer=lm.optimizers.SGD(lr=LR, momentum=MOMENTUM),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      device=device, **settings)

        def epoch(xs, ys):
            model.fit(xs, ys, batch_size=128, epochs=1, verbose=0)
    start = time.perf_counter()
    epoch(*warm)
    sync(device)
    note = f"warm-up {time.perf_counter() - start:.1f} s"

    def run() -> float:
        sync(device)
        start = time.perf_counter()
        epoch(x, y)
        sync(device)
        return time.perf_counter() - start

    return run, note


def measure(name: str, contenders, device: torch.device, x, y, repeats: int,
            log=print) -> list[dict]:
    """Time one epoch over ``(x, y)`` per contender, ``repeats`` alternated runs each.

    Returns one dict per contender: ``model``, ``contender``, ``seconds`` (the median),
    ``runs`` (every run's seconds), ``ratio`` (``seconds`` over the ``torch`` loop's, or None
    without it), ``samples`` and ``note`` (the warm-up's seconds: ``jit_graphs``' compile).
    A contender that raises gets ``seconds`` None and the error in its note; the others go on.
    """
    warm = warm_slice(x, y)
    runners, notes = {}, {}
    for contender in contenders:
        try:
            runners[contender], notes[contender] = make_runner(contender, name, device, x, y,
                                                               warm)
        except Exception as error:  # noqa: BLE001 - reported in the row
            notes[contender] = f"failed: {type(error).__name__}: {error}"
    times: dict[str, list[float]] = {c: [] for c in contenders}
    for _ in range(repeats):  # alternated: a slow spell hits every contender
        for contender, run in list(runners.items()):
            try:
                times[contender].append(run())
            except Exception as error:  # noqa: BLE001 - reported in the row
                notes[contender] = f"failed: {type(error).__name__}: {error}"
                del runners[contender]
    base = statistics.median(times["torch"]) if times.get("torch") else None
    rows = []
    for contender, raw in times.items():
        seconds = statistics.median(raw) if contender in runners and raw else None
        row = {"model": name, "contender": contender, "seconds": seconds, "runs": raw,
               "ratio": seconds / base if base and seconds else None, "samples": len(x),
               "note": notes[contender]}
        rows.append(row)
        shown = f"{seconds:8.2f} s" if seconds is not None else "       - s"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
        log(f"{name:8s} {contender:10s} {shown}  this / torch {ratio:>5s}  "
            f"{row['note']}; runs {', '.join(f'{t:.2f}' for t in raw)}", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    """The rows of :func:`measure` as a markdown table."""
    lines = ["| model | contender | images | seconds per epoch | this / torch | note |",
             "|---|---|---:|---:|---:|---|"]
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
        runs = ", ".join(f"{t:.2f}" for t in row["runs"])
        seconds = f"{row['seconds']:.2f}" if row["seconds"] is not None else "-"
        note = row["note"].replace("|", "/").replace("\n", " ")
        lines.append(f"| {row['model']} | {row['contender']} | {row['samples']} | "
                     f"{seconds} | {ratio} | {note}; runs {runs} |")
    return "\n".join(lines)


def markdown(rows: list[dict], env, command: str) -> str:
    """The "GPU fast paths" section of docs/benchmarks.md: date, command, machine, table."""
    lines = [f"### GPU fast paths\n\nRun on {datetime.date.today().isoformat()} with "
             f"`{command}`.\n\n| | |\n|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in env]
    return "\n".join(lines) + "\n\n" + table(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS),
                        default=list(CONTENDERS))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--samples", type=int, default=None, help="first N images only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("No CUDA device here: pass --device cpu for a smoke test.")
        return 1
    env = environment(torch.get_num_threads())
    env.append(("device", torch.cuda.get_device_name(device) if device.type == "cuda"
                else "CPU"))
    for key, value in env:
        print(f"{key:>14}: {value}")
    x, y = load_training_set(None)
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    x, y = x.to(device), y.to(device)
    rows = []
    for name in args.models:
        rows += measure(name, args.contenders, device, x, y, args.repeats)
    if args.markdown:
        print()
        print(markdown(rows, env, "python benchmarks/gpu_fast_paths.py "
                       + " ".join(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
