"""Training of Sec. III-C: the three sequential stages, or plain joint training.

All omega_r values of a sweep train together as one ensemble (one member per
omega_r): every step draws one batch of messages and channel realisations,
pushes it through every member's transmitter and receivers with batched
matrix products, and sums the members' ISAC losses. The members' parameters
are disjoint and Adam is element-wise, so each member follows exactly the
updates it would get alone on the same draws; the batching only removes the
per-member Python and kernel-launch overhead and shares the channel draws.

Schedule ``paper`` (Sec. III-C): the transmitter (encoder, beamformer) and
the comm receiver train in every stage, plus

1. ``angle``: the angle estimator, radar loss J_MSE;
2. ``uncertainty``: the uncertainty estimator with the angle estimator frozen,
   radar loss p(t=1) J_TR;
3. ``detection``: the presence detector with both estimators frozen, radar loss J_TD.

The transmitter keeps changing in stages 2 and 3 while the angle estimator is
frozen, so the estimator ends up matched to a beam that is no longer sent: at
omega_r = 0.09 this alone triples the RMSE (docs/REPRODUCTION.md). Schedule
``staged`` (the default) therefore adds

4. ``receivers``: the transmitter frozen, all four receivers trained on
   J_ISAC with the full J_NLL of eq. (6); the last quarter of the stage runs
   at a tenth of the learning rate so the final weights do not carry Adam's
   step noise.

Schedule ``joint`` trains all six networks at once on J_ISAC with J_NLL.

A conditioned run (``TrainingConfig.conditioned`` = C > 0) trains one model
that takes omega_r as an input (:func:`~isac_ae.autoencoder.model.omega_condition`)
instead of an ensemble: every step draws C values of omega_r over
``omegas = (low, high)`` (:func:`draw_omegas`), runs the one set of weights at
all C on the same batch, and sums their J_ISAC, so it costs about what an
ensemble of C members costs. A sector-conditioned run
(``TrainingConfig.sector_conditioned``) also draws the C conditions' sectors
(:class:`~isac_ae.autoencoder.sectors.SectorDistribution`) and passes the batch
through :class:`~isac_ae.autoencoder.sectors.SectorChannels`.
Only the networks a stage's loss needs are evaluated. Each stage starts a
fresh Adam optimiser. A checkpoint holds the weights, the optimiser, the
position in the schedule and the random generator's state, so a resumed run
ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from ..channels import Beamformed, Channels, grouped
from ..scenario import Scenario
from .allocator import keep_freed_memory
from .losses import comm_loss, detection_loss, isac_loss, regression_mse, regression_nll
from .model import OMEGA_FEATURES, SECTOR_FEATURES, TRANSMITTER, Autoencoder, condition_inputs
from .sectors import SectorChannels, SectorDistribution


@dataclass(frozen=True)
class Stage:
    """One training stage: the radar networks it trains and the radar loss it uses."""

    name: str
    trains: tuple[str, ...]
    radar_loss: str  # "mse" | "regression" | "detection" | "nll"
    transmitter: bool = True
    anneal: bool = False  # last quarter of the stage at a tenth of the learning rate


RADAR_NETWORKS = ("detector", "angle", "uncertainty")
PAPER_STAGES = (
    Stage("angle", ("angle",), "mse"),
    Stage("uncertainty", ("uncertainty",), "regression"),
    Stage("detection", ("detector",), "detection"),
)
SCHEDULES = {
    "staged": PAPER_STAGES + (Stage("receivers", RADAR_NETWORKS, "nll", transmitter=False, anneal=True),),
    "paper": PAPER_STAGES,
    "joint": (Stage("joint", RADAR_NETWORKS, "nll"),),
}


def draw_omegas(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """``count`` omega_r in [low, high], (count,) float32: one per stratum of u in [0, 1), mapped by
    ``(1000^u - 1) / 999``, which puts a third of the draws below 0.01 of the range, where the front turns."""
    u = (torch.arange(count) + torch.rand(count, generator=generator, device=generator.device).cpu()) / count
    return low + (high - low) * (1000.0**u - 1.0) / 999.0


#: Samples per stage of each budget. ``paper``: 20 M per network (Sec. III-C).
BUDGETS = {"paper": 20_000_000, "quick": 2_000_000}


class TrainingError(Exception):
    """Bad training configuration or a checkpoint that belongs to another run."""


@dataclass(frozen=True)
class TrainingConfig:
    """What defines a training run (and must match to resume one)."""

    omegas: tuple[float, ...]
    samples_per_stage: int = BUDGETS["quick"]
    batch_size: int = 10_000
    learning_rate: float = 0.01
    schedule: str = "staged"
    seed: int = 0
    budget: str = "quick"
    conditioned: int = 0  # omega_r draws per step of a conditioned model; 0: an ensemble over omegas
    hidden_scale: int = 1  # hidden layers this many times Table I's width
    sector_conditioned: bool = False  # the sectors are inputs too, drawn from SectorDistribution()

    def __post_init__(self):
        if not self.omegas:
            raise TrainingError("at least one omega_r is needed")
        if self.conditioned < 0 or self.hidden_scale < 1:
            raise TrainingError("conditioned must be >= 0 and hidden_scale >= 1")
        if self.conditioned and not (len(self.omegas) == 2 and self.omegas[0] < self.omegas[1]):
            raise TrainingError(f"a conditioned model trains over omega_r in (low, high), got {list(self.omegas)}")
        if self.sector_conditioned and not self.conditioned:
            raise TrainingError("a sector-conditioned model is a conditioned one: give conditioned > 0")
        for w in self.omegas:
            if not (isinstance(w, (int, float)) and 0.0 <= w <= 1.0):
                raise TrainingError(f"omega_r must lie in [0, 1], got {w}")
        if self.schedule not in SCHEDULES:
            raise TrainingError(f"schedule must be one of {tuple(SCHEDULES)}, got {self.schedule!r}")
        if self.samples_per_stage < 1 or self.batch_size < 1:
            raise TrainingError("samples_per_stage and batch_size must be positive")
        if not self.learning_rate > 0:
            raise TrainingError(f"learning rate must be positive, got {self.learning_rate}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise TrainingError(f"seed must be an integer in [0, 2^63), got {self.seed!r}")

    @property
    def steps_per_stage(self) -> int:
        return math.ceil(self.samples_per_stage / self.batch_size)

    @property
    def stages(self) -> tuple[Stage, ...]:
        return SCHEDULES[self.schedule]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["omegas"] = list(self.omegas)
        return d


@dataclass
class StepReport:
    """What a progress display shows after each step. Losses are per member, shape (E,)."""

    stage: str
    stage_index: int
    step: int
    steps: int
    radar_loss: torch.Tensor
    comm_loss: torch.Tensor
    isac_loss: torch.Tensor = field(repr=False)


class Trainer:
    """Trains one ensemble (one member per omega_r) on ``scenario``'s true array.

    ``checkpoint``: a file written every ``checkpoint_every`` steps and at the
    end of every stage; if it exists when :meth:`run` starts, training resumes
    from it (after checking it belongs to the same scenario and configuration).
    At those same points the weights are checked: a member whose weights are
    no longer finite (too high a learning rate) stops training with a
    TrainingError, and the checkpoint keeps the last finite weights.
    ``scenario.p_target`` must lie in (0, 1): without both present and absent
    targets the detector has nothing to learn.
    """

    def __init__(
        self,
        scenario: Scenario,
        config: TrainingConfig,
        device="cpu",
        checkpoint: Optional[Path] = None,
        checkpoint_every: int = 100,
        channels: Optional[Channels] = None,
    ):
        if not 0.0 < scenario.p_target < 1.0:
            raise TrainingError(
                f"training needs 0 < p_target < 1 (targets present and absent), got {scenario.p_target}"
            )
        self.scenario = scenario
        self.config = config
        self.device = torch.device(device)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.checkpoint_every = checkpoint_every
        if self.device.type == "cpu":
            keep_freed_memory()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = Autoencoder(
                scenario.num_antennas,
                scenario.num_messages,
                members=1 if config.conditioned else len(config.omegas),
                conditions=(OMEGA_FEATURES + SECTOR_FEATURES * config.sector_conditioned) if config.conditioned else 0,
                hidden_scale=config.hidden_scale,
            )
        self.model.to(self.device)
        self.omegas = torch.tensor(config.omegas, dtype=torch.float32, device=self.device)
        self.sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32, device=self.device)
        if config.sector_conditioned and channels is not None:
            raise TrainingError("a sector-conditioned model trains on the simulated channels only")
        channels = channels or Channels.simulated(scenario, device=self.device)
        self.radar, self.comm = channels.radar, channels.comm
        self.sector_distribution = SectorDistribution() if config.sector_conditioned else None
        self.sector_channels = SectorChannels(scenario, self.device) if config.sector_conditioned else None
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self.stage_index = 0
        self.step = 0
        self._resumed = False
        self.optimizer = self._new_optimizer()

    # -- schedule ---------------------------------------------------------
    def _trainable(self, stage: Stage) -> list[str]:
        return [*(TRANSMITTER if stage.transmitter else ()), "comm", *stage.trains]

    def _new_optimizer(self) -> torch.optim.Optimizer:
        stage = self.config.stages[self.stage_index] if self.stage_index < len(self.config.stages) else None
        names = self._trainable(stage) if stage else []
        for name, module in self.model.named_children():
            module.requires_grad_(name in names)
        params = [p for p in self.model.parameters() if p.requires_grad] or [torch.zeros(1, requires_grad=True)]
        return torch.optim.Adam(params, lr=self.config.learning_rate)

    @property
    def finished(self) -> bool:
        return self.stage_index >= len(self.config.stages)

    # -- one step ---------------------------------------------------------
    def step_omegas(self) -> torch.Tensor:
        """The omega_r of the next step's losses: the members' (E,), or a conditioned model's draws (C,)."""
        if not self.config.conditioned:
            return self.omegas
        low, high = self.config.omegas
        return draw_omegas(self.config.conditioned, low, high, self.generator).to(self.device)

    def losses(self, stage: Stage, batch_size: int, omegas=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Radar and comm losses of every member (E,), or of a conditioned model at ``omegas`` (C,), on one
        fresh batch."""
        messages = torch.randint(
            self.scenario.num_messages, (batch_size,), generator=self.generator, device=self.device
        )
        if self.sector_distribution is not None:
            sectors = self.sector_distribution.draw(len(omegas), self.generator).to(self.device)
            condition = condition_inputs(omegas, sectors)
            points, v = self.model.transmitter(sectors, condition)
            y = Beamformed(points[:, messages], v)
            rd = self.sector_channels.radar_grouped(y, sectors, self.generator)
            cd = self.sector_channels.comm(y, sectors, self.generator)
        else:
            condition = condition_inputs(omegas) if self.config.conditioned else None
            points, v = self.model.transmitter(self.sectors, condition)
            y = Beamformed(points[:, messages], v)
            rd = grouped(self.radar, y, self.generator)
            cd = self.comm(y, self.generator)
        comm = comm_loss(self.model.comm(cd.z / cd.kappa, condition), messages)
        x = self.model.radar_features(rd.z)
        # Absent targets add nothing to the regression terms: the estimators see only the present
        # rows, which the grouped draw put first.
        present = slice(0, int(rd.target.sum()))
        x1, t1, theta1 = x[:, present], rd.target[present], rd.theta[..., present]
        m, c = self.model, condition
        if stage.radar_loss == "mse":
            radar = regression_mse(m.angle(x1, c), theta1, t1, snapshots=batch_size)
        elif stage.radar_loss == "detection":
            radar = detection_loss(m.detector(x, c), rd.target)
        else:
            radar = regression_nll(m.angle(x1, c), m.uncertainty(x1, c), theta1, t1, snapshots=batch_size)
            if stage.radar_loss == "nll":  # J_NLL of eq. (6)
                radar = radar + detection_loss(m.detector(x, c), rd.target)
        return radar, comm

    def train_step(self) -> StepReport:
        stage = self.config.stages[self.stage_index]
        omegas = self.step_omegas()
        radar, comm = self.losses(stage, self.config.batch_size, omegas)
        loss = isac_loss(radar, comm, omegas)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizer.step()
        self.step += 1
        if stage.anneal and self.step == (3 * self.config.steps_per_stage) // 4:
            for group in self.optimizer.param_groups:
                group["lr"] = 0.1 * self.config.learning_rate
        report = StepReport(
            stage.name,
            self.stage_index,
            self.step,
            self.config.steps_per_stage,
            radar.detach(),
            comm.detach(),
            loss.detach(),
        )
        if self.step >= self.config.steps_per_stage:
            self._check_finite(stage)
            self.stage_index += 1
            self.step = 0
            self.optimizer = self._new_optimizer()
            self.save_checkpoint()
        elif self.checkpoint_every and self.step % self.checkpoint_every == 0:
            self._check_finite(stage)
            self.save_checkpoint()
        return report

    def _check_finite(self, stage: Stage) -> None:
        """TrainingError naming the members whose weights are no longer finite (before they reach a checkpoint)."""
        finite = torch.ones(self.model.members, dtype=torch.bool, device=self.device)
        for p in self.model.parameters():  # every parameter has the member dimension first
            finite &= p.detach().isfinite().flatten(1).all(1)
        if not bool(finite.all()):
            bad = ", ".join(f"{w:g}" for w, ok in zip(self.config.omegas, finite.tolist()) if not ok)
            who = "the conditioned model" if self.config.conditioned else f"omega_r = {bad}"
            raise TrainingError(
                f"training diverged: the weights of {who} are no longer "
                f"finite in stage {stage.name}, step {self.step} (learning rate {self.config.learning_rate:g} too "
                "high?); the last checkpoint, if any, holds earlier finite weights"
            )

    def run(
        self, progress: Optional[Callable[[StepReport], None]] = None, max_steps: Optional[int] = None
    ) -> Autoencoder:
        """Train to the end of the schedule (or ``max_steps`` more steps), resuming from the checkpoint if any."""
        if self.checkpoint is not None and self.checkpoint.exists() and not self._resumed:
            self.load_checkpoint()
        self._resumed = True  # a later run() continues in memory, never rolls back to the file
        done = 0
        while not self.finished and (max_steps is None or done < max_steps):
            report = self.train_step()
            done += 1
            if progress is not None:
                progress(report)
        return self.model

    @property
    def total_steps(self) -> int:
        return self.config.steps_per_stage * len(self.config.stages)

    @property
    def steps_done(self) -> int:
        return self.stage_index * self.config.steps_per_stage + self.step

    # -- checkpoints ------------------------------------------------------
    def state(self) -> dict:
        return {
            "scenario": self.scenario.to_dict(),
            "config": self.config.to_dict(),
            "stage_index": self.stage_index,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def save_checkpoint(self) -> None:
        if self.checkpoint is None:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(self.checkpoint.suffix + ".tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, self.checkpoint)  # an interruption never leaves a half-written checkpoint

    def load_checkpoint(self) -> None:
        try:
            state = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        except Exception as exc:  # torch raises several types for a damaged file
            raise TrainingError(f"cannot read checkpoint {self.checkpoint}: {exc or type(exc).__name__}") from exc
        if state.get("scenario") != self.scenario.to_dict() or state.get("config") != self.config.to_dict():
            raise TrainingError(
                f"checkpoint {self.checkpoint} belongs to another run "
                f"(scenario {state.get('scenario')}, config {state.get('config')}); "
                "use another output directory or delete it to start afresh"
            )
        self.model.load_state_dict(state["model"])
        self.stage_index = state["stage_index"]
        self.step = state["step"]
        self.optimizer = self._new_optimizer()
        if not self.finished:
            self.optimizer.load_state_dict(state["optimizer"])
        self._resumed = True
        self.generator.set_state(state["generator"].cpu())
