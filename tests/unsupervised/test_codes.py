"""Clustering and retrieval with codes: k-means, NMI/ARI against scikit-learn, Hamming search."""

import numpy as np
import pytest

from lamina.unsupervised import (
    ari,
    binary_codes,
    cluster,
    hamming_distances,
    nmi,
    precision_at_k,
    random_hyperplane_codes,
    retrieve,
)

metrics = pytest.importorskip("sklearn.metrics")


def blobs(n_per=30, k=4, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, 5) * 10
    x = np.concatenate([c + rng.randn(n_per, 5) for c in centers])
    return x.astype(np.float32), np.repeat(np.arange(k), n_per)


@pytest.mark.parametrize("seed", range(6))
def test_nmi_and_ari_equal_sklearn(seed):
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 1 + seed % 4 + 1, 40)
    b = rng.randint(0, 1 + (seed + 1) % 5 + 1, 40) if seed % 3 else a[::-1].copy()
    assert nmi(a, b) == pytest.approx(metrics.normalized_mutual_info_score(a, b), abs=1e-12)
    assert ari(a, b) == pytest.approx(metrics.adjusted_rand_score(a, b), abs=1e-12)


def test_scores_of_degenerate_labelings_match_sklearn():
    for a, b in [([0, 0, 0], [0, 0, 0]), ([0, 0, 0], [0, 1, 2]), ([0, 1, 2], [2, 0, 1])]:
        assert nmi(a, b) == pytest.approx(metrics.normalized_mutual_info_score(a, b))
        assert ari(a, b) == pytest.approx(metrics.adjusted_rand_score(a, b))


def test_kmeans_recovers_separated_blobs():
    x, y = blobs()
    labels, centers = cluster(x, 4, random_state=0, device="cpu", return_centers=True)
    assert ari(y, labels) == 1.0 and centers.shape == (4, 5)
    np.testing.assert_array_equal(labels, cluster(x, 4, random_state=0, device="cpu"))


def test_kmeans_inertia_is_no_worse_than_sklearn():
    cluster_module = pytest.importorskip("sklearn.cluster")
    x, _ = blobs(n_per=40, k=6, seed=3)
    x += np.random.RandomState(1).randn(*x.shape).astype(np.float32) * 4
    labels, centers = cluster(x, 6, random_state=0, device="cpu", return_centers=True)
    ours = ((x - centers[labels]) ** 2).sum()
    theirs = cluster_module.KMeans(6, n_init=4, random_state=0).fit(x).inertia_
    assert ours <= theirs * 1.02


def test_kmeans_errors():
    with pytest.raises(ValueError, match="must not exceed"):
        cluster(np.zeros((3, 2)), 4, device="cpu")
    with pytest.raises(ValueError, match="2-D"):
        cluster(np.zeros(3), 2, device="cpu")


def test_hamming_distances_and_retrieval():
    rng = np.random.RandomState(0)
    db = rng.randint(0, 2, (50, 16))
    q = db[:5]
    expected = (q[:, None, :] != db[None]).sum(2)
    np.testing.assert_array_equal(hamming_distances(q, db, device="cpu"), expected)
    found = retrieve(q, db, 7, device="cpu")
    for row, idx in zip(expected, found):
        order = np.lexsort((np.arange(50), row))[:7]   # by distance, then index
        np.testing.assert_array_equal(idx, order)
    assert (retrieve(q, db, 3, exclude_self=True, device="cpu") != np.arange(5)[:, None]).all()


def test_precision_at_k_and_binary_codes():
    codes = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.7]])
    bits = binary_codes(codes)
    labels = np.array([0, 0, 1, 1])
    assert precision_at_k(bits, labels, bits, labels, k=1, exclude_self=True,
                          device="cpu") == 1.0
    assert binary_codes(codes, "median").sum(0).tolist() == [2, 2]
    lsh = random_hyperplane_codes(np.random.RandomState(0).randn(10, 6), 32, random_state=0)
    assert lsh.shape == (10, 32) and set(np.unique(lsh)) <= {0, 1}
