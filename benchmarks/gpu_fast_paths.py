"""lamina's GPU fast paths against a hand-written PyTorch loop, one device, one process.

For LeNet-5 and ResNet-18 (CIFAR-style stem, 1x28x28 input) on Fashion-MNIST, one epoch
(SGD lr 0.05, momentum 0.9, batch 128) per contender, after an untimed warm-up epoch on a
slice of the data, alternated over ``--repeats`` runs (medians reported):

* ``torch``: the hand-written slicing loop of ``fit_overhead.py`` around the same lamina
  model (float32);
* ``lamina``: ``compile(precision="32", channels_last=False)``;
* ``bf16``: ``precision="bf16-mixed"``;
* ``bf16_nhwc``: ``precision="bf16-mixed", channels_last=True``;
* ``jit_graphs``: ``precision="bf16-mixed", channels_last=True, jit=True`` (CUDA graphs on
  CUDA); its compile time (the warm-up) is printed apart.

Every timed run ends with ``torch.cuda.synchronize()``. ``--device cpu`` runs it on the
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
from fit_overhead import LR, MOMENTUM, environment, load_training_set, run_slicing  # noqa: E402

import lamina as lm  # noqa: E402

MODELS = ("lenet5", "resnet18")
CONTENDERS = {
    "torch": None,
    "lamina": {"precision": "32", "channels_last": False, "cuda_graphs": False},
    "bf16": {"precision": "bf16-mixed", "channels_last": False, "cuda_graphs": False},
    "bf16_nhwc": {"precision": "bf16-mixed", "channels_last": True, "cuda_graphs": False},
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
            run_slicing(net, opt, xs, ys, 128)
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
    warm = (x[:1280], y[:1280])
    rows = []
    for name in args.models:
        runners = {c: make_runner(c, name, device, x, y, warm) for c in args.contenders}
        times: dict[str, list[float]] = {c: [] for c in runners}
        for _ in range(args.repeats):  # alternated: a slow spell hits every contender
            for contender, (run, _) in runners.items():
                times[contender].append(run())
        base = statistics.median(times["torch"]) if "torch" in times else None
        for contender, raw in times.items():
            seconds = statistics.median(raw)
            ratio = f"{seconds / base:.2f}" if base else ""
            note = f"{runners[contender][1]}; runs {', '.join(f'{t:.2f}' for t in raw)}"
            rows.append((name, contender, seconds, ratio, note))
            print(f"{name:8s} {contender:10s} {seconds:8.2f} s  this / torch {ratio:>5s}  {note}",
                  flush=True)
    if args.markdown:
        print(f"\n### GPU fast paths\n\nRun on {datetime.date.today().isoformat()} with "
              f"`python benchmarks/gpu_fast_paths.py {' '.join(sys.argv[1:])}`.\n\n| | |\n"
              f"|---|---|")
        print("\n".join(f"| {k} | {v} |" for k, v in env))
        print("\n| model | contender | seconds per epoch | this / torch | note |\n"
              "|---|---|---:|---:|---|")
        for name, contender, seconds, ratio, note in rows:
            print(f"| {name} | {contender} | {seconds:.2f} | {ratio} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
