import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.array import nominal_positions, steering
from isac_ae.baselines import MaprtDetector
from isac_ae.channels import RadarChannel
from isac_ae.theory import angle_crb

from .helpers import Z


def _assert_matches_fine_grid(detector, z):
    fast, ref = detector(z), detector.fine(z)
    np.testing.assert_allclose(fast.statistic.numpy(), ref.statistic.numpy(), rtol=1e-5)
    # Different argmax only on numerical ties: both grid points give the same statistic.
    differ = torch.nonzero(fast.index != ref.index).flatten()
    if len(differ):
        all_stats = detector.fine_statistics(z[differ])
        tie = all_stats.gather(1, fast.index[differ].unsqueeze(1)).squeeze(1)
        np.testing.assert_allclose(tie.numpy(), ref.statistic[differ].numpy(), rtol=1e-5)
    return len(differ) / len(z)


@pytest.mark.parametrize("spacing_std", [0.0, 1 / 30])
def test_coarse_to_fine_equals_fine_grid(spacing_std, generator):
    sc = Scenario(spacing_std=spacing_std, impairment_seed=2)
    detector = MaprtDetector(sc.true_positions(), sc.target_sector_rad)
    y = torch.as_tensor(np.conj(np.exp(-1j * np.pi * np.arange(16) * 0.1)) / 4, dtype=torch.complex64).expand(20000, -1)
    for target in (False, True):  # noise-only draws are the hard case: many near-equal lobes
        tie_rate = _assert_matches_fine_grid(detector, RadarChannel(sc)(y, generator, target=target).z)
        assert tie_rate < 0.05


def test_degenerate_and_wide_sectors(generator):
    z = torch.randn(500, 16, dtype=torch.complex64, generator=generator)
    for sector in ((0.2, 0.2), (-1.5, 1.5), (0.0, 0.01)):
        detector = MaprtDetector(nominal_positions(16), sector)
        _assert_matches_fine_grid(detector, z)
        assert detector(z).theta.min() >= sector[0] - 1e-6 and detector(z).theta.max() <= sector[1] + 1e-6


def test_statistic_is_the_beamscan_peak(generator):
    """Brute force: |a(theta)^H z|^2 on a dense theta grid never beats the detector by more than grid error."""
    detector = MaprtDetector(nominal_positions(16), np.deg2rad((-20, 20)))
    z = torch.randn(200, 16, dtype=torch.complex128, generator=generator)
    thetas = torch.linspace(math.radians(-20), math.radians(20), 20001, dtype=torch.float64)
    a = steering(torch.as_tensor(nominal_positions(16)), thetas)  # (T, K)
    brute = (z @ a.conj().T).abs().square().max(dim=1).values
    out = detector(z)
    assert torch.all(out.statistic.double() <= brute * (1 + 1e-5))
    assert torch.all(out.statistic.double() >= brute * (1 - 1e-4))


@pytest.mark.parametrize("theta_deg", [-12.0, 0.0, 17.0])
def test_aoa_estimate_is_unbiased_and_efficient_at_high_snr(theta_deg, generator):
    """At high SNR the beamscan (= conditional ML) estimate reaches the CRB."""
    n, snr = 4000, 10.0  # |s|^2 / N0 per element; 22 dB after the 16-element array gain
    p = nominal_positions(16)
    theta = math.radians(theta_deg)
    a = steering(torch.as_tensor(p, dtype=torch.float32), torch.tensor(theta))
    phase = torch.rand(n, generator=generator) * 2 * math.pi
    s = math.sqrt(snr) * torch.polar(torch.ones(n), phase)
    z = s.unsqueeze(1) * a + torch.randn(n, 16, dtype=torch.complex64, generator=generator)
    errors = (MaprtDetector(p, np.deg2rad((-20, 20)))(z).theta.double() - theta).numpy()
    crb = angle_crb(p, theta, snr)
    assert abs(errors.mean()) < Z * math.sqrt(crb / n)
    # Sample MSE / CRB has relative standard deviation sqrt(2 / n) for Gaussian errors.
    assert abs(np.mean(errors**2) / crb - 1.0) < Z * math.sqrt(2.0 / n)


def _brute_force_beamscan(z: np.ndarray, positions, sector_deg, points: int = 40001) -> np.ndarray:
    """Independent reference: argmax over a dense theta grid of |a(theta)^H z|^2, NumPy float64."""
    thetas = np.deg2rad(np.linspace(*sector_deg, points))
    a = np.exp(-2j * np.pi * np.outer(np.sin(thetas), positions))  # (T, K)
    return thetas[np.argmax(np.abs(z @ a.conj().T) ** 2, axis=1)]


@pytest.mark.parametrize("snr", [0.0, 0.05])
def test_low_snr_estimates_equal_an_independent_brute_force_search(snr, generator):
    """In the threshold region (outliers dominate, the CRB says nothing) the estimator must still be the
    beamscan maximiser: compared draw by draw with a dense-grid search written independently in NumPy."""
    n, theta = 2000, 0.1
    p = nominal_positions(16)
    a = steering(torch.as_tensor(p, dtype=torch.float64), torch.tensor(theta, dtype=torch.float64))
    z = math.sqrt(snr) * a + torch.randn(n, 16, dtype=torch.complex128, generator=generator)
    estimate = MaprtDetector(p, np.deg2rad((-20, 20)))(z).theta.double().numpy()
    reference = _brute_force_beamscan(z.numpy(), p, (-20, 20))
    # Both grids resolve ~1e-3 deg; a larger gap is a different lobe, allowed only on near-ties.
    far = np.abs(estimate - reference) > np.deg2rad(0.01)
    assert far.mean() < 0.005
    errors = estimate - theta
    if snr > 0:
        assert np.mean(errors**2) > 10 * angle_crb(p, theta, snr)  # outliers dominate here
    np.testing.assert_allclose(np.mean(errors[~far] ** 2), np.mean((reference - theta)[~far] ** 2), rtol=1e-3)


@pytest.mark.parametrize("theta_deg", [-13.0, 12.0])
def test_radar_channel_draws_reach_the_crb_at_their_true_angle(theta_deg, generator):
    """RadarChannel's echo comes from theta itself: MAPRT estimates on its draws are unbiased and
    efficient given each draw's realised gain. A channel that used a(-theta) or a conjugated response
    would put the estimates near -theta (errors of ~25 deg) and fail."""
    n = 4000
    sc = Scenario(snr_radar_db=10.0, target_sector_deg=(theta_deg, theta_deg))  # a known, fixed angle
    theta = math.radians(theta_deg)
    p = sc.nominal_positions()
    a = steering(torch.as_tensor(p, dtype=torch.float32), torch.tensor(theta))
    beam = a.conj() / 4.0  # unit norm, pointed at the target: a^T v = sqrt(K)
    draw = RadarChannel(sc)(beam.expand(n, -1), generator, target=True)
    estimate = MaprtDetector(p, np.deg2rad((-20, 20)))(draw.z).theta.double().numpy()
    snr = (draw.alpha.abs().square() * 16.0).double().numpy()  # |alpha a^T v|^2 / N0 per draw
    keep = 16 * snr >= 100.0  # 20 dB after the array gain: out of the threshold region
    errors = estimate[keep] - theta
    crb = np.array([angle_crb(p, theta, s) for s in snr[keep]])
    normalised = errors / np.sqrt(crb)  # ~ N(0, 1) for an efficient, unbiased estimator
    m = len(normalised)
    assert m > 0.9 * n
    assert abs(normalised.mean()) < Z / math.sqrt(m)
    assert abs(np.mean(normalised**2) - 1.0) < Z * math.sqrt(2.0 / m)


def test_crb_matches_numerical_fisher_information():
    p = nominal_positions(16) + np.random.default_rng(0).normal(0, 0.03, 16)
    theta, snr, h = 0.3, 2.0, 1e-6
    a = lambda t: np.exp(-2j * np.pi * p * np.sin(t))  # noqa: E731
    da = (a(theta + h) - a(theta - h)) / (2 * h)
    projected = da - a(theta) * (a(theta).conj() @ da) / len(p)
    fisher = 2 * snr * np.vdot(projected, projected).real
    assert angle_crb(p, theta, snr) == pytest.approx(1 / fisher, rel=1e-6)
    # Nominal ULA closed form: pi^2 cos^2 snr K (K^2 - 1) / 6.
    assert angle_crb(nominal_positions(16), theta, snr) == pytest.approx(
        6 / (np.pi**2 * np.cos(theta) ** 2 * snr * 16 * 255)
    )
