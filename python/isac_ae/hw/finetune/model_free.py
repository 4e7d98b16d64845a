"""Fine-tuning method (c): model-free transmitter training, no channel model at all.

After Aoudia & Hoydis, "Model-free training of end-to-end communication
systems" (IEEE JSAC 2019): the transmitter learns from the values of the loss
that its perturbed transmissions produce at the receivers, and the receivers
learn by ordinary supervised training on what they received. Both go through
the core's channel seam only (:class:`isac_ae.channels.Channels`): a board
through :meth:`isac_ae.hw.link.OverTheAirLink.channels` (pyadi-iio, the
emulator) or a twin in process (``DigitalTwin.radar_channel`` /
``comm_channel``) runs the same code.

The transmitter, split by its gauge. The model sends y_n = x(m_n) v with
E|x|^2 ||v||^2 = 1: the unit-energy constellation c = x / s (the encoder's,
(|M|,), s = sqrt(E|x|^2)) on the unit beam u = v / ||v|| = s v (the
beamformer's, (K,)), two disjoint sets of weights; the estimates below are
of the gradient in c and u. The gauge s does not change y, but it is the
scale of what the comm receiver sees (z_c / kappa with kappa = beta a^T v is
x plus noise), so every transmission is sent in the model's own gauge,
x = s c on v = u / s, and the receivers train on that scale. (Sent as
c on u instead, a full-budget run ended with a receiver trained on symbols
of one scale and a model sending them at three times that: SER fine, cross
entropy ruined.) The estimates take s as fixed; its drift (the encoder's
weights move it as a side effect) is followed by the receivers' training.

The policy and the gradient estimates, one step:

* **Beam, per channel call.** A board sends a block of snapshots on *one*
  beam (``OverTheAirLink`` takes a (K,) beam per call), so the beam is
  perturbed per call, not per snapshot: ``pairs`` antithetic pairs
  u_p± = (u ± delta_p) / ||u ± delta_p|| with delta_p = sigma_b eps_p / sqrt(K),
  eps_p ~ CN(0, I_K) (so ||delta|| / ||u|| ~ sigma_b), one call of ``block``
  snapshots each. The zeroth-order (Gaussian smoothing) estimate of the
  gradient of F(u) = E[J(normalise(u + delta))] is
  g = (1/P) sum_p (J_p+ - J_p-) / 2 * delta_p / (sigma_b^2 / (2K)),
  unbiased for grad F (the real and imaginary parts of delta have variance
  sigma_b^2 / (2K)). J_p± is the call's mean per-snapshot J_ISAC minus a
  baseline per label (target present or not, the mean of the other pairs'
  snapshots of that label): over the air all snapshots of a link block share
  one scene, and whether it holds a target moves the call's mean far more
  than the beam does; the baseline is independent of eps_p, so the estimate
  stays unbiased.
* **Symbols, per snapshot** (as in Aoudia & Hoydis): x_n = sqrt(1 - sigma_s^2)
  c(m_n) + sigma_s w_n, w_n ~ CN(0, 1), so E|x|^2 = 1 still, and REINFORCE:
  the gradient of E[J] in c is estimated by the mean of
  (j_n - b_n) grad log pi(x_n | c(m_n)) with b_n the mean loss of the other
  snapshots of the same call, label and message (leave-one-out, so again
  unbiased), which removes the call's beam, the scene and the message.
* **Receivers**: after the transmitter's step, Adam on J_ISAC (eqs. (6)-(8),
  :func:`~isac_ae.hw.finetune.objective.isac_terms`) over the same step's
  snapshots with their labels, in minibatches: every snapshot sent serves both
  (on a board the snapshots are what costs), and with small sigmas the
  perturbed transmissions are what the receivers will see after the update, up
  to that perturbation.

The losses j_n are computed by the receivers as they are before the step's
updates. A comm frame the link loses (its CSI NaN: a deep fade) counts as a
uniform guess, log |M| nats, for its snapshots; the radar part stays.

Measured on the Quad-MxFE twin (seed 0, in process, block 1024, seed 0) from
the shipped nominal omega_r = 0.09 model; 1e5 held-out snapshots of the twin's
channels: J_ISAC 0.179 -> 0.019 (quick: 1.2 M snapshots in 1200 calls, 10 s
on a loaded 2-core machine) and -> -0.067 (full: 123 M snapshots in 120 000
calls, 17 min); Pd 0.092 -> 0.200 / 0.592, RMSE 15.7 -> 6.2 / 1.96 deg, SER
0.0137 -> 0.0078 / 0.0054 (Pfa 0.01). The same quick run with the
transmitter's step at zero (the receivers alone) ends at J_ISAC 0.036 (Pd
0.216, SER 0.0137): the transmitter's part is 0.017 +- 0.0006 of it, spent
on the comm side (omega_r = 0.09 weighs it eleven to one). Over the air each
call is a frame per scene; behind the emulator a call of 1024 snapshots in one
scene took 45 ms on the pluto2 twin and 0.24 s on the quadmxfe twin, so the
quick budget costs about 1 and 5 minutes of device time there, the full one
1.5 and 8 hours: the full budget is for a twin in process or a patient bench.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import torch

from ...autoencoder.losses import comm_loss
from ...autoencoder.model import NETWORKS, TRANSMITTER, Autoencoder
from ...autoencoder.modelfile import LoadedModel
from ...channels import Beamformed, Channels
from ...scenario import Scenario
from . import checkpoint as checkpoints
from .objective import isac_terms

METHOD = "model-free"
RECEIVERS = tuple(name for name in NETWORKS if name not in TRANSMITTER)
_RUN_FORMAT = "isac_ae.finetune_model_free/1"
_POLICY_STREAM, _CHANNEL_STREAM = 1, 2


@dataclass(frozen=True)
class ModelFreeBudget:
    """One run: ``steps`` steps of 2 ``pairs`` channel calls (``block`` snapshots each, set by the caller);
    the sigmas relative to the unit beam and the unit-energy symbols (beam: ||delta|| / ||u|| about
    beam_sigma; symbols: the perturbation's RMS, symbol_sigma^2 its share of the energy); Adam's step sizes
    for the transmitter and the receivers; the receivers' minibatch in snapshots."""

    steps: int
    pairs: int
    beam_sigma: float
    symbol_sigma: float
    transmitter_learning_rate: float
    receiver_learning_rate: float
    receiver_batch: int


_QUICK = ModelFreeBudget(
    steps=150,
    pairs=4,
    beam_sigma=0.3,
    symbol_sigma=0.15,
    transmitter_learning_rate=3e-3,
    receiver_learning_rate=1e-3,
    receiver_batch=2048,
)
BUDGETS = {"quick": _QUICK, "full": replace(_QUICK, steps=15_000)}  # full: only longer


@dataclass
class ModelFreeProgress:
    """After each step: the step, the snapshots and channel calls so far, the step's mean per-snapshot
    J_ISAC (nats, over its perturbed transmissions, before the updates) and the beam estimate's norm."""

    step: int
    steps: int
    snapshots: int
    calls: int
    loss: float
    beam_gradient_norm: float


class Perturbations(NamedTuple):
    """The policy's random draws of one step: eps (P, K) complex, per pair; w (2P, B) complex and
    messages (2P, B) int64, per call (calls 2p and 2p + 1 are pair p's + and -)."""

    eps: torch.Tensor
    w: torch.Tensor
    messages: torch.Tensor

    @staticmethod
    def draw(generator: torch.Generator, pairs: int, block: int, k: int, m: int) -> "Perturbations":
        return Perturbations(
            torch.randn(pairs, k, dtype=torch.complex64, generator=generator),
            torch.randn(2 * pairs, block, dtype=torch.complex64, generator=generator),
            torch.randint(m, (2 * pairs, block), generator=generator),
        )


def generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """(the policy's, the channels') generators of a run with ``seed``: two streams, so that the
    perturbations and messages do not depend on how many numbers a channel draws (a twin draws per
    snapshot, a link per scene)."""
    return (
        torch.Generator().manual_seed(seed * 4 + _POLICY_STREAM),
        torch.Generator().manual_seed(seed * 4 + _CHANNEL_STREAM),
    )


def unit_transmitter(model: Autoencoder, sectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The one-member model's transmitter as (unit-energy constellation c (|M|,), unit beam u (K,)), complex
    and differentiable, and its gauge s = sqrt(E|x|^2) (module docstring): it sends x = s c on v = u / s."""
    points, beam = model.transmitter(sectors)
    points, beam = points[0], beam[0]
    scale = points.abs().square().mean().sqrt()
    return points / scale, beam / beam.norm(), float(scale.detach())


def perturbed(
    constellation: torch.Tensor, beam: torch.Tensor, draws: Perturbations, plan: ModelFreeBudget, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The calls' beams (2P, K) and symbols (2P, B) for ``draws``, in the model's gauge ``scale`` (norm 1 / s,
    mean energy s^2), differentiable in ``constellation`` and ``beam`` (a test's pathwise gradient uses that)."""
    k = beam.shape[-1]
    delta = plan.beam_sigma / math.sqrt(k) * draws.eps
    shifted = torch.stack([beam + delta, beam - delta], 1).reshape(-1, k)  # + and - of each pair in a row
    beams = shifted / (scale * shifted.norm(dim=-1, keepdim=True))
    symbols = math.sqrt(1.0 - plan.symbol_sigma**2) * constellation[draws.messages] + plan.symbol_sigma * draws.w
    return beams, scale * symbols


def surrogate(
    constellation: torch.Tensor,
    beam: torch.Tensor,
    draws: Perturbations,
    plan: ModelFreeBudget,
    terms: torch.Tensor,
    target: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A scalar whose gradient in (constellation, beam) is the step's estimate of grad E[J_ISAC]
    (module docstring), and the beam estimate g (K,) complex (its real and imaginary parts).

    terms, target: (2P, B) per-snapshot losses and target labels of the calls of ``draws``.
    """
    pairs, k = draws.eps.shape
    terms, target = terms.detach().double(), target.bool()
    # Beam: each call's mean less the per-label baseline of the other pairs' snapshots.
    label_sum = torch.stack([(terms * (target == t)).reshape(pairs, -1).sum(-1) for t in (False, True)])
    label_count = torch.stack([(target == t).reshape(pairs, -1).sum(-1) for t in (False, True)]).double()
    others = (label_sum.sum(-1, keepdim=True) - label_sum) / (label_count.sum(-1, keepdim=True) - label_count)
    others = torch.nan_to_num(others)  # a label no other pair saw: no baseline for it
    baseline = torch.where(target, others[1].repeat_interleave(2)[:, None], others[0].repeat_interleave(2)[:, None])
    centred = (terms - baseline).mean(-1).reshape(pairs, 2)
    delta = (plan.beam_sigma / math.sqrt(k) * draws.eps).to(torch.complex128)
    variance = plan.beam_sigma**2 / (2 * k)
    g = ((centred[:, 0] - centred[:, 1]) / 2)[:, None] * delta / variance
    g = (g.mean(0)).to(beam.dtype)
    beam_part = (g.conj() * beam).real.sum()
    # Symbols: REINFORCE with a leave-one-out baseline per call, label and message.
    m = constellation.shape[-1]
    group = (torch.arange(2 * pairs)[:, None] * 2 + target.long()) * m + draws.messages
    sums = torch.zeros(4 * pairs * m, dtype=terms.dtype).index_add_(0, group.flatten(), terms.flatten())
    counts = torch.bincount(group.flatten(), minlength=4 * pairs * m).double()
    alone = counts[group] <= 1
    loo = torch.where(alone, terms, (sums[group] - terms) / (counts[group] - 1).clamp(min=1))
    advantage = (terms - loo).to(beam.real.dtype)
    shrink = math.sqrt(1.0 - plan.symbol_sigma**2)
    sent = (shrink * constellation.detach()[draws.messages] + plan.symbol_sigma * draws.w).detach()
    log_policy = -(sent - shrink * constellation[draws.messages]).abs().square() / plan.symbol_sigma**2
    symbol_part = (advantage * log_policy).mean()
    return beam_part + symbol_part, g.detach()


def snapshot_terms(model: Autoencoder, omega: float, z, target, theta, z_comm, kappa, messages) -> torch.Tensor:
    """Per-snapshot J_ISAC (N,) (:func:`isac_terms`), a comm snapshot whose frame was lost (CSI not finite)
    counted as a uniform guess, log |M| nats."""
    lost = ~(torch.isfinite(kappa) & torch.isfinite(z_comm))
    if not lost.any():
        return isac_terms(model, omega, z, target, theta, z_comm, kappa, messages)
    z_comm, kappa = torch.where(lost, 0, z_comm), torch.where(lost, 1, kappa)
    terms = isac_terms(model, omega, z, target, theta, z_comm, kappa, messages)
    logits = model.comm((z_comm / kappa).unsqueeze(0))[0]
    guessed = comm_loss(logits.unsqueeze(-2), messages.unsqueeze(-1))  # what the receiver's guess cost
    return torch.where(lost, terms + (1.0 - omega) * (math.log(model.num_messages) - guessed), terms)


def finetune_model_free(
    nominal: LoadedModel,
    channels: Channels,
    *,
    budget: str = "quick",
    seed: int = 0,
    checkpoint: Optional[str | Path] = None,
    checkpoint_every: int = 10,
    progress: Optional[Callable[[ModelFreeProgress], None]] = None,
    block: int = 1024,
    device: Optional[str] = None,
) -> tuple[Autoencoder, dict]:
    """Fine-tune ``nominal`` (transmitter and receivers) through ``channels`` without a channel model.

    channels: the radar and comm channels of a board (``OverTheAirLink(...).channels()``) or a twin; their
    scenario must be the model's. block: snapshots per channel call, i.e. per perturbed beam (on a link,
    a multiple of its own block keeps its scenes whole). seed: the policy's draws and the channels'
    generator (two streams). checkpoint: written every ``checkpoint_every`` steps and at the end; a later
    call with the same arguments resumes from it (through a twin in process it ends with the same weights
    as an uninterrupted run). progress: called after every step. device: the board's profile name, only
    recorded. Returns the one-member model (CPU, eval mode) and the metadata for its model file: method,
    device, budget, snapshots sent over the channel (the budget that matters on a board), channel calls,
    steps, seconds over all calls, the first and last steps' mean loss. ValueError (one line) for a model
    of another K or scenario than the channels', an unknown budget, a bad block, seed or checkpoint.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {tuple(BUDGETS)}, got {budget!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(block, bool) or not isinstance(block, int) or block < 2:
        raise ValueError(f"block must be an integer number of snapshots per call, at least 2, got {block!r}")
    plan = BUDGETS[budget]
    scenario = _check_scenario(nominal, channels)
    omega, k, m = nominal.omega, scenario.num_antennas, scenario.num_messages
    model = copy.deepcopy(nominal.model).cpu().train()
    transmitter = [p for name in TRANSMITTER for p in model.network(name).parameters()]
    receivers = [p for name in RECEIVERS for p in model.network(name).parameters()]
    tx_optimizer = torch.optim.Adam(transmitter, lr=plan.transmitter_learning_rate)
    rx_optimizer = torch.optim.Adam(receivers, lr=plan.receiver_learning_rate)
    policy, channel_generator = generators(seed)
    run = {
        "format": _RUN_FORMAT,
        "nominal": checkpoints.weights_digest(nominal.model),
        "scenario": scenario.to_dict(),
        "omega": omega,
        "budget": asdict(plan),
        "block": block,
        "seed": seed,
    }
    state = {"step": 0, "snapshots": 0, "calls": 0, "seconds": 0.0, "first_loss": None, "last_loss": None}
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        state = checkpoints.resume(
            ckpt,
            run,
            "model, scenario, budget, block or seed",
            model=model,
            tx_optimizer=tx_optimizer,
            rx_optimizer=rx_optimizer,
            policy=policy,
            channel_generator=channel_generator,
        )
    sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32)

    start = time.perf_counter()
    while state["step"] < plan.steps:
        draws = Perturbations.draw(policy, plan.pairs, block, k, m)
        constellation, beam, scale = unit_transmitter(model, sectors)
        beams, symbols = perturbed(constellation.detach(), beam.detach(), draws, plan, scale)
        received = []
        for j in range(2 * plan.pairs):
            y = Beamformed(symbols[j], beams[j])
            radar = channels.radar(y, channel_generator)
            comm = channels.comm(y, channel_generator)
            received.append((radar.z, radar.target, radar.theta, comm.z, comm.kappa, draws.messages[j]))
        data = [torch.stack(column) for column in zip(*received)]  # each (2P, B, ...)
        with torch.no_grad():
            terms = snapshot_terms(model, omega, *(d.flatten(0, 1) for d in data)).reshape(2 * plan.pairs, -1)
        target = data[1]
        estimate, g = surrogate(constellation, beam, draws, plan, terms, target)
        tx_optimizer.zero_grad(set_to_none=True)
        estimate.backward()
        tx_optimizer.step()
        _train_receivers(model, omega, [d.flatten(0, 1) for d in data], rx_optimizer, plan, policy)

        loss = float(terms.double().mean())
        state["step"] += 1
        state["snapshots"] += 2 * plan.pairs * block
        state["calls"] += 2 * plan.pairs
        state["first_loss"] = loss if state["first_loss"] is None else state["first_loss"]
        state["last_loss"] = loss
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise ValueError(f"fine-tuning diverged at step {state['step']} (non-finite weights)")
        if ckpt is not None and (state["step"] % checkpoint_every == 0 or state["step"] == plan.steps):
            state["seconds"] += time.perf_counter() - start
            start = time.perf_counter()
            checkpoints.save(
                ckpt,
                run,
                state,
                model=model,
                tx_optimizer=tx_optimizer,
                rx_optimizer=rx_optimizer,
                policy=policy,
                channel_generator=channel_generator,
            )
        if progress is not None:
            progress(
                ModelFreeProgress(
                    state["step"], plan.steps, state["snapshots"], state["calls"], loss, float(g.abs().norm())
                )
            )
    state["seconds"] += time.perf_counter() - start
    metadata = {
        "method": METHOD,
        "device": device,
        "omega": omega,
        "trained": {"transmitter": list(TRANSMITTER), "receivers": list(RECEIVERS)},
        "estimator": {
            "beam": "zeroth order: antithetic pairs of perturbed beams, one channel call each, baseline per label",
            "symbols": "REINFORCE per snapshot, leave-one-out baseline per call, label and message",
            "receivers": "supervised on J_ISAC over the same snapshots",
        },
        "budget": {"name": budget, **asdict(plan)},
        "block": block,
        "snapshots": state["snapshots"],
        "channel_calls": state["calls"],
        "steps": state["step"],
        "seconds": state["seconds"],
        "loss": {"first_step": state["first_loss"], "last_step": state["last_loss"]},
        "seed": seed,
        "nominal_weights_sha256": run["nominal"],
    }
    return model.eval(), metadata


def _check_scenario(nominal: LoadedModel, channels: Channels) -> Scenario:
    """The channels' scenario, after checking the model is one model of it (ValueError naming what differs)."""
    scenario = channels.radar.scenario
    model = nominal.model
    if model.num_antennas != scenario.num_antennas:
        raise ValueError(
            f"the model has K = {model.num_antennas} elements; the channels' scenario has "
            f"K = {scenario.num_antennas} (pick a model for K = {scenario.num_antennas})"
        )
    if model.members != 1 or model.num_messages != scenario.num_messages:
        raise ValueError(
            f"the model ({model.members} member(s), |M| = {model.num_messages}) is not one model of the "
            f"channels' scenario (|M| = {scenario.num_messages})"
        )
    here, there = nominal.scenario.to_dict(), scenario.to_dict()
    differences = [
        f"{key}: model {here[key]!r}, channels {there.get(key)!r}" for key in here if here[key] != there.get(key)
    ]
    if differences:
        raise ValueError(f"the model was trained for another scenario than the channels' ({'; '.join(differences)})")
    return scenario


def _train_receivers(model, omega, data, optimizer, plan, generator) -> None:
    """Adam on J_ISAC over the step's snapshots (``data``: the flattened columns) in shuffled minibatches."""
    order = torch.randperm(data[0].shape[0], generator=generator)
    for first in range(0, order.numel(), plan.receiver_batch):
        rows = order[first : first + plan.receiver_batch]
        loss = snapshot_terms(model, omega, *(d[rows] for d in data)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
