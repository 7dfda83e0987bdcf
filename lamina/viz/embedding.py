"""Codes or images in 2-D: scikit-learn's t-SNE or PCA, one colour per label."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from lamina.errors import message
from lamina.viz._mpl import pyplot

__all__ = ["embedding"]

_METHODS = ("tsne", "pca")


def embedding(x_or_codes, labels=None, method: str = "tsne", *, perplexity: float = 30.0,
              random_state: int = 0, title: str | None = None, path=None):
    """Scatter ``x_or_codes`` mapped to 2-D, coloured by ``labels``.

    ``method="pca"`` projects on the two leading principal axes (``sklearn.decomposition.PCA``,
    ``y = (x - mean) V_2``); ``method="tsne"`` runs ``sklearn.manifold.TSNE`` (PCA start),
    which keeps neighbours together: clusters, not distances, are what it shows. Each sample
    is flattened first, so images, feature maps and codes all work. scikit-learn (the
    ``dev`` extra) is imported when called.

    Args:
        x_or_codes: ``(N, ...)`` samples (images, a layer's output, autoencoder codes),
            numpy or torch.
        labels: ``(N,)`` integer labels for the colours, or None (one colour).
        method: ``"tsne"`` or ``"pca"``. Defaults to ``"tsne"``.
        perplexity: t-SNE's perplexity (capped at ``(N - 1) / 3``). Defaults to 30.
        random_state: t-SNE's seed. Defaults to 0.
        title: figure title. Defaults to the method's name.
        path: if given, also save the figure there as a PNG.

    Returns:
        A matplotlib ``Figure`` whose first axes holds one scatter of the ``N`` points, in the
        order of ``x_or_codes`` (``fig.axes[0].collections[0].get_offsets()``).

    Example:
        >>> import numpy as np
        >>> fig = embedding(np.random.rand(20, 5), np.arange(20) % 2, method="pca")
        >>> fig.axes[0].collections[0].get_offsets().shape
        (20, 2)
    """
    if method not in _METHODS:
        raise ValueError(message("Argument `method` of embedding must be 'tsne' or 'pca'.",
                                 received=f"method={method!r}"))
    data = x_or_codes.detach().float().cpu().numpy() if isinstance(x_or_codes, Tensor) \
        else np.asarray(x_or_codes, dtype=np.float32)
    if data.ndim < 2 or len(data) < 3:
        raise ValueError(message("embedding needs at least 3 samples (N, ...).",
                                 received=f"an array of shape {data.shape}"))
    data = data.reshape(len(data), -1)
    if labels is not None:
        labels = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels).reshape(-1)
        if len(labels) != len(data):
            raise ValueError(message("embedding needs one label per sample.",
                                     received=f"{len(data)} samples, {len(labels)} labels"))
    if method == "pca":
        from sklearn.decomposition import PCA

        points = PCA(n_components=2).fit_transform(data)
    else:
        from sklearn.manifold import TSNE

        points = TSNE(n_components=2, init="pca", random_state=random_state,
                      perplexity=min(float(perplexity), (len(data) - 1) / 3)).fit_transform(data)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    scatter = ax.scatter(points[:, 0], points[:, 1], s=6,
                         c=labels if labels is not None else None, cmap="tab10")
    if labels is not None and len(np.unique(labels)) <= 20:
        ax.legend(*scatter.legend_elements(), title="label", fontsize=7, loc="best",
                  markerscale=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None else
                 {"pca": "PCA (2 leading components)", "tsne": "t-SNE"}[method])
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
