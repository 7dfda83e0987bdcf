"""Using low-dimensional codes (decks 000/001): clustering, and image retrieval by binary codes.

Deck 001: "Using low-dim final features for clustering: much better results than clustering
in input space or using other dimension reduction (PCA, etc.)", and "Image Retrieval: map
images into binary codes for fast retrieval" (semantic hashing, Salakhutdinov & Hinton
2009). Here: k-means on the device with k-means++ seeding, the NMI and ARI scores, binary
codes, Hamming-distance retrieval and precision@k, and random-hyperplane hashing as the
baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lamina.config import resolve_device
from lamina.errors import message
from lamina.training.tensors import to_tensor
from lamina.unsupervised._base import make_generator

__all__ = ["cluster", "nmi", "ari", "binary_codes", "hamming_distances", "retrieve",
           "precision_at_k", "random_hyperplane_codes"]

#: Queries per chunk in retrieval (bounds the (queries, database) distance matrix).
_QUERY_CHUNK = 512


def _points(x, owner: str, device) -> Tensor:
    t = to_tensor(x, "codes", owner).float()
    if t.dim() != 2:
        raise ValueError(message(f"Argument `codes` of {owner} must be 2-D (samples, features).",
                                 received=f"shape {tuple(t.shape)}"))
    return t.to(device)


def _kmeans_plus_plus(x: Tensor, k: int, gen: torch.Generator) -> Tensor:
    """Arthur & Vassilvitskii's seeding: each new center drawn with probability ∝ D(x)^2."""
    first = torch.randint(len(x), (1,), generator=gen, device=x.device)
    centers = [x[first]]
    closest = (x - centers[0]).square().sum(1)
    for _ in range(1, k):
        weights = closest.clamp_min(0)
        if float(weights.sum()) <= 0:               # fewer distinct points than k
            weights = torch.ones_like(weights)
        index = torch.multinomial(weights, 1, generator=gen)
        centers.append(x[index])
        closest = torch.minimum(closest, (x - centers[-1]).square().sum(1))
    return torch.cat(centers)


def _lloyd(x: Tensor, centers: Tensor, max_iter: int, tol: float) -> tuple[Tensor, Tensor, float]:
    k = len(centers)
    sq = x.square().sum(1, keepdim=True)
    for _ in range(max_iter):
        dist = sq - 2 * x @ centers.T + centers.square().sum(1)
        labels = dist.argmin(1)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = torch.zeros_like(centers).index_add_(0, labels, x)
        new = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centers)
        empty = counts == 0
        if bool(empty.any()):                        # re-seed with the worst-fitted points
            worst = dist.gather(1, labels[:, None])[:, 0].topk(int(empty.sum())).indices
            new[empty] = x[worst]
        shift = float((new - centers).square().sum())
        centers = new
        if shift <= tol:
            break
    dist = sq - 2 * x @ centers.T + centers.square().sum(1)
    best, labels = dist.min(1)
    return labels, centers, float(best.clamp_min(0).sum())


def cluster(codes, k: int, *, n_init: int = 4, max_iter: int = 100, tol: float = 1e-6,
            random_state=None, device="auto", return_centers: bool = False):
    """k-means clustering (Lloyd's algorithm) on the device, seeded by k-means++.

    Runs ``n_init`` seedings and keeps the partition of lowest inertia
    ``sum_n ||x_n - c_{label(n)}||^2``.

    Args:
        codes: points ``(N, d)`` (numpy or torch).
        k: number of clusters.
        n_init: independent seedings. Defaults to 4.
        max_iter: Lloyd iterations per seeding. Defaults to 100.
        tol: stop when the centers move less than this (squared). Defaults to 1e-6.
        random_state: None, a seed or a ``torch.Generator``. Defaults to None.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ... Defaults to ``"auto"``.
        return_centers: also return the centers ``(k, d)``. Defaults to False.

    Returns:
        The labels ``(N,)`` as an int64 numpy array (and the centers, as numpy).

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
        >>> labels = cluster(x, 2, random_state=0, device="cpu")
        >>> bool(labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2])
        True
    """
    device = resolve_device(device)
    x = _points(codes, "cluster", device)
    for name, value in (("k", k), ("n_init", n_init), ("max_iter", max_iter)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(message(f"Argument `{name}` of cluster must be an integer >= 1.",
                                     received=f"{name}={value!r}"))
    if k > len(x):
        raise ValueError(message("Argument `k` of cluster must not exceed the number of points.",
                                 received=f"k={k} for {len(x)} points"))
    gen = make_generator(random_state, device)
    best = None
    for _ in range(n_init):
        run = _lloyd(x, _kmeans_plus_plus(x, k, gen), max_iter, tol)
        if best is None or run[2] < best[2]:
            best = run
    labels = best[0].cpu().numpy()
    return (labels, best[1].cpu().numpy()) if return_centers else labels


def _contingency(labels_true, labels_pred) -> np.ndarray:
    a, b = np.asarray(labels_true).ravel(), np.asarray(labels_pred).ravel()
    if len(a) != len(b):
        raise ValueError(message("The two labelings must have the same length.",
                                 received=f"{len(a)} and {len(b)}"))
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max(initial=-1) + 1, ib.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (ia, ib), 1)
    return table


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(labels_true, labels_pred) -> float:
    """Normalized mutual information ``I(U; V) / ((H(U) + H(V)) / 2)``, in [0, 1].

    The arithmetic-mean normalization, scikit-learn's default; 1 when the partitions agree
    up to renaming, about 0 for independent ones.

    Example:
        >>> round(nmi([0, 0, 1, 1], [5, 5, 2, 2]), 12)
        1.0
    """
    table = _contingency(labels_true, labels_pred)
    if table.shape[0] == table.shape[1] == 1 or table.size == 0:
        return 1.0
    n = table.sum()
    rows, cols = table.sum(1), table.sum(0)
    nz = table > 0
    p = table[nz] / n
    mi = float((p * (np.log(table[nz] * n) - np.log(np.outer(rows, cols)[nz]))).sum())
    norm = (_entropy(rows) + _entropy(cols)) / 2    # > 0: not both single clusters
    return float(max(mi, 0.0) / norm)


def ari(labels_true, labels_pred) -> float:
    """Adjusted Rand index: pair agreement corrected for chance, 1 for equal partitions.

    ``ARI = 2 (TP TN - FN FP) / ((TP + FN)(FN + TN) + (TP + FP)(FP + TN))`` over the pairs
    of samples (Hubert & Arabie 1985), as scikit-learn computes it.

    Example:
        >>> ari([0, 0, 1, 1], [1, 1, 0, 0])
        1.0
    """
    table = _contingency(labels_true, labels_pred)
    n = int(table.sum())
    sum_squares = int((table.astype(np.float64) ** 2).sum())
    rows, cols = table.sum(1).astype(np.float64), table.sum(0).astype(np.float64)
    tp = sum_squares - n
    fp = float(table.dot(cols).sum()) - sum_squares
    fn = float(table.T.dot(rows).sum()) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def binary_codes(codes, threshold=0.5) -> np.ndarray:
    """Bits from real codes: ``code > threshold`` (``"median"``: each unit's median).

    Deck 001's binary codes for fast retrieval: threshold a DBN's or an autoencoder's
    (sigmoid) code units. ``"median"`` makes every bit on for half the data.

    Returns:
        A uint8 numpy array of 0s and 1s, shape ``(N, bits)``.

    Example:
        >>> binary_codes([[0.9, 0.2], [0.4, 0.7]]).tolist()
        [[1, 0], [0, 1]]
    """
    x = np.asarray(codes.detach().cpu() if isinstance(codes, Tensor) else codes, np.float64)
    cut = np.median(x, 0) if isinstance(threshold, str) and threshold == "median" else threshold
    return (x > cut).astype(np.uint8)


def _signs(bits, device) -> Tensor:
    return to_tensor(np.asarray(bits.cpu() if isinstance(bits, Tensor) else bits), "codes",
                     "retrieval").float().to(device).mul(2).sub(1)


def hamming_distances(queries, database, *, device="auto") -> np.ndarray:
    """Hamming distances between binary codes, ``(Q, N)``: ``(bits - s_q . s_n) / 2``.

    With bits mapped to signs ``s = 2 b - 1``, one matrix product gives every distance.

    Example:
        >>> hamming_distances([[1, 0, 1]], [[1, 0, 1], [0, 1, 0]], device="cpu").tolist()
        [[0, 3]]
    """
    device = resolve_device(device)
    q, d = _signs(queries, device), _signs(database, device)
    return ((q.shape[1] - q @ d.T) / 2).round().long().cpu().numpy()


def retrieve(queries, database, k: int, *, exclude_self: bool = False,
             device="auto") -> np.ndarray:
    """Indices of the ``k`` database codes nearest to each query in Hamming distance.

    Ties go to the lower index. With ``exclude_self`` the queries are the first rows of
    the database (query ``i`` is database row ``i``) and a query never retrieves itself.

    Returns:
        int64 numpy array ``(Q, k)``, nearest first.

    Example:
        >>> retrieve([[1, 1]], [[0, 0], [1, 1], [1, 0]], 2, device="cpu").tolist()
        [[1, 2]]
    """
    device = resolve_device(device)
    q, d = _signs(queries, device), _signs(database, device)
    n = len(d)
    if not 1 <= k <= n - int(exclude_self):
        raise ValueError(message("Argument `k` of retrieve must be between 1 and the database "
                                 "size.", received=f"k={k} for {n} database codes"))
    index = torch.arange(n, device=device)
    out = []
    for start in range(0, len(q), _QUERY_CHUNK):
        chunk = q[start:start + _QUERY_CHUNK]
        dist = ((q.shape[1] - chunk @ d.T) / 2).round().long()
        key = dist * n + index                      # distance first, then index
        if exclude_self:
            rows = torch.arange(len(chunk), device=device)
            key[rows, rows + start] = torch.iinfo(torch.int64).max
        out.append(key.topk(k, dim=1, largest=False).values % n)
    return torch.cat(out).cpu().numpy()


def precision_at_k(query_codes, query_labels, database_codes, database_labels, k: int = 100,
                   *, exclude_self: bool = False, device="auto") -> float:
    """Mean fraction of each query's ``k`` nearest codes that share its label.

    Example:
        >>> db = [[0, 0], [0, 1], [1, 1], [1, 0]]
        >>> precision_at_k([[0, 0]], [0], db, [0, 0, 1, 1], k=2, device="cpu")
        1.0
    """
    found = retrieve(query_codes, database_codes, k, exclude_self=exclude_self, device=device)
    truth = np.asarray(database_labels)[found]
    return float((truth == np.asarray(query_labels)[:, None]).mean())


def random_hyperplane_codes(x, bits: int, *, random_state=None, center: bool = True
                            ) -> np.ndarray:
    """Locality-sensitive hashing by random hyperplanes (Charikar 2002): ``[R^T (x - mean) > 0]``.

    The baseline for learned binary codes: each bit is the side of a random hyperplane
    through the data's mean, so the Hamming distance estimates the angle between vectors.

    Returns:
        A uint8 numpy array ``(N, bits)``.

    Example:
        >>> random_hyperplane_codes(np.eye(3), 4, random_state=0).shape
        (3, 4)
    """
    data = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, np.float64)
    data = data.reshape(len(data), -1)
    if center:
        data = data - data.mean(0)
    gen = make_generator(random_state, torch.device("cpu"))
    planes = torch.randn(data.shape[1], bits, generator=gen, dtype=torch.float64).numpy()
    return (data @ planes > 0).astype(np.uint8)

