"""Fashion-MNIST read row by row: an image as a sequence of 28 rows for an LSTM and a GRU.

Deck 002's many-to-one shape on images: each 28-pixel row is one time step, the last
output of the recurrent layer summarizes the image and a softmax layer classifies it.
"""

from __future__ import annotations

import time

import torch

import lamina as lm
from lamina.datasets.sequences import row_sequences
from lamina.experiments._report import Report
from lamina.zoo import SequenceClassifier

__all__ = ["run"]


def run(quick: bool = False, out_dir: str | None = None) -> dict:
    """Train ``LSTM(128)`` and ``GRU(128)`` classifiers; returns ``{"lstm_accuracy",
    "gru_accuracy", "seconds"}`` (test accuracy).

    Example:
        >>> run(quick=True)["lstm_accuracy"] > 0.1  # doctest: +SKIP
        True
    """
    settings = ({"units": 16, "epochs": 1, "train": 2000, "test": 500} if quick else
                {"units": 128, "epochs": 10, "train": 60000, "test": 10000})
    report = Report("sequential_images", "Row-by-row Fashion-MNIST with LSTM and GRU",
                    out_dir=out_dir, quick=quick)
    for key, value in {**settings, "batch_size": 128, "optimizer": "Adam(lr=1e-3)",
                       "input": "28 steps of 28 pixels in [0, 1]"}.items():
        report.setting(key, value)
    (x, y), (xt, yt) = lm.datasets.fashion_mnist.load_data(verbose=False)
    x, y = row_sequences(x[:settings["train"]]), y[:settings["train"]]
    xt, yt = row_sequences(xt[:settings["test"]]), yt[:settings["test"]]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results: dict = {"seconds": {}}
    for cell in ("lstm", "gru"):
        lm.set_seed(0)
        model = SequenceClassifier(10, (28, 28), units=settings["units"], cell=cell)
        model.compile(optimizer=lm.optimizers.Adam(lr=1e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      device=device)
        start = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=settings["epochs"], verbose=0)
        seconds = time.perf_counter() - start
        accuracy = model.evaluate(xt, yt)["accuracy"]
        results[f"{cell}_accuracy"] = accuracy
        results["seconds"][cell] = seconds
        report.row(["model", "test accuracy", "training seconds", "acceptance"],
                   [f"{cell.upper()}({settings['units']})", accuracy, round(seconds, 1),
                    ">= 0.88 for the LSTM (issue 6)"])
    report.write(results)
    return results
