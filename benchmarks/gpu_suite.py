"""Every GPU measurement of issue 24's point 5 in one process, sized to fit a short device lease.

Four sections, run in this order (``--sections`` picks some), each one's numbers written to
``--out``/``gpu_suite.json`` (and the markdown to ``gpu_suite.md``) as soon as it ends, so a
run stopped by a time limit keeps what it finished:

* ``rbm``: lamina's RBM, 784-256, batch 64, lr 0.05, CD-1 and PCD-1 on ``--device``, against
  scikit-learn's ``BernoulliRBM`` (PCD-1, same settings) on the CPU, on binarized
  Fashion-MNIST (pixels > 127), float32 for both. Seconds per epoch of 60,000 images: lamina
  from ``--rbm-epochs`` epochs after a warm-up fit; scikit-learn from ``--sklearn-epochs``
  epochs over the first ``--sklearn-samples`` images, scaled to 60,000 when fewer (said in
  the output). Issue 5's target: scikit-learn / lamina GPU >= 50. The test pseudo-likelihood
  of lamina's PCD-1 model and scikit-learn's (same flipped units) checks both learned.
* ``fast_paths``: ``gpu_fast_paths.py``'s contenders (the hand-written float32 loop;
  ``fit`` in float32, bf16 autocast, bf16 + channels-last, fp16 + channels-last, bf16 +
  channels-last + ``jit`` with CUDA graphs), one epoch of LeNet-5 on all 60,000 images and of
  ResNet-18 on the first ``--resnet-fast-samples``, ``--fast-repeats`` alternated runs.
* ``lenet_time``: how long LeNet-5 takes to reach 99 % training and 91 % test accuracy,
  lamina's ``fit`` against a hand-written loop over the ``torch.nn`` twin of the same
  network (same initial weights). Both follow ``lamina.demo``'s recipe: Adam(2e-3, epsilon
  1e-7), batch 128, a cosine decay over ``--lenet-epochs`` epochs (the cap), all 60,000
  training images. At each epoch's end both are evaluated by the same function (accuracy
  over the full training and test sets, eval mode, no gradients), outside the clock; a
  contender stops once each target has been met (at its own epoch: LeNet-5 overfits, its
  test accuracy peaks near 91 % long before the training accuracy reaches 99 %), at the
  cap, or at its half of the section's time. ``both`` records the first epoch meeting the
  two at once, if any. lamina's ``compile`` keeps its defaults for the device (on CUDA: channels-last).
* ``resnet18_aug``: ResNet-18 (small-input stem) with ``lamina.experiments.small_resnet``'s
  recipe (standardized inputs, RandomCrop(2) + horizontal flips per batch inside ``fit``,
  SGD(0.1, momentum 0.9, weight decay 5e-4), cosine decay, batch 128) in bf16 autocast with
  channels-last, against the 0.949 published for it (Zalando's benchmark table). The number
  of epochs is the most that fits the time left (at most ``--resnet-epochs``), from a timed
  slice of an epoch; a callback stops early if the estimate was short. Seeded without
  lamina's deterministic switch (cuDNN picks its fastest kernels).

``--budget-s`` is the wall-clock time the whole run may take (from the interpreter's start):
each section gets what is left, less a reserve for the sections after it, and a section that
cannot start in time is recorded as skipped. A section that fails records its traceback and
the run goes on. ``--smoke`` shrinks every size (a CPU test: ``--smoke --device cpu``).

Run from the repository root (see benchmarks/GPU_RUN.md for the device call)::

    python benchmarks/gpu_suite.py --budget-s 540 --out runs/gpu_suite --markdown
    python benchmarks/gpu_suite.py --smoke --device cpu --out /tmp/smoke
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # this folder's modules, then the checkout's lamina
import gpu_fast_paths as gfp  # noqa: E402
from fit_overhead import copy_weights, cpu_name, environment, torch_twin  # noqa: E402

import lamina as lm  # noqa: E402
from lamina import augment  # noqa: E402
from lamina._io import atomic_open  # noqa: E402
from lamina.experiments import rbm_vs_sklearn as rvs  # noqa: E402
from lamina.experiments.small_resnet import PUBLISHED_RESNET18, _standardize  # noqa: E402
from lamina.unsupervised import RBM  # noqa: E402

SECTIONS = ("rbm", "fast_paths", "lenet_time", "resnet18_aug")
#: The least time (seconds) a section needs to start, on a GPU and in the smoke test.
MINIMUM = {"rbm": 15, "fast_paths": 40, "lenet_time": 30, "resnet18_aug": 45}
#: The most time a section may take on a GPU (the last one takes whatever is left).
CAP = {"rbm": 60, "fast_paths": 240, "lenet_time": 170, "resnet18_aug": float("inf")}
TARGETS = {"train": 0.99, "test": 0.91}  # LeNet-5's accuracy targets (issue 24)
FULL_EPOCH = 60_000                       # Fashion-MNIST's training images


def log(*args, **kwargs) -> None:
    print(f"[{time.perf_counter() - START:6.1f} s]", *args, **{"flush": True, **kwargs})


def sync(device: torch.device) -> None:
    gfp.sync(device)


class Budget:
    """Seconds left before ``--budget-s`` (counted from the interpreter's start)."""

    def __init__(self, seconds: float):
        self.end = START + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


class Run:
    """What every section reads: the settings, the device, the data and a deadline."""

    def __init__(self, args, device: torch.device, data, deadline: float):
        self.args, self.device, self.data, self.deadline = args, device, data, deadline

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def tensors(self, images: np.ndarray, labels: np.ndarray):
        """uint8 images ``(N, 28, 28)`` as float32 ``(N, 1, 28, 28)`` in [0, 1] on the device."""
        x = torch.from_numpy(images[:, None].astype(np.float32) / 255.0).to(self.device)
        return x, torch.from_numpy(labels.astype(np.int64)).to(self.device)


# -- section: the RBM ---------------------------------------------------------------------
def timed(device: torch.device, fn) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def section_rbm(run: Run) -> dict:
    from sklearn.neural_network import BernoulliRBM

    args, device = run.args, run.device
    (x, _), (xt, _) = run.data
    x = (x.reshape(len(x), -1) > 127).astype(np.float32)
    xt = (xt.reshape(len(xt), -1) > 127).astype(np.float32)
    settings = {"n_hidden": 256, "lr": 0.05, "batch_size": 64}
    x_device = torch.from_numpy(x).to(device)
    results: dict = {"samples": len(x), "settings": settings, "lamina_epochs": args.rbm_epochs,
                     "lamina_device": device_name(device)}
    gflop = rvs.epoch_gflop(FULL_EPOCH, x.shape[1], settings["n_hidden"])
    for name, persistent in (("cd1", False), ("pcd1", True)):
        def make(epochs, persistent=persistent):
            return RBM(settings["n_hidden"], persistent=persistent, k=1, lr=settings["lr"],
                       batch_size=settings["batch_size"], epochs=epochs, random_state=0,
                       device=device.type if device.index is None else str(device))
        make(1).fit(x_device[:640])                                   # warm-up
        model = make(args.rbm_epochs)
        seconds = timed(device, lambda model=model: model.fit(x_device))
        per_epoch = seconds / args.rbm_epochs * FULL_EPOCH / len(x)
        results[f"lamina_{name}_seconds"] = per_epoch
        results[f"lamina_{name}_gflops"] = gflop / per_epoch
        log(f"rbm: lamina {name.upper()} on {device}: {per_epoch:.3f} s per epoch "
            f"({args.rbm_epochs} epochs of {len(x)} images in {seconds:.2f} s)")
        if persistent:
            lamina_pcd = model
    n_sk = min(args.sklearn_samples, len(x))
    BernoulliRBM(256, batch_size=64, n_iter=1).fit(x[:640])            # warm-up
    sk = BernoulliRBM(settings["n_hidden"], learning_rate=settings["lr"],
                      batch_size=settings["batch_size"], n_iter=args.sklearn_epochs,
                      random_state=0)
    seconds = timed(torch.device("cpu"), lambda: sk.fit(x[:n_sk]))
    sk_epoch = seconds / args.sklearn_epochs * FULL_EPOCH / n_sk
    scaled = "" if n_sk == FULL_EPOCH else f", scaled from {n_sk} images to {FULL_EPOCH}"
    log(f"rbm: scikit-learn BernoulliRBM (CPU, {rvs_threads()} BLAS threads): {sk_epoch:.2f} s "
        f"per epoch ({args.sklearn_epochs} epoch(s) in {seconds:.2f} s{scaled})")
    index = torch.as_tensor(np.random.RandomState(0).randint(0, x.shape[1], len(xt)))
    results.update({
        "sklearn_seconds": sk_epoch, "sklearn_epochs": args.sklearn_epochs,
        "sklearn_samples": n_sk, "sklearn_scaled": bool(scaled),
        "sklearn_blas_threads": rvs_threads(), "sklearn_gflops": gflop / sk_epoch,
        "speedup_cd1": sk_epoch / results["lamina_cd1_seconds"],
        "speedup_pcd1": sk_epoch / results["lamina_pcd1_seconds"], "target_speedup": 50,
        "lamina_pcd1_test_pl": rvs._pseudo_likelihood(
            lamina_pcd.weight.cpu(), lamina_pcd.visible_bias.cpu(),
            lamina_pcd.hidden_bias.cpu(), xt, index),
        "sklearn_test_pl": rvs._pseudo_likelihood(
            sk.components_.T.astype(np.float32), sk.intercept_visible_.astype(np.float32),
            sk.intercept_hidden_.astype(np.float32), xt, index),
        "device_matmul_gflops": rvs.matmul_gflops(args.matmul_size, device=device.type),
        "cpu_matmul_gflops": rvs.matmul_gflops(min(args.matmul_size, 2048))})
    log(f"rbm: scikit-learn / lamina: CD-1 {results['speedup_cd1']:.1f}x, PCD-1 "
        f"{results['speedup_pcd1']:.1f}x (target >= 50x); test pseudo-likelihood lamina PCD-1 "
        f"{results['lamina_pcd1_test_pl']:.2f}, scikit-learn {results['sklearn_test_pl']:.2f}")
    return results


def rvs_threads() -> int | None:
    try:
        return rvs._blas_threads()
    except ImportError:  # threadpoolctl comes with scikit-learn; None if it is absent
        return None


# -- section: the fast paths --------------------------------------------------------------
def section_fast_paths(run: Run) -> dict:
    args, device = run.args, run.device
    (x, y), _ = run.data
    x, y = run.tensors(x, y)
    contenders = [c for c in args.contenders if c in gfp.CONTENDERS]
    rows, skipped = [], {}
    for name, samples in (("lenet5", len(x)), ("resnet18", args.resnet_fast_samples)):
        need = 0 if args.smoke else (20 if name == "lenet5" else 90)
        if run.left() < need:
            skipped[name] = f"{run.left():.0f} s left in the section, {need} s needed"
            log(f"fast_paths: {name} skipped ({skipped[name]})")
            continue
        chosen = contenders if name == "lenet5" else [
            c for c in contenders if c in args.resnet_fast_contenders]
        if device.type == "cpu" and name == "resnet18":  # float16 convolutions are emulated
            skipped.update({f"{name} {c}": "float16 on the CPU" for c in chosen
                            if c.startswith("fp16")})
            chosen = [c for c in chosen if not c.startswith("fp16")]   # there: 10x slower
        rows += gfp.measure(name, chosen, device, x[:samples], y[:samples],
                            args.fast_repeats, log=log)
    return {"rows": rows, "skipped": skipped, "contenders": contenders,
            "settings": {name: gfp.CONTENDERS[name] for name in contenders},
            "repeats": args.fast_repeats}


# -- section: LeNet-5 time to accuracy ----------------------------------------------------
@torch.no_grad()
def accuracy(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 8192) -> float:
    """Fraction of ``x`` whose largest output is the label, in eval mode."""
    was_training = module.training
    module.eval()
    correct = sum(int((module(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    module.train(was_training)
    return correct / len(x)


class Clock:
    """Training seconds (wall time less the evaluations) and the accuracy after each epoch;
    ``epoch_end`` says whether to stop: each target met (at any epoch), or no time left for
    another epoch."""

    def __init__(self, name: str, module, data, device, seconds: float, every: int):
        self.name, self.module, self.data, self.device = name, module, data, device
        self.limit, self.every = seconds, every
        self.curve: list[dict] = []
        self.reached: dict[str, dict | None] = {"train": None, "test": None, "both": None}
        self.stop_reason = None
        self.evaluating = 0.0
        self.start = time.perf_counter()

    def epoch_end(self, epoch: int) -> bool:
        sync(self.device)
        now = time.perf_counter()
        train_seconds = now - self.start - self.evaluating
        (x, y), (xt, yt) = self.data
        point = {"epoch": epoch + 1, "seconds": train_seconds,
                 "train": accuracy(self.module, x, y), "test": accuracy(self.module, xt, yt)}
        self.curve.append(point)
        for key, met in (("train", point["train"] >= TARGETS["train"]),
                         ("test", point["test"] >= TARGETS["test"]),
                         ("both", point["train"] >= TARGETS["train"]
                          and point["test"] >= TARGETS["test"])):
            if met and self.reached[key] is None:
                self.reached[key] = {"epoch": epoch + 1, "seconds": train_seconds}
        self.evaluating += time.perf_counter() - now
        per_epoch = train_seconds / (epoch + 1)
        if self.reached["train"] is not None and self.reached["test"] is not None:
            self.stop_reason = "each target met"
        elif time.perf_counter() - self.start + 1.2 * per_epoch > self.limit:
            self.stop_reason = f"out of time ({self.limit:.0f} s)"
        if (epoch + 1) % self.every == 0 or self.stop_reason:
            log(f"lenet_time: {self.name} epoch {epoch + 1}: train {point['train']:.4f} test "
                f"{point['test']:.4f}, {train_seconds:.1f} s training")
        return self.stop_reason is not None

    def result(self, cap: int) -> dict:
        last = self.curve[-1]
        return {"reached": self.reached, "epochs": last["epoch"], "seconds": last["seconds"],
                "seconds_per_epoch": last["seconds"] / last["epoch"],
                "final_train": last["train"], "final_test": last["test"], "curve": self.curve,
                "stop_reason": self.stop_reason or f"epoch cap ({cap}) reached",
                "evaluation_seconds": self.evaluating}


class _ClockCallback(lm.callbacks.Callback):
    def __init__(self, clock: Clock):
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.epoch_end(epoch):
            self.model.stop_training = True
            self.model.stop_reason = self.clock.stop_reason


def _lenet_lamina(run: Run, data, initial, schedule, seconds: float, cap: int) -> dict:
    (x, y), _ = data
    model = lm.zoo.LeNet5(num_classes=10, input_shape=(1, 28, 28))
    copy_weights(initial, model)
    model.compile(optimizer=lm.optimizers.Adam(lr=schedule.initial_lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  device=run.device)
    torch.manual_seed(run.args.seed)
    clock = Clock("lamina", gfp.Logits(model), data, run.device, seconds, run.args.log_every)
    model.fit(x, y, batch_size=128, epochs=cap, verbose=0,
              callbacks=[lm.callbacks.LearningRateScheduler(schedule), _ClockCallback(clock)])
    return clock.result(cap)


def _lenet_torch(run: Run, data, initial, schedule, seconds: float, cap: int) -> dict:
    (x, y), _ = data
    net = torch_twin("lenet5")
    copy_weights(initial, net)
    net.to(run.device)
    opt = torch.optim.Adam(net.parameters(), lr=schedule.initial_lr, eps=1e-7)
    torch.manual_seed(run.args.seed)
    clock = Clock("torch loop", net, data, run.device, seconds, run.args.log_every)
    for epoch in range(cap):
        for group in opt.param_groups:
            group["lr"] = schedule(epoch)
        gfp.slicing_epoch(net, opt, x, y, 128)
        if clock.epoch_end(epoch):
            break
    return clock.result(cap)


def _warm_lenet(run: Run, data) -> None:
    """A few untimed steps of each contender (kernels loaded, cuDNN's choices made)."""
    (x, y), _ = data
    xs, ys = gfp.warm_slice(x, y)
    model = lm.zoo.LeNet5(num_classes=10, input_shape=(1, 28, 28))
    model.compile(optimizer=lm.optimizers.Adam(lr=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device=run.device)
    model.fit(xs, ys, batch_size=128, epochs=1, verbose=0)
    net = torch_twin("lenet5").to(run.device)
    gfp.slicing_epoch(net, torch.optim.Adam(net.parameters(), lr=1e-3), xs, ys, 128)
    accuracy(net, xs, ys)
    sync(run.device)


def section_lenet_time(run: Run) -> dict:
    args = run.args
    (x, y), (xt, yt) = run.data
    data = (run.tensors(x, y), run.tensors(xt, yt))
    cap = args.lenet_epochs
    schedule = lm.schedules.CosineDecay(2e-3, cap)
    torch.manual_seed(args.seed)
    initial = [p.detach().clone() for p in
               lm.zoo.LeNet5(num_classes=10, input_shape=(1, 28, 28)).parameters()]
    _warm_lenet(run, data)
    each = run.left() / 2
    results = {"targets": TARGETS, "epoch_cap": cap, "samples": [len(x), len(xt)],
               "recipe": "Adam(2e-3, epsilon 1e-7), batch 128, cosine decay over the cap"}
    for who, train in (("lamina", _lenet_lamina), ("torch", _lenet_torch)):
        try:  # a failure of one contender leaves the other's numbers
            results[who] = train(run, data, initial, schedule,
                                 each if who == "lamina" else run.left(), cap)
        except Exception:  # noqa: BLE001 - recorded
            results[who] = {"error": traceback.format_exc()}
            log(f"lenet_time: {who} failed\n{results[who]['error']}")
    ok = all("error" not in results[who] for who in ("lamina", "torch"))
    for key in ("train", "test", "both"):
        mine, theirs = ((results["lamina"]["reached"][key], results["torch"]["reached"][key])
                        if ok else (None, None))
        results[f"ratio_{key}"] = (mine["seconds"] / theirs["seconds"]
                                   if mine and theirs else None)
    results["ratio_per_epoch"] = (results["lamina"]["seconds_per_epoch"]
                                  / results["torch"]["seconds_per_epoch"] if ok else None)
    log(f"lenet_time: lamina / torch loop: per epoch {_fmt(results['ratio_per_epoch'])}, to "
        f"99 % train {_fmt(results['ratio_train'])}, to 91 % test {_fmt(results['ratio_test'])}")
    return results


# -- section: ResNet-18 with augmentation -------------------------------------------------
def _resnet(run: Run, epochs: int, lr: float):
    model = lm.zoo.ResNet(18, num_classes=10, input_shape=(1, 28, 28))
    model.compile(optimizer=lm.optimizers.SGD(lr=lr, momentum=0.9, weight_decay=5e-4),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  device=run.device, precision=run.args.resnet_precision, channels_last=True)
    return model


class _EpochTimes(lm.callbacks.Callback):
    """Seconds since the fit began at each epoch's end; stops when the next epoch would not
    finish before ``deadline``."""

    def __init__(self, deadline: float, every: int):
        super().__init__()
        self.deadline, self.every = deadline, every
        self.start, self.times = time.perf_counter(), []

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.times.append(now - self.start)
        per_epoch = self.times[-1] / len(self.times)
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs"):
            log(f"resnet18_aug: epoch {epoch + 1}: test accuracy {logs['val_accuracy']:.4f}, "
                f"{self.times[-1]:.0f} s")
        if now + 1.1 * per_epoch > self.deadline:
            self.model.stop_training = True
            self.model.stop_reason = "out of time"


def section_resnet18_aug(run: Run) -> dict:
    args, device = run.args, run.device
    (x, y), (xt, yt) = run.data
    mean, std = float(x.mean() / 255.0), float(x.std() / 255.0)  # of all the training images
    if args.resnet_samples:
        x, y = x[:args.resnet_samples], y[:args.resnet_samples]
        xt, yt = xt[:args.resnet_samples // 2], yt[:args.resnet_samples // 2]
    xs = torch.from_numpy(_standardize(x, mean, std)).to(device)
    xts = torch.from_numpy(_standardize(xt, mean, std)).to(device)
    ys = torch.from_numpy(y.astype(np.int64)).to(device)
    yts = torch.from_numpy(yt.astype(np.int64)).to(device)
    transform = augment.Compose([augment.RandomCrop(2), augment.RandomFlip()])
    lr = 0.1
    # the epoch's time from a slice: a warm-up fit (cuDNN's choices), then a timed one
    probe = _resnet(run, 1, lr)
    warm_x, warm_y = gfp.warm_slice(xs, ys, batches=5)
    probe.fit(warm_x, warm_y, batch_size=128, epochs=1, verbose=0, augment=transform)
    n_probe = min(len(xs), 20 * 128)
    train_s = timed(device, lambda: probe.fit(xs[:n_probe], ys[:n_probe], batch_size=128,
                                              epochs=1, verbose=0, augment=transform))
    test_s = timed(device, lambda: probe.evaluate(xts, yts, batch_size=128))
    epoch_s = train_s * math.ceil(len(xs) / 128) / math.ceil(n_probe / 128) + test_s
    fits = int((run.left() - 5) / (1.05 * epoch_s))
    epochs = max(1, min(args.resnet_epochs, fits))
    log(f"resnet18_aug: about {epoch_s:.1f} s per epoch (from {n_probe} images), "
        f"{run.left():.0f} s left: {epochs} epochs")
    lm.set_seed(args.seed, deterministic=False)  # cuDNN may pick its fastest kernels
    model = _resnet(run, epochs, lr)
    times = _EpochTimes(run.deadline, args.log_every_resnet)
    schedule = lm.callbacks.LearningRateScheduler(lm.schedules.CosineDecay(lr, total=epochs))
    history = model.fit(xs, ys, batch_size=128, epochs=epochs, validation_data=(xts, yts),
                        callbacks=[schedule, times], augment=transform, verbose=0)
    curve = [float(a) for a in history.history["val_accuracy"]]
    result = {"epochs_planned": epochs, "epochs": len(curve), "test_accuracy": curve[-1],
              "best_test_accuracy": max(curve), "published": PUBLISHED_RESNET18,
              "seconds": times.times[-1], "seconds_per_epoch": times.times[-1] / len(curve),
              "estimated_seconds_per_epoch": epoch_s, "curve": curve,
              "stop_reason": history.stop_reason, "samples": [len(xs), len(xts)],
              "precision": args.resnet_precision, "channels_last": True,
              "recipe": "standardized; RandomCrop(2) + RandomFlip per batch in fit; SGD(0.1, "
                        "momentum 0.9, weight decay 5e-4), cosine over the planned epochs, "
                        "batch 128", "params": model.count_params()}
    log(f"resnet18_aug: test accuracy {curve[-1]:.4f} after {len(curve)} epochs "
        f"({result['seconds']:.0f} s) against the published {PUBLISHED_RESNET18}")
    return result


# -- the run ------------------------------------------------------------------------------
SECTION_FUNCTIONS = {"rbm": section_rbm, "fast_paths": section_fast_paths,
                     "lenet_time": section_lenet_time, "resnet18_aug": section_resnet18_aug}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_name()})"


def describe(device: torch.device) -> list[tuple[str, str]]:
    """(label, value) rows: the machine, the versions and the device."""
    env = environment(torch.get_num_threads())
    env.append(("device", device_name(device)))
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env += [("CUDA (torch built with)", str(torch.version.cuda)),
                ("cuDNN", str(torch.backends.cudnn.version())),
                ("GPU memory", f"{props.total_memory / 2**30:.0f} GiB, "
                               f"{props.multi_processor_count} SMs")]
    try:
        import sklearn

        env.append(("scikit-learn", sklearn.__version__))
    except ImportError:
        pass
    return env


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].replace("|", "/") if lines else ""


def _reached(entry) -> str:
    return "not reached" if entry is None else f"epoch {entry['epoch']}, {entry['seconds']:.1f} s"


def markdown(results: dict) -> str:
    """The run as markdown: the machine, then one table per section that ran."""
    sec = results["sections"]
    out = [f"### GPU suite on {results['device']} ({results['date']})", "",
           f"`{results['command']}`; {results['seconds']:.0f} s in all.", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in results["environment"]]
    for name in SECTIONS:
        if name not in sec:
            continue
        entry = sec[name]
        out += ["", f"#### {name}", ""]
        if entry["status"] != "ok":
            out.append(f"{entry['status']}: {_last_line(entry.get('reason', ''))}")
            continue
        if name == "rbm":
            scaled = (f" (scaled from {entry['sklearn_samples']} images)"
                      if entry["sklearn_scaled"] else "")
            out += ["| implementation | seconds / epoch (60,000 images) | GFLOP/s | "
                    "scikit-learn / this |", "|---|---:|---:|---:|",
                    f"| lamina RBM CD-1 ({entry['lamina_device']}) | "
                    f"{entry['lamina_cd1_seconds']:.3f} | {entry['lamina_cd1_gflops']:.0f} | "
                    f"{entry['speedup_cd1']:.1f} |",
                    f"| lamina RBM PCD-1 ({entry['lamina_device']}) | "
                    f"{entry['lamina_pcd1_seconds']:.3f} | {entry['lamina_pcd1_gflops']:.0f} | "
                    f"{entry['speedup_pcd1']:.1f} |",
                    f"| scikit-learn BernoulliRBM (CPU, {entry['sklearn_blas_threads']} BLAS "
                    f"threads){scaled} | {entry['sklearn_seconds']:.2f} | "
                    f"{entry['sklearn_gflops']:.1f} | 1.0 |", "",
                    f"Target: >= 50x. Test pseudo-likelihood (same flips): lamina PCD-1 "
                    f"{entry['lamina_pcd1_test_pl']:.2f} after {entry['lamina_epochs']} "
                    f"epoch(s), scikit-learn {entry['sklearn_test_pl']:.2f} after "
                    f"{entry['sklearn_epochs']}. Matmul rate: device "
                    f"{entry['device_matmul_gflops']:.0f} GFLOP/s, CPU "
                    f"{entry['cpu_matmul_gflops']:.0f} GFLOP/s."]
        elif name == "fast_paths":
            out.append(gfp.table(entry["rows"]))
            out += [f"\n{model} skipped: {why}" for model, why in entry["skipped"].items()]
        elif name == "lenet_time":
            out += ["| contender | 99 % train | 91 % test | both at once | epochs run | "
                    "s / epoch | final train / test |", "|---|---|---|---|---:|---:|---|"]
            for who in ("lamina", "torch"):
                r = entry[who]
                label = "lamina fit" if who == "lamina" else "hand-written loop"
                if "error" in r:
                    out.append(f"| {label} | failed: {_last_line(r['error'])} | | | | | |")
                    continue
                out.append(f"| {label} | "
                           f"{_reached(r['reached']['train'])} | "
                           f"{_reached(r['reached']['test'])} | "
                           f"{_reached(r['reached']['both'])} | {r['epochs']} | "
                           f"{r['seconds_per_epoch']:.2f} | "
                           f"{r['final_train']:.4f} / {r['final_test']:.4f} |")
            out += ["", f"lamina / loop: per epoch {_fmt(entry['ratio_per_epoch'])}, to 99 % "
                        f"train {_fmt(entry['ratio_train'])}, to 91 % test "
                        f"{_fmt(entry['ratio_test'])}, to both at once "
                        f"{_fmt(entry['ratio_both'])}. "
                        f"{entry['recipe']}, cap {entry['epoch_cap']} epochs; seconds are "
                        "training time (the epoch-end evaluations excluded)."]
        else:
            out += ["| net | precision | epochs | test accuracy (best) | published | seconds | "
                    "s / epoch |", "|---|---|---:|---:|---:|---:|---:|",
                    f"| ResNet-18 ({entry['params']} parameters) | {entry['precision']}, "
                    f"channels-last | {entry['epochs']} | {entry['test_accuracy']:.4f} "
                    f"({entry['best_test_accuracy']:.4f}) | {entry['published']} | "
                    f"{entry['seconds']:.0f} | {entry['seconds_per_epoch']:.1f} |", "",
                    f"{entry['recipe']}; stopped: {entry['stop_reason']}; times include one "
                    "test-set evaluation per epoch."]
    return "\n".join(out) + "\n"


def write(results: dict, out_dir: str | None) -> None:
    if not out_dir:
        return
    os.makedirs(out_dir, exist_ok=True)
    with atomic_open(os.path.join(out_dir, "gpu_suite.json"), "w") as f:
        json.dump(results, f, indent=1)
    with atomic_open(os.path.join(out_dir, "gpu_suite.md"), "w") as f:
        f.write(markdown(results))


def load_data(smoke: bool):
    (x, y), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    if smoke:
        return (x[:512], y[:512]), (xt[:256], yt[:256])
    return (x, y), (xt, yt)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--budget-s", type=float, default=None,
                        help="seconds the whole run may take (default: 540, smoke 900)")
    parser.add_argument("--out", default=None, help="folder for gpu_suite.json and .md")
    parser.add_argument("--markdown", action="store_true", help="print the markdown at the end")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a CPU test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rbm-epochs", type=int, default=None, help="default 5 (smoke 1)")
    parser.add_argument("--sklearn-epochs", type=int, default=1)
    parser.add_argument("--sklearn-samples", type=int, default=FULL_EPOCH)
    parser.add_argument("--matmul-size", type=int, default=None, help="default 4096 (smoke 256)")
    parser.add_argument("--contenders", nargs="+", default=None,
                        help="fast_paths contenders (default all; smoke: all but jit_graphs)")
    parser.add_argument("--resnet-fast-contenders", nargs="+", default=None,
                        help="those of them timed on ResNet-18 (default all; smoke: torch "
                             "and bf16_nhwc)")
    parser.add_argument("--fast-repeats", type=int, default=None, help="default 2 (smoke 1)")
    parser.add_argument("--resnet-fast-samples", type=int, default=None,
                        help="ResNet-18 images in fast_paths (default 20000, smoke 4)")
    parser.add_argument("--lenet-epochs", type=int, default=None, help="cap; default 60 (smoke 2)")
    parser.add_argument("--resnet-epochs", type=int, default=None,
                        help="at most; default 30 (smoke 1)")
    parser.add_argument("--resnet-samples", type=int, default=None,
                        help="resnet18_aug on the first N training and N // 2 test images "
                             "(default all; smoke 16)")
    parser.add_argument("--resnet-precision", default="bf16-mixed")
    parser.add_argument("--log-every", type=int, default=5, help="LeNet epochs between lines")
    parser.add_argument("--log-every-resnet", type=int, default=1)
    args = parser.parse_args(argv)
    defaults = {"budget_s": (540, 900), "rbm_epochs": (5, 1), "matmul_size": (4096, 256),
                "fast_repeats": (2, 1), "resnet_fast_samples": (20_000, 4),
                "lenet_epochs": (60, 2), "resnet_epochs": (30, 1), "resnet_samples": (None, 16)}
    for key, (full, smoke) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, smoke if args.smoke else full)
    if args.smoke:
        args.sklearn_samples = min(args.sklearn_samples, 512)
        args.log_every = 1
    if args.contenders is None:
        args.contenders = [c for c in gfp.CONTENDERS if not (args.smoke and c == "jit_graphs")]
    if args.resnet_fast_contenders is None:
        args.resnet_fast_contenders = ["torch", "bf16_nhwc"] if args.smoke else args.contenders
    return args


def main(argv=None) -> int:
    args = parse(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("No CUDA device here: pass --device cpu (with --smoke for a quick test).")
        return 1
    budget = Budget(args.budget_s)
    env = describe(device)
    for key, value in env:
        print(f"{key:>24}: {value}")
    results = {"date": datetime.date.today().isoformat(), "device": device_name(device),
               "command": "python benchmarks/gpu_suite.py "
                          + " ".join(sys.argv[1:] if argv is None else argv),
               "environment": env, "settings": vars(args), "budget_s": args.budget_s,
               "sections": {}, "seconds": 0.0}
    data = load_data(args.smoke)
    wanted = [s for s in SECTIONS if s in args.sections]
    for i, name in enumerate(wanted):
        reserve = 0 if args.smoke else sum(MINIMUM[s] for s in wanted[i + 1:])
        limit = budget.left() - reserve
        if not args.smoke:  # the smoke test's sizes are fixed: it runs every section whole
            limit = min(limit, CAP[name])
        if not args.smoke and limit < MINIMUM[name]:
            results["sections"][name] = {
                "status": "skipped", "reason": f"{budget.left():.0f} s left of the budget, "
                                               f"{reserve} s kept for the later sections"}
            log(f"{name}: skipped ({results['sections'][name]['reason']})")
            continue
        log(f"{name}: start ({limit:.0f} s for it)")
        began = time.perf_counter()
        try:
            entry = {"status": "ok", **SECTION_FUNCTIONS[name](
                Run(args, device, data, time.perf_counter() + limit))}
        except Exception:  # noqa: BLE001 - recorded; the other sections still run
            entry = {"status": "error", "reason": traceback.format_exc()}
            log(f"{name}: failed\n{entry['reason']}")
        entry["section_seconds"] = time.perf_counter() - began
        results["sections"][name] = entry
        results["seconds"] = time.perf_counter() - START
        write(results, args.out)
        log(f"{name}: {entry['status']} in {entry['section_seconds']:.0f} s")
    results["seconds"] = time.perf_counter() - START
    write(results, args.out)
    if args.markdown:
        print("\n" + markdown(results))
    failed = [n for n, e in results["sections"].items() if e["status"] == "error"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
