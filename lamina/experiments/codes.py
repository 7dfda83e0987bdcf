"""Deep-autoencoder codes for clustering and for retrieval by binary codes (Fashion-MNIST).

Deck 001: "Using low-dim final features for clustering: much better results than clustering
in input space or using other dimension reduction (PCA, etc.)", and "Image Retrieval: map
images into binary codes for fast retrieval" (semantic hashing, Salakhutdinov & Hinton
2009). Two measurements on the 10,000 test images, with models fitted on the 60,000
training images: (1) k-means (k = 10) on raw pixels, on 30 PCA components and on the 30-d
codes of a deep autoencoder, scored by NMI against the classes; (2) precision@100 of
Hamming-distance retrieval with 32-bit codes, each test image querying the training set
(relevant = same class), for an autoencoder's thresholded logistic code layer versus
random-hyperplane hashing (LSH) of the pixels.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import Tensor

import lamina as lm
from lamina.experiments._report import Report
from lamina.experiments.deep_autoencoder import fit_pca, load_pixels, train_deep_autoencoder
from lamina.unsupervised import (
    StackedAutoencoder,
    ari,
    binary_codes,
    cluster,
    nmi,
    precision_at_k,
    random_hyperplane_codes,
)
from lamina.viz import plot_codes_2d
from lamina.viz._mpl import pyplot

__all__ = ["run", "HashingAutoencoder"]


class HashingAutoencoder(StackedAutoencoder):
    """A stacked autoencoder whose logistic code units get Gaussian noise while training.

    The code is ``sigmoid(z + noise * eps)``, ``eps ~ N(0, I)``, in training and
    ``sigmoid(z)`` otherwise: to carry information through the noise the network drives
    ``|z|`` up, so the code units end near 0 or 1 and thresholding them at 0.5 loses little
    (the idea of Salakhutdinov & Hinton's semantic hashing, which adds noise to the code
    layer's input during fine-tuning).

    Args:
        sizes: layer sizes, input first; ``sizes[-1]`` is the number of bits.
        noise: standard deviation of the noise added to the code layer's input. Defaults
            to 4.
        name: model name.

    Example:
        >>> ae = HashingAutoencoder([12, 6, 4], noise=4.0)
        >>> ae.build((12,)); ae.encode(np.zeros((2, 12), np.float32)).shape
        (2, 4)
    """

    def __init__(self, sizes, *, noise: float = 4.0, name: str | None = None):
        super().__init__(sizes, activation="sigmoid", code_activation="sigmoid", name=name)
        self.noise = float(noise)

    def _encode(self, x: Tensor) -> Tensor:
        h = x.flatten(1)
        for layer in self.encoder_layers[:-1]:
            h = layer(h)
        z = self.encoder_layers[-1].preactivation(h)
        if self.training and self.noise:
            z = z + self.noise * torch.randn_like(z)
        return torch.sigmoid(z)

    def get_config(self) -> dict:
        return {"sizes": self.sizes, "noise": self.noise, "name": self.name,
                "input_shape": None if self.input_shape is None else list(self.input_shape)}


def _kmeans_scores(points, labels) -> tuple[float, float]:
    found = cluster(points, 10, n_init=10, random_state=0)
    return nmi(labels, found), ari(labels, found)


def _figure(codes: np.ndarray, labels, nmis: dict, precisions: dict, bits: int):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, (title, values) in zip(axes, (("k-means NMI (k = 10)", nmis),
                                          (f"precision@100, {bits}-bit codes", precisions))):
        bars = ax.bar(list(values), list(values.values()), color="tab:blue")
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(title)
    fig.tight_layout()
    _, axes_2d = fit_pca(codes, 2)
    scatter = plot_codes_2d((codes - codes.mean(0)) @ axes_2d.T, labels,
                            class_names=lm.datasets.fashion_mnist.CLASS_NAMES,
                            title="autoencoder codes of the test images (first 2 principal axes)")
    return fig, scatter


def run(quick: bool = False, out_dir: str | None = None, epochs: int = 10,
        pretrain_epochs: int = 2, batch_size: int = 64, noise: float = 4.0) -> dict:
    """k-means NMI (raw, PCA-30, autoencoder codes) and precision@100 (semantic hashing, LSH).

    Two autoencoders are trained with ``train_deep_autoencoder`` (stacked-autoencoder
    pretraining, then Adam fine-tuning): 784-500-250-30 with a linear code for clustering,
    and 784-500-250-32 with a noisy logistic code (:class:`HashingAutoencoder`) for the
    32-bit binary codes.

    Args:
        quick: 500 training and 200 test images, small layers, 1 epoch (seconds).
            Defaults to False.
        out_dir: where the report goes. Defaults to ``runs/codes``.
        epochs: fine-tuning epochs of each autoencoder. Defaults to 10.
        pretrain_epochs: pretraining epochs per layer. Defaults to 2.
        batch_size: batch size. Defaults to 64.
        noise: standard deviation of the code noise of the hashing autoencoder.
            Defaults to 4.

    Returns:
        ``{"nmi": {"raw", "pca", "codes"}, "precision_at_100": {"codes", "lsh"},
        "seconds"}``.

    Example:
        >>> r = run(quick=True)  # doctest: +SKIP
        >>> 0 <= r["nmi"]["codes"] <= 1  # doctest: +SKIP
        True
    """
    start = time.perf_counter()
    report = Report("codes", "Autoencoder codes for clustering and retrieval (Fashion-MNIST)",
                    out_dir=out_dir, quick=quick)
    x, y, xt, yt = load_pixels(quick)
    hidden, dims, bits, k = [500, 250], 30, 32, 100
    if quick:
        hidden, dims, bits, epochs, pretrain_epochs = [32], 8, 8, 1, 1
    for key, value in {
            "data": f"models fitted on {len(x)} training images; clustering on {len(xt)} test "
                    f"images; retrieval: {len(xt)} test queries, {len(x)} training images as "
                    f"the database, relevant = same class",
            "clustering autoencoder": f"{'-'.join(map(str, [784, *hidden, dims]))} (mirrored), "
                                      f"logistic hidden units, linear code",
            "hashing autoencoder": f"{'-'.join(map(str, [784, *hidden, bits]))} (mirrored), "
                                   f"logistic code units with N(0, {noise:g}^2) noise on their "
                                   f"input in training, thresholded at 0.5",
            "training": f"stacked-autoencoder pretraining ({pretrain_epochs} epochs per layer), "
                        f"then {epochs} epochs of Adam fine-tuning (lr 1e-3 cosine-decayed to "
                        f"1e-5, MSE, batch {batch_size})",
            "k-means": "k = 10, k-means++ seeding, best of 10 by inertia, seed 0",
            "LSH": f"{bits} random hyperplanes through the training mean (seed 0)",
            "seed": 0}.items():
        report.setting(key, value)
    with report.timed("clustering_autoencoder"):
        ae, _, _, _ = train_deep_autoencoder(x, [784, *hidden, dims], pretraining="stacked",
                                             pretrain_epochs=pretrain_epochs, epochs=epochs,
                                             batch_size=batch_size)
    codes = ae.encode(xt)
    mean, axes = fit_pca(x, dims)
    scores = {"raw": _kmeans_scores(xt, yt), "pca": _kmeans_scores((xt - mean) @ axes.T, yt),
              "codes": _kmeans_scores(codes, yt)}
    with report.timed("hashing_autoencoder"):
        torch.manual_seed(0)
        hasher = HashingAutoencoder([784, *hidden, bits], noise=noise).pretrain(
            x, epochs=pretrain_epochs, batch_size=batch_size)
        hasher, _, _, _ = train_deep_autoencoder(x, hasher.sizes, model=hasher, epochs=epochs,
                                                 batch_size=batch_size)
    center = x.mean(0)
    hashes = {"codes": (binary_codes(hasher.encode(x)), binary_codes(hasher.encode(xt))),
              "lsh": (random_hyperplane_codes(x - center, bits, random_state=0, center=False),
                      random_hyperplane_codes(xt - center, bits, random_state=0,
                                              center=False))}
    precision = {name: precision_at_k(q, yt, db, y, k=k) for name, (db, q) in hashes.items()}
    names = {"raw": "raw pixels (784-d)", "pca": f"PCA, {dims} components",
             "codes": f"deep autoencoder codes ({dims}-d)"}
    for name in ("raw", "pca", "codes"):
        report.row(["k-means on", "NMI", "ARI"], [names[name], *scores[name]])
    report.row([f"{bits}-bit binary codes", f"precision@{k}"],
               ["autoencoder code units > 0.5 (semantic hashing)", precision["codes"]])
    report.row([f"{bits}-bit binary codes", f"precision@{k}"],
               ["random-hyperplane hashing of the pixels (LSH)", precision["lsh"]])
    nmis = {name: value[0] for name, value in scores.items()}
    verdict = {True: "holds", False: "does not hold"}
    report.note(
        f"Deck 001's claim, NMI(codes) > NMI(PCA) > NMI(raw) (here {nmis['codes']:.3f}, "
        f"{nmis['pca']:.3f}, {nmis['raw']:.3f}): NMI(codes) > NMI(PCA) "
        f"{verdict[nmis['codes'] > nmis['pca']]}, NMI(codes) > NMI(raw) "
        f"{verdict[nmis['codes'] > nmis['raw']]}, NMI(PCA) > NMI(raw) "
        f"{verdict[nmis['pca'] > nmis['raw']]}. k-means on PCA components is k-means on the "
        f"pixels with the {784 - dims} smallest-variance directions dropped, so those two "
        f"scores are close by construction. The learned binary codes "
        f"{'beat' if precision['codes'] > precision['lsh'] else 'do not beat'} LSH with the "
        f"same number of bits ({precision['codes']:.3f} versus {precision['lsh']:.3f}); "
        f"fraction of code-unit values within 0.1 of 0 or 1 on the test images: "
        f"{float(np.mean(np.abs(hasher.encode(xt) - 0.5) > 0.4)):.2f}.")
    bars, scatter = _figure(codes, yt, {"raw pixels": nmis["raw"], f"PCA-{dims}": nmis["pca"],
                                        "AE codes": nmis["codes"]},
                            {"autoencoder": precision["codes"], "LSH": precision["lsh"]}, bits)
    report.figure(bars, "scores.png")
    report.figure(scatter, "codes_2d.png")
    results = {"nmi": nmis, "precision_at_100": precision, "seconds": time.perf_counter() - start}
    report.write(results)
    return results
