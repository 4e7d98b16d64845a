"""C++ ML comm receiver (eq. 11) against isac_ae.baselines.ml_detect."""

import numpy as np
import pytest
import torch

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from isac_ae.baselines import ml_detect, qam_constellation  # noqa: E402
from isac_ae.blocks import cpp_receivers  # noqa: E402


def _crandn(rng, n):
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)


@pytest.mark.parametrize("num_messages", [4, 16, 64])
def test_block_matches_core(run, rng, num_messages):
    n = 50_000
    x = qam_constellation(num_messages).astype(np.complex64)
    z, kappa = _crandn(rng, n), _crandn(rng, n)
    (m,) = run(cpp_receivers.ml_detector(x), [(z, "c", 1), (kappa, "c", 1)], [("b", 1)])
    expected = ml_detect(torch.from_numpy(z), torch.from_numpy(kappa), torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(m, expected)


def test_noise_free_symbols_are_recovered_with_the_default_4qam(run, rng):
    x = qam_constellation(4).astype(np.complex64)
    sent = rng.integers(0, 4, 1000)
    kappa = _crandn(rng, 1000)
    det = cpp_receivers.ml_detector()
    np.testing.assert_allclose(np.asarray(det.constellation()), x, rtol=1e-6)
    (m,) = run(det, [(kappa * x[sent], "c", 1), (kappa, "c", 1)], [("b", 1)])
    np.testing.assert_array_equal(m, sent)


def test_non_finite_input_gives_index_0_and_one_warning(run, capfd):
    nan, inf = float("nan"), float("inf")
    x = qam_constellation(4)
    z = np.array([x[3], nan, complex(inf, 0), x[2], x[1]], np.complex64)
    kappa = np.array([1, 1, 1, complex(0, nan), complex(-inf, 1)], np.complex64)
    (m,) = run(cpp_receivers.ml_detector(x), [(z, "c", 1), (kappa, "c", 1)], [("b", 1)])
    np.testing.assert_array_equal(m, [3, 0, 0, 0, 0])
    captured = capfd.readouterr()  # GNU Radio's console log sink writes to stdout
    assert (captured.out + captured.err).count("NaN or infinite") == 1


def test_set_constellation(run):
    det = cpp_receivers.ml_detector()
    det.set_constellation([1, -1])
    (m,) = run(
        det, [(np.array([0.9, -2.0, 0.1], np.complex64), "c", 1), (np.ones(3, np.complex64), "c", 1)], [("b", 1)]
    )
    np.testing.assert_array_equal(m, [0, 1, 0])
    with pytest.raises(ValueError, match="1 to 256"):
        det.set_constellation(np.ones(300))


def test_bad_constellation_raises_value_error():
    with pytest.raises(ValueError, match="must not be empty"):
        cpp_receivers.ml_detector([])
    with pytest.raises(ValueError, match="1 to 256"):
        cpp_receivers.ml_detector(np.ones(257))
    with pytest.raises(ValueError, match="finite"):
        cpp_receivers.ml_detector([1, float("nan")])
