import numpy as np
import pytest
from scipy import integrate

from isac_ae.array import beampattern, nominal_positions, steering_matrix
from isac_ae.baselines import isac_beam, ls_beam, qam_constellation
from isac_ae.baselines.beams import DEFAULT_SYNTHESIS_GRID

P = nominal_positions(16)


def _energy_fraction(beam, lo, hi):
    inside, _ = integrate.quad(lambda t: beampattern(P, beam, [t])[0], lo, hi, limit=200)
    total, _ = integrate.quad(lambda t: beampattern(P, beam, [t])[0], -np.pi / 2, np.pi / 2, limit=400)
    return inside / total


@pytest.mark.parametrize("sector_deg", [(-20, 20), (30, 50)])
def test_ls_beam_puts_most_energy_in_its_sector(sector_deg):
    lo, hi = np.deg2rad(sector_deg)
    beam = ls_beam(P, (lo, hi))
    assert np.linalg.norm(beam) == pytest.approx(1.0)
    # The sector spans a small part of the half-space but gets most of the energy:
    # over 60 %, and over 2.5 times what an isotropic pattern would put there.
    share = _energy_fraction(beam, lo, hi)
    assert share > 0.6 and share > 2.5 * (hi - lo) / np.pi, share
    # Inside the sector the pattern is flat to within a few dB.
    inner = beampattern(P, beam, np.linspace(lo + 0.03, hi - 0.03, 50))
    assert inner.max() / inner.min() < 2.5


def test_ls_beam_is_the_normal_equation_solution():
    lo, hi = np.deg2rad((30, 50))
    a = steering_matrix(P, DEFAULT_SYNTHESIS_GRID)
    b = np.where((DEFAULT_SYNTHESIS_GRID >= lo) & (DEFAULT_SYNTHESIS_GRID <= hi), 16.0, 0.0)
    y = np.linalg.solve(a.conj() @ a.T, a.conj() @ b)  # (A^* A^T)^{-1} A^* b, eq. (9)
    np.testing.assert_allclose(ls_beam(P, (lo, hi)), y / np.linalg.norm(y), atol=1e-9)


def test_isac_beam_limits_and_norm():
    yr, yc = ls_beam(P, np.deg2rad((-20, 20))), ls_beam(P, np.deg2rad((30, 50)))
    np.testing.assert_allclose(isac_beam(yr, yc, 1.0, 0.3), yr)
    np.testing.assert_allclose(isac_beam(yr, yc, 0.0, 0.3), np.exp(0.3j) * yc)
    for rho in (0.1, 0.5, 0.9):
        assert np.linalg.norm(isac_beam(yr, yc, rho, 1.0, energy=2.0)) ** 2 == pytest.approx(2.0)
    with pytest.raises(ValueError, match="rho"):
        isac_beam(yr, yc, 1.2, 0.0)


def test_qam_constellation():
    x = qam_constellation(4)
    assert np.mean(np.abs(x) ** 2) == pytest.approx(1.0)
    np.testing.assert_allclose(
        np.sort_complex(x), np.sort_complex(np.array([-1 - 1j, -1 + 1j, 1 - 1j, 1 + 1j]) / np.sqrt(2))
    )
    assert np.mean(np.abs(qam_constellation(16)) ** 2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="square"):
        qam_constellation(8)
