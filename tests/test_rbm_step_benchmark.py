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
    rows = dict(re.findall(r"^(textbook|fused|fused_ahead) +([0-9]+)", out, re.M))
    assert set(rows) == {"textbook", "fused", "fused_ahead"}
    assert all(int(us) > 0 for us in rows.values())           # microseconds, all rounds
    assert "fused_ahead / fused, median of rounds:" in out
