"""C++ MAPRT search and detector against the core's isac_ae.baselines.MaprtDetector."""

import math
import time

import numpy as np
import pytest
import torch

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from isac_ae import Scenario  # noqa: E402
from isac_ae.array import nominal_positions  # noqa: E402
from isac_ae.baselines import (
    BaselineSystem,  # noqa: E402
    MaprtDetector,  # noqa: E402
)
from isac_ae.blocks import cpp_receivers  # noqa: E402
from isac_ae.blocks.checks import MAX_H0_SAMPLES  # noqa: E402
from isac_ae.channels import RadarChannel  # noqa: E402
from isac_ae.evaluation import evaluate, seed_streams  # noqa: E402

from ..helpers import Z  # noqa: E402

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
    np.testing.assert_array_equal(
        theta, core._output(torch.from_numpy(stat), torch.from_numpy(index.astype(np.int64))).theta.numpy()
    )


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
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), "statistic", threshold)
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
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), "statistic", 100.0)
    *_, detection = run(det, [(z, "c", K)], OUT)
    np.testing.assert_array_equal(detection, [0, 1, 1])
    det.set_threshold(1000.0)
    assert det.threshold() == 1000.0 and det.mode() == "statistic" and math.isnan(det.pfa())
    stat, theta, detection = run(det, [(z, "c", K)], OUT)
    np.testing.assert_array_equal(detection, [0, 0, 1])
    np.testing.assert_allclose(stat, [2.56, 256.0, 2304.0], rtol=1e-5)
    np.testing.assert_allclose(theta, 0.0, atol=2e-4)  # z = c * a(0)


def test_non_finite_snapshots_give_no_detection_and_one_warning(run, capfd):
    z = np.ones((4, K), np.complex64) * 3
    z[1, 5] = np.nan
    z[2, 0] = complex(np.inf, 0)
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), "statistic", -1.0)  # even a threshold below 0
    stat, theta, detection = run(det, [(z, "c", K)], OUT)
    np.testing.assert_array_equal(detection, [1, 0, 0, 1])
    np.testing.assert_array_equal(stat[1:3], 0.0)
    assert np.isnan(theta[1:3]).all() and np.isfinite(theta[[0, 3]]).all()
    captured = capfd.readouterr()  # GNU Radio's console log sink writes to stdout
    assert (captured.out + captured.err).count("NaN or infinite") == 1


def _noise(rng, n, k):
    return ((rng.standard_normal((n, k)) + 1j * rng.standard_normal((n, k))) / math.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize("k, sector", [(16, (-20.0, 20.0)), (8, (-10.0, 30.0)), (16, (-60.0, 60.0))])
def test_h0_threshold_gives_the_false_alarm_rate(cpp, k, sector):
    """On fresh noise (numpy draws, not the calibration's torch ones) the threshold is exceeded at the rate pfa."""
    n, n_h0, pfa = 100_000, 100_000, 0.05
    threshold = cpp_receivers.h0_threshold(k, (), sector, pfa, samples=n_h0, seed=1)
    stat, _ = cpp.MaprtSearch(nominal_positions(k), *np.deg2rad(sector)).search(_noise(np.random.default_rng(99), n, k))
    # The calibrated threshold's own Pfa varies as a proportion over n_h0, the fresh estimate over n.
    assert abs(np.mean(stat > threshold) - pfa) < Z * math.sqrt(pfa * (1 - pfa) * (1 / n + 1 / n_h0))


def test_h0_threshold_is_the_evaluations_threshold():
    """Same H0 stream as evaluate(seed) and the same rule: the core's threshold, to float rounding of the statistic."""
    n, seed = 20_000, 3
    core = evaluate(BaselineSystem(Scenario(), 0.5, 0.0), n, seed).threshold
    block = cpp_receivers.h0_threshold(K, (), (-20.0, 20.0), 0.01, n, seed_streams(seed, 2)[0])
    assert block == pytest.approx(core, rel=1e-5)  # the C++ statistic equals the core's within 1e-6 relative


def test_auto_threshold_follows_k_positions_sector_and_pfa():
    """The default mode calibrates for Pfa on the detector's own K, array and sector."""
    pos = [0.0, 0.45, 1.05, 1.5, 1.9, 2.55]
    args = dict(pfa=0.05, h0_samples=20_000, seed=4)
    for k, positions, sector in [(16, (), (-20.0, 20.0)), (8, (), (-10.0, 30.0)), (6, pos, (-45.0, 5.0))]:
        det = cpp_receivers.maprt_detector(k, positions, sector, **args)
        assert det.mode() == "pfa" and det.pfa() == 0.05 and det.sector_deg() == sector
        assert det.threshold() == cpp_receivers.h0_threshold(k, positions, sector, 0.05, 20_000, 4)
    wide = cpp_receivers.maprt_detector(16, (), (-60.0, 60.0), **args).threshold()
    assert wide > cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), **args).threshold()  # more cells to exceed


def test_sector_change_recalibrates_in_the_background_and_swaps_sector_and_threshold_together(cpp):
    """While the new sector's H0 statistics are computed the stream keeps flowing with the old (sector,
    threshold); then both change at once: no item is decided with one sector and the other's threshold."""
    from gnuradio import blocks, gr

    old, new = (-20.0, -10.0), (10.0, 40.0)  # disjoint, so theta_hat tells which sector decided an item
    det = cpp_receivers.maprt_detector(K, (), old, pfa=0.05, seed=2)
    thresholds = {old: det.threshold(), new: cpp_receivers.h0_threshold(K, (), new, 0.05, 200_000, 2)}
    assert thresholds[new] > thresholds[old]  # the wider sector (in sin(theta)) has the higher threshold
    z = _noise(np.random.default_rng(5), 4096, K)
    tb = gr.top_block()
    src = blocks.vector_source_c(z.ravel().tolist(), True, K)
    throttle = blocks.throttle(gr.sizeof_gr_complex * K, 2e5)  # spares the shared CPU; the test needs no speed
    sinks = [blocks.vector_sink_f(), blocks.vector_sink_f(), blocks.vector_sink_b()]
    tb.connect(src, throttle, det)
    for port, sink in enumerate(sinks):
        tb.connect((det, port), sink)

    def written_reaches(count):
        while det.detector.nitems_written(0) < count:
            time.sleep(0.01)

    tb.start()
    try:
        written_reaches(50_000)
        det.set_sector(new)
        assert det.sector_deg() == old and det.threshold() == thresholds[old]  # not swapped yet
        before = det.detector.nitems_written(0)
        time.sleep(0.1)
        flowed = det.detector.nitems_written(0) - before
        assert det.wait_calibrated(timeout=60)
        written_reaches(det.detector.nitems_written(0) + 50_000)
    finally:
        tb.stop()
        tb.wait()
    assert flowed > 0  # the stream did not wait for the calibration
    assert det.sector_deg() == new and det.threshold() == thresholds[new]
    data = [np.asarray(s.data()) for s in sinks]
    n_items = min(len(d) for d in data)  # stop() may cut the three outputs at different items
    stat, theta, detection = (d[:n_items] for d in data)
    deg = np.degrees(theta)
    in_old, in_new = (deg >= old[0] - 1e-3) & (deg <= old[1] + 1e-3), (deg >= new[0] - 1e-3) & (deg <= new[1] + 1e-3)
    assert np.all(in_old ^ in_new)
    first_new = np.argmax(in_new)
    assert in_old[:first_new].all() and in_new[first_new:].all()  # one switch, and it sticks
    for where, sector in ((in_old, old), (in_new, new)):
        np.testing.assert_array_equal(detection[where], stat[where] > thresholds[sector])
    between = (stat > thresholds[old]) & (stat <= thresholds[new])
    assert between[in_old].any() and between[in_new].any()  # items that each pair decides differently
    det.set_sector(old)  # calibrated before: from the cache, at once
    assert det.sector_deg() == old and det.threshold() == thresholds[old]


def test_fixed_threshold_is_kept_when_the_sector_changes():
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), "statistic", 80.0)
    det.set_sector((-30.0, 10.0))
    assert det.sector_deg() == (-30.0, 10.0) and det.threshold() == 80.0  # applied at once, no calibration
    det.set_threshold_rule("pfa", pfa=0.05)
    det.wait_calibrated()
    assert det.threshold() == cpp_receivers.h0_threshold(K, (), (-30.0, 10.0), 0.05, 200_000, 0)


def test_cpp_block_takes_degrees_and_swaps_sector_and_threshold_together(cpp, run):
    """The C++ block itself: sector in degrees (constructor, setter, getter), the core's grid for it."""
    z = _snapshots(Scenario(target_sector_deg=(5.0, 25.0)), 500, True, 3)
    block = cpp.maprt_detector(K, [], -20.0, 20.0, 50.0)
    assert block.sector() == [-20.0, 20.0]
    block.set_sector(5.0, 25.0, 70.0)
    assert block.sector() == [5.0, 25.0] and block.threshold() == 70.0
    block.set_sector(5.0, 25.0)  # keeps the threshold
    assert block.threshold() == 70.0
    stat, theta, detection = run(block, [(z, "c", K)], OUT)
    k_stat, k_index = cpp.MaprtSearch(nominal_positions(K), *np.deg2rad((5.0, 25.0))).search(z)
    np.testing.assert_array_equal(stat, k_stat)
    np.testing.assert_array_equal(theta, cpp.MaprtSearch(nominal_positions(K), *np.deg2rad((5.0, 25.0))).theta(k_index))
    np.testing.assert_array_equal(detection, stat > 70.0)
    for bad in [(25.0, 5.0), (-90.5, 0.0), (float("nan"), 1.0)]:
        with pytest.raises(ValueError, match=r"-90 <= min <= max <= 90 \(degrees\)"):
            block.set_sector(*bad, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        block.set_sector(0.0, 1.0, float("nan"))
    assert block.sector() == [5.0, 25.0] and block.threshold() == 70.0  # refused: unchanged


def test_more_candidates_than_coarse_points_are_clamped(cpp, rng):
    """candidates = 1e8 used to allocate 1.6 GB per work() call; the result is the same as every coarse point."""
    z = _noise(rng, 300, K)
    huge = cpp.MaprtSearch(nominal_positions(K), *SECTOR, 2e-4, 10, 2, 10**8)
    every = cpp.MaprtSearch(nominal_positions(K), *SECTOR, 2e-4, 10, 2, huge.num_coarse)
    for a, b in zip(huge.search(z), every.search(z)):
        np.testing.assert_array_equal(a, b)


def test_bad_parameters_raise_value_error(cpp):
    with pytest.raises(ValueError, match="positions has 4 values but K = 16"):
        cpp_receivers.maprt_detector(16, [0, 0.5, 1, 1.5])
    with pytest.raises(ValueError, match="sector"):
        cpp_receivers.maprt_detector(16, (), (20.0, -20.0))
    with pytest.raises(ValueError, match="sector"):
        cpp_receivers.maprt_detector(16, (), (float("nan"), 20.0))
    with pytest.raises(ValueError, match="threshold must not be NaN"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), "statistic", float("nan"))
    with pytest.raises(ValueError, match="threshold mode"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), 117.8)  # the old positional threshold
    with pytest.raises(ValueError, match="candidates"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), "statistic", 1.0, candidates=0)
    with pytest.raises(ValueError, match="pfa must lie in"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), pfa=float("nan"))
    with pytest.raises(ValueError, match=f"more than the {MAX_H0_SAMPLES}"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), pfa=1e-9)
    with pytest.raises(ValueError, match=r"h0_samples \(for pfa 0.01\) must be an integer in \[1000, "):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), pfa=0.01, h0_samples=100)
    with pytest.raises(ValueError, match="h0_samples must be an integer in"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), h0_samples=10**10)  # would calibrate for an hour
    with pytest.raises(ValueError, match="seed must be an integer in"):
        cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), seed=-1)
    with pytest.raises(ValueError, match="within"):
        cpp_receivers.maprt_detector(2, [0.0, float("inf")])
    with pytest.raises(ValueError, match="2\\^26 table entries"):
        cpp_receivers.maprt_detector(4096, (), (-90.0, 90.0), "statistic", 1.0, fine_step_u=4e-8)
    with pytest.raises(ValueError, match="fine_step_u"):
        cpp.MaprtSearch(nominal_positions(4), -0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="K = len"):
        cpp.MaprtSearch(nominal_positions(4), -0.1, 0.1).search(np.zeros((3, 5), np.complex64))
    det = cpp_receivers.maprt_detector(16, (), (-20.0, 20.0), "statistic", 1.0)
    with pytest.raises(ValueError, match="sector"):
        det.set_sector((30.0, 10.0))
    assert det.sector_deg() == (-20.0, 20.0)
