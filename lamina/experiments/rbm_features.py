"""RBM features for digit classification: scikit-learn's example set-up, with lamina's RBM.

scikit-learn's "Restricted Boltzmann Machine features for digit classification": the 8x8
digits, augmented by nudging each image one pixel up, down, left and right (5x the data),
scaled to [0, 1], split 80/20; an RBM with 100 hidden units (learning rate 0.06, batch 10,
10 epochs) learns features ``P(h = 1 | v)`` without labels, and a logistic regression
(``C = 6000``) is trained on them; the baseline is logistic regression on the raw pixels
(``C = 100``). Decks 000/001: unsupervised pretraining gives features that help a simple
supervised classifier.
"""

from __future__ import annotations

import time

import numpy as np

from lamina.experiments._report import Report
from lamina.unsupervised import RBM
from lamina.viz import plot_filters

__all__ = ["run", "nudge"]


def nudge(x: np.ndarray, y: np.ndarray, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The images plus copies shifted by one pixel up, down, left and right (zero fill).

    Example:
        >>> x, y = nudge(np.arange(4.0).reshape(1, 4), np.array([7]), side=2)
        >>> x.shape, y.tolist()
        ((5, 4), [7, 7, 7, 7, 7])
    """
    images = x.reshape(-1, side, side)
    shifted = [images]
    for axis, step in ((1, -1), (1, 1), (2, -1), (2, 1)):
        moved = np.roll(images, step, axis=axis)
        edge = 0 if step == 1 else -1
        if axis == 1:
            moved[:, edge, :] = 0
        else:
            moved[:, :, edge] = 0
        shifted.append(moved)
    return np.concatenate(shifted).reshape(-1, side * side), np.tile(y, len(shifted))


def _accuracy(c: float, train: np.ndarray, y_train, test: np.ndarray, y_test) -> float:
    """Test accuracy of the example's logistic regression (newton-cg; its ``tol=1`` makes
    scikit-learn >= 1.8 stop before the first step, so the default tolerance is used)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # 64-100 features: one BLAS thread is fastest (and robust)
        model = LogisticRegression(solver="newton-cg", C=c).fit(train, y_train)
        return float(model.score(test, y_test))


def run(quick: bool = False, out_dir: str | None = None, epochs: int = 10) -> dict:
    """RBM features + logistic regression versus logistic regression on raw pixels.

    Returns:
        ``{"rbm_accuracy", "raw_accuracy", "sklearn_rbm_accuracy"}``: test accuracies
        (the last with scikit-learn's ``BernoulliRBM`` in the same pipeline).

    Example:
        >>> run(quick=True)["rbm_accuracy"] > 0.5  # doctest: +SKIP
        True
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import BernoulliRBM
    from sklearn.preprocessing import minmax_scale

    report = Report("rbm_features", "RBM features for digit classification (scikit-learn's "
                    "set-up)", out_dir=out_dir, quick=quick)
    x, y = load_digits(return_X_y=True)
    x, y = nudge(x.astype(np.float32), y)
    x = minmax_scale(x, feature_range=(0, 1)).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    if quick:
        x_train, y_train, x_test, y_test, epochs = (x_train[:1500], y_train[:1500],
                                                    x_test[:500], y_test[:500], 2)
    for key, value in {"data": f"8x8 digits nudged 5x: {len(x_train)} train / {len(x_test)} "
                               f"test", "RBM": "100 hidden, CD-1, lr 0.06, batch 10",
                       "epochs": epochs, "logistic C": "6000 on RBM features, 100 on pixels",
                       "seed": 0}.items():
        report.setting(key, value)
    start = time.perf_counter()
    rbm = RBM(100, lr=0.06, batch_size=10, epochs=epochs, random_state=0, device="cpu")
    rbm.fit(x_train)
    rbm_seconds = time.perf_counter() - start
    rbm_accuracy = _accuracy(6000.0, rbm.transform(x_train), y_train, rbm.transform(x_test),
                             y_test)
    raw_accuracy = _accuracy(100.0, x_train, y_train, x_test, y_test)
    start = time.perf_counter()
    sk = BernoulliRBM(100, learning_rate=0.06, batch_size=10, n_iter=epochs, random_state=0)
    sk.fit(x_train)
    sk_seconds = time.perf_counter() - start
    sk_accuracy = _accuracy(6000.0, sk.transform(x_train), y_train, sk.transform(x_test),
                            y_test)
    results = {"rbm_accuracy": rbm_accuracy, "raw_accuracy": raw_accuracy,
               "sklearn_rbm_accuracy": sk_accuracy}
    header = ["features", "test accuracy", "RBM training (s)", "target (issue 5)"]
    report.row(header, ["lamina RBM (100 hidden) + logistic", rbm_accuracy,
                        round(rbm_seconds, 1), ">= 0.93"])
    report.row(header, ["scikit-learn BernoulliRBM + logistic", sk_accuracy, round(sk_seconds, 1),
                        "-"])
    report.row(header, ["raw pixels + logistic", raw_accuracy, "-", "~0.78"])
    report.note("lamina's RBM uses CD-1 (scikit-learn's uses PCD-1); everything else follows "
                "the scikit-learn example.")
    report.figure(plot_filters(rbm.components_, image_shape=(8, 8),
                               title="lamina RBM: 100 filters"), "filters.png")
    report.write(results)
    return results
