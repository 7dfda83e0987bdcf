"""lm.utils: to_categorical, and plot_model's graph and drawings."""

import numpy as np
import pytest

import lamina as lm
from lamina import layers, utils


def test_to_categorical_matches_numpy_eye():
    y = np.array([[2], [0], [1], [2]])
    out = lm.utils.to_categorical(y, 4)
    np.testing.assert_array_equal(out, np.eye(4, dtype="float32")[[2, 0, 1, 2]])
    assert out.dtype == np.float32 and utils.to_categorical([1, 0]).shape == (2, 2)
    assert utils.to_categorical(np.zeros((2, 3), int), 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match=r"outside \[0, num_classes\)"):
        utils.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="integer class labels"):
        utils.to_categorical([0.5])


def _functional():
    image, vector = lm.Input((1, 8, 8), name="image"), lm.Input((3,), name="vector")
    h = layers.Flatten(name="flat")(layers.Conv2D(2, 3, name="conv")(image))
    shared = layers.Dense(4, name="shared")
    joined = layers.Concatenate(name="join")([shared(vector), h])
    return lm.Model(inputs=[image, vector],
                    outputs=[layers.Dense(3, name="kind")(joined),
                             layers.Dense(1, name="price")(shared(vector))])


def test_model_graph_of_functional_and_sequential():
    nodes, edges = utils.model_graph(_functional())
    assert [n["id"] for n in nodes][:2] == ["image", "vector"]
    assert set(edges) == {("image", "conv"), ("conv", "flat"), ("vector", "shared"),
                          ("shared", "join"), ("flat", "join"), ("join", "kind"),
                          ("shared", "price")}
    conv = next(n for n in nodes if n["id"] == "conv")
    assert conv["type"] == "Conv2D" and conv["shape"] == "(N, 2, 6, 6)"
    seq = lm.Sequential([layers.Dense(3, name="a"), layers.Dense(2, name="b")], input_shape=(4,))
    nodes, edges = utils.model_graph(seq)
    assert edges == [("input", "a"), ("a", "b")] and nodes[0]["shape"] == "(N, 4)"


@pytest.mark.parametrize("make", [_functional, lambda: lm.zoo.LeNet5()])
def test_plot_model_matplotlib_writes_a_png(tmp_path, make):
    path = utils.plot_model(make(), str(tmp_path / "model.png"), engine="matplotlib")
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_plot_model_svg_and_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(utils.shutil, "which", lambda name: None)  # no Graphviz
    svg = utils.plot_model(_functional(), str(tmp_path / "m.svg"))
    text = open(svg).read()
    assert "<svg" in text and "Concatenate" in text
    with pytest.raises(RuntimeError, match="Graphviz"):
        utils.plot_model(_functional(), str(tmp_path / "g.png"), engine="graphviz")
    with pytest.raises(ValueError, match="engine"):
        utils.plot_model(_functional(), str(tmp_path / "g.png"), engine="pydot")


def test_graphviz_source_names_every_node_and_edge():
    nodes, edges = utils.model_graph(_functional())
    source = utils._dot_source(nodes, edges, True, 96)
    assert source.count("->") == len(edges) and '"join" -> "kind"' in source
