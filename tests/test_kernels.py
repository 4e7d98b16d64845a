"""C++ kernels against the Python core on the same inputs."""

import numpy as np
import pytest
import torch

from isac_ae import kernels
from isac_ae.baselines import ml_detect, qam_constellation

# Imported, not only looked up: a GNU Radio that is present but cannot load is a skip with its reason too.
pytest.importorskip("gnuradio", reason="GNU Radio is not installed: the C++ part is not built")


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


_HALF_PI = np.pi / 2


@pytest.mark.parametrize(
    "positions, sector, search",
    [
        (np.arange(4) / 2, (0.3, 0.2), ()),  # reversed sector
        (np.arange(4) / 2, (-_HALF_PI - 0.1, 0.0), ()),
        (np.arange(4) / 2, (np.nan, 0.2), ()),
        (np.arange(4) / 2, (0.0, 0.2), (0.0,)),  # fine_step_u
        (np.arange(4) / 2, (0.0, 0.2), (np.nan,)),
        (np.arange(4) / 2, (0.0, 0.2), (2e-4, 0)),  # refine_factor
        (np.arange(4) / 2, (0.0, 0.2), (2e-4, 10, 9)),  # levels
        (np.arange(4) / 2, (0.0, 0.2), (2e-4, 10, 2, 0)),  # candidates
        (np.arange(4) / 2, (0.0, 0.2), (2e-4, 5000, 1)),  # refine_factor ** levels
        (np.array([0.0, np.inf]), (0.0, 0.2), ()),
        (np.arange(4096) / 2, (-_HALF_PI, _HALF_PI), (4e-8,)),  # 2^26 table entries
    ],
)
def test_core_and_cpp_search_refuse_the_same_parameters(cpp, positions, sector, search):
    """MaprtDetector (core) and MaprtSearch (C++) are one search: both refuse, with a ValueError, before allocating."""
    from isac_ae.baselines import MaprtDetector

    with pytest.raises(ValueError):
        MaprtDetector(positions, sector, *search)
    with pytest.raises(ValueError):
        cpp.MaprtSearch(positions.astype(np.float32), *sector, *search)
