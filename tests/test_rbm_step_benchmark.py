"""benchmarks/rbm_step.py runs end to end on tiny sizes and prints a row per step variant."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_rbm_step_benchmark_prints_every_variant_per_state():
    out = subprocess.run(
        [sys.executable, "benchmarks/rbm_step.py", "--seconds", "0.3", "--block", "4",
         "--visible", "12", "--hidden", "5", "--batch", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "RBM        12-5, PCD-1, batches of 4" in out
    assert re.search(r"^draws      fused_ahead's blocks: (lamina's C twister|torch)", out, re.M)
    variants = {"textbook", "fused", "fused_ahead_torch", "fused_ahead"}
    rows = dict(re.findall(r"^(\w+) +([0-9]+)", out, re.M))
    assert variants <= set(rows)
    assert all(int(rows[name]) > 0 for name in variants)     # microseconds, all rounds
    assert "fused_ahead / fused_ahead_torch, median of rounds:" in out
