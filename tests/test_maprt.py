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


def test_mse_exceeds_crb_at_low_snr(generator):
    n, snr, theta = 4000, 0.05, 0.1
    p = nominal_positions(16)
    a = steering(torch.as_tensor(p, dtype=torch.float32), torch.tensor(theta))
    z = math.sqrt(snr) * a + torch.randn(n, 16, dtype=torch.complex64, generator=generator)
    errors = MaprtDetector(p, np.deg2rad((-20, 20)))(z).theta.double().numpy() - theta
    assert np.mean(errors**2) > 2 * angle_crb(p, theta, snr)  # threshold region: outliers dominate


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
        6 / (np.pi**2 * np.cos(theta) ** 2 * snr * 16 * 255))
