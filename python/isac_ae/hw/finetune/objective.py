"""The paper's ISAC loss per snapshot: what the fine-tuning methods minimise and how they are compared.

J_ISAC of eq. (8) with the full radar loss J_NLL of eq. (6) (the staged
schedule's last stage) is a mean over snapshots of per-snapshot terms

    j_n = omega_r (BCE(q_n, t_n) + t_n (log sigma_n + (theta_n - theta_hat_n)^2 / (2 sigma_n^2)))
          + (1 - omega_r) CE(m_n),

so two models scored on the same draws (common random numbers) differ by a
mean of paired differences whose standard error is their standard deviation
over sqrt(N): the comparisons derive their margins from that.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ...autoencoder.losses import comm_loss, detection_loss, isac_loss, regression_nll
from ...autoencoder.model import Autoencoder
from ...channels import Beamformed, Channels
from ...evaluation import default_chunk
from ...scenario import Scenario


def isac_terms(
    model: Autoencoder,
    omega: float,
    z: torch.Tensor,
    target: torch.Tensor,
    theta: torch.Tensor,
    z_comm: torch.Tensor,
    kappa: torch.Tensor,
    messages: torch.Tensor,
) -> torch.Tensor:
    """Per-snapshot J_ISAC terms (N,) of a one-member ``model``'s receivers (differentiable).

    z: (N, K) radar snapshots; target: (N,) bool; theta: (N,) radians (any
    finite value where no target is present); z_comm, kappa: (N,) complex;
    messages: (N,) int64. Their mean is J_ISAC on these snapshots.
    """
    logit, theta_hat, sigma_hat = (out[0] for out in model.radar(z.unsqueeze(0)))
    logits = model.comm((z_comm / kappa).unsqueeze(0))[0]
    # The losses reduce over their last dimension: a trailing dimension of one keeps every snapshot's term.
    each = lambda x: x.unsqueeze(-1)  # noqa: E731
    radar = detection_loss(each(logit), each(target)) + regression_nll(
        each(theta_hat), each(sigma_hat), each(theta), each(target)
    )
    return isac_loss(radar, comm_loss(logits.unsqueeze(-2), each(messages)), omega)


@torch.inference_mode()
def heldout_terms(
    model: Autoencoder,
    scenario: Scenario,
    omega: float,
    channels: Channels,
    samples: int,
    seed: int,
    chunk: Optional[int] = None,
) -> np.ndarray:
    """Per-snapshot J_ISAC terms (samples,) float64 of ``model`` (transmitter and receivers) on fresh draws
    of ``channels`` (a twin's, or simulated ones through an array model).

    Equal seeds give every model the same messages and channel realisations
    (the channels draw them independently of the beam), so the terms of two
    models pair up snapshot by snapshot.
    """
    if samples < 1:
        raise ValueError(f"samples must be positive, got {samples}")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32, device=device)
    points, beam = model.transmitter(sectors)
    terms = []
    chunk = chunk or default_chunk(scenario.num_antennas)
    for start in range(0, samples, chunk):
        n = min(chunk, samples - start)
        messages = torch.randint(scenario.num_messages, (n,), generator=generator, device=device)
        y = Beamformed(points[0, messages], beam[0])
        rd = channels.radar(y, generator)
        cd = channels.comm(y, generator)
        terms.append(isac_terms(model, omega, rd.z, rd.target, rd.theta, cd.z, cd.kappa, messages).double().cpu())
    return torch.cat(terms).numpy()
