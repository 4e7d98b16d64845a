"""The model-based ISAC system: LS/ISAC beam + 4-QAM, MAPRT radar receiver, ML comm receiver.

The baseline is designed for the nominal lambda/2 array even when the true
array is impaired (Sec. IV-E): beams and search grid use the nominal positions.
"""

from __future__ import annotations

import torch

from ..scenario import Scenario
from .beams import isac_beam, ls_beam, qam_constellation
from .maprt import MaprtDetector
from .ml_detector import ml_detect


class BaselineSystem:
    """An :class:`isac_ae.evaluation.IsacSystem` built from the paper's benchmarks.

    rho: radar share of the ISAC beam, [0, 1]; phi_rad: relative phase of the
    comm beam, radians.
    """

    name = "baseline"

    def __init__(self, scenario: Scenario, rho: float, phi_rad: float, device="cpu", maprt: MaprtDetector = None):
        self.scenario = scenario
        self.rho = float(rho)
        self.phi_rad = float(phi_rad)
        self.device = torch.device(device)
        positions = scenario.nominal_positions()
        self.radar_beam = ls_beam(positions, scenario.target_sector_rad)
        self.comm_beam = ls_beam(positions, scenario.comm_sector_rad)
        beam = isac_beam(self.radar_beam, self.comm_beam, self.rho, self.phi_rad)
        self.beam = torch.as_tensor(beam, dtype=torch.complex64, device=self.device)
        self.constellation = torch.as_tensor(
            qam_constellation(scenario.num_messages), dtype=torch.complex64, device=self.device
        )
        self.maprt = maprt or MaprtDetector(positions, scenario.target_sector_rad, device=device)

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
