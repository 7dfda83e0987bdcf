"""The same MLP on Fashion-MNIST trained by each optimizer of the decks (SGD, momentum, AdaGrad, RMSprop, Adam).

Decks 000/001 list the "training tricks" (momentum, adaptive rates); this experiment trains
one 784-256-128-10 ReLU network per optimizer, with its usual learning rate, for the same
number of epochs from the same initial weights (the rate decayed to 0 by a cosine over the
run, the same for all), and compares test accuracy and curves.
"""

from __future__ import annotations

import copy
import time

import torch

import lamina as lm
from lamina.experiments._report import Report
from lamina.viz._mpl import pyplot

__all__ = ["run", "OPTIMIZERS"]

#: name -> factory, with each optimizer's usual learning rate (cosine-decayed over the run)
OPTIMIZERS = {
    "sgd": lambda: lm.optimizers.SGD(lr=0.1),
    "momentum": lambda: lm.optimizers.SGD(lr=0.01, momentum=0.9),
    "adagrad": lambda: lm.optimizers.AdaGrad(lr=0.05),
    "rmsprop": lambda: lm.optimizers.RMSprop(lr=1e-3),
    "adam": lambda: lm.optimizers.Adam(lr=1e-3),
}


def run(quick: bool = False, out_dir: str | None = None, epochs: int = 10,
        batch_size: int = 32) -> dict:
    """Train the MLP with each optimizer; returns ``{"test_accuracy": {name: acc}, ...}``.

    ``batch_size`` defaults to 32, Keras's default: 1,875 updates per epoch.

    Example:
        >>> run(quick=True)["test_accuracy"].keys()  # doctest: +SKIP
        dict_keys(['sgd', 'momentum', 'adagrad', 'rmsprop', 'adam'])
    """
    report = Report("optimizers", "One MLP, five optimizers (Fashion-MNIST)", out_dir=out_dir,
                    quick=quick)
    (x, y), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    if quick:
        x, y, xt, yt, epochs = x[:2000], y[:2000], xt[:500], yt[:500], 1
    x, xt = x.reshape(len(x), -1) / 255.0, xt.reshape(len(xt), -1) / 255.0
    lm.set_seed(0)
    template = lm.zoo.MLP((256, 128), outputs=10, input_shape=(784,))
    for key, value in {"model": "MLP 784-256-128-10, ReLU, softmax", "epochs": epochs,
                       "batch_size": batch_size, "train samples": len(x), "test samples": len(xt),
                       "seed": 0}.items():
        report.setting(key, value)
    results: dict = {"test_accuracy": {}, "train_accuracy": {}, "seconds": {}}
    histories = {}
    for name, factory in OPTIMIZERS.items():
        model = copy.deepcopy(template)
        optimizer = factory()
        initial_lr = optimizer.lr
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], device="cpu")
        torch.manual_seed(1)
        start = time.perf_counter()
        decay = lm.callbacks.LearningRateScheduler(lm.schedules.CosineDecay(initial_lr, epochs))
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[decay],
                            verbose=0)
        seconds = time.perf_counter() - start
        test = model.evaluate(xt, yt)["accuracy"]
        histories[name] = history
        results["test_accuracy"][name] = test
        results["train_accuracy"][name] = history.history["accuracy"][-1]
        results["seconds"][name] = seconds
        report.row(["optimizer", "initial learning rate", "train accuracy", "test accuracy",
                    "seconds"], [name, initial_lr, history.history["accuracy"][-1], test,
                                 f"{seconds:.1f}"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, history in histories.items():
        ax.plot(range(1, epochs + 1), history.history["loss"], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    report.figure(fig, "loss_curves.png")
    report.note("Target (issue 3): every optimizer reaches >= 0.88 test accuracy in 10 epochs.")
    report.write(results)
    return results
