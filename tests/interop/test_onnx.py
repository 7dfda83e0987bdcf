"""ONNX export (issue 24, point 3): every exported model, run by onnxruntime at two batch
sizes (the batch axis is dynamic), gives ``predict``'s outputs within 1e-4; a layer the
exporter cannot trace is named in the error. The zoo's big nets are marked slow."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import lamina as lm
from lamina import layers
from lamina.export import ExportError, export

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TOLERANCE = 1e-4
pytestmark = pytest.mark.filterwarnings("ignore")


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _data(shape, n, *, ids: int | None = None, seed: int = 0):
    rng = np.random.default_rng(seed + n)
    if ids is not None:
        return rng.integers(0, ids, (n, *shape))
    return rng.normal(size=(n, *shape)).astype(np.float32)


def _check(model, tmp_path, shape, *, ids=None, batches=(1, 5), reference=None, **options):
    """Export ``model``, run the file at each batch size, compare with ``reference`` (predict)."""
    path = (model.export if hasattr(model, "export") else
            lambda p, **kw: export(model, p, **kw))(tmp_path / "model.onnx", **options)
    session = _session(path)
    (feed,) = session.get_inputs()
    assert feed.shape[0] == "batch"
    reference = reference or model.predict
    for n in batches:
        x = _data(shape, n, ids=ids)
        want = np.asarray(reference(x))
        (got,) = session.run(None, {feed.name: x})
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= TOLERANCE
    return session


def test_sequential_mlp_runs_in_eval_mode_and_keeps_the_training_flag(tmp_path):
    model = lm.Sequential([layers.Rescaling(0.5, offset=0.1), layers.Dense(16, activation="relu"),
                           layers.BatchNorm(), layers.Dropout(0.5),
                           layers.Dense(3, activation="softmax")], input_shape=(6,))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(_data((6,), 64), np.arange(64) % 3, epochs=2, batch_size=16, verbose=0)
    assert model.get_layer(index=2).running_mean.abs().sum() > 0  # statistics to export
    model.train()
    _check(model, tmp_path, (6,))
    assert model.training  # restored
    assert all(m.training for m in model.modules())


def test_functional_graph_with_two_inputs_and_a_skip(tmp_path):
    a, b = lm.Input((5,), name="left"), lm.Input((5,), name="right")
    h = layers.Dense(5, activation="tanh")(a)
    h = layers.Add()([h, a])  # a skip
    y = layers.Dense(2, activation="softmax")(layers.Concatenate()([h, b]))
    model = lm.Model(inputs=[a, b], outputs=y)
    path = model.export(tmp_path / "graph.onnx")
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["left", "right"]
    for n in (2, 7):
        xa, xb = _data((5,), n), _data((5,), n, seed=1)
        (got,) = session.run(None, {"left": xa, "right": xb})
        want = np.asarray(model.predict([xa, xb]))
        assert np.abs(got - want).max() <= TOLERANCE


def test_lenet5_and_its_fully_convolutional_form(tmp_path):
    net = lm.zoo.LeNet5()
    _check(net, tmp_path, (1, 28, 28))
    conv = lm.zoo.to_fully_convolutional(net)
    session = _check(conv, tmp_path, (1, 28, 28))
    # only the batch axis is free: the image size is the one the net was built for
    assert session.get_inputs()[0].shape[1:] == [1, 28, 28]


def test_recurrent_layers_simple_rnn_gru_lstm(tmp_path):
    model = lm.Sequential([layers.SimpleRNN(6, return_sequences=True),
                           layers.GRU(5, return_sequences=True, go_backwards=True),
                           layers.LSTM(4, peephole=True), layers.Dense(2)], input_shape=(4, 3))
    _check(model, tmp_path, (4, 3))


def test_bidirectional_lstm_tagger_on_token_ids(tmp_path):
    tagger = lm.zoo.SequenceTagger(4, units=5, vocab_size=11, embedding_dim=3, input_shape=(4,))
    session = _check(tagger, tmp_path, (4,), ids=11)
    assert "int64" in session.get_inputs()[0].type


@pytest.mark.parametrize("make", [
    lambda: lm.unsupervised.Autoencoder(4),
    lambda: lm.unsupervised.StackedAutoencoder([12, 6, 3]),
    lambda: lm.unsupervised.VariationalAutoencoder(2, hidden=(8,)),
], ids=["autoencoder", "stacked", "variational"])
def test_autoencoder_encoders(tmp_path, make):
    ae = make()
    ae.build((12,))
    _check(ae, tmp_path, (12,), reference=ae.encode, method="encode")


def test_conv_autoencoder_encoder(tmp_path):
    ae = lm.unsupervised.ConvAutoencoder((4, 3))
    ae.build((1, 8, 8))
    _check(ae, tmp_path, (1, 8, 8), reference=ae.encode, method="encode")


def test_a_layer_that_cannot_be_traced_is_named(tmp_path):
    # A mask from Embedding(mask_zero=True) makes the LSTM check its values (data-dependent).
    model = lm.Sequential([layers.Embedding(11, 4, mask_zero=True, name="tokens"),
                           layers.LSTM(5, name="reader"), layers.Dense(2)], input_shape=(6,))
    with pytest.raises(ExportError, match="Layer 'reader' \\(LSTM") as info:
        model.export(tmp_path / "masked.onnx")
    assert info.value.layer == "layers.1"
    assert not (tmp_path / "masked.onnx").exists()


def test_a_layer_onnx_cannot_express_is_found_layer_by_layer(tmp_path):
    class Singular(layers.Layer):  # traces (no Python branch), but ONNX has no SVD
        def forward(self, x):
            return torch.linalg.svd(x.reshape(len(x), 2, -1)).S.flatten(1)

    model = lm.Sequential([layers.Dense(6), Singular(name="svd"), layers.Dense(2)], input_shape=(3,))
    with pytest.raises(ExportError, match="Layer 'svd'") as info:
        model.export(tmp_path / "svd.onnx")
    assert info.value.layer == "layers.1"


def test_errors_format_unbuilt_and_missing_packages(tmp_path, monkeypatch):
    net = lm.Sequential([layers.Dense(2)], input_shape=(3,))
    with pytest.raises(ValueError, match="format"):
        net.export(tmp_path / "m.tflite", format="tflite")
    with pytest.raises(ValueError, match="no input shape"):
        lm.Sequential([layers.Dense(2)]).export(tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    with pytest.raises(ImportError, match=r"lamina\[onnx\]"):
        net.export(tmp_path / "m.onnx")


def test_plain_module_with_input_shape_and_a_batch_size_fixed_by_the_code(tmp_path):
    rbm = lm.unsupervised.RBM(3, visible="gaussian", device="cpu", random_state=0).fit(
        _data((5,), 16))
    _check(rbm, tmp_path, (5,), reference=rbm.transform, input_shape=(5,))
    x = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    perceptron = lm.zoo.Perceptron().fit(x, np.array([0, 0, 0, 1]))
    _check(perceptron, tmp_path, (2,), reference=lambda a: perceptron(torch.as_tensor(a)))

    class FrozenBatch(lm.zoo.Perceptron):
        def decision_function(self, x):   # len(x) freezes the batch size into the file
            return x.reshape(len(x), -1).to(self.weight.dtype) @ self.weight[1:]

    frozen = FrozenBatch().fit(x, np.array([0, 0, 0, 1]))
    with pytest.raises(ExportError, match=r"Model '\w+'.*Constraints violated \(batch\)") as info:
        frozen.export(tmp_path / "frozen.onnx")
    assert info.value.layer is None


ZOO = {  # name: (builder, per-sample input shape, token vocabulary or None)
    "LogisticRegression": (lambda: lm.zoo.LogisticRegression(3, input_shape=(5,)), (5,), None),
    "MLP": (lambda: lm.zoo.MLP(hidden=(8,), outputs=3, input_shape=(5,)), (5,), None),
    "AlexNet": (lambda: lm.zoo.AlexNet(10, input_shape=(3, 64, 64)), (3, 64, 64), None),
    "ZFNet": (lambda: lm.zoo.ZFNet(10, input_shape=(3, 64, 64)), (3, 64, 64), None),
    "VGG11": (lambda: lm.zoo.VGG(11, 10, input_shape=(3, 32, 32), batch_norm=True),
              (3, 32, 32), None),
    "NiN": (lambda: lm.zoo.NiN(10, input_shape=(3, 32, 32)), (3, 32, 32), None),
    "AllConvNet": (lambda: lm.zoo.AllConvNet(10, input_shape=(3, 32, 32)), (3, 32, 32), None),
    "GoogLeNet": (lambda: lm.zoo.GoogLeNet(10, input_shape=(3, 32, 32)), (3, 32, 32), None),
    "ResNet18": (lambda: lm.zoo.ResNet(18, 10, input_shape=(3, 32, 32)), (3, 32, 32), None),
    "ResNet50": (lambda: lm.zoo.ResNet(50, 10, input_shape=(3, 32, 32)), (3, 32, 32), None),
    # DenseNet-121's layers with shorter dense blocks: the full one passes too, in 3.5 min
    "DenseNet121": (lambda: lm.zoo.DenseNet121(10, input_shape=(3, 32, 32),
                                               block_config=(2, 2, 2, 2)), (3, 32, 32), None),
    "FCN8s": (lambda: lm.zoo.FCN("8s", 3, input_shape=(3, 64, 64)), (3, 64, 64), None),
    "UNet": (lambda: lm.zoo.UNet(2, input_shape=(1, 32, 32), base_filters=4, depth=2),
             (1, 32, 32), None),
    "SRCNN": (lambda: lm.zoo.SRCNN(input_shape=(1, 16, 16), filters=(8, 4)), (1, 16, 16), None),
    "REDNet": (lambda: lm.zoo.REDNet(4, input_shape=(1, 16, 16), filters=4), (1, 16, 16), None),
    "SequenceClassifier": (lambda: lm.zoo.SequenceClassifier(3, (6, 4), units=5, cell="gru",
                                                             num_layers=2, bidirectional=True),
                           (6, 4), None),
    "CharLM": (lambda: lm.zoo.CharLM(11, units=8, num_layers=2, input_shape=(6,)), (6,), 11),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_exports(tmp_path, name):
    build, shape, ids = ZOO[name]
    _check(build(), tmp_path, shape, ids=ids, batches=(1, 3))
