"""Fuzz lamina's three file readers: ``load_model``, ``checkpoint.load_state``, ``read_idx``.

Each case takes a valid file lamina wrote (a few models, a training checkpoint, IDX files
raw and gzipped), damages it -- bit flips, overwritten, inserted or deleted bytes,
truncation, edits of the safetensors header (dtypes, shapes, offsets), edits of the JSON
model config or checkpoint state, random JSON in their place, edits of the IDX header --
and reads it. A case passes when the reader returns, or raises a ``ValueError`` or
``TypeError`` whose message names the file (lamina's message); anything else (KeyError,
RecursionError, MemoryError, a torch RuntimeError, a message without the file) is a raw
exception and is reported with the mutation that produced it. The process runs under an
address-space limit a few hundred MB above its size after start-up, so a case that tries
to allocate gigabytes fails loudly instead of swapping.

Run::

    python benchmarks/fuzz_readers.py --cases 100000 --workers 2

``tests/test_fuzz_readers.py`` runs the same mutations through hypothesis, a few hundred
cases per reader, in the normal test suite.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

import lamina as lm
from lamina import layers
from lamina.checkpoint import load_state, save_state
from lamina.datasets.idx import read_idx, write_idx

READERS = ("model", "checkpoint", "idx")


# -- seeds: valid files ------------------------------------------------------------------

def seed_files(directory: str) -> dict[str, list[bytes]]:
    """Valid files per reader, as bytes."""
    torch.manual_seed(0)
    models = [
        lm.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)], input_shape=(3,)),
        lm.Sequential([layers.Conv2D(2, 3, padding="same"), layers.BatchNorm(),
                       layers.MaxPool2D(2), layers.Flatten(), layers.Dense(3)],
                      input_shape=(1, 6, 6)),
    ]
    x = lm.Input((4,), name="x")
    models.append(lm.Model(x, layers.Add()([layers.Dense(3)(x), layers.Dense(3)(x)])))
    out = {reader: [] for reader in READERS}
    for i, model in enumerate(models):
        path = os.path.join(directory, f"seed{i}.lamina")
        model.save(path)
        out["model"].append(open(path, "rb").read())
    path = os.path.join(directory, "seed.ckpt")
    model = models[0]
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    xs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    model.fit(xs, xs[:, :2], epochs=1, batch_size=4, verbose=0, checkpoint=directory)
    out["checkpoint"].append(open(os.path.join(directory, "last.ckpt"), "rb").read())
    save_state(path, {"t": torch.ones(3), "a": np.arange(4, dtype=np.uint32),
                      "tup": (1, "x", None), "items": {3: [1.5], (1, 2): "k"},
                      "rng": np.random.get_state()})
    out["checkpoint"].append(open(path, "rb").read())
    for name, array in (("u8.gz", np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
                        ("f4", np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)),
                        ("i2", np.arange(5, dtype=np.int16))):
        path = os.path.join(directory, name)
        write_idx(path, array)
        out["idx"].append(open(path, "rb").read())
    return out


# -- mutations ---------------------------------------------------------------------------

def random_json(rng: random.Random, depth: int = 0):
    """A random JSON value, biased towards what lamina's readers look for."""
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([0, 1, -1, 2**31, -2**63, 10**30, 3, 16384, 100000])
    if kind == 1:
        return rng.choice([0.5, -1e308, float("inf"), float("nan"), 1e-300])
    if kind == 2:
        return rng.choice(["", "Dense", "Sequential", "Functional", "Conv2D", "os.system",
                           "WrappedModel", "F32", "I8", "object", "(8192,8192)f4",
                           "S400000000", "s.0", "__tensor__", "x" * rng.randrange(50)])
    if kind == 3:
        return rng.choice([None, True, False])
    if kind == 4:
        return [rng.randrange(-2, 2**20) for _ in range(rng.randrange(4))]
    if kind == 5:
        return {}
    if kind == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["class", "config", "layers", "units", "input_shape", "kernel_size", "filters",
            "__tensor__", "__ndarray__", "dtype", "__tuple__", "__items__", "name", "inbound",
            "nodes", "outputs", "inputs", "shape", "epoch", "model", "optimizer", "rng"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def mutate_json(value, rng: random.Random):
    """``value`` with one random node replaced, deleted or added to."""
    containers = []

    def walk(node):
        if isinstance(node, (dict, list)):
            containers.append(node)
            for child in (node.values() if isinstance(node, dict) else node):
                walk(child)
    walk(value)
    if not containers:
        return random_json(rng)
    node = rng.choice(containers)
    if isinstance(node, dict):
        keys = list(node)
        op = rng.randrange(3)
        if op == 0 and keys:
            del node[rng.choice(keys)]
        elif op == 1 and keys:
            node[rng.choice(keys)] = random_json(rng)
        else:
            node[rng.choice(["class", "config", "layers", "__tensor__", "dtype", "x"])] = \
                random_json(rng)
    elif node:
        i = rng.randrange(len(node))
        if rng.random() < 0.5:
            node[i] = random_json(rng)
        else:
            del node[i]
    else:
        node.append(random_json(rng))
    return value


def _split_safetensors(data: bytes):
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]), data[8 + n:]


def _join_safetensors(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def mutate_header(data: bytes, rng: random.Random, reader: str) -> bytes:
    """Edit the safetensors header: a tensor entry, or the JSON in the metadata."""
    header, body = _split_safetensors(data)
    names = [k for k in header if k != "__metadata__"]
    meta = header.setdefault("__metadata__", {})
    key = "config" if reader == "model" else "state"
    op = rng.randrange(6)
    if op <= 2 and key in meta:
        inner = json.loads(meta[key])
        inner = random_json(rng) if op == 2 else mutate_json(inner, rng)
        meta[key] = json.dumps(inner)
    elif op == 3 and names:
        entry = header[rng.choice(names)]
        field = rng.choice(["dtype", "shape", "data_offsets"])
        entry[field] = (rng.choice(["F32", "I32", "I8", "BOOL", "F64", "U8", "F16", "X"])
                        if field == "dtype" else
                        [rng.randrange(-1, 2**20) for _ in range(rng.randrange(4))])
    elif op == 4 and names:
        if rng.random() < 0.5:
            del header[rng.choice(names)]
        else:
            header[f"extra.{rng.randrange(9)}"] = dict(header[rng.choice(names)])
    else:
        meta[rng.choice(["format", "version", key])] = rng.choice(
            ["lamina-model", "lamina-checkpoint", "1", "2", "", "{}", "[]"])
    return _join_safetensors(header, body)


def mutate_idx_header(data: bytes, rng: random.Random) -> bytes:
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    raw = bytearray(raw)
    op = rng.randrange(3)
    if op == 0:
        raw[2] = rng.choice([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF])
    elif op == 1:
        raw[3] = rng.randrange(0, 8)
    else:
        rank = max(1, min(raw[3], (len(raw) - 4) // 4))
        i = 4 + 4 * rng.randrange(rank)
        raw[i:i + 4] = rng.choice([0, 1, 7, 2**16, 2**31, 2**32 - 1]).to_bytes(4, "big")
    raw = bytes(raw)
    return gzip.compress(raw, mtime=0) if data[:2] == b"\x1f\x8b" else raw


def mutate(data: bytes, rng: random.Random, reader: str) -> tuple[bytes, str]:
    """One damaged copy of ``data`` and the name of what was done."""
    ops = ["flip", "overwrite", "insert", "delete", "truncate", "header", "header"]
    op = rng.choice(ops)
    out = bytearray(data)
    if op == "flip":
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif op == "overwrite":
        i = rng.randrange(len(out))
        out[i:i + rng.randrange(1, 9)] = rng.randbytes(rng.randrange(1, 9))
    elif op == "insert":
        i = rng.randrange(len(out) + 1)
        out[i:i] = rng.randbytes(rng.randrange(1, 17))
    elif op == "delete":
        i = rng.randrange(len(out))
        del out[i:i + rng.randrange(1, 17)]
    elif op == "truncate":
        del out[rng.randrange(len(out)):]
    else:
        try:
            out = bytearray(mutate_idx_header(data, rng) if reader == "idx"
                            else mutate_header(data, rng, reader))
        except Exception:  # noqa: BLE001 -- an already damaged seed: keep it as it is
            op = "header-skipped"
    return bytes(out), op


# -- running a case ----------------------------------------------------------------------

def read(reader: str, path: str):
    if reader == "model":
        return lm.load_model(path)
    if reader == "checkpoint":
        return load_state(path)
    return read_idx(path)


def run_case(reader: str, data: bytes, path: str) -> str:
    """``"ok"`` or ``"refused"``; raises ``AssertionError`` on a raw exception."""
    with open(path, "wb") as f:
        f.write(data)
    try:
        read(reader, path)
    except (ValueError, TypeError) as err:
        if path not in str(err):
            raise AssertionError(f"{type(err).__name__} without the file's name: {err}") from err
        return "refused"
    except Exception as err:  # noqa: BLE001 -- the point is to catch anything raw
        raise AssertionError(f"raw {type(err).__name__}: {err}") from err
    return "ok"


def _limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at its present size + ``extra_mb``."""
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + extra_mb * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def worker(reader: str, cases: int, seed: int, extra_mb: int) -> dict:
    torch.set_num_threads(1)
    directory = tempfile.mkdtemp(prefix=f"fuzz-{reader}-")
    seeds = seed_files(directory)[reader]
    rng = random.Random(seed)
    path = os.path.join(directory, "case" + (".lamina" if reader == "model" else ".bin"))
    if sys.platform.startswith("linux"):
        _limit_memory(extra_mb)
    counts, raw = Counter(), []
    setup_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    for _ in range(cases):
        data, op = mutate(rng.choice(seeds), rng, reader)
        if rng.random() < 0.3:               # stack a second mutation
            data, op2 = mutate(data, rng, reader) if data else (data, "")
            op = f"{op}+{op2}"
        try:
            counts[run_case(reader, data, path)] += 1
        except AssertionError as err:
            counts["raw"] += 1
            if len(raw) < 20:
                raw.append({"op": op, "error": str(err)[:300],
                            "trace": traceback.format_exc(limit=-3)[-600:]})
    return {"reader": reader, "seconds": time.perf_counter() - start, "counts": dict(counts),
            "raw": raw, "setup_rss_mb": setup_rss,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases per reader")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--readers", nargs="+", default=list(READERS), choices=READERS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-mb", type=int, default=512,
                        help="address space each worker may add after start-up")
    args = parser.parse_args(argv)
    jobs = []
    for r in args.readers:
        share = [args.cases // args.workers + (i < args.cases % args.workers)
                 for i in range(args.workers)]
        jobs += [(r, n, args.seed * 1000 + i * 10 + READERS.index(r), args.memory_mb)
                 for i, n in enumerate(share) if n]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(worker, *zip(*jobs)))
    total = {}
    for r in results:
        entry = total.setdefault(r["reader"], {"counts": Counter(), "cpu_seconds": 0.0,
                                               "raw": [], "max_rss_mb": 0.0,
                                               "growth_mb": 0.0})
        entry["counts"].update(r["counts"])
        entry["cpu_seconds"] += r["seconds"]
        entry["raw"] += r["raw"]
        entry["max_rss_mb"] = max(entry["max_rss_mb"], r["max_rss_mb"])
        entry["growth_mb"] = max(entry["growth_mb"], r["max_rss_mb"] - r["setup_rss_mb"])
    print(f"wall {time.perf_counter() - start:.1f} s, {args.workers} workers")
    for reader, entry in total.items():
        n = sum(entry["counts"].values())
        print(f"{reader:10s} {n:7d} cases  {dict(entry['counts'])}  "
              f"{entry['cpu_seconds']:.1f} worker-s ({1e3 * entry['cpu_seconds'] / n:.2f} ms a case)"
              f"  peak RSS {entry['max_rss_mb']:.0f} MB, {entry['growth_mb']:.1f} MB above "
              f"the worker's peak before its first case")
        for case in entry["raw"][:5]:
            print("   RAW", case["op"], case["error"])
            print("      ", case["trace"].replace("\n", "\n       "))
    return int(any(entry["counts"].get("raw") for entry in total.values()))


if __name__ == "__main__":
    sys.exit(main())
