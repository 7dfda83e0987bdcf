"""Keras-style utilities: one-hot labels and a picture of a model's layer graph."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections import defaultdict

import numpy as np

from lamina._io import atomic_open
from lamina.errors import message
from lamina.layers.input_spec import format_shape
from lamina.models.functional import Functional
from lamina.models.sequential import Sequential

__all__ = ["to_categorical", "plot_model", "model_graph"]


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer labels: ``out[..., k] = 1`` where ``y == k``, else 0.

    Args:
        y: integer class labels, any shape (a trailing axis of size 1 is dropped, as Keras
            does for ``(N, 1)`` label columns).
        num_classes: C. Defaults to ``max(y) + 1``.
        dtype: the result's numpy dtype. Defaults to ``"float32"``.

    Returns:
        An array of shape ``y.shape + (C,)``.

    Raises:
        ValueError: for labels that are not integers in ``[0, C)``.

    Example:
        >>> to_categorical([0, 2, 1])
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and (not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y))):
        raise ValueError(message("`y` of to_categorical must hold integer class labels.",
                                 received=f"dtype {y.dtype}, e.g. {y.reshape(-1)[:3].tolist()}"))
    y = y.astype(np.int64)
    n = int(y.max(initial=-1)) + 1 if num_classes is None else int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(message(
            "A label of to_categorical is outside [0, num_classes).",
            expected=f"labels in [0, {n})", received=f"min {y.min()}, max {y.max()}",
            fix="Pass the right `num_classes`, or map the labels to 0..C-1 first."))
    return np.eye(n, dtype=dtype)[y]


def model_graph(model) -> tuple[list[dict], list[tuple[str, str]]]:
    """The layer graph of a model: nodes ``{"id", "name", "type", "shape"}`` (inputs first,
    then layers in execution order) and edges ``(from_id, to_id)``.

    A ``Sequential`` model is a chain from its input; a functional model its graph (a
    shared layer is one node); any other model a chain of its direct sub-modules.

    Example:
        >>> import lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(3, name="d")], input_shape=(4,))
        >>> nodes, edges = model_graph(m)
        >>> [n["id"] for n in nodes], edges
        (['input', 'd'], [('input', 'd')])
    """
    shapes = {row[0]: row[1] for row in model.summary_rows()} if getattr(
        model, "built", False) else {}

    def node(name: str, kind: str, shape=None) -> dict:
        return {"id": name, "name": name, "type": kind,
                "shape": shape if shape is not None else shapes.get(f"{name} ({kind})", "?")}

    if isinstance(model, Functional):
        config = model.get_config()
        nodes = [node(spec["name"], "Input") for spec in config["inputs"]]
        nodes += [node(layer.name, type(layer).__name__) for layer in model.layers]
        edges = list(dict.fromkeys((ref[0], n["layer"]) for n in config["nodes"]
                                   for ref in n["inbound"]))
        return nodes, edges
    children = (list(model.layers) if isinstance(model, Sequential)
                else [child for _, child in model.named_children()])
    nodes = []
    if getattr(model, "input_shape", None) is not None:
        nodes.append(node("input", "Input", format_shape(model.input_shape)))
    for i, child in enumerate(children):
        nodes.append(node(getattr(child, "name", f"layer_{i}"), type(child).__name__))
    edges = [(a["id"], b["id"]) for a, b in zip(nodes, nodes[1:])]
    return nodes, edges


def plot_model(model, to_file: str = "model.png", *, show_shapes: bool = True,
               engine: str = "auto", dpi: int = 96) -> str:
    """Draw the model's layer graph to an image file, top to bottom.

    Uses Graphviz's ``dot`` program when it is installed (``engine="auto"`` or
    ``"graphviz"``), else draws the graph with matplotlib: each layer a box (name, type
    and, with ``show_shapes``, output shape) placed on the row of its longest path from
    an input, with arrows along the graph's edges.

    Args:
        model: a ``Sequential``, functional ``Model`` or other lamina model.
        to_file: the image path; its extension (``.png``, ``.svg``, ``.pdf``) is the
            format. Written atomically. Defaults to ``"model.png"``.
        show_shapes: write each layer's output shape. Defaults to True.
        engine: ``"auto"``, ``"graphviz"`` or ``"matplotlib"``. Defaults to ``"auto"``.
        dpi: resolution of a bitmap. Defaults to 96.

    Returns:
        ``to_file``.

    Example:
        >>> import os, tempfile, lamina as lm
        >>> m = lm.Sequential([lm.layers.Dense(3)], input_shape=(4,))
        >>> path = plot_model(m, os.path.join(tempfile.mkdtemp(), "m.png"), engine="matplotlib")
        >>> open(path, "rb").read(4) == b"\\x89PNG"
        True
    """
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise ValueError(message("Argument `engine` of plot_model is not valid.",
                                 expected="'auto', 'graphviz' or 'matplotlib'",
                                 received=f"engine={engine!r}"))
    fmt = os.path.splitext(str(to_file))[1].lstrip(".").lower() or "png"
    nodes, edges = model_graph(model)
    dot = shutil.which("dot")
    if engine == "graphviz" and dot is None:
        raise RuntimeError(message("plot_model(engine='graphviz') needs Graphviz's `dot`.",
                                   fix="Install Graphviz (apt install graphviz), or use "
                                       "engine='matplotlib'."))
    if dot is not None and engine != "matplotlib":
        image = _render_dot(dot, _dot_source(nodes, edges, show_shapes, dpi), fmt)
    else:
        image = _render_matplotlib(nodes, edges, show_shapes, fmt, dpi)
    with atomic_open(to_file, "wb") as f:
        f.write(image)
    return str(to_file)


def _label(node: dict, show_shapes: bool) -> str:
    text = f"{node['name']}\n{node['type']}"
    return f"{text}\n{node['shape']}" if show_shapes else text


def _dot_source(nodes, edges, show_shapes: bool, dpi: int) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"digraph model {{ dpi={dpi}; rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname=Helvetica];']
    lines += [f"  {quote(n['id'])} [label={quote(_label(n, show_shapes))}];" for n in nodes]
    lines += [f"  {quote(a)} -> {quote(b)};" for a, b in edges]
    return "\n".join(lines + ["}"]) + "\n"


def _render_dot(dot: str, source: str, fmt: str) -> bytes:
    done = subprocess.run([dot, f"-T{fmt}"], input=source.encode(), capture_output=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(message("Graphviz's `dot` could not draw the model.",
                                   received=done.stderr.decode(errors="replace")[:300],
                                   fix="Use engine='matplotlib', or another file extension."))
    return done.stdout


def _layout(nodes, edges) -> dict[str, tuple[float, int]]:
    """(x, row) per node: the row is the longest path from a source; a row's nodes are
    spread evenly, centred on 0, in the order of their parents' mean x."""
    parents = defaultdict(list)
    for a, b in edges:
        parents[b].append(a)
    row: dict[str, int] = {}
    for n in nodes:  # nodes come in execution order, so parents are placed first
        row[n["id"]] = 1 + max((row.get(p, 0) for p in parents[n["id"]]), default=-1)
    by_row = defaultdict(list)
    for n in nodes:
        by_row[row[n["id"]]].append(n["id"])
    x: dict[str, float] = {}
    for r in sorted(by_row):  # order a row by its parents' mean position: fewer crossings
        ids = sorted(by_row[r], key=lambda i: np.mean([x[p] for p in parents[i]] or [0.0]))
        x.update({nid: k - (len(ids) - 1) / 2 for k, nid in enumerate(ids)})
    return {nid: (x[nid], row[nid]) for nid in x}


def _render_matplotlib(nodes, edges, show_shapes: bool, fmt: str, dpi: int) -> bytes:
    from matplotlib.figure import Figure

    pos = _layout(nodes, edges)
    width = max([abs(x) for x, _ in pos.values()] + [0]) * 2 + 1
    rows = max([r for _, r in pos.values()] + [0]) + 1
    fig = Figure(figsize=(max(3.2, 2.6 * width), 1.1 * rows + 0.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-width / 2 - 0.1, width / 2 + 0.1)
    ax.set_ylim(-rows + 0.4, 0.6)
    ax.axis("off")
    for a, b in edges:
        (xa, ra), (xb, rb) = pos[a], pos[b]
        ax.annotate("", xy=(xb, -rb + 0.3), xytext=(xa, -ra - 0.3),
                    arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 1.0})
    for n in nodes:
        x, r = pos[n["id"]]
        ax.text(x, -r, _label(n, show_shapes), ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round,pad=0.4", "fc": "#eef3fb", "ec": "#4a6fa5"})
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    return buffer.getvalue()
