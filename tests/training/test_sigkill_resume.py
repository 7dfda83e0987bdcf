"""SIGKILL at random points of a real training run, resumed each time (issue 25): every
surviving checkpoint holds exactly the uninterrupted run's weights at its step, the final
weights are bit-identical and no temporary file is left. benchmarks/sigkill_resume.py
runs the same with 30 kills (docs/benchmarks.md); here two.

Marked slow: six Python processes train the 13 MB-checkpoint run (about 40 s on 2 cores).
The default suite keeps tests/training/test_resume.py's mid-save SIGKILL test."""

import pytest

from benchmarks.sigkill_resume import run


@pytest.mark.slow
def test_two_random_sigkills_resume_bit_identically():
    stats = run(kills=2, seed=3, verbose=False)
    assert stats["kills"] == 2
    assert stats["bit_identical"] == 2 and stats["temp_files_left"] == 0
    assert stats["checked_checkpoints"] + stats["before_first_checkpoint"] == 2
