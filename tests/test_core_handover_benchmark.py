"""benchmarks/core_handover.py runs end to end and prints its three timings per state."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_core_handover_prints_each_timing():
    out = subprocess.run([sys.executable, "benchmarks/core_handover.py", "--seconds", "0.2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    rows = dict(re.findall(r"^(product|rewrite after product|rewrite again) +([0-9.]+)",
                           out, re.M))
    assert set(rows) == {"product", "rewrite after product", "rewrite again"}
    assert all(float(us) > 0 for us in rows.values())
    assert re.search(r"^\d+ samples of 100 repeats each", out, re.M)
