"""lamina.fast.draws: torch.rand's numbers from lamina's C twister, checked against torch's."""

import contextlib
import subprocess

import pytest
import torch

from lamina.fast import draws, native
from lamina.unsupervised import RBM


@pytest.fixture
def fresh_build():
    """Forget the process's build and kernel before and after the test."""
    native.load.cache_clear()
    draws.native_kernel.cache_clear()
    yield
    native.load.cache_clear()
    draws.native_kernel.cache_clear()


def needs_kernel():
    if draws.native_kernel() is None:
        pytest.skip("no C compiler here: lamina draws with torch's uniform_")


def test_a_machine_whose_c_compiler_works_builds_and_uses_the_kernel(tmp_path):
    command = native.compiler()
    if command is None:
        pytest.skip("no C compiler here")
    source = tmp_path / "probe.c"
    source.write_text("int lamina_probe(void) { return 1; }\n")
    try:
        subprocess.run([*command, "-shared", "-fPIC", "-o", str(tmp_path / "probe.so"),
                        str(source)], check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("the C compiler here cannot build a shared library")
    assert native.load() is not None
    assert draws.native_kernel() is not None


@pytest.mark.parametrize("skip", [0, 1, 623, 624, 625, 1000])
@pytest.mark.parametrize("sizes", [(1, 1, 1), (623, 2, 5000), (624, 624, 624), (70_000, 3)])
def test_uniform_gives_torch_rand_numbers_and_leaves_the_generator_where_torch_does(skip, sizes):
    needs_kernel()
    ours, theirs = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    torch.rand(skip, generator=ours), torch.rand(skip, generator=theirs)
    for size in sizes:
        assert torch.equal(draws.uniform_(torch.empty(size), ours),
                           torch.rand(size, generator=theirs))
        assert torch.equal(ours.get_state(), theirs.get_state())
    # whatever draws next (other dtypes, other distributions) reads the same stream
    assert torch.equal(torch.randn(9, generator=ours, dtype=torch.float64),
                       torch.randn(9, generator=theirs, dtype=torch.float64))
    assert torch.equal(torch.randperm(50, generator=ours), torch.randperm(50, generator=theirs))


def test_a_fresh_generator_and_a_seeded_one_start_their_stream_as_torch_does():
    needs_kernel()
    for seed in (0, 1, 2**40 + 3):
        g = torch.Generator().manual_seed(seed)
        assert torch.equal(draws.uniform_(torch.empty(5, 7), g),
                           torch.rand(5, 7, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("out", [
    torch.empty(100, dtype=torch.float64),
    torch.empty(10, 20).T,                                # not contiguous
    torch.empty(0),
])
def test_tensors_the_kernel_does_not_take_get_torch_uniform(out):
    g, h = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    expected = torch.empty_like(out).uniform_(generator=h)
    assert torch.equal(draws.uniform_(out, g), expected)
    assert torch.equal(g.get_state(), h.get_state())


@pytest.mark.parametrize("setting", [{"LAMINA_NATIVE": "0"}, {"CC": "/nonexistent/cc"},
                                     {"CC": "false"}])
def test_without_a_working_compiler_lamina_keeps_torch_uniform(setting, monkeypatch, fresh_build):
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    assert native.load() is None
    assert draws.native_kernel() is None
    g, h = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(draws.uniform_(torch.empty(700), g), torch.rand(700, generator=h))


def test_a_state_layout_the_module_does_not_know_turns_the_kernel_off(monkeypatch, fresh_build):
    """The check at load time: a kernel that reads the words at the wrong place is refused."""
    if native.load() is None:
        pytest.skip("no C compiler here")
    monkeypatch.setattr(draws, "_WORDS", draws._WORDS + 8)
    assert draws.native_kernel() is None


def test_an_rbm_fit_is_the_same_with_and_without_the_kernel(monkeypatch):
    """Bit for bit: the kernel changes how fast the numbers come, not which."""
    needs_kernel()
    import lamina.fast.rbm as fast_rbm

    @contextlib.contextmanager
    def two_threads(multiply_adds, device):             # draws ahead, as for a large RBM
        yield 2

    monkeypatch.setattr(fast_rbm.threads, "for_products", two_threads)
    runs = []
    monkeypatch.setattr(draws, "_run", lambda *a, run=draws._run: runs.append(1) or run(*a))
    torch.manual_seed(0)
    x = (torch.rand(90, 12) > 0.5).float()
    settings = {"lr": 0.1, "batch_size": 8, "epochs": 3, "random_state": 0, "persistent": True}
    native_fit = RBM(5, **settings).fit(x)
    assert runs                                         # the kernel drew the uniforms
    monkeypatch.setattr(draws, "native_kernel", lambda: None)
    torch_fit = RBM(5, **settings).fit(x)
    for a, b in zip(native_fit._params(), torch_fit._params()):
        assert torch.equal(a, b)
    assert torch.equal(native_fit.random_state_.get_state(), torch_fit.random_state_.get_state())
