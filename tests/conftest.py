"""Shared pytest fixtures: every test starts from the same random state."""

import random

import numpy as np
import pytest
import torch

SEED = 0


@pytest.fixture(scope="session", autouse=True)
def single_intra_op_thread():
    """Run torch ops on one thread: unit tests use tiny tensors, where waking a thread pool
    costs more than the op (on a loaded 2-core CI box, ~8 ms per conv instead of ~5 us)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def seed_everything():
    """Seed Python's, numpy's and torch's generators with ``SEED`` before each test."""
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    yield
