"""What ConvNets learn: filters, feature maps, deconvnet projections and saliency maps of a
LeNet-5 and a ResNet-20 trained on Fashion-MNIST.

Zeiler & Fergus (2014) project a unit's strongest activations back to pixels (unpooling
with switches, rectification, transposed filters) and find that the first layer responds to
small local patterns and deeper layers to larger, more composite structure. Simonyan et al.
(2013) read the class score's gradient at the input as a saliency map that concentrates on
the object. Beside the figures we measure three claims: (1) saliency mass falls on the
object more than the object's share of the image; (2) blanking the most salient object
pixels lowers the class score more than blanking as many random object pixels; (3) the
pixel extent of the deconvnet projections grows with depth.
"""

from __future__ import annotations

import numpy as np
import torch

import lamina as lm
from lamina.experiments._report import Report
from lamina.experiments.adversarial import train_lenet5
from lamina.viz._mpl import pyplot

__all__ = ["run", "train_resnet20", "saliency_claims", "projection_extent"]

#: pixels brighter than this (of 1) are "object"; Fashion-MNIST's background is 0
OBJECT_THRESHOLD = 0.05


def train_resnet20(x, y, *, epochs: int, seed: int = 0, lr: float = 1e-3):
    """A ResNet-20 (``lm.zoo.ResNet(20)``) trained briefly with Adam on ``x`` in [0, 1].

    Example:
        >>> net = train_resnet20(np.zeros((8, 1, 28, 28), np.float32), np.arange(8) % 10,
        ...                      epochs=1)  # doctest: +SKIP
    """
    lm.set_seed(seed)
    model = lm.zoo.ResNet(20, num_classes=10, input_shape=tuple(x.shape[1:]))
    model.compile(optimizer=lm.optimizers.Adam(lr=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    decay = lm.callbacks.LearningRateScheduler(lm.schedules.CosineDecay(lr, epochs))
    model.fit(x, y, batch_size=64, epochs=epochs, callbacks=[decay], verbose=0)
    return model


def saliency_claims(model, x: np.ndarray, y: np.ndarray, fraction: float = 0.1,
                    seed: int = 0) -> dict:
    """Claims (1) and (2) on images ``x`` of classes ``y``.

    Returns ``{"mass_on_object", "object_area", "drop_top", "drop_random"}``: the mean share
    of ``sum |grad|`` on object pixels, the mean share of the image they cover, and the mean
    fall of the class score ``s_y`` when the ``fraction`` of object pixels with the largest
    ``max_c |grad|`` (or as many random object pixels) are set to 0.

    Example:
        >>> net = lm.Sequential([lm.layers.Flatten(), lm.layers.Dense(2)], input_shape=(1, 2, 2))
        >>> sorted(saliency_claims(net, np.ones((2, 1, 2, 2), np.float32), np.zeros(2, int)))
        ['drop_random', 'drop_top', 'mass_on_object', 'object_area']
    """
    grad, fig = lm.viz.saliency(model, x, class_index=y)
    pyplot().close(fig)
    heat = np.abs(grad).max(1)
    obj = x.max(1) > OBJECT_THRESHOLD
    rng = np.random.default_rng(seed)
    top, rand = x.copy(), x.copy()
    for i in range(len(x)):
        where = np.flatnonzero(obj[i])
        k = max(1, int(round(fraction * len(where))))
        salient = where[np.argsort(heat[i].ravel()[where])[::-1][:k]]
        for image, pixels in ((top, salient), (rand, rng.choice(where, k, replace=False))):
            image[i, :, pixels // x.shape[3], pixels % x.shape[3]] = 0.0
    with torch.no_grad():
        scores = [model.forward_logits(torch.as_tensor(a)).numpy()[np.arange(len(x)), y]
                  for a in (x, top, rand)]
    return {"mass_on_object": float(((heat * obj).sum((1, 2)) / heat.sum((1, 2))).mean()),
            "object_area": float(obj.mean((1, 2)).mean()),
            "drop_top": float((scores[0] - scores[1]).mean()),
            "drop_random": float((scores[0] - scores[2]).mean())}


def projection_extent(projection: np.ndarray, mass: float = 0.9) -> float:
    """Pixels holding ``mass`` of ``sum |projection|`` (fewest first), mean over images.

    Example:
        >>> p = np.zeros((1, 1, 4, 4)); p[0, 0, 0, :2] = 1.0
        >>> projection_extent(p)
        2.0
    """
    flat = np.sort(np.abs(projection).reshape(len(projection), -1), 1)[:, ::-1]
    total = flat.sum(1, keepdims=True)
    ok = total[:, 0] > 0
    if not ok.any():
        return float("nan")
    counts = (np.cumsum(flat[ok], 1) < mass * total[ok]).sum(1) + 1
    return float(counts.mean())


def _top_projections(model, x: np.ndarray, layer: str, channels, k: int):
    """For each channel (those the layer has): the ``k`` images of ``x`` where it fires most,
    and their deconvnet projections."""
    maps = lm.viz.layer_output(model, x, layer)
    strength = maps.reshape(len(x), maps.shape[1], -1).max(2)
    out = []
    for ch in (c for c in channels if c < maps.shape[1]):
        best = np.argsort(strength[:, ch])[::-1][:k]
        projection, fig = lm.viz.deconvnet(model, x[best], layer, int(ch))
        pyplot().close(fig)
        out.append((ch, x[best], projection))
    return out


def _deconv_figure(rows, title: str):
    k = len(rows[0][1])
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), 2 * k, figsize=(0.95 * 2 * k, 1.0 * len(rows) + 0.5),
                             squeeze=False)
    for r, (ch, images, projection) in enumerate(rows):
        for j in range(k):
            p = projection[j, 0]
            bound = max(float(np.abs(p).max()), 1e-12)
            axes[r][j].imshow(p, cmap="seismic", vmin=-bound, vmax=bound)
            axes[r][k + j].imshow(images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[r][0].set_ylabel(f"ch {ch}", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    return fig


def _study(report: Report, name: str, model, x, y, layers: list[str], *, k: int,
           n_channels: int) -> dict:
    """The figures and the three measurements for one trained net."""
    report.figure(lm.viz.saliency(model, x[:8], class_index=y[:8])[1], f"{name}_saliency.png")
    first = next(m for m in model.modules() if isinstance(m, lm.layers.Conv2D))
    report.figure(lm.viz.filters(model, first), f"{name}_filters_first_layer.png")
    if name == "lenet5":
        report.figure(lm.viz.filters(model, "conv2"), f"{name}_filters_conv2.png")
    for layer in layers[:2]:
        report.figure(lm.viz.feature_maps(model, x[:3], layer, n_images=3, max_maps=8),
                      f"{name}_feature_maps_{layer}.png")
    extents = {}
    for layer in layers:
        rows = _top_projections(model, x, layer, range(n_channels), k)
        extents[layer] = float(np.nanmean([projection_extent(p) for _, _, p in rows]))
        report.figure(_deconv_figure(rows, f"{name} {layer}: deconvnet projections of the {k} "
                                           f"strongest activations (left) and their images"),
                      f"{name}_deconvnet_{layer}.png")
        pyplot().close("all")
    claims = saliency_claims(model, x, y)
    grows = all(a < b for a, b in zip(list(extents.values()), list(extents.values())[1:]))
    return {**claims, "deconv_extent": extents, "extent_grows": grows}


def run(quick: bool = False, out_dir: str | None = None, *, lenet_epochs: int = 4,
        resnet_train: int = 4000, resnet_epochs: int = 2, n_images: int = 300,
        seed: int = 0) -> dict:
    """Train LeNet-5 (demo recipe) and a ResNet-20 (briefly), draw what they learned and
    measure the claims.

    Returns:
        ``{"lenet5": {...}, "resnet20": {...}}``, each with ``test_accuracy``,
        ``mass_on_object``, ``object_area``, ``drop_top``, ``drop_random``,
        ``deconv_extent`` (layer -> pixels holding 90% of the projection) and
        ``extent_grows``. ``quick=True``: 1,000 / 256 training images, one epoch each, 60
        analysed images.

    Example:
        >>> run(quick=True)["lenet5"]["object_area"] < 1  # doctest: +SKIP
        True
    """
    if quick:
        lenet_epochs, resnet_train, resnet_epochs, n_images = 1, 256, 1, 60
    report = Report("what_convnets_learn", "What ConvNets learn: deconvnet and saliency "
                    "(Zeiler & Fergus 2014, Simonyan et al. 2013)", out_dir=out_dir,
                    quick=quick)
    with report.timed("lenet5"):
        lenet, (xt, yt), lenet_acc = train_lenet5(epochs=lenet_epochs,
                                                  n_train=1000 if quick else None, seed=seed)
    (x, y), _ = lm.datasets.fashion_mnist.load_data(verbose=False)
    with report.timed("resnet20"):
        resnet = train_resnet20((x[:resnet_train, None] / 255.0).astype(np.float32),
                                y[:resnet_train], epochs=resnet_epochs, seed=seed)
    lenet.eval()
    resnet.eval()
    resnet_acc = float(resnet.evaluate(xt[:2000], yt[:2000], verbose=0)["accuracy"])
    xs, ys = xt[:n_images], yt[:n_images]
    k, n_channels = (4, 4) if quick else (6, 8)
    results = {"lenet5": {"test_accuracy": lenet_acc,
                          **_study(report, "lenet5", lenet, xs, ys, ["conv1", "conv2"],
                                   k=k, n_channels=n_channels)},
               "resnet20": {"test_accuracy": resnet_acc,
                            **_study(report, "resnet20", resnet, xs, ys,
                                     ["conv1", "conv2_3", "conv3_3", "conv4_3"],
                                     k=k, n_channels=n_channels)}}
    header = ["net", "test acc.", "saliency on object", "object area", "score drop: top-10% "
              "salient / random object pixels", "deconv extent (px, 90% mass) by layer"]
    for name, r in results.items():
        report.row(header, [name, r["test_accuracy"], r["mass_on_object"], r["object_area"],
                            f"{r['drop_top']:.3f} / {r['drop_random']:.3f}",
                            ", ".join(f"{k_}: {v:.1f}" for k_, v in r["deconv_extent"].items())])
    claims = ["claim", "lenet5", "resnet20"]
    for text, check in (
            ("(1) saliency mass on the object > the object's share of the image",
             lambda r: r["mass_on_object"] > r["object_area"]),
            ("(2) blanking the most salient object pixels lowers s_y more than random ones",
             lambda r: r["drop_top"] > r["drop_random"]),
            ("(3) deconvnet projections spread over more pixels in deeper layers",
             lambda r: r["extent_grows"])):
        report.row(claims, [text] + ["holds" if check(r) else "does not hold"
                                     for r in results.values()])
    report.note(f"Saliency: the gradient of the pre-softmax class score (the true class) at "
                f"the input, max |.| over channels; object pixels are those above "
                f"{OBJECT_THRESHOLD}; blanking sets 10% of an image's object pixels to 0. "
                f"Deconvnet: for channels 0-{n_channels - 1} of each layer, the {k} test images "
                f"with the strongest activation, each projected alone. ResNet-20 accuracy on "
                f"2000 test images; LeNet-5 on all 10000.")
    for key, value in {"LeNet-5": f"demo recipe (Adam 2e-3, cosine, batch 128), {lenet_epochs} "
                                  f"epoch(s), {'1000' if quick else 'all 60000'} images",
                       "ResNet-20": f"Adam 1e-3, cosine, batch 64, {resnet_epochs} epoch(s) on "
                                    f"the first {resnet_train} training images (brief: CPU)",
                       "analysed test images": n_images, "seed": seed}.items():
        report.setting(key, value)
    pyplot().close("all")
    report.write(results)
    return results
