"""The autoencoder: the six networks together, with the transmitter's normalisation.

An :class:`Autoencoder` holds E independent members (one per omega_r of a
sweep, or one for a deployed model). Shapes carry the member dimension first.
"""

from __future__ import annotations

import torch
from torch import nn

from .networks import (
    AngleEstimator,
    Beamformer,
    CommReceiver,
    Encoder,
    PresenceDetector,
    UncertaintyEstimator,
    interleaved,
)

#: The networks of Table I by the name used in model files and stage definitions.
NETWORKS = ("encoder", "beamformer", "detector", "angle", "uncertainty", "comm")
TRANSMITTER = ("encoder", "beamformer")


class Autoencoder(nn.Module):
    """Encoder, beamformer, presence detector, angle and uncertainty estimators, comm receiver."""

    def __init__(self, num_antennas: int, num_messages: int, members: int = 1):
        super().__init__()
        self.num_antennas = num_antennas
        self.num_messages = num_messages
        self.members = members
        self.encoder = Encoder(num_antennas, num_messages, members)
        self.beamformer = Beamformer(num_antennas, members)
        self.detector = PresenceDetector(num_antennas, members)
        self.angle = AngleEstimator(num_antennas, members)
        self.uncertainty = UncertaintyEstimator(num_antennas, members)
        self.comm = CommReceiver(num_antennas, num_messages, members)

    def network(self, name: str) -> nn.Module:
        if name not in NETWORKS:
            raise KeyError(f"unknown network {name!r}; expected one of {NETWORKS}")
        return getattr(self, name)

    def transmitter(self, sectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Constellation (E, |M|) and unit-energy beamformer (E, K), complex.

        The normalisation layer scales v so that E||y||^2 = E|x(m)|^2 ||v||^2 = 1
        with the expectation over equiprobable messages: the exact limit of the
        batch normalisation of [32], so training and deployment use one scale
        and the constellation energies may differ (docs/ARCHITECTURE.md, Conventions).
        """
        points = self.encoder.constellation()
        v = self.beamformer(sectors)
        energy = points.abs().square().mean(-1) * v.abs().square().sum(-1)
        return points, v / energy.sqrt().unsqueeze(-1)

    @staticmethod
    def radar_features(z: torch.Tensor) -> torch.Tensor:
        """Radar network input: z (E, N, K) complex -> (E, N, 2K) real, interleaved (see RadarHead)."""
        return interleaved(z)

    def radar(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (E, N, K) -> detection logit, theta_hat (radians), sigma_hat (radians), each (E, N)."""
        x = self.radar_features(z)
        return self.detector(x), self.angle(x), self.uncertainty(x)

    def member(self, index: int) -> "Autoencoder":
        """A one-member copy of member ``index`` (what a model file stores)."""
        single = Autoencoder(self.num_antennas, self.num_messages, members=1)
        state = {k: v[index : index + 1].detach().clone() for k, v in self.state_dict().items()}
        single.load_state_dict(state)
        return single.to(next(self.parameters()).device)
