"""A character-level LSTM language model on a text file: bits per character and samples.

Deck 002's many-to-many net used generatively: the model reads text one character at a
time and predicts the next; sampling from its predictions, fed back as input, writes new
text, more conservative at low temperature and wilder at high. The score is the held-out
cross-entropy in bits per character (8 for raw bytes, ~4.4 for letter frequencies alone,
~1.2-1.5 for good LSTMs on English).
"""

from __future__ import annotations

import glob
import os
import time

import torch

import lamina as lm
from lamina.callbacks.base import TrainingStopped
from lamina.datasets.sequences import CharCorpus
from lamina.experiments._report import Report
from lamina.zoo import CharLM

__all__ = ["run", "default_text_files"]

_SEARCH = ["/usr/share/games/fortunes/*", "/usr/share/fortune/*", "/usr/share/vim/vim*/doc/*.txt",
           "/usr/share/common-licenses/*"]


def default_text_files() -> list[str]:
    """English text found on this machine: the ``fortunes`` package if installed, else vim's
    manual, else the license texts. Empty if none."""
    for pattern in _SEARCH:
        files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f)
                       and not f.endswith((".dat", ".u8")))
        if files:
            return files
    return []


class _TimeBudget(lm.callbacks.Callback):
    """Stop ``fit`` once ``seconds`` have passed (checked after each batch, no device sync)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.start = seconds, time.perf_counter()

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True
            self.model.stop_reason = f"time budget of {self.seconds:.0f} s spent"
            raise TrainingStopped(self.model.stop_reason)


def run(quick: bool = False, out_dir: str | None = None, path: str | None = None) -> dict:
    """Train the model under a time budget; returns ``{"bits_per_char", "seconds",
    "samples"}`` (samples keyed by temperature).

    Args:
        quick: tiny corpus and budget (seconds).
        out_dir: where the report goes.
        path: a text file; defaults to :func:`default_text_files`.

    Example:
        >>> run(quick=True)["bits_per_char"] > 0  # doctest: +SKIP
        True
    """
    files = [path] if path else default_text_files()
    if not files:
        raise FileNotFoundError("No text file found for char_lm; pass `path=` to a text file "
                                "(e.g. install the `fortunes` package).")
    settings = ({"max_chars": 20_000, "seq_len": 32, "units": 32, "budget_s": 5, "epochs": 2}
                if quick else
                {"max_chars": 2_000_000, "seq_len": 100, "units": 256, "budget_s": 840,
                 "epochs": 50})
    text = ""
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            text += fh.read()
        if len(text) >= settings["max_chars"]:
            break
    corpus = CharCorpus(text[:settings["max_chars"]])
    train_ids, held_ids = corpus.split(0.9)
    x, y = corpus.sequences(settings["seq_len"], ids=train_ids)
    xv, yv = corpus.sequences(settings["seq_len"], ids=held_ids)
    report = Report("char_lm", "Character-level LSTM language model", out_dir=out_dir,
                    quick=quick)
    for key, value in {**settings, "text": ", ".join(files[:3]) + (" ..." if len(files) > 3
                                                                    else ""),
                       "characters": len(corpus.text), "vocabulary": corpus.vocab_size,
                       "model": f"Embedding(32) -> LSTM({settings['units']}) -> Dense",
                       "optimizer": "Adam(lr=2e-3, global_clipnorm=1)"}.items():
        report.setting(key, value)
    lm.set_seed(0)
    model = CharLM(corpus.vocab_size, units=settings["units"],
                   input_shape=(settings["seq_len"],))
    model.compile(optimizer=lm.optimizers.Adam(lr=2e-3, global_clipnorm=1.0),
                  loss=lm.losses.get("sparse_categorical_crossentropy", from_logits=True),
                  device="cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=settings["epochs"], verbose=0,
              callbacks=[_TimeBudget(settings["budget_s"])])
    seconds = time.perf_counter() - start
    bpc = model.bits_per_char(xv, yv)
    prefix = corpus.encode(corpus.text[:20])
    samples = {t: corpus.decode(model.generate(prefix, 200, temperature=t, seed=0))
               for t in (0.2, 0.7, 1.2)}
    report.row(["held-out bits per char", "training seconds", "acceptance"],
               [bpc, round(seconds, 1), "<= 2.5 within 15 min on 2 CPU cores (issue 6)"])
    for t, sample in samples.items():
        report.note(f"Sample at temperature {t}:\n\n```\n{sample}\n```")
    results = {"bits_per_char": bpc, "seconds": seconds,
               "samples": {str(t): s for t, s in samples.items()}}
    report.write(results)
    return results
