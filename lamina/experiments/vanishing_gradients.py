"""Vanishing gradients: SimpleRNN versus LSTM on the adding problem at growing time lags.

Decks 000/001: "if eigenvalues of the Jacobian matrix < 1, gradients tend to vanish: error
signals can only affect small time lags". The adding problem (H&S 1997, experiment 4) puts
the two numbers to add among the first steps of a sequence of length ``T`` and asks for
their sum only at the end, so the error signal must travel ``~T`` steps back. For each
``T``, an Elman net and an LSTM get the same budget (same number of training sequences,
optimizer and learning rate); we report the fraction of 2560 test sequences solved
(``|error| < 0.04``) and the gradient flow ``||dE/dh(T-1-k)||`` of both nets.

Recipe (said in the report): Adam, global gradient-norm clipping at 1, and the LSTM's gate
biases set by the "chrono" initialization of Tallec & Ollivier (2018), ``b_f ~ log U(1,
T-1)``, ``b_i = -b_f``, which sets the forget gates' time constants to the task's lags
(H&S used negative input-gate biases for the same purpose). The Elman net uses the same
optimizer and budget.
"""

from __future__ import annotations

import time

import numpy as np
import torch

import lamina as lm
from lamina.datasets.sequences import adding_accuracy, adding_problem
from lamina.experiments._report import Report
from lamina.recurrent import gradient_flow
from lamina.viz import plot_gradient_flow

__all__ = ["run", "chrono_initialize"]


def chrono_initialize(lstm: lm.layers.LSTM, t_max: int, seed: int = 0) -> None:
    """Tallec & Ollivier's chrono initialization: ``b_f = log U(1, t_max - 1)``, ``b_i = -b_f``.

    Example:
        >>> layer = lm.layers.LSTM(4); layer.build((10, 2)); chrono_initialize(layer, 10)
        >>> bool((layer.bias_ih_l0[4:8] >= 0).all())
        True
    """
    units = lstm.units
    gen = torch.Generator().manual_seed(seed)
    b_f = torch.log(1.0 + torch.rand(units, generator=gen) * max(t_max - 2, 1))
    with torch.no_grad():
        lstm.bias_hh_l0.zero_()
        lstm.bias_ih_l0[units:2 * units] = b_f.to(lstm.bias_ih_l0)
        lstm.bias_ih_l0[:units] = -b_f.to(lstm.bias_ih_l0)


def _model(kind: str, units: int, steps: int, seed: int):
    lm.set_seed(seed)
    cell = lm.layers.LSTM(units) if kind == "lstm" else lm.layers.SimpleRNN(units)
    model = lm.Sequential([cell, lm.layers.Dense(1)], input_shape=(steps, 2))
    if kind == "lstm":
        chrono_initialize(cell, steps, seed)
    return model


def _train(kind: str, steps: int, settings: dict, test) -> dict:
    x, y = adding_problem(settings["train_sequences"], steps, seed=steps)
    model = _model(kind, settings["units"], steps, seed=0)
    probe = (test[0][:settings["flow_sequences"]], test[1][:settings["flow_sequences"]])
    flow_before = gradient_flow(model, *probe, "mse", jacobian_samples=8)
    model.compile(optimizer=lm.optimizers.Adam(lr=settings["lr"], global_clipnorm=1.0),
                  loss="mse", device=settings["device"])
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=settings["batch_size"], epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    model.to("cpu")
    accuracy = adding_accuracy(model.predict(test[0]), test[1])
    flow_after = gradient_flow(model, *probe, "mse", jacobian_samples=8)
    return {"accuracy": accuracy, "loss": history.history["loss"][-1], "seconds": seconds,
            "flow_before": flow_before, "flow_after": flow_after}


def run(quick: bool = False, out_dir: str | None = None, *, lags=None,
        train_sequences: int | None = None) -> dict:
    """Train both nets at every ``T``; returns ``{"lstm_accuracy": {T: acc}, "rnn_accuracy":
    {T: acc}, "training_sequences", "baseline_accuracy", "gradient_decay"}``.

    ``lags`` (the ``T`` values) and ``train_sequences`` (the budget per model) override the
    defaults: ``(10, 50, 100, 200)`` and 200,000 (quick: ``(10, 20)`` and 512).

    Example:
        >>> sorted(run(quick=True)["lstm_accuracy"])  # doctest: +SKIP
        [10, 20]
    """
    settings = ({"lags": (10, 20), "units": 8, "train_sequences": 512, "batch_size": 64,
                 "lr": 3e-3, "test_sequences": 256, "flow_sequences": 16} if quick else
                {"lags": (10, 50, 100, 200), "units": 64, "train_sequences": 200_000,
                 "batch_size": 64, "lr": 3e-3, "test_sequences": 2560, "flow_sequences": 64})
    settings["device"] = "cuda" if torch.cuda.is_available() and not quick else "cpu"
    if lags is not None:
        settings["lags"] = tuple(int(t) for t in lags)
    if train_sequences is not None:
        settings["train_sequences"] = int(train_sequences)
    report = Report("vanishing_gradients", "SimpleRNN vs LSTM on the adding problem",
                    out_dir=out_dir, quick=quick)
    for key, value in {**settings, "task": "adding problem, H&S 1997 (values in [-1, 1])",
                       "optimizer": "Adam, global_clipnorm=1", "epochs": 1,
                       "LSTM init": "chrono (Tallec & Ollivier 2018), orthogonal W_hh",
                       "SimpleRNN init": "Glorot W_ih, orthogonal W_hh, tanh"}.items():
        report.setting(key, value)
    results: dict = {"lstm_accuracy": {}, "rnn_accuracy": {}, "baseline_accuracy": {},
                     "training_sequences": settings["train_sequences"], "gradient_decay": {}}
    flows = {}
    for steps in settings["lags"]:
        test = adding_problem(settings["test_sequences"], steps, seed=10_000 + steps)
        mean = np.full_like(test[1], float(test[1].mean()))
        results["baseline_accuracy"][steps] = adding_accuracy(mean, test[1])
        for kind in ("rnn", "lstm"):
            out = _train(kind, steps, settings, test)
            results[f"{kind}_accuracy"][steps] = out["accuracy"]
            results["gradient_decay"][f"{kind}_T{steps}"] = out["flow_before"].decay_rate()
            flows[(kind, steps)] = out
            report.row(["T", "model", "test accuracy (|err| < 0.04)", "final train MSE",
                        "gradient decay per step at init", "seconds"],
                       [steps, kind, out["accuracy"], out["loss"],
                        out["flow_before"].decay_rate(), f"{out['seconds']:.1f}"])
    longest = settings["lags"][-1]
    fig = plot_gradient_flow({f"{kind} ({when})": flows[(kind, longest)][f"flow_{when}"]
                              for kind in ("rnn", "lstm") for when in ("before", "after")})
    fig.suptitle(f"Adding problem, T = {longest}: error reaching k steps back")
    report.figure(fig, "gradient_flow.png")
    report.note(f"Training sequences per model and T: {settings['train_sequences']}. "
                "Predicting the mean solves "
                + ", ".join(f"{v:.1%} at T={t}" for t, v in results["baseline_accuracy"].items())
                + ". Acceptance (issue 6): at T = 100 the LSTM solves >= 2557/2560 (H&S Table 7)"
                " while the SimpleRNN stays near the mean's accuracy.")
    report.write(results)
    return results
