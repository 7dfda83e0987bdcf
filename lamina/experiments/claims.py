"""The decks' claims, one entry each: the claim, the deck's number, how to read ours from an
experiment's result dict, and when it holds.

``lamina reproduce`` judges every claim of an experiment against the dict its ``run()``
returned (or the ``results.json`` it wrote). A new experiment's claims are new entries of
:data:`CLAIMS`; nothing in the experiment changes. Keys are looked up with :func:`at`, which
accepts an integer key as written in ``run()``'s dict or as the string JSON turns it into.

Example:
    >>> c = next(c for c in CLAIMS if c.experiment == "small_resnet")
    >>> judge(c, {"test_accuracy": 0.9431})
    Verdict(ours='0.9431', holds=True, note='')
    >>> judge(c, {}).holds is None
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["Claim", "Verdict", "CLAIMS", "at", "judge", "claims_for", "experiments_with_claims"]


@dataclass(frozen=True)
class Claim:
    """One claim of the decks, checked on an experiment's results.

    Args:
        experiment: the experiment module's name (``pooling_table``).
        text: the claim in words, as the index shows it.
        deck: the deck's number (or, where the deck gives none, the target we hold it to).
        ours: result dict -> our number(s) (a float, or a dict/tuple of them).
        holds: result dict -> whether the claim holds.
        fmt: format of our numbers (``"{:+.2f}"``); by default 4 decimals (or 3 significant
            digits for tiny and huge ones).

    Example:
        >>> Claim("x", "accuracy >= 0.9", "0.95", lambda r: r["acc"], lambda r: r["acc"] >= 0.9).deck
        '0.95'
    """

    experiment: str
    text: str
    deck: str
    ours: Callable[[dict], Any]
    holds: Callable[[dict], bool]
    fmt: str | None = None


class Verdict(NamedTuple):
    """A claim judged: our number(s) as text, whether it holds (``None``: could not tell), why not."""

    ours: str
    holds: bool | None
    note: str


def at(results: dict, *path):
    """``results[path[0]][path[1]]...``; an int key also matches its JSON string form.

    Example:
        >>> at({"rnn": {"100": 0.15}}, "rnn", 100)
        0.15
    """
    value = results
    for key in path:
        if isinstance(value, dict) and key not in value and str(key) in value:
            key = str(key)
        value = value[key]
    return value


def _format(value, fmt: str | None = None) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if fmt:
            return fmt.format(value)
        return f"{value:.3g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_format(v, fmt)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " / ".join(_format(v, fmt) for v in value)
    return str(value)


def judge(claim: Claim, results: dict) -> Verdict:
    """Our number(s) and whether ``claim`` holds on ``results``; a missing key or an
    unusable value gives ``holds=None`` with the reason, never an exception."""
    try:
        ours = _format(claim.ours(results), claim.fmt)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as e:
        return Verdict("-", None, f"no number: {type(e).__name__} {e}")
    try:
        return Verdict(ours, bool(claim.holds(results)), "")
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as e:
        return Verdict(ours, None, f"cannot judge: {type(e).__name__} {e}")


# -- helpers the entries share -------------------------------------------------------------

def _losses(results: dict, surface: str, keys) -> tuple:
    return tuple(at(results, surface, k) for k in keys)


def _falling(values) -> bool:
    return all(b < a for a, b in zip(values, values[1:]))


def _relative_l2(results: dict, method: str) -> float:
    """The mean perturbation norm over the images' mean norm (``image_mean_l2`` at the top level,
    or the method's own ``relative_l2``)."""
    entry = at(results, method)
    if "relative_l2" in entry:
        return entry["relative_l2"]
    return entry["mean_l2"] / at(results, "image_mean_l2")


def _pool_ratio(results: dict) -> float:
    """The stride-2 net's test error over the max-pool net's (``error_ratios`` when the run
    wrote it, else from the test accuracies)."""
    if "error_ratios" in results:
        return at(results, "error_ratios", "stride_2")
    acc = at(results, "test_accuracy")
    return (1.0 - acc["stride_2"]) / (1.0 - acc["max_pool"])


def _transfer_gain(results: dict, labels: int) -> float:
    accs = at(results, "labels_per_class", labels)
    return max(v for k, v in accs.items() if k != "scratch") - accs["scratch"]


#: deck 004's losses are printed with 3 significant digits: ours too
_surface = functools.partial(Claim, "surface_interpolation", fmt="{:.3g}")

_POOL_DECK_RATIO = round(1.69 / 1.23, 2)   # deck 004's MNIST table, test errors in %

#: Every claim the reproduction suite checks, grouped by experiment.
CLAIMS: tuple[Claim, ...] = (
    Claim("optimizers", "Every optimizer of the decks (SGD, momentum, AdaGrad, RMSprop, Adam) "
          "trains the 784-256-128-10 MLP to >= 0.88 test accuracy in 10 epochs (lowest shown)",
          "no number (target, issue 3: each >= 0.88)",
          lambda r: min(at(r, "test_accuracy").values()),
          lambda r: min(at(r, "test_accuracy").values()) >= 0.88),
    Claim("pooling_table", "Max pooling can be replaced by a stride-2 convolution: its test "
          "error is at most the deck's ratio to the max-pool net's (mean of the seeds)",
          f"{_POOL_DECK_RATIO} x (MNIST: 1.69 % vs 1.23 %)",
          _pool_ratio, lambda r: _pool_ratio(r) <= _POOL_DECK_RATIO, "{:.2f} x"),
    Claim("pooling_table", "conv + stride-2 conv within 1 point of max pooling "
          "(test accuracy difference, points)", "-0.20 (98.57 vs 98.77)",
          lambda r: 100 * (at(r, "test_accuracy", "conv3x3_stride_2")
                           - at(r, "test_accuracy", "max_pool")),
          lambda r: abs(at(r, "test_accuracy", "conv3x3_stride_2")
                        - at(r, "test_accuracy", "max_pool")) <= 0.01, "{:+.2f}"),
    Claim("pooling_table", "All three nets >= 0.90 test accuracy on Fashion-MNIST (lowest shown)",
          "all >= 0.9831 (MNIST)", lambda r: min(at(r, "test_accuracy").values()),
          lambda r: min(at(r, "test_accuracy").values()) >= 0.90),
    Claim("sequential_images", "An LSTM reading Fashion-MNIST row by row classifies it "
          "(LSTM / GRU test accuracy)", "no number (target, issue 6: LSTM >= 0.88)",
          lambda r: (at(r, "lstm_accuracy"), at(r, "gru_accuracy")),
          lambda r: at(r, "lstm_accuracy") >= 0.88),
    Claim("vanishing_gradients", "The LSTM bridges T = 100 steps on the adding problem "
          "(fraction of 2560 test sequences solved)", ">= 2557/2560 = 0.9988 (H&S 1997, Table 7)",
          lambda r: at(r, "lstm_accuracy", 100), lambda r: at(r, "lstm_accuracy", 100) >= 2557 / 2560),
    Claim("vanishing_gradients", "The SimpleRNN's gradients vanish: at T = 100 it does no "
          "better than predicting the mean (RNN / mean predictor)", "fails (deck 000/001)",
          lambda r: (at(r, "rnn_accuracy", 100), at(r, "baseline_accuracy", 100)),
          lambda r: at(r, "rnn_accuracy", 100) <= at(r, "baseline_accuracy", 100) + 0.02),
    Claim("reber", "An LSTM learns the embedded Reber grammar (seeds solved, LSTM / Elman)",
          "LSTM 97-100 % of runs, Elman 0 % (H&S 1997, Table 1)",
          lambda r: (f"{at(r, 'lstm_solved')}/{at(r, 'seeds')}",
                     f"{at(r, 'rnn_solved')}/{at(r, 'seeds')}"),
          lambda r: at(r, "lstm_solved") >= 0.9 * at(r, "seeds")
          and at(r, "rnn_solved") < at(r, "lstm_solved")),
    Claim("captioning", "A ConvNet + LSTM captions held-out two-item grids exactly "
          "(greedy / beam-3 exact match)", "no number (target, issue 6: >= 0.8)",
          lambda r: (at(r, "exact_match"), at(r, "exact_match_beam")),
          lambda r: at(r, "exact_match") >= 0.8),
    Claim("deep_autoencoder", "A deep 784-1000-500-250-30 autoencoder reconstructs better than "
          "PCA-30 (test squared error, autoencoder / PCA)", "3.00 vs 13.87 = 0.22 x (MNIST); "
          "target <= 0.6 x",
          lambda r: (at(r, "ae_error"), at(r, "pca_error")),
          lambda r: at(r, "ae_error") <= 0.6 * at(r, "pca_error")),
    Claim("codes", "k-means on autoencoder codes beats k-means on PCA and on pixels "
          "(NMI codes / PCA / raw)", "codes > PCA > raw (deck 001, no number)",
          lambda r: (at(r, "nmi", "codes"), at(r, "nmi", "pca"), at(r, "nmi", "raw")),
          lambda r: at(r, "nmi", "codes") > at(r, "nmi", "pca") > at(r, "nmi", "raw")),
    Claim("codes", "32-bit learned binary codes retrieve better than random-hyperplane hashing "
          "(precision@100, codes / LSH)", "semantic hashing (deck 001, no number)",
          lambda r: (at(r, "precision_at_100", "codes"), at(r, "precision_at_100", "lsh")),
          lambda r: at(r, "precision_at_100", "codes") > at(r, "precision_at_100", "lsh")),
    Claim("char_lm", "A character-level LSTM learns English text (held-out bits per character)",
          "no number (target, issue 6: <= 2.5 within 15 min)", lambda r: at(r, "bits_per_char"),
          lambda r: at(r, "bits_per_char") <= 2.5 and at(r, "seconds") <= 900),
    Claim("dbn_finetune", "DBN pretraining helps fine-tuning (test accuracy, pretrained / "
          "random, all labels)", "1.2 % vs 1.6 % error (MNIST)",
          lambda r: (at(r, "full", "pretrained"), at(r, "full", "random")),
          lambda r: at(r, "full", "pretrained") > at(r, "full", "random")),
    Claim("dbn_finetune", "With 1,000 labels pretraining gains >= 2 points (points)",
          "no number (target, issue 5: >= +2)",
          lambda r: 100 * (at(r, "labels_1000", "pretrained") - at(r, "labels_1000", "random")),
          lambda r: at(r, "labels_1000", "pretrained") - at(r, "labels_1000", "random") >= 0.02,
          "{:+.2f}"),
    Claim("segmentation", "U-Net's skips segment far better than FCN-32s (mIoU U-Net / FCN)",
          "no number (target, issue 4: U-Net >= 0.80, +0.10 over FCN)",
          lambda r: (at(r, "unet_miou"), at(r, "fcn_miou")),
          lambda r: at(r, "unet_miou") >= 0.80 and at(r, "unet_miou") - at(r, "fcn_miou") >= 0.10),
    Claim("small_resnet", "ResNet-20 with crops and flips on Fashion-MNIST (test accuracy)",
          "no number (target, issue 4: >= 0.93; ResNet-18 0.949 published)",
          lambda r: at(r, "test_accuracy"), lambda r: at(r, "test_accuracy") >= 0.93),
    Claim("rbm_vs_sklearn", "lamina's RBM trains faster than scikit-learn's at equal or better "
          "pseudo-likelihood (speed-up x; PL lamina / scikit-learn)",
          "no number (target, issue 5: >= 2x)",
          lambda r: (at(r, "speedup"), at(r, "lamina_pl"), at(r, "sklearn_pl")),
          lambda r: at(r, "speedup") >= 2 and at(r, "lamina_pl") >= at(r, "sklearn_pl"), "{:.2f}"),
    Claim("rbm_features", "RBM features + logistic regression beat logistic regression on "
          "pixels (test accuracy, RBM features / pixels)", "0.93+ vs ~0.78 (scikit-learn example)",
          lambda r: (at(r, "rbm_accuracy"), at(r, "raw_accuracy")),
          lambda r: at(r, "rbm_accuracy") >= 0.93 and at(r, "rbm_accuracy") > at(r, "raw_accuracy")),
    Claim("transfer", "Pretrained features help with a SMALL training set: best transfer - "
          "scratch at 10 labels/class (points)", "no number (target, issue 21: >= +4)",
          lambda r: 100 * _transfer_gain(r, 10), lambda r: _transfer_gain(r, 10) >= 0.04, "{:+.2f}"),
    Claim("transfer", "... and at 100 labels/class (points)", "no number (target: >= +1.5)",
          lambda r: 100 * _transfer_gain(r, 100), lambda r: _transfer_gain(r, 100) >= 0.015,
          "{:+.2f}"),
    Claim("transfer", "Conv features are the transferable ones: linear probe on the last conv "
          "block vs the last hidden layer", "no number (conv probe > last hidden)",
          lambda r: (at(r, "depth", "block3_pool"), at(r, "depth", "fc2")),
          lambda r: at(r, "depth", "block3_pool") > at(r, "depth", "fc2")),
    # issue 22: deck 004's function approximation (losses are mean squared errors)
    _surface("2-n-1 tanh MLP on Rosenbrock: loss falls with n = 2, 3, 4",
          "3.02e-1, 2.08e-2, 8.27e-3", lambda r: _losses(r, "rosenbrock", (2, 3, 4)),
          lambda r: _falling(_losses(r, "rosenbrock", (2, 3, 4)))),
    _surface("2-n-1 tanh MLP on sin x sin y: loss falls with n, "
          "n = 4 below 1e-4", "2.61e-1, 2.51e-4, 3.07e-7",
          lambda r: _losses(r, "sin_sin", (2, 3, 4)),
          lambda r: _falling(_losses(r, "sin_sin", (2, 3, 4))) and at(r, "sin_sin", 4) < 1e-4),
    _surface("Image surface, equal weights: 2 layers of 20 beat 1 layer "
          "of 125 (2x20 / 1x125)", "8.31e-2 vs 2.40e-1",
          lambda r: _losses(r, "image", ("2x20", "1x125")),
          lambda r: at(r, "image", "2x20") < at(r, "image", "1x125")),
    _surface("Deeper is better: 3 layers of 14, 15, 19 below 2 layers of "
          "20 (3x14 / 3x15 / 3x19)", "7.55e-2, 5.93e-2, 4.38e-2 (2x20: 8.31e-2)",
          lambda r: _losses(r, "image", ("3x14", "3x15", "3x19")),
          lambda r: max(_losses(r, "image", ("3x14", "3x15", "3x19"))) < at(r, "image", "2x20")),
    _surface("MLP 10/20/10/10 below 10/20/10 on the 51x51 image",
          "5.30e-2 vs 6.43e-2", lambda r: _losses(r, "image", ("10/20/10/10", "10/20/10")),
          lambda r: at(r, "image", "10/20/10/10") < at(r, "image", "10/20/10")),
    _surface("tanh below ReLU on 10/20/10 (tanh / ReLU)",
          "6.43e-2 vs 3.07e-1", lambda r: _losses(r, "image", ("10/20/10", "10/20/10 relu")),
          lambda r: at(r, "image", "10/20/10") < at(r, "image", "10/20/10 relu")),
    _surface("MLP to ResNet: residual blocks below the plain net of equal "
          "depth (residual / plain)", "no number (deck 004)",
          lambda r: _losses(r, "image", ("residual", "plain")),
          lambda r: at(r, "image", "residual") < at(r, "image", "plain")),
    # issue 23: deck 003
    Claim("deep_gradients", "Gradients vanish through a 10-layer sigmoid MLP, not through "
          "ReLU with He init (first-layer / last-layer gradient norm, epoch 1: sigmoid / ReLU)",
          "sigmoid' <= 1/4 per layer (deck 003); target sigmoid <= 1e-2, ReLU 10x closer to 1",
          lambda r: (at(r, "ratio_first_epoch", "sigmoid"), at(r, "ratio_first_epoch", "relu_he")),
          lambda r: at(r, "ratio_first_epoch", "sigmoid") <= 1e-2
          and abs(math.log10(at(r, "ratio_first_epoch", "relu_he")))
          < abs(math.log10(at(r, "ratio_first_epoch", "sigmoid"))) - 1, "{:.3g}"),
    Claim("class_weight", "Weighting the cross-entropy of a rare class raises its recall "
          "(class 0 at 5 %: recall gained with class_weight='balanced', points)",
          "weighted cross-entropy (deck 003); target >= +15 on every seed",
          lambda r: at(r, "gain"), lambda r: min(at(r, "gains")) >= 15, "{:+.1f}"),
    # issue 22: Szegedy et al. 2013
    Claim("adversarial", "Imperceptible perturbations flip a trained LeNet-5: fast gradient "
          "sign (fraction flipped; mean L2 / images' mean L2)",
          "all flipped (Szegedy et al.); target >= 0.90 with < 0.10",
          lambda r: (at(r, "fgsm", "flipped"), _relative_l2(r, "fgsm")),
          lambda r: at(r, "fgsm", "flipped") >= 0.90 and _relative_l2(r, "fgsm") < 0.10),
    Claim("adversarial", "... and box-constrained L-BFGS (fraction flipped; mean L2 / images' "
          "mean L2)", "all flipped (Szegedy et al.); target >= 0.90 with < 0.10",
          lambda r: (at(r, "lbfgs", "flipped"), _relative_l2(r, "lbfgs")),
          lambda r: at(r, "lbfgs", "flipped") >= 0.90 and _relative_l2(r, "lbfgs") < 0.10),
    # issue 22: Simonyan et al. 2013, Zeiler & Fergus 2014, on the demo's LeNet-5
    Claim("what_convnets_learn", "Saliency falls on the object (LeNet-5: share of the "
          "saliency mass on object pixels; the object's share of the image)",
          "class-specific saliency maps (Simonyan et al.); target: mass > area",
          lambda r: (at(r, "lenet5", "mass_on_object"), at(r, "lenet5", "object_area")),
          lambda r: at(r, "lenet5", "mass_on_object") > at(r, "lenet5", "object_area")),
    Claim("what_convnets_learn", "Blanking the most salient pixels lowers the class score more "
          "than blanking random object pixels (LeNet-5: drop, top 10% / random)",
          "saliency marks the pixels the score depends on; target: top > random",
          lambda r: (at(r, "lenet5", "drop_top"), at(r, "lenet5", "drop_random")),
          lambda r: at(r, "lenet5", "drop_top") > at(r, "lenet5", "drop_random")),
    Claim("what_convnets_learn", "Deeper layers respond to larger image parts (deconvnet "
          "projection extent, px, by layer: LeNet-5 and ResNet-20)",
          "Zeiler & Fergus 2014; target: extent grows with depth in both nets",
          lambda r: "; ".join(f"{net} " + " -> ".join(f"{v:.0f}" for v in
                                                     at(r, net, "deconv_extent").values())
                              for net in ("lenet5", "resnet20")),
          lambda r: bool(at(r, "lenet5", "extent_grows") and at(r, "resnet20", "extent_grows"))),
)


def claims_for(name: str) -> list[Claim]:
    """The claims of experiment ``name`` (an empty list for one that only draws figures).

    Example:
        >>> len(claims_for("pooling_table"))
        3
    """
    return [c for c in CLAIMS if c.experiment == name]


def experiments_with_claims() -> list[str]:
    """The experiments named in :data:`CLAIMS`, in the table's order, each once.

    Example:
        >>> experiments_with_claims()[:2]
        ['optimizers', 'pooling_table']
    """
    return list(dict.fromkeys(c.experiment for c in CLAIMS))
