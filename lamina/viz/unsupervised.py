"""Pictures of unsupervised models: Gibbs chains, reconstructions beside inputs, 2-D codes,
and an RBM on 2-D data.

The ``plot_*`` functions take arrays (numpy or torch), not a model; :func:`rbm_2d` takes a
fitted RBM. Each returns a matplotlib ``Figure``. RBM and first-layer filters are drawn by
:func:`lamina.viz.plot_filters` (``plot_filters(rbm.components_, image_shape=(28, 28))``).
"""

from __future__ import annotations

import numpy as np

from lamina.errors import message
from lamina.viz._mpl import pyplot

__all__ = ["plot_gibbs_chain", "plot_reconstructions", "plot_codes_2d", "rbm_2d"]


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _tile(ax, image: np.ndarray) -> None:
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0) if image.min() >= 0 and image.max() <= 1 \
        else ax.imshow(image, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _images(x, image_shape, owner: str) -> np.ndarray:
    arr = _array(x)
    if image_shape is not None:
        return arr.reshape(len(arr), *image_shape)
    if arr.ndim == 3:
        return arr
    if arr.ndim == 4 and arr.shape[1] == 1:
        return arr[:, 0]
    raise ValueError(message(f"{owner} needs images (N, H, W) or flat rows with "
                             f"`image_shape=(H, W)`.", received=f"an array of shape {arr.shape}"))


def plot_gibbs_chain(states, image_shape=None, *, title: str | None = None):
    """A grid of Gibbs-chain states: one row per chain, one column per recorded step.

    Args:
        states: ``(steps, chains, D)`` (or ``(steps, chains, H, W)``), e.g. the visible
            means recorded every few steps of ``rbm.gibbs``.
        image_shape: ``(H, W)`` for flat states. Defaults to None.
        title: figure title.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> fig = plot_gibbs_chain(np.random.rand(5, 2, 16), image_shape=(4, 4))
        >>> len(fig.axes)
        10
    """
    arr = _array(states)
    if arr.ndim < 3:
        raise ValueError(message("plot_gibbs_chain needs states of shape (steps, chains, ...).",
                                 received=f"an array of shape {arr.shape}"))
    steps, chains = arr.shape[:2]
    images = _images(arr.reshape(steps * chains, *arr.shape[2:]), image_shape,
                     "plot_gibbs_chain").reshape(steps, chains, *(image_shape or arr.shape[2:]))
    plt = pyplot()
    fig, axes = plt.subplots(chains, steps, figsize=(1.1 * steps, 1.1 * chains + 0.3),
                             squeeze=False)
    for c in range(chains):
        for s in range(steps):
            _tile(axes[c][s], images[s, c])
    for s in range(steps):
        axes[0][s].set_title(f"{s}", fontsize=8)
    fig.suptitle(title or "Gibbs chains (columns: recorded steps)")
    return fig


def plot_reconstructions(x, reconstructions, image_shape=None, *, n: int = 10,
                         title: str | None = None):
    """Inputs (top row) above their reconstructions (bottom row).

    Args:
        x: inputs ``(N, H, W)``, ``(N, 1, H, W)`` or flat ``(N, D)`` with ``image_shape``.
        reconstructions: the same shape as ``x``.
        image_shape: ``(H, W)`` for flat rows. Defaults to None.
        n: how many pairs to show (the first ``n``). Defaults to 10.
        title: figure title.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> x = np.random.rand(4, 9)
        >>> len(plot_reconstructions(x, x, image_shape=(3, 3)).axes)
        8
    """
    top = _images(x, image_shape, "plot_reconstructions")[:n]
    bottom = _images(reconstructions, image_shape, "plot_reconstructions")[:n]
    if top.shape != bottom.shape:
        raise ValueError(message("plot_reconstructions needs `x` and `reconstructions` of the "
                                 "same shape.", received=f"{top.shape} and {bottom.shape}"))
    plt = pyplot()
    fig, axes = plt.subplots(2, len(top), figsize=(1.1 * len(top), 2.6), squeeze=False)
    for i in range(len(top)):
        _tile(axes[0][i], top[i])
        _tile(axes[1][i], bottom[i])
    axes[0][0].set_ylabel("input", fontsize=8)
    axes[1][0].set_ylabel("reconstruction", fontsize=8)
    fig.suptitle(title or "Inputs and reconstructions")
    return fig


def plot_codes_2d(codes, labels=None, *, class_names=None, title: str | None = None,
                  max_points: int = 5000):
    """Two-dimensional codes as a scatter plot, one colour per class.

    Args:
        codes: ``(N, 2)`` codes (a 2-unit autoencoder or DBN code layer, a VAE's means).
        labels: class of each point, for colours and the legend. Defaults to None.
        class_names: names for the legend, indexed by label. Defaults to the labels.
        title: figure title.
        max_points: plot at most this many points (the first ones). Defaults to 5000.

    Returns:
        A matplotlib ``Figure``.

    Example:
        >>> import numpy as np
        >>> fig = plot_codes_2d(np.random.rand(20, 2), np.arange(20) % 3)
        >>> len(fig.axes[0].collections)
        3
    """
    arr = _array(codes)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(message("plot_codes_2d needs codes of shape (N, 2).",
                                 received=f"an array of shape {arr.shape}",
                                 fix="Use a 2-unit code layer, or project first (e.g. PCA)."))
    arr = arr[:max_points]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(arr[:, 0], arr[:, 1], s=4)
    else:
        lab = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)[:max_points]
        for value in np.unique(lab):
            name = class_names[int(value)] if class_names is not None else str(value)
            pts = arr[lab == value]
            ax.scatter(pts[:, 0], pts[:, 1], s=4, label=name)
        ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title or "2-D codes")
    return fig


def rbm_2d(rbm, data, xlim=None, ylim=None, *, resolution: int = 120, n_arrows: int = 150,
           n_samples: int = 300, gibbs_steps: int = 100, title: str | None = None, path=None):
    """An RBM with two visible units on 2-D data: its density, reconstructions, free energy.

    Three panels over the box ``xlim x ylim``:

    1. the model's density ``p(v) = exp(-F(v)) / Z`` on a ``resolution``-square grid, ``Z``
       the grid's Riemann sum (so the image integrates to 1 over the box), with the data;
    2. reconstructions: an arrow from each of ``n_arrows`` data points (evenly spaced in
       ``data``) to its mean-field reconstruction ``E[v | h = P(h | v)]``
       (``rbm.reconstruct``): the points are pulled towards the modes the RBM has learned;
    3. the free energy ``F(v) = -log sum_h exp(-E(v, h))`` (low where the model puts its
       mass), with contour lines and ``n_samples`` samples of Gibbs chains run
       ``gibbs_steps`` steps from random states (``rbm.sample``, which draws from the RBM's
       ``random_state_``).

    Use Gaussian visible units (``RBM(n_hidden, visible="gaussian")``, unit variance, on
    standardized data): ``F`` is then ``||v - b||^2 / 2 - sum_j softplus(a_j + v^T W_:j)``,
    and ``exp(-F)`` is a mixture of ``2^F`` unit Gaussians, a proper density of the plane. A
    binary RBM's ``F`` is drawn on ``[0, 1]^2`` (its four corners are the states it models).

    Args:
        rbm: a fitted :class:`lamina.unsupervised.RBM` with 2 visible units.
        data: ``(N, 2)`` points (the training data, standardized), numpy or torch.
        xlim, ylim: ``(low, high)`` of the box. Default to the data's range plus 15% on each
            side (``[0, 1]`` for binary visible units).
        resolution: grid points per side. Defaults to 120.
        n_arrows: reconstruction arrows drawn. Defaults to 150.
        n_samples: Gibbs samples drawn on the free energy (0 for none). Defaults to 300.
        gibbs_steps: steps of each sampling chain. Defaults to 100.
        title: figure title.
        path: if given, also save the figure there as a PNG.

    Returns:
        A matplotlib ``Figure`` with the three panels (and their colour bars): the density
        and the free energy are images over the grid (``fig.axes[i].images[0]``, row ``j``
        at ``y = ylim[0] + j * step``).

    Example:
        >>> import numpy as np
        >>> from lamina.unsupervised import RBM
        >>> x = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
        >>> rbm = RBM(4, visible="gaussian", epochs=2, random_state=0, device="cpu").fit(x)
        >>> len(rbm_2d(rbm, x, resolution=20, n_samples=10, gibbs_steps=5).axes)
        5
    """
    arr = _array(data)
    weight = getattr(rbm, "weight", None)
    if weight is None or weight.shape[0] != 2:
        raise ValueError(message("rbm_2d needs a fitted RBM with 2 visible units.",
                                 received=f"weight of shape "
                                          f"{None if weight is None else tuple(weight.shape)}",
                                 fix="Fit RBM(n_hidden, visible='gaussian') on (N, 2) data."))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(message("rbm_2d needs 2-D data (N, 2).",
                                 received=f"an array of shape {arr.shape}"))
    binary = rbm.units == "binary"
    (x0, x1), (y0, y1) = (_box(lim, arr[:, axis], binary) for axis, lim in
                          ((0, xlim), (1, ylim)))
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    energy = np.asarray(rbm.free_energy(grid), dtype=np.float64).reshape(resolution, resolution)
    density = np.exp(-(energy - energy.min()))
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0]) if resolution > 1 else 1.0
    density /= density.sum() * cell
    picks = np.unique(np.linspace(0, len(arr) - 1, min(n_arrows, len(arr))).astype(int))
    shown = arr[picks].astype(np.float32)
    recon = np.asarray(rbm.reconstruct(shown), dtype=np.float64)
    extent = (x0, x1, y0, y1)
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    image = axes[0].imshow(density, origin="lower", extent=extent, aspect="auto",
                           cmap="magma")
    fig.colorbar(image, ax=axes[0], fraction=0.046)
    axes[0].scatter(arr[:, 0], arr[:, 1], s=2, c="cyan", alpha=0.5)
    axes[0].set_title("density exp(-F(v)) / Z, with the data")
    axes[1].scatter(arr[:, 0], arr[:, 1], s=2, c="0.6")
    axes[1].quiver(shown[:, 0], shown[:, 1], recon[:, 0] - shown[:, 0], recon[:, 1] - shown[:, 1],
                   angles="xy", scale_units="xy", scale=1, width=0.003, color="tab:red")
    axes[1].set_xlim(x0, x1)
    axes[1].set_ylim(y0, y1)
    axes[1].set_title("data -> mean-field reconstruction")
    image = axes[2].imshow(energy, origin="lower", extent=extent, aspect="auto",
                           cmap="viridis")
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    axes[2].contour(xs, ys, energy, levels=12, colors="white", linewidths=0.5)
    if n_samples:
        samples = np.asarray(rbm.sample(n_samples, steps=gibbs_steps))
        axes[2].scatter(samples[:, 0], samples[:, 1], s=3, c="red")
        axes[2].set_xlim(x0, x1)
        axes[2].set_ylim(y0, y1)
    axes[2].set_title("free energy F(v)" + (", Gibbs samples" if n_samples else ""))
    for ax in axes:
        ax.set_xlabel("v1")
        ax.set_ylabel("v2")
    fig.suptitle(title or f"RBM ({rbm.n_hidden} hidden, {rbm.units} visible) on 2-D data")
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _box(lim, values: np.ndarray, binary: bool) -> tuple[float, float]:
    if lim is None:
        if binary:
            return 0.0, 1.0
        low, high = float(values.min()), float(values.max())
        pad = 0.15 * (high - low) if high > low else 1.0
        return low - pad, high + pad
    low, high = (float(v) for v in lim)
    if not low < high:
        raise ValueError(message("rbm_2d's `xlim` and `ylim` must be (low, high) with low < high.",
                                 received=f"{lim!r}"))
    return low, high
