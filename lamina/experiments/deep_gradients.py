"""Vanishing gradients in a deep feed-forward net: 10-layer sigmoid MLP against ReLU with He init.

Deck 003: backpropagating through a sigmoid multiplies the error signal by
``sigma'(z) <= 1/4`` at every layer, so in a deep sigmoid net the layers next to the input
receive gradients orders of magnitude smaller than the last ones and hardly learn; ReLU
(derivative 1 where active) with He initialization (``Var W = 2 / fan_in``, which keeps the
signal's variance through the layers) keeps them within a small factor. Both nets have 10
weight layers (9 hidden of the same width, then a softmax output), the same data (Fashion-
MNIST, pixels scaled to [0, 1]), optimizer and epochs; ``lm.callbacks.GradientStats``
records each layer's gradient norm (mean over an epoch's batches). The number reported is
``||dE/dW_1|| / ||dE/dW_10||``, first layer over last, per epoch.

Acceptance (issue 23): the sigmoid net's ratio at most 1e-2 (its first layer's gradient at
least 100x smaller than its last layer's); the ReLU/He net's ratio much closer to 1.
"""

from __future__ import annotations

import time

import numpy as np
import torch

import lamina as lm
from lamina.callbacks import GradientStats
from lamina.experiments._report import Report
from lamina.viz import gradient_norms

__all__ = ["run", "deep_mlp"]

#: (activation, kernel initializer) of each net.
NETS = {"sigmoid": ("sigmoid", "glorot_uniform"), "relu_he": ("relu", "he_normal")}


def deep_mlp(activation: str, initializer: str, *, width: int = 128, depth: int = 10,
             seed: int = 0) -> lm.Sequential:
    """``depth`` Dense layers on flattened 28x28 images: ``depth - 1`` hidden of ``width``
    units with ``activation`` and ``initializer``, then a 10-way softmax.

    Example:
        >>> net = deep_mlp("sigmoid", "glorot_uniform", width=8)
        >>> len([l for l in net.layers if isinstance(l, lm.layers.Dense)])
        10
    """
    lm.set_seed(seed)
    hidden = [lm.layers.Dense(width, activation=activation, kernel_initializer=initializer,
                              name=f"dense_{i + 1}") for i in range(depth - 1)]
    out = lm.layers.Dense(10, activation="softmax", kernel_initializer=initializer,
                          name=f"dense_{depth}")
    return lm.Sequential([lm.layers.Flatten(name="flatten"), *hidden, out], input_shape=(28, 28))


def _train(kind: str, data, settings: dict) -> dict:
    (x, y), (xt, yt) = data
    activation, initializer = NETS[kind]
    model = deep_mlp(activation, initializer, width=settings["width"])
    model.compile(optimizer=lm.optimizers.SGD(lr=settings["lr"], momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stats = GradientStats(log=False)
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=settings["batch_size"], epochs=settings["epochs"],
                        verbose=0, callbacks=[stats])
    seconds = time.perf_counter() - start
    test = model.evaluate(xt, yt)
    ratios = [stats.gradient_ratio(e) for e in range(settings["epochs"])]
    return {"stats": stats, "ratios": ratios, "test_accuracy": test["accuracy"],
            "train_loss": history["loss"][-1], "seconds": seconds}


def run(quick: bool = False, out_dir: str | None = None) -> dict:
    """Train both nets; returns ``{"ratio_first_epoch": {net: r}, "ratio_last_epoch": {...},
    "test_accuracy": {...}, "met": bool}`` (``r = ||dE/dW_1|| / ||dE/dW_10||``).

    Example:
        >>> run(quick=True)["ratio_first_epoch"]["sigmoid"] < 1e-2  # doctest: +SKIP
        True
    """
    settings = ({"train": 1024, "test": 500, "width": 32, "epochs": 2, "batch_size": 64,
                 "lr": 0.05} if quick else
                {"train": 60000, "test": 10000, "width": 128, "epochs": 10, "batch_size": 128,
                 "lr": 0.05})
    (x, y), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    x = x[:settings["train"]].astype(np.float32) / 255.0
    xt = xt[:settings["test"]].astype(np.float32) / 255.0
    data = ((x, y[:settings["train"]].astype(np.int64)), (xt, yt[:settings["test"]].astype(np.int64)))
    report = Report("deep_gradients", "Vanishing gradients through depth: 10-layer sigmoid vs "
                                      "ReLU/He MLP", out_dir=out_dir, quick=quick)
    for key, value in {**settings, "layers": "10 Dense (9 hidden + softmax output)",
                       "optimizer": "SGD, momentum 0.9", "data": "Fashion-MNIST, x / 255",
                       "sigmoid net init": "Glorot uniform", "ReLU net init": "He normal",
                       "torch threads": torch.get_num_threads()}.items():
        report.setting(key, value)
    results: dict = {"ratio_first_epoch": {}, "ratio_last_epoch": {}, "test_accuracy": {},
                     "grad_norms_first_epoch": {}}
    runs = {}
    for kind in NETS:
        out = _train(kind, data, settings)
        runs[kind] = out
        stats = out["stats"]
        results["ratio_first_epoch"][kind] = out["ratios"][0]
        results["ratio_last_epoch"][kind] = out["ratios"][-1]
        results["test_accuracy"][kind] = out["test_accuracy"]
        results["grad_norms_first_epoch"][kind] = [stats.history[f"grad_norm/{n}"][0]
                                                   for n in stats.layers]
        report.row(["net", "layer-1 / layer-10 gradient norm, epoch 1", "same, last epoch",
                    "test accuracy", "final train loss", "seconds"],
                   [kind, f"{out['ratios'][0]:.3g}", f"{out['ratios'][-1]:.3g}",
                    out["test_accuracy"], out["train_loss"], f"{out['seconds']:.1f}"])
    sig, relu = results["ratio_first_epoch"]["sigmoid"], results["ratio_first_epoch"]["relu_he"]
    results["met"] = bool(sig <= 1e-2 and abs(np.log10(relu)) < abs(np.log10(sig)) - 1)
    labels = {"sigmoid": "sigmoid, Glorot", "relu_he": "ReLU, He"}
    for epoch, name in ((0, "gradient_norms_epoch1.png"), (-1, "gradient_norms_last.png")):
        fig = gradient_norms({labels[k]: r["stats"] for k, r in runs.items()}, epoch=epoch)
        fig.suptitle(f"10-layer MLPs on Fashion-MNIST, epoch {'1' if epoch == 0 else 'last'}",
                     y=1.03)
        report.figure(fig, name)
    report.note(
        f"First-layer over last-layer gradient norm in epoch 1: sigmoid {sig:.3g} (its first "
        f"layer gets {1 / sig:.0f}x less gradient than its last), ReLU/He {relu:.3g}. "
        f"Acceptance (issue 23): sigmoid ratio <= 1e-2 and the ReLU/He ratio at least ten "
        f"times closer to 1 (in log scale): {'met' if results['met'] else 'NOT met'}. "
        f"Test accuracy after {settings['epochs']} epochs: sigmoid "
        f"{results['test_accuracy']['sigmoid']:.4f}, ReLU/He "
        f"{results['test_accuracy']['relu_he']:.4f} (0.10 is chance: a net whose first "
        f"layers get no gradient does not learn).")
    report.write(results)
    return results
