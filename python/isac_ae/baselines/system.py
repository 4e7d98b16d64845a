"""The model-based ISAC system: LS/ISAC beam + 4-QAM, MAPRT radar receiver, ML comm receiver.

As in the paper, the baseline is designed for the nominal lambda/2 array even
when the true array is impaired (Sec. IV-E): beams and search grid use the
nominal positions. Given a ``steering`` (:mod:`isac_ae.baselines.steering`) it
is designed for that array instead: a calibrated model, a measured steering
dictionary, or a twin's true array (the oracle).
"""

from __future__ import annotations

import torch

from ..scenario import Scenario
from .beams import isac_beam, ls_beam_for, qam_constellation
from .maprt import DictionaryMaprt, MaprtDetector
from .ml_detector import ml_detect
from .steering import PositionSteering


def design_maprt(scenario: Scenario, steering=None, device="cpu"):
    """The MAPRT detector a baseline designed for ``steering`` (None: the nominal array) uses."""
    if steering is None:
        return MaprtDetector(scenario.nominal_positions(), scenario.target_sector_rad, device=device)
    return DictionaryMaprt(steering.rx, scenario.target_sector_rad, device=device)


class BaselineSystem:
    """An :class:`isac_ae.evaluation.IsacSystem` built from the paper's benchmarks.

    rho: radar share of the ISAC beam, [0, 1]; phi_rad: relative phase of the
    comm beam, radians; steering: the array the beams and the MAPRT search
    are designed for (None: the nominal array, with the fast
    :class:`MaprtDetector`; otherwise :class:`DictionaryMaprt` on its RX
    manifold); maprt: a detector to share between systems of one design.
    """

    name = "baseline"

    def __init__(self, scenario: Scenario, rho: float, phi_rad: float, device="cpu", maprt=None, steering=None):
        self.scenario = scenario
        self.rho = float(rho)
        self.phi_rad = float(phi_rad)
        self.device = torch.device(device)
        if steering is not None and steering.num_elements != scenario.num_antennas:
            raise ValueError(f"the steering has K = {steering.num_elements}, the scenario K = {scenario.num_antennas}")
        tx = steering.tx if steering is not None else PositionSteering(scenario.nominal_positions()).tx
        self.radar_beam = ls_beam_for(tx, scenario.target_sector_rad)
        self.comm_beam = ls_beam_for(tx, scenario.comm_sector_rad)
        beam = isac_beam(self.radar_beam, self.comm_beam, self.rho, self.phi_rad)
        self.beam = torch.as_tensor(beam, dtype=torch.complex64, device=self.device)
        self.constellation = torch.as_tensor(
            qam_constellation(scenario.num_messages), dtype=torch.complex64, device=self.device
        )
        self.maprt = maprt or design_maprt(scenario, steering, device)

    def transmit(self, messages: torch.Tensor):
        """messages: (N,) int64 -> (y (N, K) complex, beamformer v (K,) complex)."""
        y = self.constellation[messages].unsqueeze(-1) * self.beam
        return y, self.beam

    def radar_receive(self, z: torch.Tensor):
        """z: (N, K) -> (detection score (N,), theta_hat (N,) radians, sigma_hat None)."""
        out = self.maprt(z)
        return out.statistic, out.theta, None

    def comm_receive(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """z, kappa: (N,) complex -> message estimates (N,) int64."""
        return ml_detect(z, kappa, self.constellation)
