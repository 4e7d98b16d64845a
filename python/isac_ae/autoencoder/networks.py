"""The six networks of Table I and the transmitter's normalisation layer.

Widths derive from K and |M| as in Table I; hidden layers use ReLU. Complex
quantities enter and leave as [real parts, imaginary parts]. Where Table I's
output activation would harm training, the network returns the quantity before
it and the loss applies the activation in a numerically safe form:

* the presence detector returns a logit (q = sigmoid(logit), BCE with logits);
* the comm receiver returns logits (softmax inside the cross-entropy);
* the uncertainty estimator returns sigma = softplus(.) + SIGMA_FLOOR instead of
  a bare ReLU, which can output exactly 0 and make the NLL explode (DESIGN.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Smallest predicted AoA standard deviation, radians (0.001°): keeps log(sigma)
#: and 1/sigma^2 in the NLL finite whatever the network outputs.
SIGMA_FLOOR = math.radians(1e-3)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Fully connected layers of the given widths, ReLU between them, linear output."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def complex_to_real(z: torch.Tensor) -> torch.Tensor:
    """(..., n) complex -> (..., 2n) real: [Re z, Im z]."""
    return torch.cat([z.real, z.imag], dim=-1)


def real_to_complex(x: torch.Tensor) -> torch.Tensor:
    """(..., 2n) real -> (..., n) complex, the inverse of :func:`complex_to_real`."""
    n = x.shape[-1] // 2
    return torch.complex(x[..., :n], x[..., n:])


class Encoder(nn.Module):
    """f_epsilon: message index -> constellation point x(m), (N,) complex. Table I: |M| -> (K, K, 2K) -> 2."""

    def __init__(self, num_antennas: int, num_messages: int):
        super().__init__()
        k = num_antennas
        self.num_messages = num_messages
        self.net = mlp([num_messages, k, k, 2 * k, 2])

    def forward(self, messages: torch.Tensor) -> torch.Tensor:
        one_hot = nn.functional.one_hot(messages, self.num_messages).to(self.net[0].weight.dtype)
        return real_to_complex(self.net(one_hot)).squeeze(-1)


class Beamformer(nn.Module):
    """f_mu: Theta = [theta_min, theta_max, vartheta_min, vartheta_max] (radians) -> v, (..., K) complex.

    Table I: 4 -> (K, K, 2K) -> K complex outputs, i.e. 2K reals (DESIGN.md).
    """

    def __init__(self, num_antennas: int):
        super().__init__()
        k = num_antennas
        self.net = mlp([4, k, k, 2 * k, 2 * k])

    def forward(self, sectors: torch.Tensor) -> torch.Tensor:
        return real_to_complex(self.net(sectors))


class RadarHead(nn.Module):
    """Shared shape of the three radar networks: z_r (N, K) complex -> (N,) real. Table I: 2K -> (2K, 2K, K) -> 1."""

    def __init__(self, num_antennas: int):
        super().__init__()
        k = num_antennas
        self.net = mlp([2 * k, 2 * k, 2 * k, k, 1])

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(complex_to_real(z)).squeeze(-1)


class PresenceDetector(RadarHead):
    """f_rho: returns the logit of q = p(target | z_r)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.features(z)


class AngleEstimator(RadarHead):
    """f_nu: returns theta_hat in (-pi/2, pi/2) radians (tanh output scaled)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi * torch.tanh(self.features(z))


class UncertaintyEstimator(RadarHead):
    """f_sigma: returns sigma_hat >= SIGMA_FLOOR radians (softplus, see module docstring)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(self.features(z)) + SIGMA_FLOOR


class CommReceiver(nn.Module):
    """f_eta: CSI-equalised z_c / kappa, (N,) complex -> message logits (N, |M|). Table I: 2 -> (K, 2K, 2K) -> |M|."""

    def __init__(self, num_antennas: int, num_messages: int):
        super().__init__()
        k = num_antennas
        self.net = mlp([2, k, 2 * k, 2 * k, num_messages])

    def forward(self, equalised: torch.Tensor) -> torch.Tensor:
        return self.net(complex_to_real(equalised.unsqueeze(-1)))


def normalise_batch(y: torch.Tensor, energy: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale a batch of transmitted vectors (N, K) so that mean ||y||^2 = energy.

    Returns (scaled y, the scale). The scale is what a deployed transmitter
    freezes after training (DESIGN.md): constellation energies may differ,
    only their average is constrained.
    """
    scale = torch.sqrt(energy / y.abs().square().sum(-1).mean())
    return y * scale, scale
