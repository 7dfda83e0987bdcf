"""lamina versus Keras 3 (torch backend), Lightning and a hand-written PyTorch loop (issue 3).

Same models (MLP 784-256-128-10 and LeNet-5, ReLU), same initial weights where the peer lets
us set them, same hyper-parameters (SGD lr 0.05, momentum 0.9, batch 128, cross-entropy,
accuracy tracked), one epoch and five epochs of the 60,000 Fashion-MNIST training images,
one run per contender after an untimed warm-up on 1,280 images (``--repeats N``: N
alternated runs, medians reported), in one process. lamina runs twice: eager, and with
``compile(jit=True)`` (its compile time, the first call, is reported separately: the jit
row times calls after a warm-up epoch).

* ``torch``: the hand-written tensor-slicing loop of ``fit_overhead.py``;
* ``keras``: ``keras.Sequential`` (``KERAS_BACKEND=torch``, channels-first) with
  ``compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"])`` and
  ``fit(batch_size=128, verbose=0)``;
* ``lightning``: a ``LightningModule`` around the torch twin, ``Trainer(accelerator="cpu",
  devices=1)`` with no logger, progress bar or checkpointing, over a shuffling
  ``DataLoader``, logging loss and accuracy per epoch as lamina does.

Run from the repository root (``make bench`` installs the peers)::

    python benchmarks/peers.py
    python benchmarks/peers.py --models lenet5 --epochs 1 5 --markdown
    python benchmarks/peers.py --models lenet5 --epochs 1 --repeats 3   # a noisy machine
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import resource
import statistics
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_overhead import (  # noqa: E402
    LR,
    MODELS,
    MOMENTUM,
    copy_weights,
    default_threads,
    environment,
    lamina_model,
    load_average,
    load_training_set,
    run_slicing,
    torch_twin,
)

import lamina as lm  # noqa: E402

CONTENDERS = ("lamina", "lamina_jit", "torch", "keras", "lightning")


def keras_model(name: str):
    import keras
    from keras import layers

    fmt = "channels_first"
    if name == "mlp":
        stack = [layers.Flatten(), layers.Dense(256, activation="relu"),
                 layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    else:
        stack = [layers.Conv2D(6, 5, padding="same", activation="relu", data_format=fmt),
                 layers.MaxPooling2D(2, data_format=fmt),
                 layers.Conv2D(16, 5, activation="relu", data_format=fmt),
                 layers.MaxPooling2D(2, data_format=fmt), layers.Flatten(data_format=fmt),
                 layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
                 layers.Dense(10, activation="softmax")]
    model = keras.Sequential([keras.Input((1, 28, 28)), *stack])
    model.compile(optimizer=keras.optimizers.SGD(LR, momentum=MOMENTUM),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def lightning_module(name: str, initial):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch_twin(name)
            copy_weights(initial, self.net)

        def training_step(self, batch, _):
            xb, yb = batch
            logits = self.net(xb)
            loss = F.cross_entropy(logits, yb)
            acc = (logits.argmax(1) == yb).float().mean()
            self.log_dict({"loss": loss, "accuracy": acc}, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=LR, momentum=MOMENTUM)

    return Module()


class Stopwatch:
    """Wall time and minor page faults of this process since ``start()``."""

    def start(self) -> None:
        self.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        self.t0 = time.perf_counter()

    def stop(self, note: str = "") -> tuple[float, str]:
        seconds = time.perf_counter() - self.t0
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults
        return seconds, f"{faults:,} page faults" + (f"; {note}" if note else "")


def time_contender(contender: str, name: str, initial, x, y, epochs: int) -> tuple[float, str]:
    """Seconds for ``epochs`` epochs (setup excluded) and a note: the page faults of the timed
    part, and the compile time of the jit contender."""
    torch.manual_seed(0)
    note = ""
    watch = Stopwatch()
    if contender.startswith("lamina"):
        model = lamina_model(name)
        copy_weights(initial, model)
        jit = contender == "lamina_jit"
        model.compile(optimizer=lm.optimizers.SGD(lr=LR, momentum=MOMENTUM),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      device="cpu", jit=jit)
        if jit:  # the first call compiles: time it, then time the steady state
            start = time.perf_counter()
            model.fit(x[:1280], y[:1280], batch_size=128, epochs=1, verbose=0)
            note = f"compile+first {time.perf_counter() - start:.1f} s"
        watch.start()
        model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
        return watch.stop(note)
    if contender == "torch":
        twin = torch_twin(name)
        copy_weights(initial, twin)
        opt = torch.optim.SGD(twin.parameters(), lr=LR, momentum=MOMENTUM)
        watch.start()
        for _ in range(epochs):
            run_slicing(twin, opt, x, y, 128)
        return watch.stop()
    if contender == "keras":
        model = keras_model(name)
        model.set_weights([w.permute(*reversed(range(w.dim()))).numpy()
                           if w.dim() == 2 else _conv_to_keras(w) for w in initial])
        xn, yn = x.numpy(), y.numpy()
        watch.start()
        model.fit(xn, yn, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
        return watch.stop()
    import lightning as L

    module = lightning_module(name, initial)
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                        log_every_n_steps=10**9,
                        enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False)
    watch.start()
    trainer.fit(module, loader)
    return watch.stop()


def _conv_to_keras(w: torch.Tensor) -> np.ndarray:
    """torch (out, in, kh, kw) kernels and 1-D biases to Keras's (kh, kw, in, out) layout."""
    return w.numpy() if w.dim() == 1 else w.permute(2, 3, 1, 0).numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--epochs", nargs="+", type=int, default=[1, 5])
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--samples", type=int, default=None, help="first N images only")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed runs per contender, alternated; the median is reported")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="lm.config.keep_freed_memory() first (glibc mallopt)")
    args = parser.parse_args(argv)
    if args.keep_freed_memory:
        lm.config.keep_freed_memory()
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    import keras
    import lightning

    env = environment(torch.get_num_threads()) + [("keras", f"{keras.__version__} "
                                                   f"({keras.backend.backend()} backend)"),
                                                  ("lightning", lightning.__version__)]
    for key, value in env:
        print(f"{key:>14}: {value}")
    x, y = load_training_set(None)
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    loads = [load_average()]
    rows = []
    for name in args.models:
        torch.manual_seed(0)
        initial = [p.detach().clone() for p in lamina_model(name).parameters()]
        for contender in args.contenders:  # warm-up, untimed: the first run of a process
            if contender != "lamina_jit":  # pays one-off costs (kernels, allocator, caches)
                time_contender(contender, name, initial, x[:1280], y[:1280], 1)
        for epochs in args.epochs:
            runs: dict[str, list[float]] = {c: [] for c in args.contenders}
            notes = {}
            for _ in range(args.repeats):  # alternated: a slow spell hits every contender
                for contender in args.contenders:
                    seconds, note = time_contender(contender, name, initial, x, y, epochs)
                    notes.setdefault(contender, note)  # the first run's: its compile time
                    runs[contender].append(seconds)
                    print(f"{name:7s} {epochs} epoch(s) {contender:11s} {seconds:7.2f} s  "
                          f"{note}", flush=True)
            times = {c: statistics.median(r) for c, r in runs.items()}
            for contender, seconds in times.items():
                raw = runs[contender]
                note = notes[contender] + (f"; median of {', '.join(f'{t:.2f}' for t in raw)}"
                                           if len(raw) > 1 else "")
                rows.append((name, epochs, contender, seconds, note))
            base = times.get("lamina")
            if base:
                print("  ratios lamina / peer: " + ", ".join(
                    f"{c} {base / t:.2f}" for c, t in times.items() if c != "lamina"))
                if "lamina_jit" in times:
                    print("  ratios lamina_jit / peer: " + ", ".join(
                        f"{c} {times['lamina_jit'] / t:.2f}" for c, t in times.items()
                        if c != "lamina_jit"))
    loads.append(load_average())
    print(f"load average {loads[0]} before, {loads[1]} after")
    if args.markdown:
        print(f"\n### lamina vs Keras 3 vs Lightning vs PyTorch (issue 3)\n\nRun on "
              f"{datetime.date.today().isoformat()} with `python benchmarks/peers.py "
              f"{' '.join(sys.argv[1:])}` (load average {loads[0]} before, {loads[1]} after)."
              f"\n\n| | |\n|---|---|")
        print("\n".join(f"| {k} | {v} |" for k, v in env))
        print("\n| model | epochs | contender | seconds | lamina / this | note |\n"
              "|---|---:|---|---:|---:|---|")
        lam = {(n, e): s for n, e, c, s, _ in rows if c == "lamina"}
        for n, e, c, s, note in rows:
            ratio = "" if c == "lamina" else f"{lam[(n, e)] / s:.2f}"
            print(f"| {n} | {e} | {c} | {s:.2f} | {ratio} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
