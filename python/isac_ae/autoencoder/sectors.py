"""Training over a distribution of sectors: what a sector-conditioned autoencoder learns from.

A sector-conditioned model (:attr:`Autoencoder.sector_conditioned`) takes the
target sector [theta_min, theta_max] and the comm sector [vartheta_min,
vartheta_max] as inputs of all six networks, next to omega_r
(:func:`~isac_ae.autoencoder.model.condition_inputs`). Every training step
draws C sector pairs from a :class:`SectorDistribution` and passes one batch
through the channels of eq. (1) and (2) with each condition's angles drawn in
its own sectors (:class:`SectorChannels`): the same uniform variate u maps to
theta_c = theta_min,c + u (theta_max,c - theta_min,c) for every condition, so
the C conditions share their draws as an ensemble's members do.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..array import steering
from ..channels import Beamformed, CommDraw, RadarDraw, complex_normal
from ..scenario import Scenario

__all__ = ["SectorChannels", "SectorDistribution"]


@dataclass(frozen=True)
class SectorDistribution:
    """Sector pairs a sector-conditioned model trains on, degrees.

    Each sector's width is uniform in its range and its centre uniform over the positions that keep it
    inside [-span, span]; the two sectors are independent (they may overlap). The default holds the
    paper's sectors (target [-20, 20], comm [30, 50]) well inside, and leaves out what a sector model is
    then asked to generalise to: sectors wider than the widest drawn, or reaching beyond +-span.
    """

    target_width_deg: tuple[float, float] = (10.0, 50.0)
    comm_width_deg: tuple[float, float] = (10.0, 30.0)
    span_deg: float = 60.0

    def __post_init__(self):
        for name in ("target_width_deg", "comm_width_deg"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high <= 2.0 * self.span_deg:
                raise ValueError(f"{name} must satisfy 0 < low <= high <= 2 span, got {(low, high)}")
        if not 0.0 < self.span_deg <= 90.0:
            raise ValueError(f"span_deg must lie in (0, 90], got {self.span_deg}")

    def __str__(self) -> str:
        (t0, t1), (c0, c1) = self.target_width_deg, self.comm_width_deg
        return (
            f"target sectors {t0:g}-{t1:g} deg wide, comm sectors {c0:g}-{c1:g} deg wide, within "
            f"+-{self.span_deg:g} deg"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict) -> "SectorDistribution":
        return cls(tuple(data["target_width_deg"]), tuple(data["comm_width_deg"]), float(data["span_deg"]))

    def contains(self, scenario: Scenario) -> bool:
        """Whether ``scenario``'s two sectors are pairs this distribution draws."""
        inside = []
        for (low, high), widths in (
            (scenario.target_sector_deg, self.target_width_deg),
            (scenario.comm_sector_deg, self.comm_width_deg),
        ):
            inside.append(widths[0] <= high - low <= widths[1] and -self.span_deg <= low and high <= self.span_deg)
        return all(inside)

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` sector pairs, (count, 4) radians [theta_min, theta_max, vartheta_min, vartheta_max]."""
        u = torch.rand(count, 4, generator=generator, device=generator.device).cpu().double()
        columns = []
        for i, (low, high) in enumerate((self.target_width_deg, self.comm_width_deg)):
            width = low + (high - low) * u[:, 2 * i]
            first = -self.span_deg + (2.0 * self.span_deg - width) * u[:, 2 * i + 1]
            columns += [first, first + width]
        return torch.stack(columns, dim=-1).mul(math.pi / 180.0).float()


class SectorChannels:
    """Eq. (1) and (2) on ``scenario``'s true element positions, each condition's angles in its own sectors.

    Only the positions-only array (the paper's model) is supported: a twin's gains and coupling train
    through :class:`isac_ae.channels.Channels` at fixed sectors.
    """

    def __init__(self, scenario: Scenario, device="cpu"):
        self.scenario = scenario
        self.device = torch.device(device)
        self.positions = torch.as_tensor(scenario.true_positions(), dtype=torch.float32, device=self.device)

    @staticmethod
    def _angles(u: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """u (N,) in [0, 1) -> (C, N) angles, low + u (high - low) per condition (low, high: (C,))."""
        return low.unsqueeze(-1) + u * (high - low).unsqueeze(-1)

    def radar_grouped(self, y: Beamformed, sectors: torch.Tensor, generator: torch.Generator) -> RadarDraw:
        """A training batch of ``y`` (C conditions) with the present targets first (as
        :meth:`isac_ae.channels.RadarChannel.draw_grouped`); theta (C, N), z (C, N, K)."""
        sc, n, dev = self.scenario, y.shape[-2], self.device
        present = torch.binomial(torch.tensor(float(n), device=dev), torch.tensor(sc.p_target, device=dev), generator)
        t = torch.arange(n, device=dev) < present
        theta = self._angles(torch.rand(n, generator=generator, device=dev), sectors[:, 0], sectors[:, 1])
        alpha = complex_normal(n, sc.radar_gain_var, generator, dev, y.dtype)
        noise = complex_normal(y.shape[-2:], sc.noise_power, generator, dev, y.dtype)
        a = steering(self.positions, theta)  # (C, N, K)
        echo = (alpha * t) * y.symbols * (a @ y.beam.unsqueeze(-1)).squeeze(-1)
        return RadarDraw(z=echo.unsqueeze(-1) * a + noise, target=t, theta=theta, alpha=alpha)

    def comm(self, y: Beamformed, sectors: torch.Tensor, generator: torch.Generator) -> CommDraw:
        """The comm receiver's z and CSI kappa for ``y`` (C conditions), vartheta (C, N)."""
        sc, n, dev = self.scenario, y.shape[-2], self.device
        vartheta = self._angles(torch.rand(n, generator=generator, device=dev), sectors[:, 2], sectors[:, 3])
        beta = complex_normal(n, sc.comm_gain_var, generator, dev, y.dtype)
        noise = complex_normal(n, sc.noise_power, generator, dev, y.dtype)
        kappa = beta * (steering(self.positions, vartheta) @ y.beam.unsqueeze(-1)).squeeze(-1)
        return CommDraw(z=kappa * y.symbols + noise, kappa=kappa, vartheta=vartheta, beta=beta)
