"""Image captioning (one-to-many): a ConvNet encoder and an LSTM decoder on Fashion-MNIST grids.

Deck 002's one-to-many shape: one image in, a sequence of words out. Each image is a 2x2
grid holding two Fashion-MNIST items in one row or one column, captioned "a sneaker above
a bag" or "a shirt beside a coat" (reading order). ``lm.zoo.CaptionNet`` is trained with
teacher forcing on grids of the *training* images and decodes grids of the *test* images
greedily and by beam search. A caption counts only if it is exactly right: both items
named, in the right order, with the right relation. Acceptance (issue 6): exact match
>= 0.8 on held-out grids (a classifier of single items scores ~0.92, so ~0.85 for two).
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
import torch

import lamina as lm
from lamina.callbacks import LearningRateScheduler
from lamina.datasets import fashion_mnist
from lamina.datasets.captions import caption_grids
from lamina.experiments._report import Report
from lamina.schedules import CosineDecay
from lamina.viz._mpl import pyplot
from lamina.zoo.captioning import CaptionNet, TokenAccuracy

__all__ = ["run"]

TARGET = 0.8

# A fresh set of ``grids_per_epoch`` training grids is drawn every epoch (new pairs, new
# places), so ``train_grids`` = epochs x grids_per_epoch distinct grids are seen in all.
QUICK = {"grids_per_epoch": 256, "test_grids": 64, "epochs": 1, "batch_size": 32, "lr": 1.5e-3,
         "filters": (8, 16), "code_dim": 64, "embed_dim": 16, "hidden": 32, "beam_width": 3}
FULL = {"grids_per_epoch": 36000, "test_grids": 2000, "epochs": 8, "batch_size": 32,
        "lr": 1.5e-3, "filters": (32, 64, 64), "code_dim": 256, "embed_dim": 32, "hidden": 128,
        "beam_width": 3}


def _scores(ids: np.ndarray, grids) -> dict:
    """Exact match, and the parts: both items named right, relation right (greedy ids have
    no <start>, so the reference's words sit one place later)."""
    exact = np.array(grids.vocabulary.decode_batch(ids)) == np.array(grids.captions)
    ref = grids.tokens
    return {"exact_match": float(exact.mean()),
            "item_accuracy": float((ids[:, [1, 4]] == ref[:, [2, 5]]).mean()),
            "relation_accuracy": float((ids[:, 2] == ref[:, 3]).mean())}


def _figure(report: Report, grids, captions: list, count: int = 8) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, count // 2, figsize=(2.6 * (count // 2), 6.0), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.imshow(grids.images[i, 0], cmap="gray", vmin=0, vmax=1)
        right = captions[i] == grids.captions[i]
        ax.set_title(textwrap.fill(captions[i] or "(empty)", 20), fontsize=9,
                     color="green" if right else "red")
        if not right:
            ax.set_xlabel(textwrap.fill(f"true: {grids.captions[i]}", 26), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Held-out grids and their greedy captions (green: exact; red: wrong)")
    report.figure(fig, "captions.png")
    plt.close(fig)


def _train(model, x, y, settings: dict) -> list[float]:
    """Fit one epoch at a time, each on fresh grids of the training images; returns the
    training loss of each epoch."""
    schedule = LearningRateScheduler(CosineDecay(settings["lr"], total=settings["epochs"]))
    losses = []
    for epoch in range(settings["epochs"]):
        grids = caption_grids(x, y, settings["grids_per_epoch"], seed=epoch)
        history = model.fit(grids.images, grids.tokens, batch_size=settings["batch_size"],
                            epochs=epoch + 1, initial_epoch=epoch, verbose=0,
                            callbacks=[schedule])
        losses += history.history["loss"]
    return losses


def _run(settings: dict, *, quick: bool, out_dir: str | None) -> dict:
    start = time.perf_counter()
    report = Report("captioning", "Image captioning: ConvNet encoder + LSTM decoder on "
                    "Fashion-MNIST grids", out_dir=out_dir, quick=quick)
    for key, value in {**settings, "optimizer": "Adam, cosine decay to 0 over the epochs",
                       "loss": "next-token cross-entropy, <pad> ignored (teacher forcing)",
                       "data": "2x2 grids (56x56) of two items in one row or column; train "
                               "grids from the 60k training images (fresh ones each epoch), "
                               "test grids from the 10k test images"}.items():
        report.setting(key, value)
    (x, y), (xt, yt) = fashion_mnist.load_data(verbose=False)
    test = caption_grids(xt, yt, settings["test_grids"], seed=10_000)
    vocab = test.vocabulary
    lm.set_seed(0)
    model = CaptionNet(len(vocab), input_shape=test.images.shape[1:],
                       filters=settings["filters"], code_dim=settings["code_dim"],
                       embed_dim=settings["embed_dim"], hidden=settings["hidden"],
                       max_len=test.tokens.shape[1] + 2, pad_id=vocab.pad_id,
                       start_id=vocab.start_id, end_id=vocab.end_id)
    model.compile(optimizer=lm.optimizers.Adam(lr=settings["lr"]),
                  metrics=[TokenAccuracy(vocab.pad_id)],
                  device="cuda" if torch.cuda.is_available() else "cpu")
    with report.timed("training"):
        losses = _train(model, x, y, settings)
    token_accuracy = model.evaluate(test.images, test.tokens)["token_accuracy"]
    with report.timed("decoding"):
        greedy = model.generate(test.images)
        beam = model.generate(test.images, beam_width=settings["beam_width"])
    scores, beam_scores = _scores(greedy, test), _scores(beam, test)
    results = {"exact_match": scores["exact_match"],
               "exact_match_beam": beam_scores["exact_match"],
               "token_accuracy": token_accuracy, "item_accuracy": scores["item_accuracy"],
               "relation_accuracy": scores["relation_accuracy"],
               "train_grids": settings["epochs"] * settings["grids_per_epoch"],
               "test_grids": len(test), "train_loss": losses[-1],
               "seconds": time.perf_counter() - start}
    _write(report, results, settings, model, losses)
    _figure(report, test, vocab.decode_batch(greedy[:8]), count=min(8, len(test) // 2 * 2))
    report.write(results)
    return results


def _write(report: Report, results: dict, settings: dict, model, losses: list) -> None:
    header = ["measure (held-out grids)", "ours", "acceptance (issue 6)"]
    report.row(header, ["caption exact match, greedy", results["exact_match"], f">= {TARGET}"])
    report.row(header, [f"caption exact match, beam search (width {settings['beam_width']})",
                        results["exact_match_beam"], f">= {TARGET}"])
    report.row(header, ["next-token accuracy (teacher forcing)", results["token_accuracy"],
                        "-"])
    report.row(header, ["items named right (greedy)", results["item_accuracy"], "-"])
    report.row(header, ["relation right (greedy)", results["relation_accuracy"], "-"])
    report.note(f"{'Meets' if results['exact_match'] >= TARGET else 'Misses'} the target: "
                f"greedy exact match {results['exact_match']:.4f} (target >= {TARGET}) after "
                f"{results['train_grids']:,} training grids. An item classifier on "
                f"Fashion-MNIST is right ~92% of the time, so two items are both right ~85% "
                f"of the time: naming the items, not the grammar, bounds the exact match. "
                f"Model: {model.count_params():,} parameters. Training loss per epoch: "
                f"{', '.join(f'{v:.4f}' for v in losses)}.")


def run(quick: bool = False, out_dir: str | None = None) -> dict:
    """Train ``CaptionNet`` on grids of training images, caption grids of test images;
    returns ``{"exact_match", "exact_match_beam", "token_accuracy", "item_accuracy",
    "relation_accuracy", "train_grids", "test_grids", "train_loss", "seconds"}``.

    Example:
        >>> run(quick=True)["train_grids"]  # doctest: +SKIP
        256
    """
    return _run(QUICK if quick else FULL, quick=quick, out_dir=out_dir)
