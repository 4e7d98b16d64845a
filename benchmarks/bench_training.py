"""Training speed: the batched-ensemble trainer against a plain per-omega_r loop, in the same run.

* reference ("plain loop"): one omega_r at a time, a one-member autoencoder of
  the same networks, every step evaluates all six networks and the full
  J_ISAC with J_NLL (frozen networks simply left out of the optimiser), its
  own channel draws through the core channels, Adam lr 0.01, batch 10 000;
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
import time

import torch

from isac_ae import Scenario
from isac_ae.autoencoder import Autoencoder, Trainer, TrainingConfig, isac_loss, radar_nll, comm_loss
from isac_ae.autoencoder.training import SCHEDULES
from isac_ae.channels import CommChannel, RadarChannel
from isac_ae.pretrained import FIG2_OMEGAS

BATCH = 10_000
PAPER_SAMPLES = len(FIG2_OMEGAS) * len(SCHEDULES["staged"]) * 20_000_000


def plain_loop(scenario: Scenario, omegas, steps: int) -> float:
    """Seconds for ``steps`` plain training steps of every omega_r, one after the other."""
    sectors = torch.as_tensor(scenario.theta_vector, dtype=torch.float32)
    radar, comm = RadarChannel(scenario), CommChannel(scenario)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for omega in omegas:
        ae = Autoencoder(scenario.num_antennas, scenario.num_messages)
        opt = torch.optim.Adam(ae.parameters(), lr=0.01)
        for _ in range(steps):
            messages = torch.randint(scenario.num_messages, (BATCH,), generator=gen)
            points, v = ae.transmitter(sectors)
            y = points[:, messages].unsqueeze(-1) * v.unsqueeze(-2)
            rd, cd = radar(y, gen), comm(y, v.unsqueeze(-2), gen)
            logit, theta, sigma = ae.radar(rd.z)
            loss = isac_loss(radar_nll(logit, theta, sigma, rd.theta, rd.target),
                             comm_loss(ae.comm(cd.z / cd.kappa), messages), omega)
            opt.zero_grad()
            loss.sum().backward()
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
