import math

import pytest
import torch

from isac_ae import Scenario
from isac_ae.array import beampattern
from isac_ae.baselines import BaselineSystem, ml_detect, qam_constellation
from isac_ae.evaluation import evaluate
from isac_ae.theory import qpsk_ser_rayleigh

from .helpers import proportion_tolerance


def test_ml_detector_is_nearest_point_after_equalisation(generator):
    x = torch.as_tensor(qam_constellation(4), dtype=torch.complex64)
    z = torch.randn(1000, dtype=torch.complex64, generator=generator)
    kappa = torch.randn(1000, dtype=torch.complex64, generator=generator)
    nearest = ((z / kappa).unsqueeze(-1) - x).abs().argmin(-1)
    assert torch.equal(ml_detect(z, kappa, x), nearest)
    assert torch.equal(ml_detect(x[[2, 0, 3]] * 2j, torch.full((3,), 2j), x), torch.tensor([2, 0, 3]))


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_ser_matches_rayleigh_closed_form_for_a_fixed_beam_gain(rho):
    """A zero-width comm sector fixes |a(vartheta)^T v|^2; the SER is then the Rayleigh 4-QAM average."""
    sc = Scenario(snr_comm_db=10.0, comm_sector_deg=(40.0, 40.0))
    system = BaselineSystem(sc, rho, 0.0)
    gain = beampattern(sc.nominal_positions(), system.beam.numpy().astype(complex), [math.radians(40.0)])[0]
    expected = qpsk_ser_rayleigh(sc.comm_gain_var * gain / sc.noise_power)
    n = 200_000
    result = evaluate(system, n, seed=3, threshold=0.0)
    assert abs(result.ser - expected) < proportion_tolerance(expected, n), (result.ser, expected)


def test_rayleigh_ser_reference_against_closed_form():
    # Closed form for QPSK with CSI in Rayleigh fading (Simon & Alouini, eq. 8.111 with M = 4):
    # Ps = 2 q - q^2-term, q = (1 - mu) / 2, E[Q^2] = 1/4 - mu/pi * arctan(1/mu), mu = sqrt(g / (2 + g)).
    for mean_snr in (0.5, 10.0, 300.0):
        mu = math.sqrt(mean_snr / (2 + mean_snr))
        closed = (1 - mu) - (0.25 - mu / math.pi * math.atan(1 / mu))
        assert qpsk_ser_rayleigh(mean_snr) == pytest.approx(closed, rel=1e-6)
