"""The autoencoder: the six networks together, with the transmitter's normalisation.

An :class:`Autoencoder` holds E independent members (one per omega_r of a
sweep, or one for a deployed model). Shapes carry the member dimension first.

A conditioned autoencoder (``conditions`` > 0, one member) takes omega_r as an
input of all six networks (:func:`omega_condition`) and reaches any point of
the trade-off by choosing it: every method takes ``condition`` (C, conditions)
and returns the C points' outputs in place of the members'. A sector-conditioned
one also takes the two sectors (:func:`sector_condition`), and its beamformer
reads each condition's own sectors.
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
#: omega_r's features (:func:`omega_condition`); the log term spreads the small omega_r where the front turns.
OMEGA_FEATURES = 2
_LOG_FLOOR = 1e-3
#: The sectors' features (:func:`sector_condition`).
SECTOR_FEATURES = 4


def omega_condition(omegas: torch.Tensor) -> torch.Tensor:
    """omega_r (C,) in [0, 1] -> network inputs (C, 2): [omega_r, (log10(omega_r + 1e-3) + 3) / 3], both in [0, 1]."""
    omegas = torch.as_tensor(omegas)
    return torch.stack([omegas, (torch.log10(omegas + _LOG_FLOOR) + 3.0) / 3.0], dim=-1)


def sector_condition(sectors: torch.Tensor) -> torch.Tensor:
    """Sectors (C, 4) radians [theta_min, theta_max, vartheta_min, vartheta_max] -> inputs (C, 4) in [-1, 1]."""
    return torch.as_tensor(sectors) / (0.5 * torch.pi)


def condition_inputs(omegas: torch.Tensor, sectors: torch.Tensor | None = None) -> torch.Tensor:
    """A conditioned model's inputs at omega_r (C,) (and, sector-conditioned, sectors (C, 4) radians):
    (C, OMEGA_FEATURES [+ SECTOR_FEATURES])."""
    features = omega_condition(omegas)
    if sectors is None:
        return features
    return torch.cat([features, sector_condition(sectors).to(features)], dim=-1)


class Autoencoder(nn.Module):
    """Encoder, beamformer, presence detector, angle and uncertainty estimators, comm receiver."""

    def __init__(
        self, num_antennas: int, num_messages: int, members: int = 1, conditions: int = 0, hidden_scale: int = 1
    ):
        super().__init__()
        if conditions and members != 1:
            raise ValueError(f"a conditioned autoencoder has one member, got {members}")
        self.num_antennas = num_antennas
        self.num_messages = num_messages
        self.members = members
        self.conditions = conditions
        self.hidden_scale = hidden_scale
        k, c, s = num_antennas, conditions, hidden_scale
        self.encoder = Encoder(k, num_messages, members, c, s)
        self.beamformer = Beamformer(k, members, c, s)
        self.detector = PresenceDetector(k, members, c, s)
        self.angle = AngleEstimator(k, members, c, s)
        self.uncertainty = UncertaintyEstimator(k, members, c, s)
        self.comm = CommReceiver(k, num_messages, members, c, s)

    @property
    def conditioned(self) -> bool:
        return self.conditions > 0

    @property
    def sector_conditioned(self) -> bool:
        """Whether the sectors are inputs too (their features follow omega_r's)."""
        return self.conditions == OMEGA_FEATURES + SECTOR_FEATURES

    def network(self, name: str) -> nn.Module:
        if name not in NETWORKS:
            raise KeyError(f"unknown network {name!r}; expected one of {NETWORKS}")
        return getattr(self, name)

    def transmitter(self, sectors: torch.Tensor, condition=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Constellation (E, |M|) and unit-energy beamformer (E, K), complex (C for C conditions).

        ``sectors``: (4,) radians, or (C, 4) one per condition (a sector-conditioned model).

        The normalisation layer scales v so that E||y||^2 = E|x(m)|^2 ||v||^2 = 1
        with the expectation over equiprobable messages: the exact limit of the
        batch normalisation of [32], so training and deployment use one scale
        and the constellation energies may differ (docs/ARCHITECTURE.md, Conventions).
        """
        points = self.encoder.constellation(condition)
        v = self.beamformer(sectors, condition)
        energy = points.abs().square().mean(-1) * v.abs().square().sum(-1)
        return points, v / energy.sqrt().unsqueeze(-1)

    @staticmethod
    def radar_features(z: torch.Tensor) -> torch.Tensor:
        """Radar network input: z (E, N, K) complex -> (E, N, 2K) real, interleaved (see RadarHead)."""
        return interleaved(z)

    def radar(self, z: torch.Tensor, condition=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (E, N, K) -> detection logit, theta_hat (radians), sigma_hat (radians), each (E, N)."""
        x = self.radar_features(z)
        return self.detector(x, condition), self.angle(x, condition), self.uncertainty(x, condition)

    def member(self, index: int) -> "Autoencoder":
        """A one-member copy of member ``index`` (what a model file stores)."""
        single = Autoencoder(self.num_antennas, self.num_messages, 1, self.conditions, self.hidden_scale)
        state = {k: v[index : index + 1].detach().clone() for k, v in self.state_dict().items()}
        single.load_state_dict(state)
        return single.to(next(self.parameters()).device)
