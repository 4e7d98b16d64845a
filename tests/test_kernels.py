"""C++ kernels against the Python core on the same inputs."""

import importlib.util

import numpy as np
import pytest
import torch

from isac_ae import kernels
from isac_ae.baselines import ml_detect, qam_constellation

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gnuradio") is None, reason="GNU Radio not installed: the C++ part is not built"
)


@pytest.fixture(scope="module")
def cpp():
    return kernels.load()  # with GNU Radio present, a missing build is a failure, not a skip


@pytest.mark.parametrize("num_messages", [4, 16])
def test_ml_detect_matches_core(cpp, rng, num_messages):
    n = 50_000
    x = qam_constellation(num_messages).astype(np.complex64)
    z = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    kappa = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    expected = ml_detect(torch.from_numpy(z), torch.from_numpy(kappa), torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(cpp.ml_detect(z, kappa, x), expected)


def test_ml_detect_rejects_bad_lengths(cpp):
    x = qam_constellation(4)
    with pytest.raises(ValueError, match="same length"):
        cpp.ml_detect(np.zeros(3, np.complex64), np.zeros(4, np.complex64), x)
    with pytest.raises(ValueError, match="1 to 256"):
        cpp.ml_detect(np.zeros(3, np.complex64), np.zeros(3, np.complex64), np.zeros(300, np.complex64))
