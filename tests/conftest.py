import numpy as np
import pytest
import torch

from isac_ae import Scenario

torch.set_num_threads(2)


@pytest.fixture
def scenario():
    return Scenario()


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
