"""Maximum-likelihood comm detector with CSI, eq. (11)."""

from __future__ import annotations

import torch


def ml_detect(z: torch.Tensor, kappa: torch.Tensor, constellation: torch.Tensor) -> torch.Tensor:
    """Index of ``argmin_m |z - kappa x(m)|^2``.

    z, kappa: (N,) complex; constellation: (M,) complex. Returns (N,) int64.
    """
    distance = (z.unsqueeze(-1) - kappa.unsqueeze(-1) * constellation).abs().square()
    return distance.argmin(dim=-1)
