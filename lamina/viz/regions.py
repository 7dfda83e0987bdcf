"""The affine pieces of a ReLU network on a 2-D input (deck 004: "each region created by a
layer is split into smaller regions").

A ReLU network is affine wherever the set of active units (its *activation pattern*) stays
the same. With the earlier layers' pattern fixed, a unit's input is affine in ``x``, so
fixing the whole pattern fixes a set of linear inequalities: each pattern's region is a
convex polygon, and the regions tile the plane. One hidden layer of ``k`` units cuts the
plane along ``k`` lines; every further layer cuts each existing region along new lines of
its own.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lamina._validation import check_positive_int
from lamina.errors import message
from lamina.viz._mpl import pyplot
from lamina.viz._relu import RecordReLU

__all__ = ["linear_regions"]


def linear_regions(model: nn.Module, xlim=(-1.0, 1.0), ylim=(-1.0, 1.0), resolution: int = 400,
                   *, title: str | None = None, path=None):
    """Count and colour the activation regions of a ReLU net inside a box of the plane.

    The model runs on a ``resolution x resolution`` grid of points covering ``xlim x ylim``;
    every ReLU (and leaky ReLU) call records which of its units are active (``z > 0``). Points
    with the same pattern over all units lie in the same affine piece (a convex region), so
    the number of distinct patterns is the number of regions the grid meets: a region
    narrower than the grid step can be missed, so raise ``resolution`` until the count
    stops changing.

    Args:
        model: a network on 2-D inputs ``(N, 2)`` with ReLU hidden units (``Dense(...,
            activation="relu")``, ``nn.ReLU``, ``F.relu``).
        xlim, ylim: ``(low, high)`` of the box. Default to ``(-1, 1)``.
        resolution: grid points per side. Defaults to 400.
        title: axes title. Defaults to ``"<count> linear regions"``.
        path: if given, also save the figure there as a PNG.

    Returns:
        ``(count, figure)``: the number of regions met, and a ``Figure`` with each region in
        its own colour.

    Raises:
        ValueError: a model that calls no ReLU, or a bad box or resolution.

    Example:
        >>> import lamina as lm
        >>> net = lm.Sequential([lm.layers.Dense(3, activation="relu"), lm.layers.Dense(1)],
        ...                     input_shape=(2,))
        >>> count, fig = linear_regions(net, (-5, 5), (-5, 5), resolution=50)
        >>> 1 <= count <= 7  # 3 lines cut a box into at most 7 pieces
        True
    """
    owner = getattr(model, "name", type(model).__name__)
    resolution = check_positive_int("resolution", resolution, "linear_regions")
    (x0, x1), (y0, y1) = _range("xlim", xlim), _range("ylim", ylim)
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    device = param.device if param is not None else "cpu"
    points = torch.as_tensor(grid, dtype=dtype, device=device)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    chunks = []
    try:
        with torch.no_grad():
            for part in points.split(65536):
                with RecordReLU() as rec:
                    model(part)
                if not rec.patterns:
                    raise ValueError(message(f"linear_regions needs a network with ReLU units; "
                                             f"model '{owner}' calls none.",
                                             fix="Use activation='relu' in the hidden layers."))
                chunks.append(torch.cat(rec.patterns, 1).cpu().numpy())
    finally:
        for module, mode in modes.items():
            module.training = mode
    patterns = np.packbits(np.concatenate(chunks), axis=1)
    _, region = np.unique(patterns, axis=0, return_inverse=True)
    region = region.reshape(resolution, resolution)
    count = int(region.max()) + 1
    shuffled = np.random.default_rng(0).permutation(count)[region]  # neighbours differ in hue
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(shuffled, origin="lower", extent=(x0, x1, y0, y1), cmap="tab20",
              interpolation="nearest", aspect="auto")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title if title is not None else f"{count} linear regions")
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return count, fig


def _range(name: str, lim) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in lim)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not low < high:
        raise ValueError(message(f"Argument `{name}` of linear_regions must be (low, high) "
                                 f"with low < high.", received=f"{name}={lim!r}"))
    return low, high
