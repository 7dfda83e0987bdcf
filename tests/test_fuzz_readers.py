"""Fuzzing the three file readers (issue 25): damaged model files, checkpoints and IDX files
give a result or lamina's ValueError/TypeError naming the file, never a raw exception.

The mutations are ``benchmarks/fuzz_readers.py``'s (bit flips, truncation, inserted and
deleted bytes, safetensors header and JSON edits, IDX header edits), driven here by
hypothesis so that a failure shrinks to a small reproducible case; the script runs
100,000 cases per reader (figures in docs/benchmarks.md, "Fuzzing the file readers").
"""

import functools
import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_readers import mutate, run_case, seed_files

CASES = 200   # per reader and strategy: about a second each
FUZZ = settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def seeds():
    directory = tempfile.mkdtemp(prefix="lamina-fuzz-")
    return directory, seed_files(directory)


def check(reader, data):
    directory, _ = seeds()
    path = os.path.join(directory, f"case-{reader}" + (".lamina" if reader == "model" else ""))
    assert run_case(reader, data, path) in ("ok", "refused")


@pytest.mark.parametrize("reader", ["model", "checkpoint", "idx"])
@FUZZ
@given(rnd=st.randoms(use_true_random=False), which=st.integers(0, 10), twice=st.booleans())
def test_mutated_files_give_a_result_or_lamina_error(reader, rnd, which, twice):
    files = seeds()[1][reader]
    data, _ = mutate(files[which % len(files)], rnd, reader)
    if twice and data:
        data, _ = mutate(data, rnd, reader)
    check(reader, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats()
    | st.sampled_from(["Dense", "Sequential", "Functional", "Conv2D", "os.system", "F32",
                       "object", "s.0", "(8192,8192)f4"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["class", "config", "layers", "units", "input_shape", "name",
                         "__tensor__", "__ndarray__", "dtype", "__tuple__", "__items__",
                         "nodes", "inbound", "inputs", "outputs", "shape"]), children,
        max_size=4),
    max_leaves=20)


@pytest.mark.parametrize("reader", ["model", "checkpoint"])
@FUZZ
@given(doc=JSON, which=st.integers(0, 10))
def test_random_json_in_the_header_gives_a_lamina_error(reader, doc, which):
    files = seeds()[1][reader]
    data = files[which % len(files)]
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["config" if reader == "model" else "state"] = json.dumps(doc)
    text = json.dumps(header).encode()
    check(reader, len(text).to_bytes(8, "little") + text + data[8 + n:])
