"""torchvision weights in lamina's zoo: the name mapping checked against the real torchvision
(randomly initialised models, their state dicts saved and loaded, outputs compared in eval
mode), downloads against an HTTP server on 127.0.0.1, and the errors."""

import hashlib
import os
import re
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import lamina as lm
from lamina.errors import FileFormatError
from lamina.transfer import imagenet
from lamina.transfer.pretrained import infer_variant, load_pretrained, torchvision_keys
from tests.datasets.test_download import Server

TOL = 1e-5


@pytest.fixture(scope="module")
def tvm():
    """torchvision's model definitions (its compiled ops do not load on the CPU torch).

    ``make setup`` installs it into ``.venv/test-only``, out of site-packages, where
    torchmetrics (under Lightning) would import it and fail."""
    extra = Path(sys.prefix) / "test-only"
    if extra.is_dir() and str(extra) not in sys.path:
        sys.path.append(str(extra))
    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    return pytest.importorskip("torchvision.models")


def randomize_batch_norms(model):
    """Non-trivial statistics and affine parameters, so eval-mode batch norm matters."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model.eval()


def save_state(state, path, fmt):
    state = {k: v.contiguous() for k, v in state.items()}
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, str(path))
    return str(path)


def logits(model, x):
    """A zoo model's output before its final softmax."""
    *body, last = model.layers
    for layer in body:
        x = layer(x)
    return F.linear(x, last.weight, last.bias)


def old_densenet_keys(state):
    return {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v
            for k, v in state.items()}


# name -> (torchvision builder, lamina builder, input size, file format)
CASES = {
    "resnet18": (lambda m: m.resnet18(), lambda **kw: lm.zoo.ResNet(18, **kw), 64,
                 "safetensors"),
    "resnet18-pth": (lambda m: m.resnet18(), lambda **kw: lm.zoo.ResNet(18, **kw), 64, "pth"),
    "resnet34": (lambda m: m.resnet34(), lambda **kw: lm.zoo.ResNet(34, **kw), 64, "pth"),
    "resnet50": (lambda m: m.resnet50(), lambda **kw: lm.zoo.ResNet(50, **kw), 64,
                 "safetensors"),
    "resnet101": (lambda m: m.resnet101(), lambda **kw: lm.zoo.ResNet(101, **kw), 64, "pth"),
    "resnet152": (lambda m: m.resnet152(), lambda **kw: lm.zoo.ResNet(152, **kw), 64,
                  "safetensors"),
    "alexnet": (lambda m: m.alexnet(), lambda **kw: lm.zoo.AlexNet(**kw), 224, "safetensors"),
    "vgg11": (lambda m: m.vgg11(), lambda **kw: lm.zoo.VGG(11, **kw), 224, "pth"),
    "vgg13_bn": (lambda m: m.vgg13_bn(), lambda **kw: lm.zoo.VGG(13, batch_norm=True, **kw),
                 224, "safetensors"),
    "densenet121": (lambda m: m.densenet121(), lambda **kw: lm.zoo.DenseNet121(**kw), 64,
                    "safetensors"),
    "densenet121-old-keys": (lambda m: m.densenet121(), lambda **kw: lm.zoo.DenseNet121(**kw),
                             64, "pth"),
    "googlenet": (lambda m: m.googlenet(aux_logits=True, init_weights=True),
                  lambda **kw: lm.zoo.GoogLeNet(**kw), 64, "pth"),
    "googlenet-st": (lambda m: m.googlenet(aux_logits=True, init_weights=True),
                     lambda **kw: lm.zoo.GoogLeNet(**kw), 64, "safetensors"),
}
SLOW = {"resnet152", "vgg11", "vgg13_bn"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c
                                  for c in CASES])
def test_torchvision_state_dict_gives_the_same_outputs(case, tvm, tmp_path):
    make_tv, make_lm, size, fmt = CASES[case]
    torch.manual_seed(0)
    net = randomize_batch_norms(make_tv(tvm))
    state = net.state_dict()
    if case.endswith("old-keys"):
        state = old_densenet_keys(state)
        assert any(".norm.1." in k for k in state)
    path = save_state(state, tmp_path / f"{case}.{fmt}", fmt)
    model = make_lm(weights=path, input_shape=(3, size, size)).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected, got = net(x), logits(model, x)
        probs = model(x)
    diff = (got - expected).abs().max().item()
    print(f"{case}: max |logit difference| = {diff:.3g}")
    assert diff <= TOL * max(1.0, expected.abs().max().item())
    torch.testing.assert_close(probs, torch.softmax(expected, -1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("depth, batch_norm", [
    (11, False), (16, True), *(pytest.param(d, bn, marks=pytest.mark.slow) for d, bn in (
        (11, True), (13, False), (13, True), (16, False), (19, False), (19, True)))])
def test_vgg_features_match_torchvision(depth, batch_norm, tvm, tmp_path):
    torch.manual_seed(0)
    net = randomize_batch_norms(getattr(tvm, f"vgg{depth}" + ("_bn" if batch_norm else ""))())
    fmt = "safetensors" if batch_norm else "pth"
    path = save_state(net.state_dict(), tmp_path / f"vgg.{fmt}", fmt)
    model = lm.zoo.VGG(depth, batch_norm=batch_norm, include_top=False, weights=path,
                       input_shape=(3, 32, 32)).eval()
    assert infer_variant(model) == f"vgg{depth}" + ("_bn" if batch_norm else "")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        diff = (model(x) - net.features(x)).abs().max().item()
    assert diff <= TOL


def test_headless_resnet_skips_the_head_and_pools(tvm, tmp_path):
    torch.manual_seed(0)
    net = randomize_batch_norms(tvm.resnet50())
    path = save_state(net.state_dict(), tmp_path / "r50.pth", "pth")
    model = lm.zoo.ResNet(50, weights=path, include_top=False, pooling="avg",
                          input_shape=(3, 64, 64)).eval()
    net.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - net(x)).abs().max().item() <= TOL
    maxed = lm.zoo.ResNet(50, weights=path, include_top=False, pooling="max",
                          input_shape=(3, 64, 64))
    assert maxed.output_shape == (2048,) and maxed.layers[-1].name == "global_pool"


def test_headless_densenet_matches_torchvision_features(tvm, tmp_path):
    torch.manual_seed(0)
    net = randomize_batch_norms(tvm.densenet121())
    path = save_state(net.state_dict(), tmp_path / "d.safetensors", "safetensors")
    model = lm.zoo.DenseNet121(weights=path, include_top=False, input_shape=(3, 64, 64))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        diff = (model.eval()(x) - F.relu(net.features(x))).abs().max().item()
    assert diff <= TOL


# --------------------------------------------------------------------------- errors

def lamina_as_torchvision(model):
    """A state dict in torchvision's naming written from a lamina model (no torchvision)."""
    _, keys = torchvision_keys(model)
    return {keys[k]: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def r18_file(tmp_path):
    torch.manual_seed(0)
    src = lm.zoo.ResNet(18, input_shape=(3, 64, 64), small_input=False)
    return src, save_state(lamina_as_torchvision(src), tmp_path / "resnet18.pth", "pth")


def test_new_head_size_raises_naming_the_tensor_then_include_top_false_loads(r18_file):
    src, path = r18_file
    with pytest.raises(FileFormatError, match=r"Tensor 'fc.weight'.*shape \(10, 512\).*"
                                              r"Received: shape \(1000, 512\).*include_top=False"):
        lm.zoo.ResNet(18, num_classes=10, weights=path, input_shape=(3, 64, 64))
    model = lm.zoo.ResNet(18, weights=path, include_top=False, input_shape=(3, 64, 64))
    assert torch.equal(model.layers[-1].conv2.weight, src.layers[-3].conv2.weight)


def test_missing_and_extra_tensors_are_named(r18_file, tmp_path):
    _, path = r18_file
    state = torch.load(path, weights_only=True)
    missing = dict(state)
    del missing["layer3.1.bn2.running_var"]
    p = save_state(missing, tmp_path / "missing.pth", "pth")
    with pytest.raises(FileFormatError, match=r"lacks 1 tensor.*layer3\.1\.bn2\.running_var"):
        lm.zoo.ResNet(18, weights=p, input_shape=(3, 64, 64))
    extra = {**state, "layer5.0.conv1.weight": torch.zeros(1)}
    p = save_state(extra, tmp_path / "extra.safetensors", "safetensors")
    with pytest.raises(FileFormatError, match=r"extra \['layer5\.0\.conv1\.weight'\]"):
        lm.zoo.ResNet(18, weights=p, input_shape=(3, 64, 64))


def test_a_deeper_file_is_refused(r18_file):
    _, path = r18_file
    with pytest.raises(FileFormatError, match="lacks .*resnet34"):
        lm.zoo.ResNet(34, weights=path, input_shape=(3, 64, 64))


def test_unknown_family_and_no_imagenet_weights():
    with pytest.raises(ValueError, match="not one of the families whose torchvision weights"):
        load_pretrained(lm.zoo.LeNet5(), "imagenet")
    with pytest.raises(ValueError, match="no ImageNet weights for .resnet20_cifar"):
        load_pretrained(lm.zoo.ResNet(20), "imagenet")
    with pytest.raises(FileNotFoundError, match="not a file, a URL or 'imagenet'"):
        lm.zoo.AlexNet(weights="no/such/file.pth")
    with pytest.raises(TypeError, match="`weights` of VGG must be None, 'imagenet'"):
        lm.zoo.VGG(11, weights=3)


_RAN = []


class _Payload:
    def __reduce__(self):
        return (_RAN.append, ("code from the file ran",))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    path = tmp_path / "hostile.pth"
    torch.save({"conv1.weight": _Payload()}, str(path))
    with pytest.raises(FileFormatError, match="weights_only=True"):
        lm.zoo.ResNet(18, weights=str(path), input_shape=(3, 64, 64))
    assert _RAN == []


def test_lamina_file_loads_by_layer_name_into_a_headless_model(tmp_path):
    torch.manual_seed(0)
    trained = lm.zoo.LeNet5()
    path = str(tmp_path / "lenet.safetensors")
    trained.save_weights(path)
    features = lm.zoo.LeNet5(include_top=False, pooling="avg", weights=path)
    assert torch.equal(features.layers[2].weight, trained.layers[2].weight)
    saved = str(tmp_path / "lenet.lamina")
    trained.save(saved)
    assert torch.equal(lm.zoo.LeNet5(include_top=False, weights=saved).layers[0].bias,
                       trained.layers[0].bias)
    other = lm.Sequential([lm.layers.Dense(3, name="fc1")], input_shape=(4,))
    other.save_weights(path)
    with pytest.raises(FileFormatError, match=r"lacks 8 tensor.*\['conv1.weight', 'conv1.bias'"):
        lm.zoo.LeNet5(weights=path)


# --------------------------------------------------------------------------- downloads

@pytest.fixture
def served(tmp_path, monkeypatch, r18_file):
    """The ResNet-18 file served on 127.0.0.1 under torchvision's name; cache in tmp_path."""
    src, path = r18_file
    root = tmp_path / "served"
    root.mkdir()
    data = open(path, "rb").read()
    name = imagenet.WEIGHTS["resnet18"].file
    (root / name).write_bytes(data)
    monkeypatch.setenv("LAMINA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    server = Server(root)
    server.src, server.root, server.data = src, root, data
    server.sha256 = hashlib.sha256(data).hexdigest()
    yield server
    server.stop()


def test_imagenet_downloads_from_the_mirror_checks_and_caches(served, monkeypatch, tmp_path):
    monkeypatch.setenv("LAMINA_WEIGHTS_URL", served.url)
    entry = imagenet.PretrainedWeights("resnet18", imagenet.WEIGHTS["resnet18"].file, 64.0, 0.0)
    monkeypatch.setitem(imagenet.WEIGHTS, "resnet18", entry)  # our file is a bit larger
    # Our file is not torchvision's, so its prefix differs: the download is refused.
    with pytest.raises(ValueError, match="does not match the SHA-256 prefix"):
        lm.zoo.ResNet(18, weights="imagenet", input_shape=(3, 64, 64))
    assert not os.listdir(tmp_path / "cache" / "weights")
    # With the full hash pinned in the table, that hash is what is checked.
    monkeypatch.setitem(imagenet.WEIGHTS, "resnet18", imagenet.PretrainedWeights(
        "resnet18", entry.file, entry.size_mb, entry.top1, sha256=served.sha256))
    model = lm.zoo.ResNet(18, weights="imagenet", input_shape=(3, 64, 64))
    assert torch.equal(model.layers[0].conv.weight, served.src.layers[0].conv.weight)
    assert os.listdir(tmp_path / "cache" / "weights") == [entry.file]
    served.stop()  # the cache serves the second load
    again = lm.zoo.ResNet(18, weights="imagenet", include_top=False, input_shape=(3, 64, 64))
    assert torch.equal(again.layers[3].conv1.weight, served.src.layers[3].conv1.weight)


def test_imagenet_download_is_capped_at_the_published_size(served, monkeypatch):
    monkeypatch.setenv("LAMINA_WEIGHTS_URL", served.url)
    monkeypatch.setitem(imagenet.WEIGHTS, "resnet18", imagenet.PretrainedWeights(
        "resnet18", imagenet.WEIGHTS["resnet18"].file, 0.001, 0.0, sha256=served.sha256))
    with pytest.raises(lm.datasets.DownloadError, match="more than"):
        lm.zoo.ResNet(18, weights="imagenet", input_shape=(3, 64, 64))


def test_url_with_a_hub_prefix_is_checked_against_it(served, tmp_path):
    name = f"mine-{served.sha256[:8]}.pth"
    (served.root / name).write_bytes(served.data)
    model = lm.zoo.ResNet(18, weights=served.url + name, input_shape=(3, 64, 64))
    assert torch.equal(model.layers[-1].weight, served.src.layers[-1].weight)
    bad = f"bad-{'0' * 8}.pth"
    (served.root / bad).write_bytes(served.data)
    with pytest.raises(ValueError, match="SHA-256 prefix"):
        load_pretrained(model, served.url + bad)
    assert sorted(os.listdir(tmp_path / "cache" / "weights")) == [name]


def test_url_needs_a_hash(served):
    name = imagenet.WEIGHTS["resnet18"].file
    os.rename(served.root / name, served.root / "plain.pth")
    model = lm.zoo.ResNet(18, input_shape=(3, 64, 64), small_input=False)
    with pytest.raises(ValueError, match="needs the SHA-256"):
        load_pretrained(model, served.url + "plain.pth")
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        load_pretrained(model, served.url + "plain.pth", sha256="0" * 64)
    load_pretrained(model, served.url + "plain.pth", sha256=served.sha256)
    assert torch.equal(model.layers[5].shortcut_conv.weight,
                       served.src.layers[5].shortcut_conv.weight)


def test_imagenet_table_and_preprocessing():
    assert len(imagenet.WEIGHTS) == 16
    for variant, entry in imagenet.WEIGHTS.items():
        assert entry.url.startswith("https://download.pytorch.org/models/" + variant.split("_")[0])
        assert len(entry.sha256_prefix) == 8 and entry.max_bytes > 30 * 2**20
    assert imagenet.PREPROCESSING["googlenet"] == ((0.5,) * 3, (0.5,) * 3)
    x = torch.rand(1, 3, 4, 4)
    expected = (x - torch.tensor(imagenet.MEAN).view(3, 1, 1)) / torch.tensor(
        imagenet.STD).view(3, 1, 1)
    torch.testing.assert_close(imagenet.normalize(x), expected)
