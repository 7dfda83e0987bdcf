"""Pretrained weights for the zoo: torchvision's files (local, URL or ``"imagenet"``) and
lamina's own, loaded into :mod:`lamina.zoo` models.

torchvision names its tensors by its modules (``layer1.0.conv1.weight``,
``features.0.weight``, ``classifier.6.bias``); lamina names layers as the papers do
(``conv2_1``, ``conv1_1``, ``predictions``). :func:`torchvision_keys` maps one onto the
other for ResNet-18/34/50/101/152, VGG-11/13/16/19 (with and without batch
normalization), AlexNet, DenseNet-121 and GoogLeNet, by walking the model's layers, so the
mapping follows the architecture that was built (``include_top=False`` simply has no head
to map). Files are read without running code: safetensors, or ``torch.load`` with
``weights_only=True`` (never a full unpickle).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Mapping

import torch
from torch import nn

from lamina import saving
from lamina._io import read_safetensors, read_safetensors_header
from lamina.datasets._download import (
    default_cache_dir,
    download,
)
from lamina.errors import FileFormatError, message
from lamina.layers import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from lamina.layers.blocks import (
    ConvBlock,
    DenseBlock,
    InceptionModule,
    ResidualBlock,
    TransitionBlock,
)
from lamina.transfer.imagenet import _HUB_HASH, WEIGHTS

__all__ = ["load_pretrained", "read_state_dict", "torchvision_keys", "infer_variant",
           "file_sha256", "FAMILIES"]

#: The torchvision families whose naming lamina reads, and their head's tensor prefixes.
FAMILIES = {"resnet": ("fc.",), "vgg": ("classifier.",), "alexnet": ("classifier.",),
            "densenet": ("classifier.",), "googlenet": ("fc.",)}
_ALWAYS_SKIPPED = {"googlenet": ("aux1.", "aux2.")}  # auxiliary classifiers (training only)
_HEADS = {"vgg": {"fc6": "classifier.0", "fc7": "classifier.3", "predictions": "classifier.6"},
          "alexnet": {"fc6": "classifier.1", "fc7": "classifier.4",
                      "predictions": "classifier.6"}}
_INCEPTION = {"branch2_reduce": "branch2.0", "branch2": "branch2.1",
              "branch3_reduce": "branch3.0", "branch3": "branch3.1", "branch4": "branch4.1"}
# Old DenseNet files name 'denselayer1.norm.1.weight' what is now 'denselayer1.norm1.weight'.
_DENSENET_OLD = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|"
    r"running_var|num_batches_tracked))$")
_LAMINA_FORMATS = ("lamina-weights", "lamina-model")


# --------------------------------------------------------------------------- reading files

def read_state_dict(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors of a weights file, and its safetensors metadata (``{}`` for torch files).

    A safetensors file is read with lamina's checked reader; anything else with
    ``torch.load(path, map_location="cpu", weights_only=True)``, which rebuilds tensors
    and plain containers only and runs no code from the file. A checkpoint that wraps
    the weights as ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped, and a
    ``module.`` prefix (``DataParallel``) dropped.

    Raises:
        FileFormatError: (a ``ValueError``) if the file is neither, or holds something
            other than a mapping of names to tensors.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "w.pth")
        >>> torch.save({"fc.weight": torch.ones(2, 3)}, p)
        >>> read_state_dict(p)[0]["fc.weight"].shape
        torch.Size([2, 3])
    """
    path = os.fspath(path)
    if _is_safetensors(path):
        tensors, metadata = read_safetensors(path, read_safetensors_header(path))
    else:
        try:
            tensors = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 -- the file is data
            raise FileFormatError(message(
                f"'{path}' is neither a safetensors file nor a PyTorch state dict that "
                f"`torch.load(weights_only=True)` can read.",
                received=f"{type(err).__name__}: {str(err)[:200]}",
                fix="Save the weights with `torch.save(model.state_dict(), path)` or "
                    "`safetensors.torch.save_file`.")) from None
        metadata = {}
        for wrapper in ("state_dict", "model"):
            if isinstance(tensors, Mapping) and isinstance(tensors.get(wrapper), Mapping):
                tensors = tensors[wrapper]
                break
    if not isinstance(tensors, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()):
        raise FileFormatError(message(
            f"'{path}' does not hold a state dict.", expected="a mapping of names to tensors",
            received=f"a {type(tensors).__name__}"))
    tensors = dict(tensors)
    if tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    return tensors, metadata


# --------------------------------------------------------------------------- name mapping

def _layers(model: nn.Module, owner: str) -> list:
    layers = getattr(model, "layers", None)
    if not isinstance(model, nn.Module) or layers is None:
        raise TypeError(message(f"{owner} takes a lamina model from `lamina.zoo`.",
                                received=f"an object of type {type(model).__name__}"))
    return list(layers)


def _family(model: nn.Module) -> str:
    layers = _layers(model, "load_pretrained")
    names = {getattr(layer, "name", None): layer for layer in layers}
    if any(isinstance(layer, InceptionModule) for layer in layers):
        return "googlenet"
    if any(isinstance(layer, DenseBlock) for layer in layers):
        return "densenet"
    if any(isinstance(layer, ResidualBlock) for layer in layers):
        return "resnet"
    if isinstance(names.get("conv1_1"), Conv2D):
        return "vgg"
    if isinstance(names.get("conv1"), Conv2D) and isinstance(names.get("conv5"), Conv2D):
        return "alexnet"
    raise ValueError(message(
        f"Model '{getattr(model, 'name', '?')}' is not one of the families whose torchvision "
        f"weights lamina reads.",
        expected="a lamina.zoo ResNet (ImageNet depths), VGG, AlexNet, DenseNet121 or "
                 "GoogLeNet",
        received=f"layers {[getattr(layer, 'name', '?') for layer in layers][:6]}...",
        fix="Build the model with `lm.zoo.ResNet(18)`, `lm.zoo.VGG(16)`, ...; lamina's own "
            "weights files load into any model (`model.load_weights(path, by_name=True)`)."))


class _Mapper:
    """Collects lamina state-dict key -> torchvision key for one model."""

    def __init__(self, model: nn.Module, family: str):
        self.model, self.family, self.keys = model, family, {}
        self.paths = {id(m): p for p, m in model.named_modules()}

    def add(self, layer: nn.Module, prefix: str, renames: Mapping[str, str] = {}) -> None:  # noqa: B006
        base = self.paths[id(layer)]
        for key in layer.state_dict():
            first, dot, rest = key.partition(".")
            if dot:
                tv = ".".join(p for p in (prefix, renames.get(first, first), rest) if p)
            else:
                tv = f"{prefix}.{key}"
            self.keys[f"{base}.{key}" if base else key] = tv

    def unknown(self, layer: nn.Module) -> None:
        if next(layer.parameters(), None) is not None or next(layer.buffers(), None) is not None:
            raise ValueError(message(
                f"Layer '{getattr(layer, 'name', '?')}' ({type(layer).__name__}) of model "
                f"'{getattr(self.model, 'name', '?')}' has no counterpart in torchvision's "
                f"{self.family}.", fix="Load torchvision weights into a model built by "
                                       "`lamina.zoo` unchanged (`include_top=False` is fine)."))


def _map_resnet(m: _Mapper, layers: list) -> None:
    for layer in layers:
        name = getattr(layer, "name", "")
        block = re.fullmatch(r"conv(\d)_(\d+)", name)
        if isinstance(layer, ConvBlock) and name == "conv1":
            m.add(layer, "", {"conv": "conv1", "bn": "bn1"})
        elif isinstance(layer, ResidualBlock) and block:
            m.add(layer, f"layer{int(block[1]) - 1}.{int(block[2]) - 1}",
                  {"shortcut_conv": "downsample.0", "shortcut_bn": "downsample.1"})
        elif isinstance(layer, Dense) and name == "predictions":
            m.add(layer, "fc")
        else:
            m.unknown(layer)


def _map_features_then_head(m: _Mapper, layers: list) -> None:
    """VGG and AlexNet: ``features.<i>`` counts torchvision's modules (a conv with a fused
    ReLU counts two), then the head by name."""
    index, heads = 0, _HEADS[m.family]
    for layer in layers:
        name = getattr(layer, "name", "")
        if name in heads and isinstance(layer, Dense):
            m.add(layer, heads[name])
        elif isinstance(layer, (Conv2D, BatchNorm)):
            m.add(layer, f"features.{index}")
            index += 2 if getattr(layer, "activation_name", None) == "relu" else 1
        elif isinstance(layer, (Activation, MaxPool2D)):
            index += 1
        elif not isinstance(layer, (Flatten, Dropout)):
            m.unknown(layer)


def _map_densenet(m: _Mapper, layers: list) -> None:
    for layer in layers:
        name = getattr(layer, "name", "")
        if isinstance(layer, ConvBlock) and name == "conv0":
            m.add(layer, "features", {"conv": "conv0", "bn": "norm0"})
        elif isinstance(layer, (DenseBlock, TransitionBlock)) or (
                isinstance(layer, BatchNorm) and name == "norm5"):
            m.add(layer, f"features.{name}")
        elif isinstance(layer, Dense) and name == "predictions":
            m.add(layer, "classifier")
        else:
            m.unknown(layer)


def _map_googlenet(m: _Mapper, layers: list) -> None:
    for layer in layers:
        name = getattr(layer, "name", "")
        if isinstance(layer, ConvBlock) and name in ("conv1", "conv2", "conv3"):
            m.add(layer, name)
        elif isinstance(layer, InceptionModule):
            m.add(layer, name, _INCEPTION)
        elif isinstance(layer, Dense) and name == "predictions":
            m.add(layer, "fc")
        else:
            m.unknown(layer)


_MAPPERS = {"resnet": _map_resnet, "vgg": _map_features_then_head,
            "alexnet": _map_features_then_head, "densenet": _map_densenet,
            "googlenet": _map_googlenet}


def torchvision_keys(model: nn.Module) -> tuple[str, dict[str, str]]:
    """The torchvision family of a zoo model, and its state-dict keys in torchvision's names.

    Returns:
        ``(family, {lamina key: torchvision key})``, family one of :data:`FAMILIES`.

    Raises:
        ValueError: if the model is not of a family torchvision publishes weights for.

    Example:
        >>> import lamina as lm
        >>> family, keys = torchvision_keys(lm.zoo.ResNet(18))
        >>> family, keys["layers.0.bn.weight"], keys["layers.5.shortcut_conv.weight"]
        ('resnet', 'bn1.weight', 'layer2.0.downsample.0.weight')
    """
    family = _family(model)
    mapper = _Mapper(model, family)
    _MAPPERS[family](mapper, _layers(model, "torchvision_keys"))
    return family, mapper.keys


def infer_variant(model: nn.Module) -> str:
    """The torchvision model a zoo model matches, e.g. ``"resnet50"``, ``"vgg16_bn"``.

    Example:
        >>> import lamina as lm
        >>> infer_variant(lm.zoo.VGG(11, batch_norm=True, include_top=False))
        'vgg11_bn'
    """
    family = _family(model)
    layers = _layers(model, "infer_variant")
    if family == "resnet":  # depth = weight layers: 2 or 3 per block, the stem, the FC
        blocks = [layer for layer in layers if isinstance(layer, ResidualBlock)]
        depth = len(blocks) * (3 if blocks[0].bottleneck else 2) + 2
        imagenet = any(block.name.startswith("conv5_") for block in blocks)  # 4 stages
        return f"resnet{depth}" if imagenet else f"resnet{depth}_cifar"
    if family == "vgg":
        convs = sum(isinstance(layer, Conv2D) for layer in layers)
        bn = any(isinstance(layer, BatchNorm) for layer in layers)
        return f"vgg{convs + 3}" + ("_bn" if bn else "")
    return {"alexnet": "alexnet", "densenet": "densenet121", "googlenet": "googlenet"}[family]


# --------------------------------------------------------------------------- loading

def _normalized(tensors: dict[str, torch.Tensor], family: str) -> dict[str, torch.Tensor]:
    if family != "densenet":
        return tensors
    out = {}
    for key, value in tensors.items():
        old = _DENSENET_OLD.match(key)
        out[old[1] + old[2] if old else key] = value
    return out


def _load_torchvision(model: nn.Module, tensors: dict[str, torch.Tensor], label: str) -> None:
    family, keys = torchvision_keys(model)
    tensors = _normalized(tensors, family)
    name = getattr(model, "name", "?")
    has_head = any(tv.startswith(FAMILIES[family]) for tv in keys.values())
    missing = [tv for tv in keys.values()
               if tv not in tensors and not tv.endswith("num_batches_tracked")]
    if missing:
        raise FileFormatError(message(
            f"{label} lacks {len(missing)} tensor(s) that model '{name}' needs in "
            f"torchvision's {family} naming.", received=f"missing {missing[:5]}",
            fix="Is it a torchvision state dict of the same variant? "
                f"(this model matches torchvision's '{infer_variant(model)}')"))
    skipped = _ALWAYS_SKIPPED.get(family, ()) + (() if has_head else FAMILIES[family])
    used = set(keys.values())
    extra = sorted(k for k in tensors if k not in used and not k.startswith(skipped))
    if extra:
        raise FileFormatError(message(
            f"{label} holds {len(extra)} tensor(s) that model '{name}' has no place for in "
            f"torchvision's {family} naming.", received=f"extra {extra[:5]}",
            fix=f"Is it a torchvision state dict of '{infer_variant(model)}'?"))
    own = model.state_dict()
    new = {}
    for key, tv in keys.items():
        if tv not in tensors:
            continue
        value, want = tensors[tv], own[key]
        if tuple(value.shape) != tuple(want.shape):
            head = tv.startswith(FAMILIES[family])
            raise FileFormatError(message(
                f"Tensor '{tv}' of {label} does not fit model '{name}' (its '{key}').",
                expected=f"shape {tuple(want.shape)}", received=f"shape {tuple(value.shape)}",
                fix=("The head differs: build the model with `include_top=False` (and add "
                     "your own head), or with num_classes=1000 and input_shape=(3, 224, 224)."
                     if head else f"Is it a torchvision state dict of "
                                  f"'{infer_variant(model)}'?")))
        if value.is_floating_point() != want.is_floating_point():
            raise FileFormatError(message(f"Tensor '{tv}' of {label} has the wrong dtype.",
                                          expected=f"{want.dtype}", received=f"{value.dtype}"))
        new[key] = value
    model.load_state_dict({**own, **new})


def _load_lamina(model: nn.Module, path: str) -> None:
    """A lamina weights file: by layer name; every tensor of the model must be there."""
    header = read_safetensors_header(path)
    wanted = saving.layer_keys(model)
    have = set(saving._file_layer_keys(header, path).values())
    missing = [name for name in wanted.values() if name not in have]
    if missing:
        raise FileFormatError(message(
            f"'{path}' lacks {len(missing)} tensor(s) of model '{getattr(model, 'name', '?')}' "
            f"by layer name.", received=f"missing {missing[:5]}",
            fix="Was it saved from a model with the same layer names? To load only what "
                "matches, call `model.load_weights(path, by_name=True)`."))
    saving.load_weights(model, path, by_name=True)


def _fetch(url: str, sha256: str | None, prefix: str, max_bytes: int | None,
           verbose: bool) -> str:
    """The cached file downloaded from ``url``, checked against ``sha256`` (or the
    ``torch.hub`` prefix of its name); a cached file was checked when it was placed."""
    directory = default_cache_dir("weights")
    file = os.path.basename(urllib.parse.urlparse(url).path) or "weights"
    dest = os.path.join(directory, file)
    if os.path.isfile(dest):
        return dest
    os.makedirs(directory, exist_ok=True)
    if sha256 is not None:
        return download(url, dest, sha256, size=max_bytes, verbose=verbose)
    if not prefix:
        raise ValueError(message(
            f"lamina needs the SHA-256 of '{url}' to check the download; it never keeps an "
            f"unverified file.", fix="Pass `load_pretrained(model, url, sha256='<64 hex "
                                     "digits>')`, or download the file yourself and pass "
                                     "its path."))
    return download(url, dest, prefix, size=max_bytes, verbose=verbose, prefix=True)


def _resolve(model: nn.Module, source, variant: str | None, sha256: str | None,
             verbose: bool) -> str:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise TypeError(message("Argument `source` of load_pretrained must be 'imagenet', a "
                                "file path or a URL.",
                                received=f"source={source!r} (type {type(source).__name__})"))
    if source == "imagenet":
        variant = variant or infer_variant(model)
        entry = WEIGHTS.get(variant)
        if entry is None:
            raise ValueError(message(
                f"torchvision publishes no ImageNet weights for '{variant}' (model "
                f"'{getattr(model, 'name', '?')}').", expected=f"one of {sorted(WEIGHTS)}",
                fix="Pass `weights=None`, or a path to weights saved from this architecture."))
        return _fetch(entry.url, sha256 or entry.sha256, entry.sha256_prefix, entry.max_bytes,
                      verbose)
    if source.lower().startswith(("http://", "https://")):
        hub = _HUB_HASH.search(os.path.basename(urllib.parse.urlparse(source).path))
        return _fetch(source, sha256, hub[1] if hub else "", None, verbose)
    path = os.path.expanduser(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(message(
            "Argument `source` of load_pretrained is not a file, a URL or 'imagenet'.",
            received=f"source={source!r}",
            fix="Pass the path of a state dict (.pth/.pt or .safetensors), an http(s) URL, "
                "or 'imagenet'."))
    return path


def load_pretrained(model: nn.Module, source, *, variant: str | None = None,
                    sha256: str | None = None, verbose: bool = True) -> nn.Module:
    """Load pretrained weights into a zoo model, in place: a file, a URL or ``"imagenet"``.

    * ``"imagenet"``: torchvision's published ImageNet weights for the model (its variant,
      e.g. ``"resnet50"``, is read off the architecture), downloaded once into lamina's
      cache (``$LAMINA_CACHE/weights``) and checked (see :mod:`lamina.transfer.imagenet`
      for the hashes, the size caps and the preprocessing the weights expect).
    * a URL: downloaded into the same cache with lamina's checked downloader; ``sha256``
      is required unless the file name carries ``torch.hub``'s hash prefix
      (``name-<hex>.pth``), which is then checked.
    * a path: a safetensors file or a ``torch.save`` state dict (read with
      ``weights_only=True``).

    A file in torchvision's naming (ResNet-18/34/50/101/152, VGG-11/13/16/19 with or
    without batch norm, AlexNet, DenseNet-121, GoogLeNet; see :func:`torchvision_keys`)
    must hold every tensor of the model, and nothing else except the head when the model
    has none (``include_top=False``) and GoogLeNet's auxiliary classifiers. A lamina
    weights file (``save_weights``/``save``) is matched by layer name, and must hold every
    tensor of the model (other layers' tensors, such as a head, are skipped).

    Args:
        model: a model built by :mod:`lamina.zoo` (any ``include_top``/``pooling``).
        source: ``"imagenet"``, a path or an http(s) URL.
        variant: for ``"imagenet"``: the torchvision model (a key of
            :data:`lamina.transfer.imagenet.WEIGHTS`). Defaults to the one the
            architecture matches.
        sha256: the file's SHA-256 (64 hex digits), checked on download.
        verbose: show a progress bar while downloading (on a terminal). Defaults to True.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        ValueError: if the model is of no known family, or ``"imagenet"`` has no weights
            for it; :class:`~lamina.errors.FileFormatError` (a ``ValueError``) naming the
            tensors missing, extra or of another shape; ``DownloadError`` on a network
            failure.

    Example:
        >>> import os, tempfile, torch, lamina as lm
        >>> src = lm.zoo.ResNet(18, include_top=False, input_shape=(3, 64, 64),
        ...                     small_input=False)
        >>> _, keys = torchvision_keys(src)          # save it as torchvision would
        >>> state = {keys[k]: v for k, v in src.state_dict().items()}
        >>> p = os.path.join(tempfile.mkdtemp(), "resnet18.pth"); torch.save(state, p)
        >>> net = lm.zoo.ResNet(18, weights=p, include_top=False, pooling="avg",
        ...                     input_shape=(3, 64, 64))
        >>> bool(torch.equal(net.layers[0].conv.weight, src.layers[0].conv.weight))
        True
    """
    path = _resolve(model, source, variant, sha256, verbose)
    if _is_safetensors(path) and \
            read_safetensors_header(path).metadata.get("format") in _LAMINA_FORMATS:
        _load_lamina(model, path)
    else:
        _load_torchvision(model, read_state_dict(path)[0], f"'{path}'")
    return model


def _is_safetensors(path: str) -> bool:
    """A safetensors file starts with its header's length (8 bytes), then ``{``."""
    with open(path, "rb") as f:
        start = f.read(9)
    return len(start) == 9 and start[8:9] == b"{"


def file_sha256(path) -> str:
    """The SHA-256 hex digest of a file (to pin a download: ``sha256=``).

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "wb").write(b"abc")
        >>> file_sha256(p)[:16]
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
