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

Figures are samples x models per second (a step of an 11-member ensemble on a
batch of 10 000 counts 110 000), and the projected wall time of the Fig. 2
sweep at the paper budget (11 omega_r x 4 stages x 2e7 samples).

Usage: python benchmarks/bench_training.py [--steps S] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from torch import nn

from isac_ae import Scenario
from isac_ae.autoencoder import SIGMA_FLOOR, Trainer, TrainingConfig, comm_loss, isac_loss, radar_nll
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
    return nn.ModuleDict({
        "encoder": _mlp([m, k, k, 2 * k, 2]), "beamformer": _mlp([4, k, k, 2 * k, 2 * k]),
        "detector": _mlp([2 * k, 2 * k, 2 * k, k, 1]), "angle": _mlp([2 * k, 2 * k, 2 * k, k, 1]),
        "uncertainty": _mlp([2 * k, 2 * k, 2 * k, k, 1]), "comm": _mlp([2, k, 2 * k, 2 * k, m]),
    })


def _complex(x):
    n = x.shape[-1] // 2
    return torch.complex(x[..., :n], x[..., n:])


def plain_loop(scenario: Scenario, omegas, steps: int) -> float:
    """Seconds for ``steps`` plain training steps of every omega_r, one after the other."""
    k, m = scenario.num_antennas, scenario.num_messages
    sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32).expand(BATCH, 4)
    radar, comm = RadarChannel(scenario), CommChannel(scenario)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for omega in omegas:
        nets = _plain_networks(k, m)
        opt = torch.optim.Adam(nets.parameters(), lr=0.01)
        for _ in range(steps):
            messages = torch.randint(m, (BATCH,), generator=gen)
            x = _complex(nets["encoder"](nn.functional.one_hot(messages, m).float())).squeeze(-1)
            v = _complex(nets["beamformer"](sectors))
            y = x.unsqueeze(-1) * v
            scale = torch.rsqrt(y.abs().square().sum(-1).mean())
            y = y * scale
            rd, cd = radar(y, gen), comm(y, v * scale, gen)
            zr = torch.cat([rd.z.real, rd.z.imag], -1)
            logit = nets["detector"](zr).squeeze(-1)
            theta = 0.5 * math.pi * torch.tanh(nets["angle"](zr).squeeze(-1))
            sigma = nn.functional.softplus(nets["uncertainty"](zr).squeeze(-1)) + SIGMA_FLOOR
            eq = cd.z / cd.kappa
            logits = nets["comm"](torch.stack([eq.real, eq.imag], -1))
            loss = isac_loss(radar_nll(logit, theta, sigma, rd.theta, rd.target), comm_loss(logits, messages), omega)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def trainer_time(scenario: Scenario, omegas, steps: int) -> float:
    """Seconds for ``steps`` steps of every stage of the staged schedule for one ensemble of ``omegas``."""
    config = TrainingConfig(omegas=tuple(omegas), samples_per_stage=steps * BATCH, batch_size=BATCH)
    trainer = Trainer(scenario, config)
    start = time.perf_counter()
    trainer.run()
    return (time.perf_counter() - start) / len(config.stages)  # per stage, to compare with `steps` plain steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per omega_r (and per stage)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sc = Scenario()
    omegas = FIG2_OMEGAS
    work = len(omegas) * args.steps * BATCH
    trainer_time(sc, omegas[:1], 2)  # warm-up
    t_plain = plain_loop(sc, omegas, args.steps)
    t_single = sum(trainer_time(sc, (w,), args.steps) for w in omegas)
    t_ensemble = trainer_time(sc, omegas, args.steps)
    rates = {"plain_loop": work / t_plain, "trainer_per_omega": work / t_single, "trainer_ensemble": work / t_ensemble}
    result = {
        "threads": args.threads, "steps": args.steps, "batch": BATCH, "omegas": len(omegas),
        "samples_per_s": rates,
        "speedup_vs_plain": {k: v / rates["plain_loop"] for k, v in rates.items()},
        "fig2_paper_budget_minutes": {k: PAPER_SAMPLES / v / 60 for k, v in rates.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"training, {len(omegas)} omega_r x {args.steps} steps of {BATCH} samples, {args.threads} threads")
    for name, rate in rates.items():
        print(f"  {name:18s} {rate:10.3g} samples x models/s  {rate / rates['plain_loop']:5.2f}x plain   "
              f"Fig. 2 at paper budget: {PAPER_SAMPLES / rate / 60:6.1f} min")


if __name__ == "__main__":
    main()
