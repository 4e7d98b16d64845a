"""A fixture for tests that train on small batches: one torch thread while they run."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """On a shared 2-core machine a second OpenMP thread spin-waits for the other one's core: a step on a few
    thousand snapshots took 190 ms with two threads against 9 ms with one, measured under load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
