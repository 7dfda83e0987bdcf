"""Issue 20's source rules: machine decisions stay in ``lamina.fast``, and the training loop
stays in short modules (``trainer.py`` grew past its limit unnoticed once)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import lamina

ROOT = Path(lamina.__file__).parent
TEXTBOOK = ("layers", "models", "functional", "unsupervised", "recurrent", "optimizers")
MACHINE_NAMES = ("cpu_kernels", "is_compiling", "avx", "set_num_threads", "_forward_hooks",
                 "_backward_hooks", "custom_backward")


def test_no_training_module_is_over_400_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "training").glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}


@pytest.mark.parametrize("package", TEXTBOOK)
def test_textbook_packages_name_no_machine_decision(package):
    found = [f"{path.relative_to(ROOT)}:{i}: {name}"
             for path in (ROOT / package).rglob("*.py")
             for i, line in enumerate(path.read_text().splitlines(), 1)
             for name in MACHINE_NAMES if re.search(re.escape(name), line, re.I)]
    assert found == []


def test_the_rules_see_what_they_look_for():
    """The checks above would fire: the speed package does use these names."""
    fast = "\n".join(p.read_text() for p in (ROOT / "fast").glob("*.py"))
    assert all(name in fast for name in ("set_num_threads", "is_compiling"))
