"""C++ MAPRT search and detector against the core's isac_ae.baselines.MaprtDetector."""

import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.array import nominal_positions
from isac_ae.baselines import MaprtDetector
from isac_ae.blocks import cpp_receivers
from isac_ae.channels import RadarChannel

K = 16
SECTOR = np.deg2rad((-20.0, 20.0))
OUT = [("f", 1), ("f", 1), ("b", 1)]  # statistic, theta_hat, detection


def _snapshots(scenario, n, target, seed):
    """Radar snapshots of the core's channel (as in the core's MAPRT test)."""
    gen = torch.Generator().manual_seed(seed)
    beam = np.conj(np.exp(-1j * np.pi * np.arange(K) * 0.1)) / 4
    y = torch.as_tensor(beam, dtype=torch.complex64).expand(n, -1)
    return RadarChannel(scenario)(y, gen, target=target).z.numpy()


def _assert_matches_core(core, stat, index, z, rtol=1e-4):
    """Same statistic; a different argmax only where the two grid points tie (same statistic)."""
    ref = core(torch.from_numpy(z))
    np.testing.assert_allclose(stat, ref.statistic.numpy(), rtol=rtol)
    differ = np.flatnonzero(index != ref.index.numpy())
    if len(differ):
        all_stats = core.fine_statistics(torch.from_numpy(z[differ])).numpy()
        at_cpp = all_stats[np.arange(len(differ)), index[differ]]
        np.testing.assert_allclose(at_cpp, ref.statistic.numpy()[differ], rtol=rtol)
    return len(differ) / len(z)


@pytest.mark.parametrize("spacing_std", [0.0, 1 / 30])
@pytest.mark.parametrize("target", [False, True])
def test_search_matches_core_on_20000_snapshots(cpp, spacing_std, target):
    sc = Scenario(spacing_std=spacing_std, impairment_seed=2)
    pos = sc.true_positions().astype(np.float32)
    core = MaprtDetector(pos.astype(np.float64), SECTOR)
    search = cpp.MaprtSearch(pos, *SECTOR)
    assert search.num_fine == core.num_fine == 3422
    np.testing.assert_allclose(search.u_grid, core.u_grid, rtol=0, atol=1e-15)
    z = _snapshots(sc, 20_000, target, seed=7 + int(target))
    stat, index = search.search(z)
    tie_rate = _assert_matches_core(core, stat, index, z)
    assert tie_rate < 0.05  # float32 ties of adjacent grid points (~1 %; the core's own fine vs coarse-to-fine: ~1 %)
    theta = search.theta(index)
    np.testing.assert_array_equal(theta, core._output(torch.from_numpy(stat), torch.from_numpy(index.astype(np.int64))).theta.numpy())


def test_coarse_to_fine_equals_the_fine_grid(cpp, rng):
    search = cpp.MaprtSearch(nominal_positions(K), *SECTOR)
    z = (rng.standard_normal((3000, K)) + 1j * rng.standard_normal((3000, K))).astype(np.complex64)
    s1, i1 = search.search(z)
    s2, i2 = search.fine_search(z)
    np.testing.assert_allclose(s1, s2, rtol=1e-5)
    assert np.mean(i1 != i2) < 0.01


@pytest.mark.parametrize("sector", [(0.2, 0.2), (-1.5, 1.5), (0.0, 0.01), (-math.pi / 2, math.pi / 2)])
def test_degenerate_and_wide_sectors_match_core(cpp, rng, sector):
    z = (rng.standard_normal((500, K)) + 1j * rng.standard_normal((500, K))).astype(np.complex64)
    core = MaprtDetector(nominal_positions(K), sector)
    search = cpp.MaprtSearch(nominal_positions(K), *sector)
    assert search.num_fine == core.num_fine
    stat, index = search.search(z)
    _assert_matches_core(core, stat, index, z)
    theta = search.theta(index)
    assert theta.min() >= sector[0] - 1e-6 and theta.max() <= sector[1] + 1e-6


def test_other_search_parameters_match_core(cpp, rng):
    z = (rng.standard_normal((2000, 8)) + 1j * rng.standard_normal((2000, 8))).astype(np.complex64)
    for step, factor, levels, cands in [(5e-4, 4, 3, 2), (1e-3, 10, 1, 5), (2e-4, 10, 0, 3)]:
        core = MaprtDetector(nominal_positions(8), (-0.6, 0.3), step, factor, levels, cands)
        search = cpp.MaprtSearch(nominal_positions(8), -0.6, 0.3, step, factor, levels, cands)
        stat, index = search.search(z)
        _assert_matches_core(core, stat, index, z)


def test_block_matches_core(cpp, run):
    sc = Scenario()
    z = np.concatenate([_snapshots(sc, 2000, False, 1), _snapshots(sc, 2000, True, 2)])
    threshold = 60.0
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), threshold)
    stat, theta, detection = run(det, [(z, "c", K)], OUT)
    # The block is the kernel ...
    search = cpp.MaprtSearch(nominal_positions(K), *SECTOR)
    k_stat, k_index = search.search(z)
    np.testing.assert_array_equal(stat, k_stat)
    np.testing.assert_array_equal(theta, search.theta(k_index))
    # ... which is the core, up to float32 ties.
    core = MaprtDetector(nominal_positions(K), SECTOR)
    assert _assert_matches_core(core, stat, k_index, z) < 0.05
    np.testing.assert_array_equal(detection, (stat > threshold).astype(np.uint8))
    assert 0 < detection.mean() < 1


def test_threshold_setter(run):
    z = np.ones((3, K), np.complex64) * np.array([0.1, 1.0, 3.0], np.float32)[:, None]  # statistic K^2 |c|^2
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), 100.0)
    *_, detection = run(det, [(z, "c", K)], OUT)
    np.testing.assert_array_equal(detection, [0, 1, 1])
    det.set_threshold(1000.0)
    assert det.threshold() == 1000.0
    stat, theta, detection = run(det, [(z, "c", K)], OUT)
    np.testing.assert_array_equal(detection, [0, 0, 1])
    np.testing.assert_allclose(stat, [2.56, 256.0, 2304.0], rtol=1e-5)
    np.testing.assert_allclose(theta, 0.0, atol=2e-4)  # z = c * a(0)


def test_non_finite_snapshots_give_no_detection_and_one_warning(run, capfd):
    z = np.ones((4, K), np.complex64) * 3
    z[1, 5] = np.nan
    z[2, 0] = complex(np.inf, 0)
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), -1.0)  # even a threshold below 0
    stat, theta, detection = run(det, [(z, "c", K)], OUT)
    np.testing.assert_array_equal(detection, [1, 0, 0, 1])
    np.testing.assert_array_equal(stat[1:3], 0.0)
    assert np.isnan(theta[1:3]).all() and np.isfinite(theta[[0, 3]]).all()
    captured = capfd.readouterr()  # GNU Radio's console log sink writes to stdout
    assert (captured.out + captured.err).count("NaN or infinite") == 1


def test_h0_threshold_gives_the_false_alarm_rate(cpp):
    n, pfa = 100_000, 0.05
    threshold = cpp_receivers.h0_threshold(K, (), (-20.0, 20.0), pfa, samples=n, seed=1)
    rng = np.random.default_rng(99)
    z = ((rng.standard_normal((n, K)) + 1j * rng.standard_normal((n, K))) / math.sqrt(2)).astype(np.complex64)
    stat, _ = cpp.MaprtSearch(nominal_positions(K), *SECTOR).search(z)
    # Two independent estimates of a proportion: tolerance of their difference.
    assert abs(np.mean(stat > threshold) - pfa) < 5 * math.sqrt(2 * pfa * (1 - pfa) / n)


def test_bad_parameters_raise_value_error(cpp):
    with pytest.raises(ValueError, match="positions has 4 values but K = 16"):
        cpp_receivers.maprt_detector(16, [0, 0.5, 1, 1.5])
    with pytest.raises(ValueError, match="sector"):
        cpp_receivers.maprt_detector(16, (), (20.0, -20.0))
    with pytest.raises(ValueError, match="NaN"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), float("nan"))
    with pytest.raises(ValueError, match="candidates"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), 1.0, candidates=0)
    with pytest.raises(ValueError, match="fine_step_u"):
        cpp.MaprtSearch(nominal_positions(4), -0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="K = len"):
        cpp.MaprtSearch(nominal_positions(4), -0.1, 0.1).search(np.zeros((3, 5), np.complex64))
