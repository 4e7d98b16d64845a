"""Training speed: the batched-ensemble trainer against a plain per-omega_r loop, in the same run.

* reference ("plain loop"): the straightforward implementation of Fig. 1 and
  Sec. III, one omega_r at a time: the six networks of Table I as
  ``torch.nn.Sequential`` of ``nn.Linear``, the encoder applied to each
  sample's one-hot message and the beamformer to each sample's Theta, the
  batch normalisation layer, the core's channels, all six networks and the
  full J_ISAC with J_NLL every step, Adam lr 0.01, batch 10 000;
* ours, one omega_r at a time (``Trainer`` with one member): evaluates only
  the networks the stage's loss needs;
* ours, all omega_r of Fig. 2 as one ensemble (``Trainer`` with 11 members).

A ``Trainer`` tunes glibc's malloc for the whole process
(``isac_ae.autoencoder.allocator``), which can speed up any torch loop in it. The
plain loop therefore runs twice: first with the default allocator (what a
plain script gets), then with the tuned one; the speed-ups are against the
tuned plain loop, so they count only what the trainer itself does better.

Figures are samples x models per second (a step of an 11-member ensemble on a
batch of 10 000 counts 110 000), and the projected wall time of the Fig. 2
sweep at the paper budget (11 omega_r x 4 stages x 2e7 samples).

This machine's speed drifts by 10-20 % over minutes, so the variants run in
interleaved rounds (each round: some plain steps, then every stage of both
trainers) and each rate comes from median step times; the trainers' rates
average their four stages (each stage has its own cost).

Usage: python benchmarks/bench_training.py [--rounds R] [--steps S] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
from torch import nn

from isac_ae import Scenario
from isac_ae.autoencoder import SIGMA_FLOOR, Trainer, TrainingConfig, comm_loss, isac_loss, radar_nll
from isac_ae.autoencoder.allocator import keep_freed_memory
from isac_ae.autoencoder.training import SCHEDULES
from isac_ae.channels import CommChannel, RadarChannel
from isac_ae.pretrained import FIG2_OMEGAS

BATCH = 10_000
PAPER_SAMPLES = len(FIG2_OMEGAS) * len(SCHEDULES["staged"]) * 20_000_000


def _mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def _plain_networks(k: int, m: int) -> nn.ModuleDict:
    """Table I with torch.nn, as a plain re-implementation writes it."""
    return nn.ModuleDict(
        {
            "encoder": _mlp([m, k, k, 2 * k, 2]),
            "beamformer": _mlp([4, k, k, 2 * k, 2 * k]),
            "detector": _mlp([2 * k, 2 * k, 2 * k, k, 1]),
            "angle": _mlp([2 * k, 2 * k, 2 * k, k, 1]),
            "uncertainty": _mlp([2 * k, 2 * k, 2 * k, k, 1]),
            "comm": _mlp([2, k, 2 * k, 2 * k, m]),
        }
    )


def _complex(x):
    n = x.shape[-1] // 2
    return torch.complex(x[..., :n], x[..., n:])


class PlainLoop:
    """The reference: one omega_r trained as a plain re-implementation would."""

    def __init__(self, scenario: Scenario, omega: float, seed: int = 0):
        k, m = scenario.num_antennas, scenario.num_messages
        self.omega, self.m = omega, m
        self.sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32).expand(BATCH, 4)
        self.radar, self.comm = RadarChannel(scenario), CommChannel(scenario)
        self.gen = torch.Generator().manual_seed(seed)
        self.nets = _plain_networks(k, m)
        self.opt = torch.optim.Adam(self.nets.parameters(), lr=0.01)

    def step(self) -> None:
        nets, gen = self.nets, self.gen
        messages = torch.randint(self.m, (BATCH,), generator=gen)
        x = _complex(nets["encoder"](nn.functional.one_hot(messages, self.m).float())).squeeze(-1)
        v = _complex(nets["beamformer"](self.sectors))
        y = x.unsqueeze(-1) * v
        scale = torch.rsqrt(y.abs().square().sum(-1).mean())
        y = y * scale
        rd, cd = self.radar(y, gen), self.comm(y, gen, v=v * scale)
        zr = torch.cat([rd.z.real, rd.z.imag], -1)
        logit = nets["detector"](zr).squeeze(-1)
        theta = 0.5 * math.pi * torch.tanh(nets["angle"](zr).squeeze(-1))
        sigma = nn.functional.softplus(nets["uncertainty"](zr).squeeze(-1)) + SIGMA_FLOOR
        eq = cd.z / cd.kappa
        logits = nets["comm"](torch.stack([eq.real, eq.imag], -1))
        loss = isac_loss(radar_nll(logit, theta, sigma, rd.theta, rd.target), comm_loss(logits, messages), self.omega)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def plain_step_times(scenario: Scenario, omega: float, steps: int) -> list[float]:
    loop = PlainLoop(scenario, omega)
    loop.step()  # first step: allocations, lazy initialisation
    return [_timed(loop.step) for _ in range(steps)]


def trainer_step_times(scenario: Scenario, omegas, steps: int, **options) -> list[list[float]]:
    """Step times of every stage of the staged schedule for one ensemble of ``omegas``, per stage.

    ``options``: more TrainingConfig fields (a conditioned model: ``conditioned``, ``hidden_scale``)."""
    config = TrainingConfig(omegas=tuple(omegas), samples_per_stage=(steps + 1) * BATCH, batch_size=BATCH, **options)
    trainer = Trainer(scenario, config)
    times = [[] for _ in config.stages]
    while not trainer.finished:
        stage, first = trainer.stage_index, trainer.step == 0
        elapsed = _timed(trainer.train_step)
        if not first:  # a stage's first step builds its optimizer state
            times[stage].append(elapsed)
    return times


def stage_mean_of_medians(per_stage: list[list[float]]) -> float:
    return statistics.fmean(statistics.median(t) for t in per_stage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=10, help="steps per variant (and per stage) in each round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sc = Scenario()
    omegas = FIG2_OMEGAS
    plain_default = plain_step_times(sc, omegas[0], args.rounds * args.steps)  # before any Trainer tunes malloc
    if not keep_freed_memory():
        print("note: not glibc, the allocator is not tuned; both plain-loop rows use the default one")
    plain, single, ensemble = [], [[] for _ in SCHEDULES["staged"]], [[] for _ in SCHEDULES["staged"]]
    for r in range(args.rounds):
        plain += plain_step_times(sc, omegas[r % len(omegas)], args.steps)
        for stage, times in enumerate(trainer_step_times(sc, (omegas[r % len(omegas)],), args.steps)):
            single[stage] += times
        for stage, times in enumerate(trainer_step_times(sc, omegas, args.steps)):
            ensemble[stage] += times
    rates = {
        "plain_loop_default_allocator": BATCH / statistics.median(plain_default),
        "plain_loop": BATCH / statistics.median(plain),
        "trainer_per_omega": BATCH / stage_mean_of_medians(single),
        "trainer_ensemble": len(omegas) * BATCH / stage_mean_of_medians(ensemble),
    }
    result = {
        "threads": args.threads,
        "rounds": args.rounds,
        "steps": args.steps,
        "batch": BATCH,
        "omegas": len(omegas),
        "samples_per_s": rates,
        "speedup_vs_plain": {k: v / rates["plain_loop"] for k, v in rates.items()},
        "fig2_paper_budget_minutes": {k: PAPER_SAMPLES / v / 60 for k, v in rates.items()},
        "ensemble_ms_per_step": {s.name: 1e3 * statistics.median(t) for s, t in zip(SCHEDULES["staged"], ensemble)},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"training, {args.rounds} interleaved rounds x {args.steps} steps of {BATCH} samples per variant, "
        f"{args.threads} threads"
    )
    for name, rate in rates.items():
        print(
            f"  {name:28s} {rate:10.3g} samples x models/s  {rate / rates['plain_loop']:5.2f}x plain   "
            f"Fig. 2 at paper budget: {PAPER_SAMPLES / rate / 60:6.1f} min"
        )
    print("  ensemble step, median ms: " + ", ".join(f"{k} {v:.1f}" for k, v in result["ensemble_ms_per_step"].items()))


if __name__ == "__main__":
    main()
