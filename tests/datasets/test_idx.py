"""IDX reader and writer: round trips, and every kind of malformed file refused."""

import gzip
import os
import struct
import time
import tracemalloc

import numpy as np
import pytest

from lamina._io import atomic_open, atomic_write_bytes
from lamina.datasets.idx import MAX_BYTES, read_idx, write_idx

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)]


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return (rng.standard_normal(shape) * 1e3).astype(dtype)


def header(code, *dims):
    return struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype(tmp_path, dtype, suffix):
    for rank, shape in enumerate(SHAPES, 1):
        path = tmp_path / f"a{rank}-idx{rank}-ubyte{suffix}"
        array = sample(dtype, shape, seed=rank)
        write_idx(path, array)
        back = read_idx(path)
        assert back.dtype == np.dtype(dtype) and back.dtype.isnative
        assert back.shape == shape
        np.testing.assert_array_equal(back, array)
        assert back.flags.writeable


def test_writes_big_endian_layout_and_gzip_by_suffix(tmp_path):
    write_idx(tmp_path / "raw", np.array([1, -2], dtype=np.int16))
    assert (tmp_path / "raw").read_bytes() == header(0x0B, 2) + b"\x00\x01\xff\xfe"
    write_idx(tmp_path / "packed.gz", np.array([1, -2], dtype="<i2"))  # byte order of input is irrelevant
    packed = (tmp_path / "packed.gz").read_bytes()
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == (tmp_path / "raw").read_bytes()


def test_gzip_detected_by_magic_bytes_not_name(tmp_path):
    body = header(0x08, 3) + bytes([5, 6, 7])
    (tmp_path / "zipped-without-suffix").write_bytes(gzip.compress(body))
    (tmp_path / "plain-with-suffix.gz").write_bytes(body)
    for name in ("zipped-without-suffix", "plain-with-suffix.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), [5, 6, 7])


def test_empty_dimension_round_trips(tmp_path):
    write_idx(tmp_path / "empty.gz", np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(tmp_path / "empty.gz").shape == (0, 28, 28)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_is_refused(tmp_path, compress):
    body = header(0x08, 60, 28, 28) + os.urandom(1200)  # incompressible: no early size bound
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(ValueError, match="truncated") as info:
        read_idx(path)
    text = str(info.value)
    assert str(path) in text
    assert "60x28x28 uint8 (47040 bytes of data)" in text
    assert "holds 1200 bytes" in text
    assert "download it anew" in text


@pytest.mark.parametrize("compress", [False, True])
def test_trailing_bytes_are_refused(tmp_path, compress):
    body = header(0x08, 4) + bytes(4) + b"junk"
    path = tmp_path / "labels"
    path.write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(ValueError, match="trailing data") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_header_is_refused(tmp_path, compress):
    body = header(0x08, 60, 28, 28)[:9]
    (tmp_path / "h").write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(ValueError, match="truncated: its header declares 3 dimensions"):
        read_idx(tmp_path / "h")


@pytest.mark.parametrize("content", [b"", b"\x00\x00"])
def test_too_short_for_a_magic_number(tmp_path, content):
    (tmp_path / "short").write_bytes(content)
    with pytest.raises(ValueError, match="too short to be an IDX file"):
        read_idx(tmp_path / "short")


def test_bad_magic_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, world")
    with pytest.raises(ValueError, match="not an IDX file") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "68 65 6c 6c" in str(info.value)


def test_unknown_dtype_code_is_refused(tmp_path):
    (tmp_path / "x").write_bytes(header(0x0A, 2) + bytes(2))
    with pytest.raises(ValueError, match="unknown dtype code.*Received: 0x0A"):
        read_idx(tmp_path / "x")


@pytest.mark.parametrize("rank", [0, 5])
def test_unsupported_rank_is_refused(tmp_path, rank):
    (tmp_path / "x").write_bytes(struct.pack(">HBB", 0, 0x08, rank) + bytes(64))
    with pytest.raises(ValueError, match=f"number of dimensions.*Received: {rank}"):
        read_idx(tmp_path / "x")


def test_absurd_size_is_refused_before_allocating(tmp_path):
    (tmp_path / "huge").write_bytes(header(0x0E, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(8))
    with pytest.raises(ValueError, match=f"at most {MAX_BYTES} bytes"):
        read_idx(tmp_path / "huge")


@pytest.mark.parametrize("compress", [False, True])
def test_large_header_with_tiny_file_does_not_allocate(tmp_path, compress):
    body = header(0x08, 1_000_000, 1000) + bytes(100)  # claims 1 GB, below MAX_BYTES
    (tmp_path / "liar").write_bytes(gzip.compress(body) if compress else body)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match="is truncated"):
            read_idx(tmp_path / "liar")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
    assert time.perf_counter() - start < 5


def test_corrupt_gzip_body_is_refused(tmp_path):
    packed = gzip.compress(header(0x08, 1000) + bytes(1000))
    path = tmp_path / "bad.gz"
    path.write_bytes(packed[:10] + b"\xff" * 20)  # deflate block type 3 does not exist
    with pytest.raises(ValueError, match="not a valid gzip stream") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_bad_gzip_crc_is_refused(tmp_path):
    packed = bytearray(gzip.compress(header(0x08, 3) + b"abc"))
    packed[-8] ^= 0xFF  # first byte of the CRC-32 trailer
    (tmp_path / "crc.gz").write_bytes(bytes(packed))
    with pytest.raises(ValueError, match="not a valid gzip stream.*CRC"):
        read_idx(tmp_path / "crc.gz")


def test_cut_gzip_stream_is_refused(tmp_path):
    packed = gzip.compress(header(0x08, 5000) + os.urandom(5000))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="not a valid gzip stream"):
        read_idx(tmp_path / "cut.gz")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent.gz")


def test_write_refuses_unsupported_arrays(tmp_path):
    with pytest.raises(TypeError, match="astype"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="1 to 4 dimensions"):
        write_idx(tmp_path / "x", np.zeros((1,) * 5, dtype=np.uint8))
    with pytest.raises(ValueError, match="1 to 4 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert os.listdir(tmp_path) == []


def test_atomic_open_keeps_old_file_and_leaves_no_temp_on_error(tmp_path):
    target = tmp_path / "model.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write(b"half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.bin"]
    with atomic_open(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["model.bin"]
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(target, "ab"):
            pass
