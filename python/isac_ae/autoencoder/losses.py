"""The losses of eqs. (3)-(8).

Every function reduces over the last (sample) dimension and keeps the leading
ones, so an ensemble's outputs (E, N) give one loss per member, shape (E,);
plain (N,) inputs give a scalar. Angles in radians. ``target`` is the presence
label t (bool or 0/1), broadcastable to the outputs.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def _present_mean(values: torch.Tensor, target, snapshots: Optional[int]) -> torch.Tensor:
    """sum(t * values) / N over the last dimension; N = ``snapshots`` or the rows given."""
    total = (target.to(values.dtype) * values).sum(-1)
    return total / (values.shape[-1] if snapshots is None else snapshots)


def detection_loss(logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """J_TD of eq. (3): binary cross-entropy of q = sigmoid(logit) against t."""
    t = target.to(logit.dtype).expand_as(logit)
    return nn.functional.binary_cross_entropy_with_logits(logit, t, reduction="none").mean(-1)


def regression_nll(theta_hat, sigma_hat, theta, target, snapshots: Optional[int] = None) -> torch.Tensor:
    """p(t=1) J_TR, the second term of eq. (6), with J_TR of eq. (4).

    The sample mean of ``t * (log sigma + (theta - theta_hat)^2 / (2 sigma^2))``
    estimates p(t=1) E[... | t=1] directly: absent targets contribute zero.
    ``snapshots``: the batch size N when the inputs hold only some of its rows
    (those with t = 1, the only ones that contribute).
    """
    nll = torch.log(sigma_hat) + (theta - theta_hat).square() / (2.0 * sigma_hat.square())
    return _present_mean(nll, target, snapshots)


def regression_mse(theta_hat, theta, target, snapshots: Optional[int] = None) -> torch.Tensor:
    """J_MSE = p(t=1) E[(theta_hat - theta)^2 | t=1], the first training stage's radar loss (Sec. III-C).

    ``snapshots`` as for :func:`regression_nll`.
    """
    return _present_mean((theta - theta_hat).square(), target, snapshots)


def radar_nll(logit, theta_hat, sigma_hat, theta, target) -> torch.Tensor:
    """J_NLL of eq. (6) = J_TD + p(t=1) J_TR."""
    return detection_loss(logit, target) + regression_nll(theta_hat, sigma_hat, theta, target)


def comm_loss(logits: torch.Tensor, messages: torch.Tensor) -> torch.Tensor:
    """J_CE of eq. (7): categorical cross-entropy of softmax(logits) (..., N, |M|) against m (N,)."""
    index = messages.expand(logits.shape[:-1]).unsqueeze(-1)
    # -log softmax(l)_m = logsumexp(l) - l_m, without the full log-softmax (slow over |M| = 4 on CPU)
    nll = torch.logsumexp(logits, dim=-1) - logits.gather(-1, index).squeeze(-1)
    return nll.mean(-1)


def isac_loss(radar: torch.Tensor, comm: torch.Tensor, omega) -> torch.Tensor:
    """J_ISAC of eq. (8) = omega_r J_radar + (1 - omega_r) J_CE; omega_r in [0, 1], scalar or per member."""
    omega = torch.as_tensor(omega, dtype=radar.dtype, device=radar.device)
    if torch.any((omega < 0) | (omega > 1)) or torch.any(torch.isnan(omega)):
        raise ValueError(f"omega_r must lie in [0, 1], got {omega.tolist()}")
    return omega * radar + (1.0 - omega) * comm
