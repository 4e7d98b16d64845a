"""A trained autoencoder member as an :class:`isac_ae.evaluation.IsacSystem`."""

from __future__ import annotations

import torch

from ..scenario import Scenario
from .model import Autoencoder, condition_inputs


class AutoencoderSystem:
    """Learned transmitter and receivers of one model (an ensemble of one member).

    The transmitter is evaluated once: its constellation (|M|,) and
    unit-energy beamformer (K,) are fixed after training, which is what a
    deployed transmitter does (one inference scale, fixed at training).
    A conditioned model runs at the trade-off point ``omega`` (required for it, refused for others); a
    sector-conditioned one also at ``scenario``'s sectors, whatever sectors it was trained around.
    """

    name = "autoencoder"

    def __init__(self, model: Autoencoder, scenario: Scenario, device="cpu", omega: float | None = None):
        if model.conditioned != (omega is not None):
            raise ValueError(
                "a conditioned model needs omega_r"
                if model.conditioned
                else "omega_r is an input of conditioned models only"
            )
        if omega is not None and not 0.0 <= omega <= 1.0:
            raise ValueError(f"omega_r must lie in [0, 1], got {omega}")
        if model.members != 1:
            raise ValueError(f"an AutoencoderSystem runs one model, got an ensemble of {model.members}")
        if (model.num_antennas, model.num_messages) != (scenario.num_antennas, scenario.num_messages):
            raise ValueError(
                f"model has K={model.num_antennas}, |M|={model.num_messages}; "
                f"scenario has K={scenario.num_antennas}, |M|={scenario.num_messages}"
            )
        self.scenario = scenario
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.omega = omega
        self.condition = None
        sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32, device=self.device)
        if omega is not None:
            omegas = torch.tensor([float(omega)], device=self.device)
            self.condition = condition_inputs(omegas, sectors[None] if model.sector_conditioned else None)
        with torch.no_grad():
            points, beam = self.model.transmitter(sectors, self.condition)
        self.constellation = points[0]
        self.beam = beam[0]

    def transmit(self, messages: torch.Tensor):
        """messages: (N,) int64 -> (y (N, K) complex, beamformer v (K,) complex)."""
        return self.constellation[messages].unsqueeze(-1) * self.beam, self.beam

    def radar_receive(self, z: torch.Tensor):
        """z: (N, K) -> (detection logit (N,), theta_hat (N,), sigma_hat (N,)), radians.

        The logit is the detection score: monotone in q = sigmoid(logit), so a
        threshold on it is a threshold on q, without q's float32 saturation at 1.
        """
        logit, theta, sigma = self.model.radar(z.unsqueeze(0), self.condition)
        return logit[0], theta[0], sigma[0]

    def radar_detect(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, K) -> the detection logit (N,) of :meth:`radar_receive`, without the estimators' cost."""
        return self.model.detector(self.model.radar_features(z.unsqueeze(0)), self.condition)[0]

    def radar_estimate(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z: (N, K) -> (theta_hat (N,), sigma_hat (N,)) of :meth:`radar_receive`, radians, without the detector."""
        x = self.model.radar_features(z.unsqueeze(0))
        return self.model.angle(x, self.condition)[0], self.model.uncertainty(x, self.condition)[0]

    def comm_logits(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """z, kappa: (N,) complex -> message logits (N, |M|) from the CSI-equalised z / kappa."""
        return self.model.comm((z / kappa).unsqueeze(0), self.condition)[0]

    def comm_receive(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """z, kappa: (N,) complex -> message estimates (N,) int64."""
        return self.comm_logits(z, kappa).argmax(-1)
