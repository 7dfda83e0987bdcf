"""Files are data (issue 25): hostile or careless model files and checkpoints get lamina's
message, never a raw traceback, a hijacked class, or gigabytes allocated from a tiny file."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

import lamina as lm
from lamina import layers
from lamina._io import atomic_write_bytes, remove_stale_temp_files
from lamina.checkpoint import load_state, save_state
from lamina.errors import FileFormatError
from lamina.layers.base import LAYERS
from lamina.saving import layer_to_config


def model_file(path, config, tensors=None, **metadata):
    """A model file as lamina writes it, with any config and tensors."""
    meta = {"format": "lamina-model", "version": "1",
            "config": config if isinstance(config, str) else json.dumps(config), **metadata}
    path.write_bytes(st_save(tensors or {}, metadata=meta))
    return path


def checkpoint_file(path, state_doc, tensors=None):
    path.write_bytes(st_save(tensors or {}, metadata={
        "format": "lamina-checkpoint", "version": "1", "state": json.dumps(state_doc)}))
    return path


def dense_model(units, inputs):
    return {"class": "Sequential", "config": {"name": "m", "input_shape": [inputs], "layers": [
        {"class": "Dense", "config": {"units": units}}]}}


CONV = {"class": "Sequential", "config": {"name": "m", "input_shape": [1, 28, 28], "layers": [
    {"class": "Conv2D", "config": {"filters": 4, "kernel_size": 100000}}]}}

# The crafted files: each asked for gigabytes before failing.
HUGE = {"dense-16384x16384": dense_model(16384, 16384), "dense-100000": dense_model(100000, 100000),
        "conv-kernel-100000": CONV}

MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    import lamina as lm
    from lamina.checkpoint import load_state
    results = {}
    for path in sys.argv[1:]:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            (lm.load_model if path.endswith(".lamina") else load_state)(path)
            outcome = "loaded"
        except ValueError as err:
            outcome = type(err).__name__ + ": " + str(err)[:120]
        results[path] = {"seconds": time.perf_counter() - start, "outcome": outcome,
                         "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}
    print(json.dumps(results))
""")


def test_tiny_crafted_files_allocate_little_and_fail_fast(tmp_path):
    # A 232-byte Dense(16384) file used to take 1.25 GiB and 3.7 s before failing.
    paths = [model_file(tmp_path / f"{name}.lamina", config) for name, config in HUGE.items()]
    paths.append(checkpoint_file(tmp_path / "structured.ckpt",
                                 {"a": {"__ndarray__": "s.0", "dtype": "(8192,8192)f4"}},
                                 {"s.0": torch.zeros(1)}))
    paths.append(checkpoint_file(tmp_path / "bytes.ckpt",
                                 {"a": {"__ndarray__": "s.0", "dtype": "S400000000"}},
                                 {"s.0": torch.zeros(1)}))
    assert all(p.stat().st_size < 1024 for p in paths)
    out = subprocess.run([sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True,
                         text=True, timeout=120, check=True)
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for path, result in results.items():
        assert result["outcome"].startswith("FileFormatError"), (path, result)
        assert result["rss_kib"] < 50 * 1024, (path, result)   # peak RSS grew < 50 MB
        assert result["seconds"] < 1.0, (path, result)


@pytest.mark.parametrize("config, match", [
    ({"class": "Sequential", "config": {"name": "m", "input_shape": [3]}}, "cannot be built"),
    ({"config": {"units": 2}}, "layer entry.*malformed"),
    ("{not json", "not JSON"),
    ([1, 2], "layer entry.*malformed"),
    ({"class": "Sequential", "config": {"input_shape": [-3], "layers": []}},
     "positive ints.*input_shape=\\[-3\\]"),
    ({"class": "Sequential", "config": {"input_shape": [3], "layers": {"a": 1}}},
     "must be a list"),
    ({"class": "NoSuchLayer", "config": {}}, "Unknown layer 'NoSuchLayer'"),
    ({"class": "Dense", "config": {"units": "many"}}, "cannot be built"),
    ({"class": "WrappedModel", "config": {"module": "os.system"}}, "WrappedModel cannot be built"),
    ("[" * 100000, "not JSON"),
], ids=["no-layers", "no-class", "not-json", "a-list", "negative-input-shape", "layers-dict",
        "unknown-class", "bad-units", "wrapped-os-system", "deep-json"])
def test_malformed_configs_get_a_clear_value_error(tmp_path, config, match):
    path = model_file(tmp_path / "m.lamina", config)
    with pytest.raises(FileFormatError, match=match) as info:
        lm.load_model(path)
    assert str(path) in str(info.value)


def functional_config():
    x = lm.Input((4,), name="x")
    y = layers.Dense(2, name="d")(x)
    return lm.Model(x, y).get_config()


@pytest.mark.parametrize("edit", [
    lambda c: c["nodes"][0].update(inbound=[["nowhere", 0]]),
    lambda c: c["nodes"][0].update(layer="missing"),
    lambda c: c.update(outputs=[["d", 7]]),
    lambda c: c["nodes"][0].pop("inbound"),
], ids=["inbound", "layer", "output", "no-inbound"])
def test_bad_functional_node_references_are_refused(tmp_path, edit):
    config = functional_config()
    edit(config)
    path = model_file(tmp_path / "f.lamina", {"class": "Functional", "config": config},
                      {"d.weight": torch.zeros(2, 4), "d.bias": torch.zeros(2)})
    with pytest.raises(FileFormatError, match="cannot be built"):
        lm.load_model(path)


def saved_dense(tmp_path):
    model = lm.Sequential([layers.Dense(3, name="d")], input_shape=(4,), name="m")
    path = tmp_path / "m.lamina"
    model.save(path)
    return model, path


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.int32])
def test_tensors_of_the_right_shape_but_wrong_dtype_are_refused(tmp_path, dtype):
    model, _ = saved_dense(tmp_path)
    config = json.dumps(layer_to_config(model))
    path = model_file(tmp_path / "x.lamina", config, {
        "layers.0.weight": torch.zeros(3, 4, dtype=dtype), "layers.0.bias": torch.zeros(3)})
    with pytest.raises(FileFormatError, match=f"'layers.0.weight'.*dtype.*torch.float32.*{dtype}"):
        lm.load_model(path)


def test_header_relabelling_f32_as_i32_is_refused(tmp_path):
    # Used to load weights of about 1e9 (the float bits read as integers).
    _, path = saved_dense(tmp_path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    path.write_bytes(raw[:8] + raw[8:8 + n].replace(b'"F32"', b'"I32"') + raw[8 + n:])
    with pytest.raises(FileFormatError, match="dtype"):
        lm.load_model(path)


def test_float_precision_may_differ_and_is_cast(tmp_path):
    model, _ = saved_dense(tmp_path)
    tensors = {k: v.double() for k, v in model.state_dict().items()}
    path = model_file(tmp_path / "d.lamina", json.dumps(layer_to_config(model)), tensors)
    loaded = lm.load_model(path)
    assert loaded.layers[0].weight.dtype == torch.float32
    assert torch.equal(loaded.layers[0].weight, model.layers[0].weight)


@pytest.mark.parametrize("tensors, match", [
    ({}, "no tensor 'layers.0.weight'"),
    ({"layers.0.weight": torch.zeros(3, 4), "layers.0.bias": torch.zeros(3),
      "extra": torch.zeros(1)}, "does not have.*extra"),
    ({"layers.0.weight": torch.zeros(4, 3), "layers.0.bias": torch.zeros(3)},
     r"shape \(4, 3\).*Expected: shape \(3, 4\)"),
])
def test_tensor_table_must_match_the_config(tmp_path, tensors, match):
    model, _ = saved_dense(tmp_path)
    path = model_file(tmp_path / "t.lamina", json.dumps(layer_to_config(model)), tensors)
    with pytest.raises(FileFormatError, match=match):
        lm.load_model(path)


@pytest.mark.parametrize("edit, match", [
    (lambda h: h["layers.0.weight"].update(data_offsets=[0, 10**12]), "outside the file"),
    (lambda h: h["layers.0.weight"].update(shape=[3, 5]), "do not match its byte range"),
    (lambda h: h["layers.0.weight"].update(dtype="F8_E5M2"), "unsupported dtype"),
    (lambda h: h["layers.0.weight"].update(shape=[-3, 4]), "invalid shape"),
    (lambda h: h["layers.0.bias"].update(data_offsets=h["layers.0.weight"]["data_offsets"][:1]
                                         * 2), "outside|byte range|share"),
    (lambda h: h.update(__metadata__={"format": 3}), "strings to strings"),
], ids=["offsets", "shape-size", "dtype", "negative", "overlap", "metadata"])
def test_header_edits_are_refused_before_reading_tensors(tmp_path, edit, match):
    _, path = saved_dense(tmp_path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])
    with pytest.raises(FileFormatError, match=match):
        lm.load_model(path)


def test_header_length_past_the_end_is_refused(tmp_path):
    path = tmp_path / "m.lamina"
    path.write_bytes((10**15).to_bytes(8, "little") + b"{}")
    with pytest.raises(FileFormatError, match="runs past the end"):
        lm.load_model(path)


def test_load_weights_checks_dtype_too(tmp_path):
    model, _ = saved_dense(tmp_path)
    path = tmp_path / "w.safetensors"
    path.write_bytes(st_save({"layers.0.weight": torch.zeros(3, 4, dtype=torch.int8),
                              "layers.0.bias": torch.zeros(3)}))
    with pytest.raises(FileFormatError, match="dtype"):
        model.load_weights(path)


# -- checkpoints ------------------------------------------------------------------------

DEEP = 1
for _ in range(40):   # nesting far deeper than lamina writes
    DEEP = [DEEP]


@pytest.mark.parametrize("doc, match", [
    ({"a": {"__ndarray__": "s.0", "dtype": "object"}}, "dtype lamina does not store"),
    ({"a": {"__ndarray__": "s.0", "dtype": "(8192,8192)f4"}}, "dtype lamina does not store"),
    ({"a": {"__ndarray__": "s.0", "dtype": "S400000000"}}, "dtype lamina does not store"),
    ({"a": {"__ndarray__": "s.0", "dtype": 5}}, "dtype lamina does not store"),
    ({"a": {"__ndarray__": "s.0", "dtype": "int32"}}, "int32 array stored as another dtype"),
    ({"a": {"__tensor__": "s.9"}}, "tensor the file does not hold"),
    ({"a": {"__tensor__": ["s.0"]}}, "tensor the file does not hold"),
    ({"a": {"__tensor__": "s.0"}, "b": {"__tensor__": "s.0"}}, "referenced a second time"),
    ({"a": {"__items__": [[1]]}}, "malformed item"),
    ({"a": {"__items__": {"k": 1}}}, "tagged object lamina never writes"),
    ({"a": {"__items__": [[[1, 2], 3]]}}, "unhashable dict key"),
    ({"a": {"__tuple__": 5}}, "tagged object"),
    ({"a": {"__tensor__": "s.0", "x": 1}}, "tagged object"),
    ({"a": {"__import__": "os"}}, "tagged object"),
    ({"a": DEEP}, "nesting too deep"),
], ids=["object", "structured", "huge-bytes", "int-dtype", "float-as-int", "missing-ref", "list-ref", "twice",
        "short-item", "items-dict", "unhashable", "tuple-int", "extra-key", "unknown-tag",
        "deep"])
def test_checkpoint_schema_refuses_what_lamina_never_writes(tmp_path, doc, match):
    path = checkpoint_file(tmp_path / "c.ckpt", doc, {"s.0": torch.zeros(2)})
    with pytest.raises(FileFormatError, match=match) as info:
        load_state(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("metadata, match", [
    ({"format": "lamina-checkpoint", "version": "1", "state": "{oops"}, "not JSON"),
    ({"format": "lamina-checkpoint", "version": "1"}, "no training state"),
    ({"format": "lamina-checkpoint", "version": "99", "state": "{}"}, "version"),
    ({"format": "lamina-model", "version": "1", "state": "{}"}, "not a lamina checkpoint"),
    ({"format": "lamina-checkpoint", "version": "1", "state": "[1]"}, "not a mapping"),
    ({"format": "lamina-checkpoint", "version": "1", "state": "[" * 100000},
     "not JSON"),
])
def test_checkpoint_metadata_errors(tmp_path, metadata, match):
    path = tmp_path / "c.ckpt"
    path.write_bytes(st_save({}, metadata=metadata))
    with pytest.raises(FileFormatError, match=match):
        load_state(path)


def test_checkpoint_round_trip_keeps_every_structure(tmp_path):
    state = {"t": torch.arange(3), "a": np.arange(4, dtype=np.uint32), "tup": (1, "x", None),
             "items": {3: [1.5, float("nan")], (1, 2): "k"}, "nested": [{"b": True}],
             "rng": np.random.get_state()}
    save_state(tmp_path / "c.ckpt", state)
    back = load_state(tmp_path / "c.ckpt")
    assert torch.equal(back["t"], state["t"])
    assert back["a"].dtype == np.uint32 and np.array_equal(back["a"], state["a"])
    assert back["tup"] == (1, "x", None) and back["items"][(1, 2)] == "k"
    assert np.isnan(back["items"][3][1]) and back["nested"] == [{"b": True}]


def test_saving_an_object_array_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="dtype"):
        save_state(tmp_path / "c.ckpt", {"a": np.array([object()])})


# -- registry -----------------------------------------------------------------------------

def test_a_user_class_named_like_lamina_does_not_hijack_load_model(tmp_path):
    model, path = saved_dense(tmp_path)

    class Dense(lm.layers.Layer):   # a user's own Dense, defined after lamina's
        def __init__(self, units=1, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def get_config(self):
            return {"units": self.units, **super().get_config()}

        def forward(self, x):
            return x[:, :self.units]

    assert LAYERS.lookup("Dense") is layers.Dense
    loaded = lm.load_model(path)
    assert type(loaded.layers[0]) is layers.Dense
    # the user's class saves under its qualified name and round-trips
    user = lm.Sequential([Dense(2, name="mine")], input_shape=(3,))
    entry = layer_to_config(user.layers[0])
    assert entry["class"] == f"{__name__}.{Dense.__qualname__}"
    user.save(tmp_path / "user.lamina")
    assert type(lm.load_model(tmp_path / "user.lamina").layers[0]) is Dense


def test_overwrite_true_replaces_a_lamina_name_explicitly():
    try:
        class Flatten(lm.layers.Layer, overwrite=True):
            pass

        assert LAYERS.lookup("Flatten") is Flatten
    finally:
        LAYERS.register_class(layers.Flatten)   # lamina's own class takes its name back
    assert LAYERS.lookup("Flatten") is layers.Flatten


def test_redefining_the_same_user_class_replaces_it():
    def define():
        class Redefined(lm.layers.Layer):
            pass
        return Redefined

    first, second = define(), define()
    assert first is not second
    assert LAYERS.lookup(LAYERS.name_of(second)) is second


# -- stale temporary files ----------------------------------------------------------------

def test_stale_temp_files_of_killed_writers_are_removed_on_the_next_write(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)
    target = tmp_path / "last.ckpt"
    stale = tmp_path / f".last.ckpt.{dead}.0123abcd.tmp"
    live = tmp_path / f".last.ckpt.{os.getpid()}.89abcdef.tmp"      # a concurrent writer
    other = tmp_path / f".other.ckpt.{dead}.0123abcd.tmp"            # another target's
    unlike = tmp_path / f".last.ckpt.{dead}.notours.tmp"             # not lamina's pattern
    for p in (stale, live, other, unlike):
        p.write_bytes(b"partial")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert not stale.exists()
    assert live.exists() and other.exists() and unlike.exists()
    os.utime(live, (0, 0))   # untouched for decades: its writer is gone (pid reused)
    assert remove_stale_temp_files(target) == [str(live)]


def test_every_layer_case_round_trips_through_the_meta_build(tmp_path):
    # load_model builds each model on the meta device first: every layer must survive it.
    from tests.layers.test_layer_matrix import LAYER_CASES

    for case in LAYER_CASES:
        model = lm.Sequential([case.make()], input_shape=case.input_shape)
        model.save(tmp_path / "m.lamina")
        loaded = lm.load_model(tmp_path / "m.lamina")
        for key, value in model.state_dict().items():
            assert torch.equal(value, loaded.state_dict()[key]), (case.id, key)


class Tile(lm.layers.Layer):
    """A user layer whose output shape comes from a dry run (no compute_output_shape)."""

    def __init__(self, times=2, **kwargs):
        super().__init__(**kwargs)
        self.times = times

    def get_config(self):
        return {"times": self.times, **super().get_config()}

    def forward(self, x):
        return x.repeat(1, self.times)


def test_a_dry_run_output_above_the_limit_is_refused_before_it_exists(tmp_path, monkeypatch):
    model = lm.Sequential([Tile(64)], input_shape=(1024,), name="tile")
    model.save(tmp_path / "tile.lamina")
    assert type(lm.load_model(tmp_path / "tile.lamina").layers[0]) is Tile
    monkeypatch.setattr(lm.saving, "MAX_SAMPLE_BYTES", 2**17)   # 128 KiB
    with pytest.raises(FileFormatError, match=r"larger tensor for one sample.*\(1, 65536\)"):
        lm.load_model(tmp_path / "tile.lamina")
