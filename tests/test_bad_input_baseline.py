"""The baseline refuses what it cannot build, with a clear ValueError instead of NaN beams or odd errors."""

import math

import numpy as np
import pytest

from isac_ae import Scenario
from isac_ae.baselines import BaselineSystem
from isac_ae.baselines.beams import isac_beam, ls_beam, qam_constellation


@pytest.mark.parametrize("num_messages", [2, 3, 8, 32, 128])
def test_non_square_qam_is_refused(num_messages):
    with pytest.raises(ValueError, match=rf"square \|M\|.*got {num_messages}"):
        qam_constellation(num_messages)
    with pytest.raises(ValueError, match="square"):
        BaselineSystem(Scenario(num_messages=num_messages), 0.5, 0.0)


@pytest.mark.parametrize("phi", [math.inf, -math.inf, math.nan])
def test_non_finite_phase_is_refused(phi):
    positions = 0.5 * np.arange(16)
    radar, comm = ls_beam(positions, np.radians([-20, 20])), ls_beam(positions, np.radians([30, 50]))
    with pytest.raises(ValueError, match="phi must be finite"):
        isac_beam(radar, comm, 0.5, phi)


@pytest.mark.parametrize("rho", [-0.1, 1.1, math.nan])
def test_rho_outside_the_unit_interval_is_refused(rho):
    with pytest.raises(ValueError, match=r"rho must lie in \[0, 1\]"):
        BaselineSystem(Scenario(), rho, 0.0)
